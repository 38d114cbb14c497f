"""Shared test setup: repository root and tests/ on sys.path, runtime defaults, CPU device, execution-mode fixtures."""
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path[:0] = [ROOT, TESTS]  # `src`, and the shared test helpers (helpers, numpy_tsm) from every test folder

import src  # noqa: E402,F401  (applies ONEDNN_MAX_CPU_ISA / GLOG_v defaults before MindSpore runs)
import mindspore as ms  # noqa: E402

ms.set_device('CPU')
ms.set_context(mode=ms.PYNATIVE_MODE)

MODES = {'graph': ms.GRAPH_MODE, 'pynative': ms.PYNATIVE_MODE}


@pytest.fixture(params=sorted(MODES))
def mode(request):
    """Run the test once per execution mode; restores PyNative afterwards."""
    ms.set_context(mode=MODES[request.param])
    yield request.param
    ms.set_context(mode=ms.PYNATIVE_MODE)


@pytest.fixture
def run_in_mode():
    """`run_in_mode(name, fn)` calls fn under that execution mode, restoring PyNative afterwards."""
    def run(name, fn):
        ms.set_context(mode=MODES[name])
        try:
            return fn()
        finally:
            ms.set_context(mode=ms.PYNATIVE_MODE)
    return run
