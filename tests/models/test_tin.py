"""TIN against a NumPy reference (fractional, negative, out-of-range offsets) and gradients into both sub-networks."""
import numpy as np
import pytest
import mindspore as ms

from src.models.tin import TemporalInterlace

T, C, H, W = 4, 32, 3, 2
sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731


def conv1d(x, weight, bias):
    """x (B, Cin, T), weight (Cout, Cin, 1, 3), zero padding 1 -> (B, Cout, T)."""
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    return np.stack([np.einsum('bct,oc->bot', padded[:, :, k:k + x.shape[2]], weight[:, :, 0, k]) for k in range(3)]
                    ).sum(0) + bias[None, :, None]


def sample(clip, offset):
    """clip (T, ...) read at fractional times t - offset, linear interpolation, zeros outside the clip."""
    out = np.zeros_like(clip)
    for t in range(len(clip)):
        tau = t - offset
        low = int(np.floor(tau))
        for s, weight in ((low, 1 - (tau - low)), (low + 1, tau - low)):
            if 0 <= s < len(clip):
                out[t] += weight * clip[s]
    return out


def reference(x, p, shift_div=4):
    """Float64 TIN written from the MMAction2 description, group by group and frame by frame."""
    fold = C // shift_div
    clips = x.reshape(-1, T, C, H, W).astype(np.float64)
    descriptor = clips[:, :, :fold].mean(axis=(3, 4)).transpose(0, 2, 1)  # (B, fold, T)
    hidden = np.maximum(conv1d(descriptor, p['offset_net.conv.weight'], p['offset_net.conv.bias'])[:, 0]
                        @ p['offset_net.fc1.weight'].T + p['offset_net.fc1.bias'], 0)
    offsets = 4 * (sigmoid(hidden @ p['offset_net.fc2.weight'].T + p['offset_net.fc2.bias']) - 0.5)  # (B, 2)
    weights = 2 * sigmoid(conv1d(descriptor, p['weight_net.conv.weight'], p['weight_net.conv.bias']))  # (B, 2, T)
    out = clips.copy()
    group = fold // 4
    for b in range(len(clips)):
        for g, (offset, w) in enumerate(zip([offsets[b, 0], offsets[b, 1], -offsets[b, 0], -offsets[b, 1]],
                                            [weights[b, 0], weights[b, 1], weights[b, 0], weights[b, 1]])):
            channels = slice(g * group, (g + 1) * group)
            out[b, :, channels] = sample(clips[b, :, channels], offset) * w[:, None, None, None]
    return out.reshape(x.shape), offsets


def set_params(op, rng, fc2_bias):
    params = {}
    for name, p in op.parameters_and_names():
        value = rng.standard_normal(p.shape).astype(np.float32) * 0.5
        if name == 'offset_net.fc2.bias':
            value = np.asarray(fc2_bias, np.float32)
        if name == 'offset_net.fc2.weight':
            value *= 0.1  # offsets dominated by the bias, so each case pins its offsets' range
        p.set_data(ms.Tensor(value))
        params[name] = value
    return params


@pytest.fixture(scope='module')
def shared_op():
    """One TIN op for the three offset ranges: graph mode compiles it once (seconds), not once per range."""
    return TemporalInterlace(C, T)


@pytest.mark.parametrize('fc2_bias, offset_range', [
    ([0.5108, 0.5108], (0.3, 0.7)),       # the initial half-frame shift
    ([-1.0, 0.3], (-1.5, 0.6)),           # negative and fractional
    ([3.0, -3.0], (-2.0, 2.0)),           # beyond one frame: samples fall outside the clip
])
def test_tin_matches_the_numpy_reference(mode, shared_op, fc2_bias, offset_range):
    rng = np.random.default_rng(0)
    op = shared_op  # every parameter set here
    params = set_params(op, rng, fc2_bias)
    x = rng.standard_normal((2 * T, C, H, W)).astype(np.float32)
    expected, offsets = reference(x, params)
    assert offset_range[0] < offsets.min() and offsets.max() < offset_range[1]
    assert np.abs(offsets - np.round(offsets)).max() > 0.05  # really fractional
    np.testing.assert_allclose(op(ms.Tensor(x)).asnumpy(), expected, rtol=1e-5, atol=1e-5)


def test_initial_offsets_are_half_a_frame_and_weights_one():
    op = TemporalInterlace(C, T)
    params = {n: p.asnumpy() for n, p in op.parameters_and_names()}
    params['offset_net.fc2.weight'][:] = 0
    params['weight_net.conv.weight'][:] = 0
    _, offsets = reference(np.ones((T, C, H, W), np.float32), params)
    np.testing.assert_allclose(offsets, 0.5, atol=1e-4)
    assert not params['weight_net.conv.bias'].any()


def test_gradients_reach_offset_and_weight_networks():
    """Analytic gradients of a random projection of the output equal central finite differences."""
    rng = np.random.default_rng(1)
    op = TemporalInterlace(C, T)
    set_params(op, rng, [0.2, -0.4])
    x = ms.Tensor(rng.standard_normal((T, C, H, W)).astype(np.float32))
    projection = ms.Tensor(rng.standard_normal((T, C, H, W)).astype(np.float32))
    loss = lambda: (op(x) * projection).sum()  # noqa: E731
    names = ['offset_net.fc2.bias', 'offset_net.conv.weight', 'weight_net.conv.bias']
    params = dict(op.parameters_and_names())
    grads = ms.grad(lambda *_: loss(), grad_position=None, weights=[params[n] for n in names])()
    for name, grad in zip(names, grads):
        p = params[name]
        base = p.asnumpy().copy()
        index = np.unravel_index(np.argmax(np.abs(grad.asnumpy())), base.shape)
        values = []
        for step in (1e-2, -1e-2):
            moved = base.copy()
            moved[index] += step
            p.set_data(ms.Tensor(moved))
            values.append(float(loss().asnumpy()))
        p.set_data(ms.Tensor(base))
        numeric = (values[0] - values[1]) / 2e-2
        analytic = float(grad.asnumpy()[index])
        assert abs(analytic) > 1e-3, name
        assert abs(numeric - analytic) < 2e-2 * abs(analytic) + 1e-3, (name, numeric, analytic)


def test_group_sizes_are_checked():
    with pytest.raises(ValueError, match='divisible by 4'):
        TemporalInterlace(24, T, shift_div=4)
