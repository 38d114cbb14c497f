"""Which frames a clip takes (pure NumPy). Indices are 0-based; frame file numbers are index + start_index.

`num_segments` (T) frames per clip, in temporal order:
- train, segment: one random frame in each of T equal segments; videos shorter than T take T sorted random
  frames (the reference repeats frame 0 T times instead, which throws the video away);
- eval, segment: segment centres `int(tick / 2 + tick * k)`, tick = n / T; a second clip ("twice") at
  `int(tick * k)`. Valid for any n >= 1 (short videos repeat frames in order);
- dense: T frames with stride `window // T` from a start in `[0, n - window]` (wrapping around short videos);
  train takes a random start, eval `num_clips` evenly spaced starts (the reference's 10 clips).
"""
import numpy as np

DENSE_WINDOW = 64
SAMPLINGS = ("segment", "dense")


def random_segment_indices(num_frames, num_segments, rng):
    """Train: a random frame in each segment; sorted random frames if the video is shorter than T."""
    segment_len = num_frames // num_segments
    if segment_len > 0:
        return np.arange(num_segments) * segment_len + rng.integers(segment_len, size=num_segments)
    return np.sort(rng.integers(num_frames, size=num_segments))


def segment_indices(num_frames, num_segments, offset=0.5):
    """Eval: frame `int(tick * (k + offset))` of each segment; offset 0.5 = centres, 0 = segment starts."""
    tick = num_frames / num_segments
    return np.array([int(tick * offset + tick * k) for k in range(num_segments)])


def dense_indices(num_frames, num_segments, start, window=DENSE_WINDOW):
    """T frames with stride window // T from `start`, wrapped around videos shorter than the window."""
    stride = max(1, window // num_segments)
    return (start + np.arange(num_segments) * stride) % num_frames


def dense_starts(num_frames, num_clips, window=DENSE_WINDOW, rng=None):
    """Start frames of dense clips: one random start with `rng`, else `num_clips` evenly spaced starts."""
    last_start = max(0, num_frames - window)
    if rng is not None:
        return np.array([rng.integers(last_start + 1)])
    if num_clips == 1:
        return np.array([last_start // 2])
    return np.linspace(0, last_start, num=num_clips, dtype=int)


def sample_clip_indices(num_frames, num_segments, sampling="segment", num_clips=1, rng=None):
    """Frame indices `(num_clips, T)` of one video; `rng` given = training (random), None = eval (fixed)."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if rng is not None and num_clips != 1:
        raise ValueError("training samples one clip per video")
    if sampling == "dense":
        starts = dense_starts(num_frames, num_clips, rng=rng)
        return np.stack([dense_indices(num_frames, num_segments, s) for s in starts])
    if rng is not None:
        return random_segment_indices(num_frames, num_segments, rng)[None]
    if num_clips not in (1, 2):
        raise ValueError(f"segment sampling takes 1 clip (centres) or 2 (centres + starts), got {num_clips}")
    offsets = (0.5, 0.0)[:num_clips]
    return np.stack([segment_indices(num_frames, num_segments, o) for o in offsets])
