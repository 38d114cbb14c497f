"""Frame sources: JPEG frame folders and raw videos (mp4, webm, avi, ... through OpenCV/FFmpeg).

`read(record, indices)` returns the frames at exactly the 0-based `indices`, a list of K `(H, W, 3)` uint8 arrays
of one size in OpenCV's BGR order (not stacked or converted: the transforms crop them first and emit RGB), or
raises BadSampleError naming the file.
Videos are decoded sequentially from the start (frames before the last wanted one are grabbed but not
converted): container headers lie about frame counts and seeking is inexact for several codecs, so neither is
trusted.
"""
import os

import cv2
import numpy as np

from src.data.records import BadSampleError

VIDEO_EXTENSIONS = (".webm", ".mp4", ".avi", ".mkv", ".mov")


def decode_image(path):
    """Read an image file as HxWx3 uint8 BGR; raise BadSampleError if it is missing, empty, unreadable or truncated."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise BadSampleError(f"{path}: cannot read frame ({err.strerror})") from None
    if data.size == 0:
        raise BadSampleError(f"{path}: empty frame file (0 bytes)")
    if data[:2].tobytes() == b"\xff\xd8" and b"\xff\xd9" not in data[-64:].tobytes():
        raise BadSampleError(f"{path}: truncated JPEG (no end-of-image marker)")  # libjpeg would pad it grey
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as err:
        raise BadSampleError(f"{path}: corrupt image ({str(err).strip().splitlines()[-1]})") from None
    if image is None:
        raise BadSampleError(f"{path}: corrupt or unsupported image")
    return image


def same_size(frames, path):
    """The frames, checked to be of one size."""
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise BadSampleError(f"{path}: frames differ in size {sorted(shapes)}")
    return frames


class FrameFolderReader:
    """Frames stored as `<root>/<record.path>/<template.format(index + start_index)>`."""

    def __init__(self, root, template="{:06d}.jpg", start_index=1):
        self.root, self.template, self.start_index = root, template, start_index

    def read(self, record, indices):
        folder = os.path.join(self.root, record.path)
        if not os.path.isdir(folder):
            raise BadSampleError(f"{folder}: frame folder not found")
        decoded = {i: decode_image(os.path.join(folder, self.template.format(i + self.start_index)))
                   for i in sorted(set(indices.tolist()))}
        after_last = os.path.join(folder, self.template.format(record.num_frames + self.start_index))
        if record.num_frames - 1 in decoded and os.path.exists(after_last):  # the list's last frame: is it the last?
            raise BadSampleError(f"{folder}: has {os.path.basename(after_last)} but the list says "
                                 f"{record.num_frames} frames")
        return same_size([decoded[i] for i in indices.tolist()], folder)


def open_video(path):
    """Open a video with OpenCV/FFmpeg or raise BadSampleError."""
    if not os.path.isfile(path):
        raise BadSampleError(f"{path}: video file not found")
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise BadSampleError(f"{path}: cannot open video")
    return capture


def count_frame_files(folder, template):
    """Number of frames in a folder, named by `template` from 1; raise if none, or if any of 1..n is missing."""
    suffix = os.path.splitext(template)[1]
    try:
        names = set(os.listdir(folder))
    except OSError as err:
        raise BadSampleError(f"{folder}: cannot list the frames ({err.strerror})") from None
    count = sum(1 for name in names if name.endswith(suffix))
    if count == 0:
        raise BadSampleError(f"{folder}: no frame named like {template}")
    absent = [template.format(n) for n in range(1, count + 1) if template.format(n) not in names]
    if absent:
        more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
        raise BadSampleError(f"{folder}: {count} frames but no {absent[0]}{more}")
    return count


def count_video_frames(path):
    """Count the frames of a video by decoding it (headers are not trusted); raise if it has none."""
    capture = open_video(path)
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    if count == 0:
        raise BadSampleError(f"{path}: no decodable frame")
    return count


class VideoReader:
    """Frames decoded from `<root>/<record.path>` (a video file), sequentially up to the last wanted frame.

    Whenever decoding reaches the frame count of the list line (the list's last frame is wanted, or the video ends
    before a wanted frame), a video longer or shorter than the list says raises BadSampleError.
    """

    def __init__(self, root):
        self.root = root

    def read(self, record, indices):
        path = os.path.join(self.root, record.path)
        wanted = set(indices.tolist())
        last = max(wanted)
        capture, decoded = open_video(path), {}
        try:
            for i in range(last + 1):
                if not capture.grab():
                    raise BadSampleError(f"{path}: video ended after {i} frames but the list says "
                                         f"{record.num_frames} (frame {last + 1} wanted)")
                if i in wanted:
                    ok, frame = capture.retrieve()
                    if not ok:
                        raise BadSampleError(f"{path}: cannot decode frame {i + 1}")
                    decoded[i] = frame
            if last == record.num_frames - 1 and capture.grab():  # decoded to the listed end: is it the end?
                raise BadSampleError(f"{path}: video has more frames than the {record.num_frames} the list says")
        finally:
            capture.release()
        return same_size([decoded[i] for i in indices.tolist()], path)


def create_reader(source, root, frame_template="{:06d}.jpg", start_index=1):
    """`source` 'frames' (JPEG folders named by `frame_template`) or 'video' (files read through OpenCV)."""
    if source == "frames":
        return FrameFolderReader(root, frame_template, start_index)
    if source == "video":
        return VideoReader(root)
    raise ValueError(f"source must be 'frames' or 'video', got {source!r}")
