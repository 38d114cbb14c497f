"""preprocess.py: one clip file per video, byte for byte eval.py's 1-clip x 1-crop view, labels in list order."""
import os

import numpy as np
import pytest

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
    rows = [line.split() for line in (out / 'labels.txt').read_text().splitlines()]
    assert rows == [[f'clip_{row:06d}', label, video] for row, (video, _, label) in enumerate(listed)]


def test_padding_rows_are_not_written(setup):
    root, _, config, _, views = setup
    records = read_list_file(config.val_list, config.num_classes)
    # batches of 3 over 8 videos: the last batch has one padding row (index -1)
    dataset = create_dataset(config.val_list, config.data_root, False, 3, 4, num_clips=1, num_crops=1,
                             **dataset_kwargs(config))
    clip_dir = prepare_folder(str(root / 'padded'))
    lines = write_clips(dataset, records, clip_dir, 'uint8')
    assert len(lines) == NUM_VIDEOS
    names, clips = read_clips(root / 'padded', np.uint8)
    assert names == [f'clip_{row:06d}.bin' for row in range(NUM_VIDEOS)]
    assert clips.tobytes() == views.tobytes()
