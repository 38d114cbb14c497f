"""Frame sampling: the reference formulas, short-video fallbacks, dense windows."""
import numpy as np
import pytest

from src.data.sampling import sample_clip_indices


def test_train_takes_one_random_frame_per_segment():
    rng = np.random.default_rng(0)
    draws = np.concatenate([sample_clip_indices(45, 8, rng=rng) for _ in range(500)])  # (500, 8)
    segment = np.arange(8) * 5  # avg = 45 // 8 = 5
    assert ((draws >= segment) & (draws < segment + 5)).all()
    assert all(set(draws[:, k] - segment[k]) == set(range(5)) for k in range(8))  # every offset is drawn


def test_train_short_video_takes_sorted_random_frames():
    rng = np.random.default_rng(0)
    draws = np.concatenate([sample_clip_indices(5, 8, rng=rng) for _ in range(200)])
    assert draws.min() == 0 and draws.max() == 4
    assert (np.diff(draws, axis=1) >= 0).all()


def test_eval_segment_centres_and_twice():
    np.testing.assert_array_equal(sample_clip_indices(45, 8), [[2, 8, 14, 19, 25, 30, 36, 42]])
    twice = sample_clip_indices(45, 8, num_clips=2)
    np.testing.assert_array_equal(twice[1], [0, 5, 11, 16, 22, 28, 33, 39])  # int(tick * k)
    np.testing.assert_array_equal(sample_clip_indices(5, 8), [[0, 0, 1, 2, 2, 3, 4, 4]])  # short: in order


def test_dense_eval_ten_clips_and_wraparound():
    clips = sample_clip_indices(100, 8, "dense", num_clips=10)
    np.testing.assert_array_equal(clips[:, 0], [0, 4, 8, 12, 16, 20, 24, 28, 32, 36])  # linspace(0, 100 - 64)
    np.testing.assert_array_equal(clips[0], np.arange(0, 64, 8))
    np.testing.assert_array_equal(sample_clip_indices(30, 8, "dense"), [[0, 8, 16, 24, 2, 10, 18, 26]])


def test_dense_train_random_start_within_window():
    rng = np.random.default_rng(0)
    starts = {int(sample_clip_indices(70, 8, "dense", rng=rng)[0, 0]) for _ in range(300)}
    assert starts == set(range(7))  # 0 .. 70 - 64


@pytest.mark.parametrize("kwargs", [{"sampling": "uniform"}, {"num_clips": 3}])
def test_rejects_unknown_options(kwargs):
    with pytest.raises(ValueError):
        sample_clip_indices(45, 8, **kwargs)
