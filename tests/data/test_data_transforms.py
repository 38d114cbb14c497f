"""Clip transforms: multi-scale crop rules, one crop for all frames, aspect-keeping resize, crops, flip, norm."""
import cv2
import numpy as np
import pytest

from src.data.transforms import (IMAGENET_MEAN, SSV2_FLIP_PAIRS, EvalTransform, TrainTransform, crop_to_clip,
                                 fixed_offsets, flip_label_map, multi_scale_crop_box, normalize, resize_short_side)


def random_frames(t=4, h=64, w=96, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


def rgb_clip(frames):
    """The expected layout: BGR (K, H, W, 3) -> RGB (K*3, H, W)."""
    return np.ascontiguousarray(frames[..., ::-1].transpose(0, 3, 1, 2)).reshape(-1, *frames.shape[1:3])


def test_multi_scale_crop_sizes_and_positions():
    rng = np.random.default_rng(0)
    boxes = [multi_scale_crop_box(256, 340, 224, rng) for _ in range(3000)]
    sizes = [256, 224, 192, 168]  # int(256 * s) for s in (1, .875, .75, .66); 224 snapped to the output size
    pairs = {(sizes[i], sizes[j]) for i in range(4) for j in range(4) if abs(i - j) <= 1}
    assert {(w, h) for _, _, w, h in boxes} == pairs
    for x, y, w, h in boxes:
        assert (x, y) in fixed_offsets(256, 340, h, w)
        assert 0 <= x <= 340 - w and 0 <= y <= 256 - h
    assert len({(x, y) for x, y, w, h in boxes if (w, h) == (168, 168)}) == 13


def test_train_crop_is_the_same_for_every_frame():
    frame = random_frames(1, 128, 160)[0]
    frames = np.stack([frame] * 4)
    transform = TrainTransform(crop_size=56, scale_size=64)
    for seed in range(20):
        clip, _ = transform(frames, 0, np.random.default_rng(seed))
        assert clip.shape == (12, 56, 56) and clip.dtype == np.uint8
        for t in range(1, 4):
            np.testing.assert_array_equal(clip[3 * t:3 * t + 3], clip[:3])


def test_train_flip_mirrors_with_the_label_map_and_is_off_by_default():
    frames = random_frames(2, 32, 32)
    plain = rgb_clip(frames)
    flipping = TrainTransform(crop_size=32, scale_size=32, scales=(1,), flip=True, flip_pairs=[(1, 2)])
    outcomes = set()
    for seed in range(30):
        clip, label = flipping(frames, 1, np.random.default_rng(seed))
        mirrored = np.array_equal(clip, plain[:, :, ::-1])
        assert mirrored or np.array_equal(clip, plain)
        assert label == (2 if mirrored else 1)
        outcomes.add(mirrored)
    assert outcomes == {True, False}
    default = TrainTransform(crop_size=32, scale_size=32, scales=(1,))
    assert all(np.array_equal(default(frames, 1, np.random.default_rng(s))[0], plain) for s in range(10))


def stripes(h, w):
    """BGR frame: red left quarter, blue right quarter, grey middle: shows which part of the frame a crop took."""
    frame = np.full((1, h, w, 3), 128, np.uint8)
    frame[:, :, :w // 4] = (0, 0, 255)
    frame[:, :, -w // 4:] = (255, 0, 0)
    return frame


def test_eval_keeps_aspect_ratio_centre_and_three_crops():
    frames = stripes(120, 240)  # short side 120 -> 64: the frame becomes 64 x 128
    centre = EvalTransform(crop_size=64, scale_size=64)(frames)
    assert centre.shape == (1, 3, 64, 64)
    red, blue = np.array([255, 0, 0])[:, None], np.array([0, 0, 255])[:, None]
    assert not (centre[0].reshape(3, -1) == red).all(axis=0).any()  # a squashing resize would show the red stripe
    left, middle, right = EvalTransform(crop_size=64, scale_size=64, num_crops=3)(frames)
    assert (left[:, :, 0] == red).all() and (right[:, :, -1] == blue).all()
    np.testing.assert_array_equal(middle, centre[0])


def test_cropping_native_frames_matches_resizing_first():
    frames = cv2.GaussianBlur(random_frames(1, 240, 320)[0], (0, 0), 6)[None]  # smooth: interpolation-robust
    resized = np.stack([cv2.resize(frames[0], (341, 256), interpolation=cv2.INTER_LINEAR)])
    transform = EvalTransform(crop_size=224, scale_size=256)
    np.testing.assert_allclose(transform(frames), transform(resized), atol=3)


def test_network_layout_and_normalisation():
    frames = np.zeros((2, 4, 5, 3), np.uint8)
    frames[0] = np.round(np.asarray(IMAGENET_MEAN[::-1]) * 255)  # BGR
    frames[1, ..., 2] = 255  # red
    clip = crop_to_clip(frames, (0, 0, 5, 4), 4)  # the whole (uniform) frame, resized to 4 x 4
    assert clip.shape == (6, 4, 4) and clip.dtype == np.uint8
    clip = normalize(clip)
    assert clip.dtype == np.float32
    np.testing.assert_allclose(clip[:3], 0, atol=0.01)  # channel index = t*3 + c
    np.testing.assert_allclose(clip[3], (1 - 0.485) / 0.229, rtol=1e-5)
    np.testing.assert_allclose(clip[5], -0.406 / 0.225, rtol=1e-5)
    views = rgb_clip(frames).reshape(2, 3, 4, 5)  # any uint8 (V, T*3, H, W)
    np.testing.assert_array_equal(normalize(np.stack([views, views]))[1], normalize(views))


def test_eval_views_are_clip_major():
    frames = np.concatenate([np.zeros((2, 32, 48, 3), np.uint8), np.full((2, 32, 48, 3), 255, np.uint8)])
    views = EvalTransform(crop_size=32, scale_size=32, num_crops=3)(frames, num_clips=2)
    assert views.shape == (6, 6, 32, 32)
    assert (views[:3] == 0).all() and (views[3:] == 255).all()


def test_eval_rejects_other_crop_counts():
    with pytest.raises(ValueError):
        EvalTransform(num_crops=2)


def test_flip_label_map_accepts_pairs_or_a_flat_list():
    expected = {86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}
    assert flip_label_map(SSV2_FLIP_PAIRS) == expected == flip_label_map([86, 87, 93, 94, 166, 167])
    with pytest.raises(ValueError):
        flip_label_map([86, 87, 93])


@pytest.mark.parametrize("shape, expected", [((240, 427), (256, 455)), ((480, 270), (455, 256)),
                                             ((256, 340), (256, 340))])
def test_resize_short_side_keeps_aspect(shape, expected):
    assert resize_short_side(np.zeros((*shape, 3), np.uint8), 256).shape == (*expected, 3)
