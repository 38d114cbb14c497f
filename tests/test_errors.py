"""src/errors.py: bad input is reported in one line naming the file, also from inside MindSpore's data pipeline."""
import errno
import os
import subprocess
import sys

import mindspore.dataset as ds
import pytest

from src.checkpoint import CheckpointError
from src.config import ConfigError
from src.data import BadSampleError
from src.errors import InputError, input_error_message, run_entry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BadVideos:
    """A GeneratorDataset source whose third item is a bad video."""

    def __len__(self):
        return 4

    def __getitem__(self, item):
        if item == 2:
            raise BadSampleError("/data/frames/17/000003.jpg: empty frame file (0 bytes)")
        return (item,)


def _first_error(processes):
    dataset = ds.GeneratorDataset(BadVideos(), ["x"], shuffle=False, num_parallel_workers=2 if processes else 1,
                                  python_multiprocessing=processes)
    with pytest.raises(RuntimeError) as error:
        list(dataset.create_tuple_iterator(output_numpy=True, num_epochs=1))
    assert "Exception thrown from user defined Python function" in str(error.value)
    assert len(str(error.value).splitlines()) > 10
    return input_error_message(error.value)


def test_our_message_is_found_inside_mindspores_runtime_error_from_a_worker_thread():
    assert _first_error(False) == "/data/frames/17/000003.jpg: empty frame file (0 bytes)"


@pytest.mark.slow  # a process of its own
def test_our_message_is_found_inside_mindspores_runtime_error_from_a_worker_process():
    """A worker process qualifies the class name (src.data.records.BadSampleError). Run in a fresh interpreter:
    forking this test process, whose MindSpore runtime threads are already running, may abort it."""
    code = ("import sys; sys.path[:0] = [%r, %r]; import test_errors; print('MESSAGE', test_errors._first_error(True))"
            % (ROOT, os.path.join(ROOT, 'tests')))
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'MESSAGE /data/frames/17/000003.jpg: empty frame file (0 bytes)' in result.stdout


def test_which_errors_are_bad_input():
    assert issubclass(BadSampleError, InputError) and issubclass(ConfigError, InputError)
    assert issubclass(CheckpointError, InputError) and issubclass(CheckpointError, ValueError)
    assert input_error_message(ConfigError("command line --epochs: 'epochs' must be >= 1, got 0")) == \
        "command line --epochs: 'epochs' must be >= 1, got 0"
    assert input_error_message(FileNotFoundError(errno.ENOENT, "No such file or directory", "x.txt")) == \
        "[Errno 2] No such file or directory: 'x.txt'"
    assert input_error_message(OSError(errno.ENOSPC, "No space left on device")) is None  # no file named
    assert input_error_message(RuntimeError("a MindSpore failure without our message")) is None
    assert input_error_message(ValueError("a bug")) is None


def fails_with(err):
    def main(*args):
        raise err
    return main


def test_run_entry_prints_one_line_and_exits_1(capsys):
    with pytest.raises(SystemExit) as stop:
        run_entry(fails_with(BadSampleError("val.txt:3: label 9 out of range [0, 4)")), prog="eval.py", environ={})
    assert stop.value.code == 1
    assert capsys.readouterr().err == "eval.py: error: val.txt:3: label 9 out of range [0, 4)\n"
    assert run_entry(lambda a, b: a + b, 2, 3, environ={}) == 5


def test_run_entry_keeps_the_traceback_of_bugs_and_in_debug_mode():
    with pytest.raises(ZeroDivisionError):
        run_entry(fails_with(ZeroDivisionError("a bug")), environ={})
    with pytest.raises(BadSampleError, match="val.txt:3"):
        run_entry(fails_with(BadSampleError("val.txt:3: bad")), environ={"TSM_DEBUG": "1"})
    with pytest.raises(SystemExit):
        run_entry(fails_with(BadSampleError("val.txt:3: bad")), environ={"TSM_DEBUG": "0"})
