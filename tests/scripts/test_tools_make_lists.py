"""tools/make_lists.py: SSv2 json / SSv1 csv / Kinetics csv -> class file and list files with frame counts."""
import json
import os

import cv2
import numpy as np
import pytest

from src.data import read_list_file
from tools import make_lists

LABELS = {"Moving something up": "1", "Pushing something from left to right": "0", "Holding something": "2"}


def write_video(path, num_frames):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fourcc = {".webm": "VP80", ".avi": "MJPG"}.get(os.path.splitext(str(path))[1], "mp4v")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 12, (32, 24))
    for i in range(num_frames):
        writer.write(np.full((24, 32, 3), 10 * i, np.uint8))
    writer.release()


def write_frames(folder, num_frames, template):
    os.makedirs(folder, exist_ok=True)
    for i in range(1, num_frames + 1):
        cv2.imwrite(os.path.join(folder, template.format(i)), np.zeros((8, 8, 3), np.uint8))


@pytest.fixture
def sthv2(tmp_path):
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "something-something-v2-labels.json").write_text(json.dumps(LABELS))
    train = [{"id": "11", "template": "Moving [something] up"}, {"id": "12", "template": "Holding [something]"},
             {"id": "13", "template": "Holding [something]"}]
    val = [{"id": "21", "template": "Pushing [something] from left to right"}]
    (ann / "something-something-v2-train.json").write_text(json.dumps(train))
    (ann / "something-something-v2-validation.json").write_text(json.dumps(val))
    return ann


def test_sthv2_from_videos(sthv2, tmp_path, capsys):
    write_video(tmp_path / "videos" / "11.webm", 7)
    write_video(tmp_path / "videos" / "21.webm", 5)
    (tmp_path / "videos" / "12.webm").write_bytes(b"junk")  # 13 is missing
    make_lists.main(["sthv2", "--annotations", str(sthv2), "--videos", str(tmp_path / "videos"),
                     "--out", str(tmp_path / "out"), "--workers", "2"])
    out = tmp_path / "out"
    assert (out / "category.txt").read_text().splitlines() == [
        "Pushing something from left to right", "Moving something up", "Holding something"]
    assert (out / "train_videos.txt").read_text() == "11.webm 7 1\n"
    assert (out / "val_videos.txt").read_text() == "21.webm 5 0\n"
    missing = (out / "missing_train.txt").read_text()
    assert "12.webm: cannot open video" in missing and "13: not found" in missing
    assert "train: 2 videos left out" in capsys.readouterr().out


def test_sthv2_from_frames(sthv2, tmp_path):
    for video, n in (("11", 4), ("12", 9), ("13", 2), ("21", 3)):
        write_frames(tmp_path / "frames" / video, n, "{:06d}.jpg")
    os.remove(tmp_path / "frames" / "13" / "000001.jpg")  # numbered 2..2: not usable
    make_lists.main(["sthv2", "--annotations", str(sthv2), "--frames", str(tmp_path / "frames"),
                     "--out", str(tmp_path), "--workers", "1"])
    assert (tmp_path / "train_videofolder.txt").read_text() == "11 4 1\n12 9 2\n"
    assert "13: 1 frames but no 000001.jpg" in (tmp_path / "missing_train.txt").read_text()
    assert len(read_list_file(str(tmp_path / "val_videofolder.txt"), num_classes=3)) == 1


def test_sthv1_classes_sorted_and_template(tmp_path):
    (tmp_path / "something-something-v1-labels.csv").write_text("Zooming in\nAttaching something\n")
    (tmp_path / "something-something-v1-train.csv").write_text("5;Zooming in\n6;Attaching something\n")
    (tmp_path / "something-something-v1-validation.csv").write_text("7;Zooming in\n")
    for video in ("5", "6", "7"):
        write_frames(tmp_path / "frames" / video, 3, "{:05d}.jpg")
    make_lists.main(["sthv1", "--annotations", str(tmp_path), "--frames", str(tmp_path / "frames"),
                     "--frame_template", "{:05d}.jpg", "--out", str(tmp_path), "--workers", "1"])
    assert (tmp_path / "category.txt").read_text() == "Attaching something\nZooming in\n"
    assert (tmp_path / "train_videofolder.txt").read_text() == "5 3 1\n6 3 0\n"


