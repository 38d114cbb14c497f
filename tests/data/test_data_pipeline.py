"""create_dataset: batch layout, eval coverage across shards, the frames it feeds, bad samples, raw videos."""
import logging
import os
import re

import cv2
import numpy as np
import pytest

from src.data import (BadSampleError, EvalTransform, FrameFolderReader, create_dataset, eval_rows, make_demo_dataset,
                      read_list_file)
from src.data.sampling import sample_clip_indices
from src.errors import input_error_message

T = 4
SIZE = dict(crop_size=32, scale_size=32)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    paths = make_demo_dataset(str(root), videos_per_class=(2, 1), num_frames=8, height=32, width=48,
                              motions=("move", "turn", "zoom", "fade"))
    return str(root), paths


def batches(dataset):
    return list(dataset.create_tuple_iterator(output_numpy=True, num_epochs=1))


@pytest.mark.parametrize("workers, processes", [(1, False), (2, False), (2, True)])
def test_train_batches(demo, workers, processes):
    root, paths = demo
    dataset = create_dataset(paths["train"], os.path.join(root, "frames"), True, 5, T,
                             num_parallel_workers=workers, worker_processes=processes, **SIZE)
    out = batches(dataset)
    assert len(out) == 16 // 5  # incomplete last batch dropped
    clip, label = out[0]
    assert clip.shape == (5, T * 3, 32, 32) and clip.dtype == np.uint8 and label.dtype == np.int32
    assert clip.max() > 200 and clip.min() < 50  # raw 0..255 pixels (bright object, dark background)
    assert set(np.concatenate([b[1] for b in out])) <= set(range(8))


def test_train_shards_split_the_videos(demo):
    root, paths = demo
    sizes = [create_dataset(paths["train"], os.path.join(root, "frames"), True, 2, T, num_shards=2, shard_id=k,
                            num_parallel_workers=1, **SIZE).get_dataset_size() for k in (0, 1)]
    assert sizes == [4, 4]  # 16 videos / 2 shards / batch 2


@pytest.mark.parametrize("num_videos, batch, shards", [(8, 3, 1), (8, 3, 3), (7, 2, 4), (2, 4, 3)])
def test_eval_rows_cover_every_video_once_with_equal_batches(num_videos, batch, shards):
    rows = [eval_rows(num_videos, batch, shards, k) for k in range(shards)]
    assert len({len(r) for r in rows}) == 1 and len(rows[0]) % batch == 0
    real = np.concatenate(rows)
    real = real[real >= 0]
    assert sorted(real) == list(range(num_videos))


def test_eval_shards_cover_every_video_once(demo):
    root, paths = demo
    seen, batch_counts = [], []
    for shard in range(3):
        dataset = create_dataset(paths["val"], os.path.join(root, "frames"), False, 3, T, num_shards=3,
                                 shard_id=shard, num_parallel_workers=2, num_clips=2, num_crops=3, **SIZE)
        out = batches(dataset)
        batch_counts.append(len(out))
        for clip, label, index in out:
            assert clip.shape == (3, 6, T * 3, 32, 32)
            seen += [(int(i), int(y)) for i, y in zip(index, label) if i >= 0]
    records = read_list_file(paths["val"])
    assert sorted(seen) == [(i, r.label) for i, r in enumerate(records)]
    assert len(set(batch_counts)) == 1


def test_eval_clip_is_exactly_the_sampled_frames(demo):
    root, paths = demo
    dataset = create_dataset(paths["val"], os.path.join(root, "frames"), False, 8, T, num_parallel_workers=1,
                             num_clips=2, **SIZE)
    clip, _, index = batches(dataset)[0]
    record = read_list_file(paths["val"])[int(index[2])]
    frames = []
    for i in sample_clip_indices(record.num_frames, T, num_clips=2).reshape(-1):  # file numbers are i + 1
        frames.append(cv2.imread(os.path.join(root, "frames", record.path, f"{i + 1:06d}.jpg")))
    np.testing.assert_array_equal(clip[2], EvalTransform(**SIZE)(np.stack(frames), num_clips=2))


def copy_with_bad_video(demo, tmp_path):
    """The demo val list plus a line whose frame folder does not exist."""
    root, paths = demo
    lines = open(paths["val"]).read() + "no_such_video 8 3\n"
    (tmp_path / "val.txt").write_text(lines)
    return str(tmp_path / "val.txt"), os.path.join(root, "frames"), len(lines.splitlines())


def test_bad_sample_raises_naming_the_file(demo, tmp_path):
    list_file, frames, _ = copy_with_bad_video(demo, tmp_path)
    with pytest.raises(RuntimeError, match=r"frames/no_such_video: frame folder not found"):
        batches(create_dataset(list_file, frames, False, 4, T, num_parallel_workers=1, **SIZE))


@pytest.mark.parametrize("training, processes", [(True, False), (False, False), (True, True), (False, True)])
def test_skip_bad_samples_logs_and_counts(demo, tmp_path, caplog, training, processes):
    list_file, frames, num_videos = copy_with_bad_video(demo, tmp_path)
    dataset = create_dataset(list_file, frames, training, 3, T, num_parallel_workers=2, worker_processes=processes,
                             skip_bad_samples=True, seed=0, **SIZE)
    with caplog.at_level(logging.WARNING):
        out = batches(dataset)
        dataset.bad_samples.report()
    assert dataset.bad_samples.count == 1
    assert "skipped 1 bad samples in total" in caplog.text
    if training:
        assert sum(len(b[1]) for b in out) == num_videos // 3 * 3  # the bad video was replaced by another
    else:
        index = np.concatenate([b[2] for b in out])
        assert sorted(index[index >= 0]) == list(range(num_videos - 1))  # the bad row is masked like padding


