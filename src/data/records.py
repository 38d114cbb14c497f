"""List files: one video a line, `<relative_dir_or_file> <num_frames> <label>` (frame numbers are 1-based)."""
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


class BadSampleError(Exception):
    """A list line, frame file or video that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class VideoRecord:
    """One list line: `path` (frame folder or video file, relative to the data root), `num_frames`, `label`."""
    path: str
    num_frames: int
    label: int


def parse_list_line(line, num_classes=None):
    """Parse one list line into a VideoRecord; raise ValueError saying what is wrong with it."""
    fields = line.strip().rsplit(None, 2)  # the last two fields; the path keeps its own spaces exactly
    if len(fields) < 3:
        raise ValueError(f"expected '<path> <num_frames> <label>', got {line.strip()!r}")
    path, num_frames, label = fields
    try:
        num_frames, label = int(num_frames), int(label)
    except ValueError:
        raise ValueError(f"num_frames and label must be integers, got {line.strip()!r}") from None
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if label < 0 or (num_classes is not None and label >= num_classes):
        raise ValueError(f"label {label} out of range [0, {num_classes})")
    return VideoRecord(path, num_frames, label)


def read_list_file(list_file, num_classes=None, skip_bad_samples=False):
    """Read a list file into VideoRecords.

    A malformed line raises BadSampleError naming the file and line; with `skip_bad_samples` it is logged and
    left out. An empty list (after skipping) is always an error.
    """
    records, skipped = [], 0
    with open(list_file, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(parse_list_line(line, num_classes))
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


def read_class_names(path, num_classes):
    """Class names in label order, one a line (`category.txt`); their count must be num_classes."""
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
    if len(names) != num_classes:
        raise ValueError(f"{path}: {len(names)} class names for num_classes={num_classes}")
    return names
