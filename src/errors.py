"""Bad input: one exception family, and the one-line report the entry scripts give for it.

Every error about input the user must fix - a list line, a frame, a video, a config value, a checkpoint - derives
from `InputError` and names the file (and line). Entry scripts run their `main` through `run_entry`: such an error,
also when MindSpore's data pipeline has wrapped it in its own RuntimeError ("Exception thrown from user defined
Python function in dataset", with our message ~20 lines down), ends the process with one line
`<script>: error: <message>` on stderr and exit status 1. `TSM_DEBUG=1` in the environment shows the full traceback
instead. Anything else (a bug) keeps its traceback.
"""
import os
import re
import sys

DEBUG_ENV = 'TSM_DEBUG'
EXIT_STATUS = 1


class InputError(Exception):
    """Input the user must fix; the message names the file (and line, or key) and says what is wrong."""


# The last line of a Python traceback that MindSpore's dataset engine copies into its RuntimeError: the exception's
# class (module-qualified when raised in a worker process) and our one-line message.
_WRAPPED = re.compile(r'^(?:[A-Za-z_][\w.]*\.)?(?:BadSampleError|ConfigError|CheckpointError|CheckpointMismatchError|'
                      r'InputError): (.+?)\s*$', re.MULTILINE)


def input_error_message(err):
    """The one-line message of bad input - `err` itself, or our error inside MindSpore's RuntimeError - else None.

    An OSError naming a file (a missing or unreadable file given on the command line) counts as bad input too.
    """
    if isinstance(err, InputError):
        return str(err)
    if isinstance(err, RuntimeError):
        found = [m for m in _WRAPPED.findall(str(err)) if not m.startswith('Traceback (most recent call last)')]
        return found[-1] if found else None
    if isinstance(err, OSError) and err.filename is not None:
        return str(err)
    return None


def debug_requested(environ=os.environ):
    return environ.get(DEBUG_ENV, '').strip().lower() not in ('', '0', 'false', 'no')


def run_entry(main, *args, prog=None, environ=os.environ):
    """`main(*args)`; bad input ends the process with one line on stderr and status 1 (TSM_DEBUG=1: traceback)."""
    try:
        return main(*args)
    except Exception as err:  # noqa: BLE001  (anything that is not bad input is re-raised unchanged)
        message = input_error_message(err)
        if message is None or debug_requested(environ):
            raise
        prog = prog or os.path.basename(sys.argv[0])
        print(f"{prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_STATUS) from None
