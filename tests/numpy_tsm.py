"""An independent float64 NumPy TSM-ResNet forward (inference), written from the paper and torchvision's ResNet.

It reads weights by the published parameter names and shares no code with src/, so agreement with the
MindSpore network checks the layout, padding, strides, shift direction, head and consensus.
"""
import numpy as np

STAGES = {18: ('basic', (2, 2, 2, 2)), 34: ('basic', (3, 4, 6, 3)), 50: ('bottleneck', (3, 4, 6, 3)),
          101: ('bottleneck', (3, 4, 23, 3))}


def conv(x, w, stride=1):
    """Cross-correlation with zero padding k // 2 on both sides; x (B, C, H, W), w (O, C, k, k)."""
    k = w.shape[-1]
    p = k // 2
    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out_h = (x.shape[2] - k) // stride + 1
    out_w = (x.shape[3] - k) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], out_h, out_w))
    for i in range(k):
        for j in range(k):
            patch = x[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
            out += np.einsum('bchw,oc->bohw', patch, w[:, :, i, j], optimize=True)  # a BLAS product: ~20x faster
    return out


def batch_norm(x, params, prefix, eps=1e-5):
    g, b = params[prefix + '.gamma'], params[prefix + '.beta']
    mean, var = params[prefix + '.moving_mean'], params[prefix + '.moving_variance']
    scale = g / np.sqrt(var + eps)
    return x * scale[None, :, None, None] + (b - mean * scale)[None, :, None, None]


def max_pool(x):
    """3x3, stride 2, padding 1 with -inf (padding never wins)."""
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    out_h, out_w = (x.shape[2] - 3) // 2 + 1, (x.shape[3] - 3) // 2 + 1
    windows = [x[:, :, i:i + 2 * out_h:2, j:j + 2 * out_w:2] for i in range(3) for j in range(3)]
    return np.max(windows, axis=0)


def shift(x, num_segments, shift_div, bidirectional=True):
    """Frame t: fold channels from t+1, fold channels from t-1 (uni-directional: only t-1); zeros off the clip."""
    fold = x.shape[1] // shift_div
    clips = x.reshape(-1, num_segments, *x.shape[1:])
    out = clips.copy()
    if bidirectional:
        out[:, :-1, :fold] = clips[:, 1:, :fold]
        out[:, -1, :fold] = 0
        out[:, 1:, fold:2 * fold] = clips[:, :-1, fold:2 * fold]
        out[:, 0, fold:2 * fold] = 0
    else:
        out[:, 1:, :fold] = clips[:, :-1, :fold]
        out[:, 0, :fold] = 0
    return out.reshape(x.shape)


def block(x, params, prefix, kind, stride, temporal, in_place=False):
    """One residual block; `temporal` acts on the residual branch only, or (in_place) on the whole block input."""
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    if in_place:
        x, temporal = temporal(x), (lambda v: v)
    y = relu(batch_norm(conv(temporal(x), params[prefix + '.conv1.net.weight'],
                             stride if kind == 'basic' else 1), params, prefix + '.bn1'))
    if kind == 'basic':
        y = batch_norm(conv(y, params[prefix + '.conv2.weight']), params, prefix + '.bn2')
    else:
        y = relu(batch_norm(conv(y, params[prefix + '.conv2.weight'], stride), params, prefix + '.bn2'))
        y = batch_norm(conv(y, params[prefix + '.conv3.weight']), params, prefix + '.bn3')
    if prefix + '.down_sample_layer.0.weight' in params:
        x = batch_norm(conv(x, params[prefix + '.down_sample_layer.0.weight'], stride), params,
                       prefix + '.down_sample_layer.1')
    return relu(y + x)


def forward(params, clips, depth=50, num_segments=8, shift_div=8, temporal='shift', shift_place='blockres'):
    """clips (N, T*3, H, W) -> logits (N, K). temporal: 'shift', 'online_shift' or 'none'."""
    kind, sizes = STAGES[depth]
    n, _, h, w = clips.shape
    x = clips.astype(np.float64).reshape(n * num_segments, 3, h, w)
    p = {k: v.astype(np.float64) for k, v in params.items()}
    x = max_pool(np.maximum(batch_norm(conv(x, p['base_model.conv1.weight'], 2), p, 'base_model.bn1'), 0))
    shift_every = 2 if depth >= 101 else 1
    for stage, num_blocks in enumerate(sizes):
        for i in range(num_blocks):
            stride = 2 if stage > 0 and i == 0 else 1
            if temporal == 'none' or i % shift_every:
                op = lambda v: v  # noqa: E731
            else:
                op = lambda v: shift(v, num_segments, shift_div, temporal == 'shift')  # noqa: E731
            x = block(x, p, f'base_model.layer{stage + 1}.{i}', kind, stride, op, shift_place == 'block')
    features = x.mean(axis=(2, 3))
    logits = features @ p['new_fc.weight'].T + p['new_fc.bias']
    return logits.reshape(n, num_segments, -1).mean(axis=1)
