"""List files: one video a line, `<path> <num_frames> <label>` (frame numbers are 1-based).

Lines are UTF-8 (a byte-order mark at the start of the file is dropped); the path is everything before the single
space or tab that precedes `<num_frames>`, kept exactly (inner, leading and trailing spaces included), and must
stay inside the data root (no absolute path, no `..` above it) unless `allow_outside_root`.
"""
import codecs
import logging
import os
import re
from dataclasses import dataclass

from src.errors import InputError

logger = logging.getLogger(__name__)

# <path><one space or tab><num_frames><spaces or tabs><label><optional trailing spaces or tabs>
LINE = re.compile(r"(?P<path>.*)[ \t](?P<num_frames>\S+)[ \t]+(?P<label>\S+)[ \t]*", re.DOTALL)


class BadSampleError(InputError):
    """A list line, frame file or video that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class VideoRecord:
    """One list line: `path` (frame folder or video file, relative to the data root), `num_frames`, `label`."""
    path: str
    num_frames: int
    label: int


def outside_root(path):
    """Whether a list path leaves the data root: absolute, or going above it with `..`."""
    return os.path.isabs(path) or os.path.normpath(path).split(os.sep)[0] == os.pardir


def parse_list_line(line, num_classes=None, allow_outside_root=False):
    """Parse one list line (without its line break) into a VideoRecord; raise ValueError saying what is wrong."""
    match = LINE.fullmatch(line)
    if not match or not match["path"]:
        raise ValueError(f"expected '<path> <num_frames> <label>', got {line!r}")
    path, num_frames, label = match["path"], match["num_frames"], match["label"]
    try:
        num_frames, label = int(num_frames), int(label)
    except ValueError:
        raise ValueError(f"num_frames and label must be integers, got {line!r}") from None
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if label < 0 or (num_classes is not None and label >= num_classes):
        raise ValueError(f"label {label} out of range [0, {num_classes})")
    if "\0" in path:
        raise ValueError(f"the path contains a NUL character: {path!r}")
    if not allow_outside_root and outside_root(path):
        raise ValueError(f"path {path!r} is outside the data root (absolute, or '..' above it); set "
                         "allow_outside_root True to read such paths")
    return VideoRecord(path, num_frames, label)


def list_lines(list_file):
    """(line number, text or UnicodeDecodeError) of every line: split on LF, CRLF or CR only, BOM dropped."""
    try:
        with open(list_file, "rb") as f:
            data = f.read()
    except OSError as err:
        raise BadSampleError(f"{list_file}: cannot read the list ({err.strerror or err})") from None
    data = data.removeprefix(codecs.BOM_UTF8)
    for line_no, raw in enumerate(data.splitlines(), 1):  # bytes split on \n, \r\n and \r only
        try:
            yield line_no, raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield line_no, err


def read_list_file(list_file, num_classes=None, skip_bad_samples=False, allow_outside_root=False):
    """Read a list file into VideoRecords.

    A malformed line (not UTF-8, fields missing or not integers, label out of range, a path outside the data root
    without `allow_outside_root`) raises BadSampleError naming the file and line; with `skip_bad_samples` it is
    logged and left out, and the count is logged. An empty list (after skipping) is always an error.
    """
    records, skipped = [], 0
    for line_no, line in list_lines(list_file):
        try:
            if isinstance(line, UnicodeDecodeError):
                raise ValueError(f"not UTF-8 text (byte 0x{line.object[line.start]:02x} at column {line.start + 1}); "
                                 "re-save the list as UTF-8") from None
            if not line.strip():
                continue
            records.append(parse_list_line(line, num_classes, allow_outside_root))
        except ValueError as err:
            message = f"{list_file}:{line_no}: {err}"
            if not skip_bad_samples:
                raise BadSampleError(message) from None
            logger.warning("skipping bad list line %s", message)
            skipped += 1
    if skipped:
        logger.warning("%s: skipped %d bad lines of %d", list_file, skipped, skipped + len(records))
    if not records:
        raise BadSampleError(f"{list_file}: no usable video in the list")
    return records


def class_names_or_numbers(path, num_classes):
    """The class names of `path` (see read_class_names), or without a file the labels as text: '0', '1', ..."""
    return read_class_names(path, num_classes) if path else [str(i) for i in range(num_classes)]


def read_class_names(path, num_classes):
    """Class names in label order, one a line (`category.txt`, UTF-8); their count must be num_classes."""
    names = []
    for line_no, line in list_lines(path):
        if isinstance(line, UnicodeDecodeError):
            raise BadSampleError(f"{path}:{line_no}: not UTF-8 text (byte 0x{line.object[line.start]:02x} at "
                                 f"column {line.start + 1}); re-save the class file as UTF-8")
        if line.strip():
            names.append(line.strip())
    if len(names) != num_classes:
        raise BadSampleError(f"{path}: {len(names)} class names for num_classes={num_classes}")
    return names
