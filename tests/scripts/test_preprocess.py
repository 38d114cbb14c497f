"""preprocess.py: one clip file per video, byte for byte eval.py's 1-clip x 1-crop view, labels in list order;
video paths with spaces and any Unicode carried exactly to postprocess.py."""
import json
import os

import cv2
import numpy as np
import pytest

from postprocess import main as postprocess_main
from preprocess import main as preprocess_main, prepare_folder, write_clips
from src.config import dataset_kwargs, get_config
from src.data import create_dataset, make_demo_dataset, read_list_file
from src.data.transforms import normalize

NUM_VIDEOS = 8  # 4 classes x 2 val videos
CLIP_SHAPE = (12, 32, 32)  # (T*3, H, W): 4 segments of 32 x 32 crops


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A tiny demo val set, its config, and eval.py's 1-clip x 1-crop uint8 views of it (one per video, in order)."""
    root = tmp_path_factory.mktemp('preprocess')
    paths = make_demo_dataset(str(root), videos_per_class=(0, 2), num_frames=8, height=32, width=40,
                              motions=('move', 'zoom'))
    config_path = root / 'config.yaml'
    config_path.write_text(f'num_classes: 4\nnum_segments: 4\ncrop_size: 32\nscale_size: 32\n'
                           f'num_parallel_workers: 1\ndata_root: {root / "frames"}\nval_list: {paths["val"]}\n')
    config = get_config([], str(config_path))
    dataset = create_dataset(config.val_list, config.data_root, False, 1, 4, num_clips=1, num_crops=1,
                             **dataset_kwargs(config))
    views = [batch[0][0] for batch in dataset.create_tuple_iterator(output_numpy=True, num_epochs=1)]
    return root, config_path, config, paths, np.stack(views)  # (videos, 1 view, T*3, H, W)


def read_clips(out, dtype):
    names = sorted(os.listdir(out / 'clips'))
    return names, np.stack([np.fromfile(out / 'clips' / name, dtype) for name in names])


@pytest.mark.parametrize('input_dtype', ['uint8', 'float32'])
def test_clips_equal_eval_views_and_labels_follow_the_list(setup, input_dtype):
    root, config_path, _, paths, views = setup
    assert views.dtype == np.uint8 and views.shape == (NUM_VIDEOS, 1, *CLIP_SHAPE)
    out = root / input_dtype
    (out / 'clips').mkdir(parents=True)
    (out / 'clips' / 'clip_000099.bin').write_bytes(b'stale')  # a clip of an earlier, longer run
    preprocess_main(['--config_path', str(config_path), '--output_dir', str(out), '--input_dtype', input_dtype])
    names, clips = read_clips(out, input_dtype)
    assert names == [f'clip_{row:06d}.bin' for row in range(NUM_VIDEOS)]
    expected = views if input_dtype == 'uint8' else normalize(views)
    assert expected.dtype == np.dtype(input_dtype)
    assert clips.tobytes() == expected.tobytes()  # byte for byte, in list order
    with open(paths['val']) as f:
        listed = [line.split() for line in f]
    labels = json.loads((out / 'labels.json').read_text(encoding='utf-8'))
    assert labels == {'num_classes': 4, 'clips': [{'clip': f'clip_{row:06d}', 'label': int(label), 'video': video}
                                                  for row, (video, _, label) in enumerate(listed)]}


def test_padding_rows_are_not_written(setup):
    root, _, config, _, views = setup
    records = read_list_file(config.val_list, config.num_classes)
    # batches of 3 over 8 videos: the last batch has one padding row (index -1)
    dataset = create_dataset(config.val_list, config.data_root, False, 3, 4, num_clips=1, num_crops=1,
                             **dataset_kwargs(config))
    clip_dir = prepare_folder(str(root / 'padded'))
    entries = write_clips(dataset, records, clip_dir, 'uint8')
    assert [entry['clip'] for entry in entries] == [f'clip_{row:06d}' for row in range(NUM_VIDEOS)]
    names, clips = read_clips(root / 'padded', np.uint8)
    assert names == [f'clip_{row:06d}.bin' for row in range(NUM_VIDEOS)]
    assert clips.tobytes() == views.tobytes()


# Kinetics-style layout ("air drumming/x.mp4"): spaces (one double), quotes, a backslash, a comma, non-ASCII
KINETICS_VIDEOS = [('air drumming/x.mp4', 0), ('air drumming/clip  two ü.mp4', 0),
                   ('abseiling/"quoted" \\ back, comma.mp4', 1), ('雪 滑り/ski jump.mp4', 2)]


def write_video(path, level, num_frames=8):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 12, (40, 32))
    assert writer.isOpened(), path
    for t in range(num_frames):  # frames differ over time and between videos
        writer.write(np.full((32, 40, 3), (level * 60 + t * 20) % 256, np.uint8))
    writer.release()


def test_kinetics_paths_with_spaces_and_unicode_reach_postprocess_exactly(tmp_path):
    data_root = tmp_path / 'kinetics 400 ü'  # the data root itself has a space and a non-ASCII letter
    for level, (video, _) in enumerate(KINETICS_VIDEOS):
        write_video(str(data_root / video), level)
    val_list = tmp_path / 'val list.txt'
    val_list.write_text(''.join(f'{video} 8 {label}\n' for video, label in KINETICS_VIDEOS), encoding='utf-8')
    config = tmp_path / 'config.yaml'
    config.write_text(json.dumps({'num_classes': 3, 'num_segments': 4, 'crop_size': 32, 'scale_size': 32,
                                  'num_parallel_workers': 1, 'source': 'video', 'data_root': str(data_root),
                                  'val_list': str(val_list)}), encoding='utf-8')  # JSON is YAML
    out = tmp_path / 'run dir'
    preprocess_main(['--config_path', str(config), '--output_dir', str(out), '--input_dtype', 'uint8'])
    labels = json.loads((out / 'labels.json').read_text(encoding='utf-8'))
    assert labels['num_classes'] == 3
    assert [(e['video'], e['label']) for e in labels['clips']] == KINETICS_VIDEOS
    assert sorted(os.listdir(out / 'clips')) == [f'clip_{row:06d}.bin' for row in range(len(KINETICS_VIDEOS))]
    assert {os.path.getsize(out / 'clips' / name) for name in os.listdir(out / 'clips')} == {12 * 32 * 32}
    # logits that put the right class first for all videos but the last (class 2 -> predicted 0, second place)
    (out / 'logits').mkdir()
    for row, (_, label) in enumerate(KINETICS_VIDEOS):
        logits = np.array([3.0, 1.0, 2.0], np.float32) if row == 3 else np.eye(3, dtype=np.float32)[label]
        logits.tofile(out / 'logits' / f'clip_{row:06d}.bin')
    metrics = postprocess_main(['--result_dir', str(out / 'logits'), '--label_file', str(out / 'labels.json')])
    assert metrics['num_videos'] == 4 and metrics['top1'] == 75.0 and metrics['top5'] == 100.0
    os.remove(out / 'logits' / 'clip_000003.bin')  # a missing result names its video, Unicode intact
    with pytest.raises(SystemExit, match="missing logits file .*clip_000003.bin \\(video '雪 滑り/ski jump.mp4'\\)"):
        postprocess_main(['--result_dir', str(out / 'logits'), '--label_file', str(out / 'labels.json')])
