"""src/files.py: atomic writes never destroy the earlier file and leave no temporary behind, also on a full disk."""
import os
import subprocess
import sys

import pytest

from src.files import write_atomically, write_text_atomically

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_writes_and_replaces(tmp_path):
    path = tmp_path / "out.json"
    assert write_text_atomically(str(path), '{"top1": 1}') == str(path)
    write_text_atomically(str(path), '{"top1": 2}\u00e9')
    assert path.read_text(encoding="utf-8") == '{"top1": 2}\u00e9' and os.listdir(tmp_path) == ["out.json"]


def test_a_failed_write_keeps_the_earlier_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("earlier")

    def half_then_fail(f):
        f.write("half of the new con")
        raise KeyboardInterrupt  # any exception, even an interrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(str(path), half_then_fail)
    assert path.read_text() == "earlier" and os.listdir(tmp_path) == ["out.json"]


def test_a_stale_temporary_of_a_killed_write_is_replaced(tmp_path):
    path = tmp_path / "out.json"
    (tmp_path / "out.json.tmp").write_text("left by kill -9")
    write_text_atomically(str(path), "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["out.json"]


def test_a_full_disk_keeps_the_earlier_file_and_frees_the_space(tmp_path):
    """RLIMIT_FSIZE makes writes past 64 kB fail with EFBIG, as a full disk fails them with ENOSPC."""
    path = tmp_path / "results.json"
    path.write_text("earlier")
    script = (
        "import resource, signal, sys\n"
        f"sys.path.insert(0, {ROOT!r})\n"
        "from src.files import write_text_atomically\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.RLIM_INFINITY))\n"
        "try:\n"
        f"    write_text_atomically({str(path)!r}, 'x' * 1000000)\n"
        "except OSError as err:\n"
        "    print('failed:', err.strerror)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "failed: File too large", result.stderr
    assert path.read_text() == "earlier" and os.listdir(tmp_path) == ["results.json"]
