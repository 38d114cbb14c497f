"""Shared test setup: repository root and tests/ on sys.path, runtime defaults, CPU device, execution-mode fixtures."""
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path[:0] = [ROOT, TESTS]  # `src`, and the shared test helpers (helpers, numpy_tsm) from every test folder

from src.runtime import apply_runtime_defaults  # noqa: E402

apply_runtime_defaults()  # as every entry script does: ONEDNN_MAX_CPU_ISA / GLOG_v before MindSpore loads

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


# The longest test files first (measured): with several workers (pytest.ini: -n auto, whole files per worker, in
# this order) the short files fill in around them instead of one long file starting last.
LONGEST_FIRST = ('scripts/test_demo.py', 'train/test_train_distributed.py', 'train/test_train.py',
                 'scripts/test_infer_310.py', 'scripts/test_bench_model.py', 'scripts/test_shift_study.py',
                 'scripts/test_export.py', 'models/test_tsm.py', 'models/test_streaming.py', 'scripts/test_eval.py')


def pytest_collection_modifyitems(config, items):
    rank = {os.path.join(TESTS, path): i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(str(item.path), len(rank)))  # stable: the rest in collection order
