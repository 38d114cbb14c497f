"""Demo dataset: SSv2 layout, deterministic by seed, classes that differ only in temporal order."""
import filecmp
import os

import numpy as np
import pytest

from src.data import FrameFolderReader, read_list_file
from src.data.demo import MOTIONS, make_demo_dataset, render_video

SMALL = dict(videos_per_class=(1, 1), num_frames=6, height=24, width=32)


def test_layout_and_lists(tmp_path):
    paths = make_demo_dataset(str(tmp_path), motions=("move", "fade"), **SMALL)
    classes = open(paths["category"]).read().splitlines()
    assert classes == list(MOTIONS["move"] + MOTIONS["fade"])
    train, val = read_list_file(paths["train"], 4), read_list_file(paths["val"], 4)
    assert [r.label for r in train] == [0, 1, 2, 3] and [r.label for r in val] == [0, 1, 2, 3]
    assert {r.path for r in train}.isdisjoint(r.path for r in val)
    frames = FrameFolderReader(str(tmp_path / "frames")).read(val[0], np.arange(6))
    assert len(frames) == 6 and frames[0].shape == (24, 32, 3)


def test_deterministic_by_seed(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        make_demo_dataset(str(tmp_path / name), seed=seed, motions=("turn",), **SMALL)
    names = [os.path.join("frames", "3", f"{i:06d}.jpg") for i in range(1, 7)] + ["train_videofolder.txt"]
    same, different, _ = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert same == names
    same, different, _ = filecmp.cmpfiles(tmp_path / "a", tmp_path / "c", names, shallow=False)
    assert same == ["train_videofolder.txt"] and len(different) == 6


@pytest.mark.parametrize("motion", sorted(MOTIONS))
def test_paired_class_is_the_same_video_backwards(motion):
    """Same draws, other class of the pair: exactly the frames reversed, so a bag of frames tells nothing."""
    forward = render_video(np.random.default_rng(7), motion, False, 8, 48, 64)
    backward = render_video(np.random.default_rng(7), motion, True, 8, 48, 64)
    np.testing.assert_array_equal(backward, forward[::-1])
    assert not np.array_equal(forward[0], forward[-1])  # it does change over time


def object_centre_x(frames):
    background = np.median(frames, axis=0)  # the object moves, so most pixels are background
    xs = []
    for frame in frames:
        _, x = np.nonzero(np.abs(frame.astype(float) - background).sum(-1) > 80)
        xs.append(x.mean())
    return np.array(xs)


def test_move_left_to_right_goes_right():
    for seed in range(5):
        xs = object_centre_x(render_video(np.random.default_rng(seed), "move", False, 12, 72, 96))
        assert xs[-1] - xs[0] > 20 and (np.diff(xs) > -2).all()
