"""tools/extract_frames.py: every frame, short side resized, resumable, failures reported at the end."""
import os

import cv2
import numpy as np
import pytest

from tools import extract_frames


def write_video(path, num_frames, size=(64, 48)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12, size)
    for i in range(num_frames):
        writer.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))
    writer.release()


def test_extracts_resumes_and_reports_failures(tmp_path, capsys):
    videos, frames = tmp_path / "videos", tmp_path / "frames"
    write_video(videos / "a.avi", 5)
    write_video(videos / "sub" / "b.avi", 3, size=(48, 64))  # portrait
    (videos / "bad.mp4").write_bytes(b"junk" * 50)
    argv = ["--videos", str(videos), "--frames", str(frames), "--short_side", "32", "--workers", "2"]
    assert extract_frames.main(argv) == 1
    out = capsys.readouterr().out
    assert "extracted 2 videos, skipped 0 already done, 1 failed" in out and "FAILED" in out and "bad.mp4" in out
    assert "bad.mp4" in (frames / "failed.txt").read_text()
    assert sorted(os.listdir(frames)) == ["a", "failed.txt", "sub"]  # no empty bad.part left behind
    assert sorted(os.listdir(frames / "a")) == [f"{i:06d}.jpg" for i in range(1, 6)]
    assert cv2.imread(str(frames / "a" / "000001.jpg")).shape == (32, 43, 3)
    assert cv2.imread(str(frames / "sub" / "b" / "000003.jpg")).shape == (43, 32, 3)
    np.testing.assert_allclose(cv2.imread(str(frames / "a" / "000004.jpg")).mean(), 60, atol=3)

    stamp = os.path.getmtime(frames / "a" / "000001.jpg")
    os.rename(frames / "sub" / "b", frames / "sub" / "b.part")  # as if interrupted while writing b
    assert extract_frames.main(argv) == 1
    assert "extracted 1 videos, skipped 1 already done, 1 failed" in capsys.readouterr().out
    assert os.path.getmtime(frames / "a" / "000001.jpg") == stamp
    assert len(os.listdir(frames / "sub" / "b")) == 3 and not os.path.exists(frames / "sub" / "b.part")


def test_a_video_failing_midway_leaves_no_part_folder(tmp_path, monkeypatch):
    """A write error after some frames (a full disk): the half-written folder is removed, the error reported."""
    write_video(tmp_path / "videos" / "a.avi", 6)
    real_imwrite, written = cv2.imwrite, []

    def imwrite_fails_at_frame_4(path, *args):
        if path.endswith("000004.jpg"):
            return False
        written.append(path)
        return real_imwrite(path, *args)

    monkeypatch.setattr(extract_frames.cv2, "imwrite", imwrite_fails_at_frame_4)
    with pytest.raises(OSError, match=r"cannot write .*a\.part/000004\.jpg"):
        extract_frames.extract_video(str(tmp_path / "videos" / "a.avi"), str(tmp_path / "frames" / "a"))
    assert len(written) == 3 and os.listdir(tmp_path / "frames") == []


def test_a_missing_videos_folder_is_refused(tmp_path):
    with pytest.raises(SystemExit, match=r"--videos .*/nowhere: no such folder"):
        extract_frames.main(["--videos", str(tmp_path / "nowhere"), "--frames", str(tmp_path / "frames")])
    assert not os.path.exists(tmp_path / "frames")
