"""Writing files without ever destroying one: a temporary name next to the target, then an atomic rename.

A failed write (an exception, a full disk) removes its temporary and leaves an earlier file at the final name
untouched; a process killed mid-write leaves only `<name>.tmp`, which the next write of the same file replaces.
"""
import contextlib
import os


def temporary_name(path):
    return f"{path}.tmp"


def write_atomically(path, write, binary=False):
    """Call `write(f)` on `<path>.tmp` (text: UTF-8), then rename it to `path`; returns `path`."""
    path = os.fspath(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, 'wb' if binary else 'w', **({} if binary else {'encoding': 'utf-8'})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


def write_text_atomically(path, text):
    """Write `text` (UTF-8) to `path` through a temporary file; a failure leaves an earlier `path` as it was."""
    return write_atomically(path, lambda f: f.write(text))