def test_kinetics_finds_clips_by_id_and_time(tmp_path):
    header = "label,youtube_id,time_start,time_end,split\n"
    (tmp_path / "train.csv").write_text(header + "riding a bike,abc,10,20,train\narchery,xyz,0,10,train\n")
    (tmp_path / "validate.csv").write_text(header + "archery,qqq,5,15,val\n")
    write_video(tmp_path / "videos" / "riding_a_bike" / "abc_000010_000020.mp4", 6)
    write_video(tmp_path / "videos" / "archery" / "xyz_000000_000010.mp4", 4)
    make_lists.main(["kinetics", "--annotations", str(tmp_path), "--videos", str(tmp_path / "videos"),
                     "--out", str(tmp_path), "--workers", "1"])
    assert (tmp_path / "category.txt").read_text() == "archery\nriding a bike\n"
    assert sorted((tmp_path / "train_videos.txt").read_text().splitlines()) == [
        "archery/xyz_000000_000010.mp4 4 0", "riding_a_bike/abc_000010_000020.mp4 6 1"]
    assert "qqq_000005_000015: not found" in (tmp_path / "missing_val.txt").read_text()


def test_a_frame_folder_missing_a_middle_frame_is_reported_and_left_out(sthv2, tmp_path, capsys):
    for video, n in (("11", 6), ("12", 5), ("13", 4), ("21", 3)):
        write_frames(tmp_path / "frames" / video, n, "{:06d}.jpg")
    os.remove(tmp_path / "frames" / "12" / "000003.jpg")
    make_lists.main(["sthv2", "--annotations", str(sthv2), "--frames", str(tmp_path / "frames"),
                     "--out", str(tmp_path), "--workers", "1"])
    assert (tmp_path / "train_videofolder.txt").read_text() == "11 6 1\n13 4 2\n"
    assert (tmp_path / "missing_train.txt").read_text() == f"{tmp_path / 'frames' / '12'}: 4 frames but no 000003.jpg\n"
    out = capsys.readouterr().out
    assert "train: 1 videos left out" in out and "12: 4 frames but no 000003.jpg" in out


def test_video_frame_counts_are_the_decoded_ones(sthv2, tmp_path):
    """A truncated AVI keeps a header claiming 20 frames; the list says what decodes."""
    write_video(tmp_path / "videos" / "11.avi", 20)
    data = (tmp_path / "videos" / "11.avi").read_bytes()
    (tmp_path / "videos" / "11.avi").write_bytes(data[:len(data) * 3 // 4])
    assert cv2.VideoCapture(str(tmp_path / "videos" / "11.avi")).get(cv2.CAP_PROP_FRAME_COUNT) == 20
    decoded = 0
    capture = cv2.VideoCapture(str(tmp_path / "videos" / "11.avi"))
    while capture.read()[0]:
        decoded += 1
    assert 0 < decoded < 20
    make_lists.main(["sthv2", "--annotations", str(sthv2), "--videos", str(tmp_path / "videos"),
                     "--out", str(tmp_path / "out"), "--workers", "1"])
    assert (tmp_path / "out" / "train_videos.txt").read_text() == f"11.avi {decoded} 1\n"


def test_a_missing_root_is_refused_and_earlier_lists_survive(sthv2, tmp_path):
    (tmp_path / "train_videofolder.txt").write_text("earlier 5 0\n")
    with pytest.raises(SystemExit, match=r"--frames .*/nowhere: no such folder"):
        make_lists.main(["sthv2", "--annotations", str(sthv2), "--frames", str(tmp_path / "nowhere"),
                         "--out", str(tmp_path)])
    assert (tmp_path / "train_videofolder.txt").read_text() == "earlier 5 0\n"
