"""`eval_protocol='zoo_r17'`: the test pipeline of the MindSpore model zoo r1.7 TSM (`research/cv/tsm`), which
measured the Hub checkpoint's 58.0 / 85.0. Written from a reading of its `src/utils/dataset.py` and
`src/utils/transforms.py`; what it does, and so what this does:

- List lines with fewer than 3 frames are dropped before anything is read (they are not in the denominator).
- T offsets: the segment centres `int(tick / 2 + tick * k)`, tick = n / T, when n > T; T zeros otherwise. The
  offsets are 0-based but r1.7 formats them as file numbers of 1-based frame folders, so it reads the frame before
  each centre, and for file 0, which does not exist, it reads file 1 instead. A video of n <= T frames is T copies
  of its first frame; 9 frames at T = 8 give files 1 1 2 3 5 6 7 8 (the reference protocol: 1 2 3 4 6 7 8 9).
- Every frame is resized to `scale_size x scale_size` with PIL's bilinear filter (the aspect ratio is not kept),
  then the centre `crop_size x crop_size` is cut with PIL's crop box (both edges rounded).
- One clip, one crop.

Here the offsets become 0-based frame indices (file f is index f - 1, file 0 is index 0), so both frame folders and
raw videos give the frames r1.7 reads from a complete frame folder. Unlike r1.7, a frame file missing for any other
reason is an error naming the file, as in the reference protocol (r1.7 printed a line and read file 1 instead; a
folder without file 1 made it evaluate a random other video): r1.7's lists count the files of each folder, as
`tools/make_lists.py` does, so on such data file 0 is the only file that is ever missing.
Resizing the BGR frame is the same as resizing its RGB form (PIL filters each channel alone); the channel split
into the clip layout gives RGB order.
"""
import logging

import numpy as np
from PIL import Image

from src.data.records import BadSampleError

logger = logging.getLogger(__name__)

MIN_FRAMES = 3  # r1.7 drops list lines with fewer frames


def zoo_r17_offsets(num_frames, num_segments):
    """r1.7's T offsets of one video: segment centres if it has more than T frames, else T zeros."""
    if num_frames > num_segments:
        tick = num_frames / num_segments
        return np.array([int(tick / 2.0 + tick * k) for k in range(num_segments)])
    return np.zeros(num_segments, dtype=int)


def zoo_r17_file_numbers(num_frames, num_segments):
    """The 1-based frame files r1.7 reads: its offsets used as file numbers, the missing file 0 read as file 1."""
    return np.maximum(zoo_r17_offsets(num_frames, num_segments), 1)


def zoo_r17_indices(num_frames, num_segments):
    """0-based indices of the frames r1.7 reads (file number - 1), shape (1, T) like `sample_clip_indices`."""
    return (zoo_r17_file_numbers(num_frames, num_segments) - 1)[None]


def zoo_r17_records(records, list_file):
    """The records r1.7 evaluates: those with at least 3 frames (the number left out is logged)."""
    kept = [r for r in records if r.num_frames >= MIN_FRAMES]
    if len(kept) < len(records):
        logger.warning("%s: eval_protocol zoo_r17 leaves out %d of %d videos with fewer than %d frames, as r1.7 "
                       "did", list_file, len(records) - len(kept), len(records), MIN_FRAMES)
    if not kept:
        raise BadSampleError(f"{list_file}: no video with at least {MIN_FRAMES} frames (eval_protocol zoo_r17 "
                             "leaves shorter ones out)")
    return kept


def pil_centre_box(size, crop_size):
    """The box (left, top, right, bottom) r1.7's centre crop cuts from a size x size image, rounded as PIL does."""
    low, high = round((size - crop_size) / 2), round((size + crop_size) / 2)
    return low, low, high, high


class ZooR17Transform:
    """Squash every frame to scale_size x scale_size (PIL bilinear), cut the centre crop_size x crop_size."""
    num_crops = 1

    def __init__(self, crop_size=224, scale_size=256):
        if crop_size > scale_size:
            raise ValueError(f"crop_size {crop_size} exceeds scale_size {scale_size}")
        box = pil_centre_box(scale_size, crop_size)
        if box[2] - box[0] != crop_size:  # r1.7 rounds both edges of (size -/+ crop) / 2, half to even
            raise ValueError(f"r1.7's centre crop of {crop_size} from {scale_size} is {box[2] - box[0]} pixels wide "
                             "(PIL rounds both edges); an odd crop_size needs an odd scale_size")
        self.crop_size, self.scale_size, self.box = crop_size, scale_size, box

    def __call__(self, frames, num_clips=1):
        """T BGR frames (H, W, 3) -> uint8 RGB view (1, T*3, crop, crop)."""
        if num_clips != 1:
            raise ValueError(f"eval_protocol zoo_r17 takes 1 clip, got {num_clips}")
        size = self.crop_size
        clip = np.empty((len(frames), 3, size, size), np.uint8)
        for t, frame in enumerate(frames):
            squashed = Image.fromarray(np.ascontiguousarray(frame)).resize(
                (self.scale_size, self.scale_size), Image.Resampling.BILINEAR)
            clip[t] = np.asarray(squashed.crop(self.box))[:, :, ::-1].transpose(2, 0, 1)  # BGR -> RGB planes
        return clip.reshape(1, -1, size, size)
