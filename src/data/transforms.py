"""Clip transforms: one crop/flip decision for all frames of a clip, then the network layout and normalisation.

Boxes are computed on the frame as if its short side were resized to `scale_size` (the reference frames are
extracted at short side 256), then mapped back to the native frame, so each frame is cropped and resized once.
Frames are a sequence of K `(H, W, 3)` uint8 arrays in OpenCV's BGR order; transforms return uint8 RGB clips
`(K*3, H, W)` (channel index = t*3 + c): the pipeline hands them to the network as they are (it normalises uint8
input itself) and `normalize` gives the float32 form by the same formula. Splitting the channels into that layout
swaps BGR to RGB for free; keeping clips uint8 moves 4x less data through Python.
"""
import cv2
import numpy as np

from src.pixels import IMAGENET_MEAN, IMAGENET_STD, pixel_affine

MULTI_SCALES = (1, .875, .75, .66)
SSV2_FLIP_PAIRS = ((86, 87), (93, 94), (166, 167))  # "... from left to right" <-> "... from right to left"


def scaled_shape(height, width, scale_size):
    """(h, w) after resizing the short side to `scale_size` keeping the aspect ratio (torchvision rounding)."""
    if height <= width:
        return scale_size, int(scale_size * width / height)
    return int(scale_size * height / width), scale_size


def fixed_offsets(height, width, crop_h, crop_w):
    """The 13 fixed crop positions (x, y) of the reference multi-scale crop."""
    w_step, h_step = (width - crop_w) // 4, (height - crop_h) // 4
    grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)]
    return [(i * w_step, j * h_step) for i, j in grid]


def multi_scale_crop_box(height, width, crop_size, rng, scales=MULTI_SCALES, max_distort=1):
    """Random box (x, y, w, h): sides from `scales` x short side (indices differing <= max_distort), 13 positions."""
    sizes = [int(min(height, width) * s) for s in scales]
    sizes = [crop_size if abs(s - crop_size) < 3 else s for s in sizes]  # snap sizes near the output size
    pairs = [(w, h) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= max_distort]
    crop_w, crop_h = pairs[rng.integers(len(pairs))]
    offsets = fixed_offsets(height, width, crop_h, crop_w)
    x, y = offsets[rng.integers(len(offsets))]
    return x, y, crop_w, crop_h


def centre_crop_box(height, width, crop_size):
    """Centre box (x, y, w, h) of side `crop_size`."""
    return int(round((width - crop_size) / 2)), int(round((height - crop_size) / 2)), crop_size, crop_size