def test_raw_video_source_gives_the_same_clips_as_frames(demo, tmp_path):
    """Frames written losslessly into a video decode back to the same clips as the frame folders."""
    root, paths = demo
    records = read_list_file(paths["val"])[:3]
    lines = []
    for record in records:
        frames = FrameFolderReader(os.path.join(root, "frames")).read(record, np.arange(record.num_frames))
        writer = cv2.VideoWriter(str(tmp_path / f"{record.path}.avi"), cv2.VideoWriter_fourcc(*"FFV1"), 12, (48, 32))
        for frame in frames:
            writer.write(frame)
        writer.release()
        lines.append(f"{record.path}.avi {record.num_frames} {record.label}\n")
    (tmp_path / "videos.txt").write_text("".join(lines))
    (tmp_path / "frames.txt").write_text("".join(f"{r.path} {r.num_frames} {r.label}\n" for r in records))
    from_video = batches(create_dataset(str(tmp_path / "videos.txt"), str(tmp_path), False, 3, T, source="video",
                                        num_parallel_workers=1, **SIZE))
    from_frames = batches(create_dataset(str(tmp_path / "frames.txt"), os.path.join(root, "frames"), False, 3, T,
                                         num_parallel_workers=1, **SIZE))
    np.testing.assert_array_equal(from_video[0][0], from_frames[0][0])


@pytest.fixture
def zero_byte_frames(demo, tmp_path):
    """A copy of the demo val set (8 videos of 8 frames) whose video 3 has every frame file emptied (0 bytes)."""
    root, paths = demo
    frames = tmp_path / "frames"
    records = read_list_file(paths["val"])
    for record in records:
        os.makedirs(frames / record.path)
        for name in os.listdir(os.path.join(root, "frames", record.path)):
            data = open(os.path.join(root, "frames", record.path, name), "rb").read()
            (frames / record.path / name).write_bytes(b"" if record is records[3] else data)
    return paths["val"], str(frames), records[3].path, len(records)


@pytest.mark.parametrize("training", [True, False])
def test_a_zero_byte_frame_stops_the_pipeline_naming_the_file(zero_byte_frames, training):
    list_file, frames, bad, _ = zero_byte_frames
    dataset = create_dataset(list_file, frames, training, 2, T, num_parallel_workers=1, seed=0, **SIZE)
    with pytest.raises(RuntimeError) as error:
        batches(dataset)
    first_frame = "00000[12]" if training else "000002"  # train: frame 1 or 2 of the first segment; eval: its centre
    assert re.fullmatch(rf"{re.escape(frames)}/{bad}/{first_frame}\.jpg: empty frame file \(0 bytes\)",
                        input_error_message(error.value))


@pytest.mark.parametrize("training", [True, False])
def test_a_zero_byte_frame_is_skipped_and_counted_when_asked(zero_byte_frames, training, caplog):
    list_file, frames, bad, num_videos = zero_byte_frames
    dataset = create_dataset(list_file, frames, training, 2, T, num_parallel_workers=1, seed=0,
                             skip_bad_samples=True, **SIZE)
    with caplog.at_level(logging.WARNING):
        out = batches(dataset)
    assert dataset.bad_samples.count == 1
    first_frame = "00000[12]" if training else "000002"
    assert re.search(rf"skipped bad sample: .*/{bad}/{first_frame}\.jpg: empty frame file \(0 bytes\)", caplog.text)
    if training:
        assert sum(len(b[1]) for b in out) == num_videos  # the bad video replaced by another one
    else:
        index = np.concatenate([b[2] for b in out])
        assert sorted(index[index >= 0]) == [i for i in range(num_videos) if i != 3]


def test_list_paths_outside_the_data_root_are_refused(demo, tmp_path):
    root, paths = demo
    (tmp_path / "val.txt").write_text(open(paths["val"]).read() + "../frames/1 8 0\n")
    with pytest.raises(BadSampleError, match=r"val\.txt:9: path '\.\./frames/1' is outside the data root"):
        create_dataset(str(tmp_path / "val.txt"), os.path.join(root, "frames"), False, 3, T, **SIZE)
    dataset = create_dataset(str(tmp_path / "val.txt"), os.path.join(root, "frames"), False, 3, T,
                             num_parallel_workers=1, allow_outside_root=True, **SIZE)
    assert len(dataset.records) == 9 and dataset.records[8].path == "../frames/1"
    index = np.concatenate([b[2] for b in batches(dataset)])
    assert sorted(index[index >= 0]) == list(range(9))


@pytest.mark.parametrize("name", ["sthv2_video", "sthv2_frames", "sthv1", "kinetics400"])
def test_dataset_layout_configs_load(name):
    """The dataset layouts are configuration: every key is a known config key with a valid value."""
    from src.config import get_config
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
    config = get_config([], os.path.join(root, "configs", "datasets", f"{name}.yaml"))
    assert config.num_classes in (174, 400) and config.source in ("frames", "video")
    assert config.frame_template.format(1).endswith(".jpg")
