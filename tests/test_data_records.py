"""List file parsing: valid lines, and every malformed line reported with its file and line number."""
import logging

import pytest

from src.data.records import BadSampleError, VideoRecord, parse_list_line, read_list_file


def write(tmp_path, text):
    path = tmp_path / "list.txt"
    path.write_text(text)
    return str(path)


def test_parses_lines_and_skips_blank_ones(tmp_path):
    records = read_list_file(write(tmp_path, "12 45 3\n\nsome dir/vid.webm 30 0\n"), num_classes=4)
    assert records == [VideoRecord("12", 45, 3), VideoRecord("some dir/vid.webm", 30, 0)]


@pytest.mark.parametrize("line, problem", [
    ("12 45", "expected"), ("12 x 3", "integers"), ("12 0 3", "num_frames"), ("12 45 4", "out of range"),
    ("12 45 -1", "out of range")])
def test_malformed_line_names_file_and_line(tmp_path, line, problem):
    path = write(tmp_path, f"1 10 0\n{line}\n")
    with pytest.raises(BadSampleError, match=rf"list\.txt:2: .*{problem}"):
        read_list_file(path, num_classes=4)


def test_skip_bad_samples_logs_and_counts(tmp_path, caplog):
    path = write(tmp_path, "1 10 0\n2 10 9\n3 ten 1\n4 10 1\n")
    with caplog.at_level(logging.WARNING):
        records = read_list_file(path, num_classes=4, skip_bad_samples=True)
    assert [r.path for r in records] == ["1", "4"]
    assert "list.txt:2" in caplog.text and "list.txt:3" in caplog.text
    assert "skipped 2 bad lines of 4" in caplog.text


@pytest.mark.parametrize("text, skip", [("", False), ("\n\n", False), ("1 10 7\n", True)])
def test_empty_list_is_an_error(tmp_path, text, skip):
    with pytest.raises(BadSampleError, match="no usable video"):
        read_list_file(write(tmp_path, text), num_classes=4, skip_bad_samples=skip)


def test_label_unchecked_without_num_classes():
    assert parse_list_line("a 5 1000").label == 1000