def three_crop_boxes(height, width, crop_size):
    """Boxes at the start, centre and end of the long side (left/centre/right for landscape frames)."""
    if width >= height:
        step = (width - crop_size) // 2
        return [(k * step, (height - crop_size) // 2, crop_size, crop_size) for k in (0, 1, 2)]
    step = (height - crop_size) // 2
    return [((width - crop_size) // 2, k * step, crop_size, crop_size) for k in (0, 1, 2)]


def native_box(box, scale, height, width):
    """A box in coordinates scaled by `scale`, mapped back to the native frame and clipped to it."""
    x, y, w, h = (int(round(v / scale)) for v in box)
    x, y = min(max(x, 0), width - 1), min(max(y, 0), height - 1)
    return x, y, max(1, min(w, width - x)), max(1, min(h, height - y))


def crop_to_clip(frames, box, out_size, scale=1.0):
    """Crop `box` (coordinates scaled by `scale`) from every BGR frame, resize -> (K*3, out, out) uint8 RGB."""
    x, y, w, h = native_box(box, scale, *frames[0].shape[:2])
    interpolation = cv2.INTER_AREA if w > 1.5 * out_size else cv2.INTER_LINEAR  # antialias strong shrinking
    clip = np.empty((len(frames), 3, out_size, out_size), np.uint8)
    for t, frame in enumerate(frames):
        crop = frame[y:y + h, x:x + w]
        if (h, w) != (out_size, out_size):
            crop = cv2.resize(crop, (out_size, out_size), interpolation=interpolation)
        clip[t, 2], clip[t, 1], clip[t, 0] = cv2.split(crop)  # BGR planes -> RGB order
    return clip.reshape(-1, out_size, out_size)  # [K, 3, H, W] -> [K*3, H, W]


def normalize(clips, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """uint8 (..., K*3, H, W) -> float32 (x/255 - mean) / std, channel c of every frame by mean[c], std[c]."""
    scale, shift = pixel_affine(clips.shape[-3] // 3, mean, std)
    return clips.astype(np.float32) * scale[:, None, None] - shift[:, None, None]


def flip_label_map(pairs):
    """{a: b, b: a} for each pair: the label a mirrored video gets. Pairs [(a, b), ...] or flat [a, b, ...]."""
    pairs = list(pairs)
    if pairs and np.ndim(pairs[0]) == 0:
        if len(pairs) % 2:
            raise ValueError(f"flip_pairs needs an even number of labels, got {pairs}")
        pairs = list(zip(pairs[::2], pairs[1::2]))
    mapping = {}
    for a, b in pairs:
        mapping[int(a)], mapping[int(b)] = int(b), int(a)
    return mapping


class TrainTransform:
    """Multi-scale crop + resize to `crop_size`, optional horizontal flip (labels mapped)."""

    def __init__(self, crop_size=224, scale_size=256, scales=MULTI_SCALES, flip=False, flip_pairs=()):
        self.crop_size, self.scale_size, self.scales = crop_size, scale_size, scales
        self.flip, self.label_map = flip, flip_label_map(flip_pairs)

    def __call__(self, frames, label, rng):
        """T BGR frames (H, W, 3) -> RGB clip (T*3, crop, crop) uint8 and the (possibly mapped) label."""
        height, width = scaled_shape(*frames[0].shape[:2], self.scale_size)
        box = multi_scale_crop_box(height, width, self.crop_size, rng, self.scales)
        clip = crop_to_clip(frames, box, self.crop_size, self.scale_size / min(frames[0].shape[:2]))
        if self.flip and rng.random() < 0.5:
            clip = np.ascontiguousarray(clip[:, :, ::-1])
            label = self.label_map.get(label, label)
        return clip, label


class EvalTransform:
    """Resize the short side to `scale_size` (aspect kept), then 1 centre crop or 3 crops."""

    def __init__(self, crop_size=224, scale_size=256, num_crops=1):
        if num_crops not in (1, 3):
            raise ValueError(f"num_crops must be 1 or 3, got {num_crops}")
        self.crop_size, self.scale_size, self.num_crops = crop_size, scale_size, num_crops

    def __call__(self, frames, num_clips=1):
        """num_clips*T BGR frames (H, W, 3) -> uint8 RGB views (num_clips*num_crops, T*3, crop, crop), clip-major."""
        height, width = scaled_shape(*frames[0].shape[:2], self.scale_size)
        if self.num_crops == 1:
            boxes = [centre_crop_box(height, width, self.crop_size)]
        else:
            boxes = three_crop_boxes(height, width, self.crop_size)
        scale = self.scale_size / min(frames[0].shape[:2])
        t = len(frames) // num_clips
        clips = [frames[k * t:(k + 1) * t] for k in range(num_clips)]
        return np.stack([crop_to_clip(c, box, self.crop_size, scale) for c in clips for box in boxes])


def resize_short_side(frame, size):
    """Resize one HxWx3 frame so that its short side is `size`, keeping the aspect ratio."""
    height, width = frame.shape[:2]
    new_h, new_w = (size, int(round(width * size / height))) if height <= width else \
        (int(round(height * size / width)), size)
    if (new_h, new_w) == (height, width):
        return frame
    interpolation = cv2.INTER_AREA if new_h < height else cv2.INTER_LINEAR
    return cv2.resize(frame, (new_w, new_h), interpolation=interpolation)
