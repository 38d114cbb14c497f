"""List file parsing: valid lines, and every malformed line reported with its file and line number."""
import logging

import pytest

from src.data.records import BadSampleError, VideoRecord, parse_list_line, read_class_names, read_list_file


def write(tmp_path, text):
    path = tmp_path / "list.txt"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
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


def test_a_latin1_line_is_named_by_file_and_line(tmp_path):
    path = write(tmp_path, "1 10 0\ncaf\xe9 10 1\n".encode("latin-1"))
    with pytest.raises(BadSampleError, match=r"list\.txt:2: not UTF-8 text \(byte 0xe9 at column 4\)"):
        read_list_file(path, num_classes=4)


def test_a_latin1_line_is_skipped_and_counted_when_asked(tmp_path, caplog):
    path = write(tmp_path, "1 10 0\ncaf\xe9 10 1\n3 10 2\n".encode("latin-1"))
    with caplog.at_level(logging.WARNING):
        records = read_list_file(path, num_classes=4, skip_bad_samples=True)
    assert [r.path for r in records] == ["1", "3"]
    assert "list.txt:2: not UTF-8" in caplog.text and "skipped 1 bad lines of 3" in caplog.text


def test_a_utf8_byte_order_mark_is_dropped(tmp_path):
    records = read_list_file(write(tmp_path, "\ufeff12 45 3\ncaf\u00e9 8 1\n"), num_classes=4)
    assert records == [VideoRecord("12", 45, 3), VideoRecord("caf\u00e9", 8, 1)]


@pytest.mark.parametrize("line, path", [
    ("a  b 10 3", "a  b"),           # two spaces inside a folder name
    ("x  10 3", "x "),               # a trailing space of the path (one separator before num_frames)
    (" lead 10 3", " lead"),         # a leading space
    ("tab\tsep\t10\t3", "tab\tsep"), # tab separators
    ("a b 10   3  ", "a b"),         # extra spaces between and after the numbers are not part of the path
])
def test_paths_are_kept_exactly(tmp_path, line, path):
    assert read_list_file(write(tmp_path, f"{line}\r\n"), num_classes=4) == [VideoRecord(path, 10, 3)]


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/data/elsewhere/x", ".."])
def test_paths_outside_the_root_are_refused_with_the_line(tmp_path, path):
    list_file = write(tmp_path, f"ok 10 0\n{path} 10 1\n")
    with pytest.raises(BadSampleError, match=rf"list\.txt:2: path '{path}' is outside the data root"):
        read_list_file(list_file, num_classes=4)
    records = read_list_file(list_file, num_classes=4, allow_outside_root=True)
    assert records[1] == VideoRecord(path, 10, 1)


def test_paths_that_stay_inside_the_root_are_accepted(tmp_path):
    records = read_list_file(write(tmp_path, "a/../b 10 0\n./c 10 1\n..d 10 2\n"), num_classes=4)
    assert [r.path for r in records] == ["a/../b", "./c", "..d"]


def test_a_nul_in_a_path_is_refused(tmp_path):
    with pytest.raises(BadSampleError, match=r"list\.txt:1: the path contains a NUL"):
        read_list_file(write(tmp_path, "a\0b 10 0\n"), num_classes=4)


def test_a_missing_list_is_named(tmp_path):
    with pytest.raises(BadSampleError, match=r"nope\.txt: cannot read the list \(No such file or directory\)"):
        read_list_file(str(tmp_path / "nope.txt"))


def test_class_names_utf8_bom_and_errors(tmp_path):
    path = tmp_path / "category.txt"
    path.write_bytes("\ufeffpushing\nturning\n".encode("utf-8"))
    assert read_class_names(str(path), 2) == ["pushing", "turning"]
    with pytest.raises(BadSampleError, match="2 class names for num_classes=3"):
        read_class_names(str(path), 3)
    path.write_bytes("pushing\ntourn\xe9\n".encode("latin-1"))
    with pytest.raises(BadSampleError, match=r"category\.txt:2: not UTF-8 text"):
        read_class_names(str(path), 2)
