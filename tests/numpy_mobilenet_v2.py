"""An independent float64 NumPy TSM-MobileNetV2 forward (inference), written from the paper (Sandler et al. 2018,
Table 2) and the official TSM code (shift before the first 1x1 conv of every expanding block with a residual).

It reads weights by the published (official TSM, flat) names and shares no code with src/; the generic layers come
from tests/numpy_tsm.py.
"""
import numpy as np

from numpy_tsm import batch_norm, conv, shift

# expansion t, output channels c, blocks n, first stride s (Table 2)
TABLE_2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
           (6, 320, 1, 1)]


def relu6(x):
    return np.clip(x, 0, 6)


def depthwise(x, w, stride):
    """Per-channel 3x3 cross-correlation with zero padding 1; x (B, C, H, W), w (C, 1, 3, 3)."""
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out_h, out_w = (x.shape[2] - 3) // stride + 1, (x.shape[3] - 3) // stride + 1
    out = np.zeros((x.shape[0], x.shape[1], out_h, out_w))
    for i in range(3):
        for j in range(3):
            patch = x[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
            out += patch * w[None, :, 0, i, j, None, None]
    return out


def shifted_blocks():
    """features.K indices of the blocks that take the shift: stride 1, same width, expanding."""
    blocks, index, channels = [], 1, 32
    for t, c, n, s in TABLE_2:
        for i in range(n):
            if t != 1 and i > 0 and channels == c:
                blocks.append(index)
            index, channels = index + 1, c
    return blocks


def forward(params, clips, num_segments=8, shift_div=8, temporal='shift', shift_place='blockres'):
    """clips (N, T*3, H, W) -> logits (N, K). temporal: 'shift', 'online_shift' or 'none'."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    n, _, h, w = clips.shape
    x = clips.astype(np.float64).reshape(n * num_segments, 3, h, w)  # [N, T*3, H, W] -> [N*T, 3, H, W]
    x = relu6(batch_norm(conv(x, p['base_model.features.0.0.weight'], 2), p, 'base_model.features.0.1'))
    shifted = shifted_blocks()
    index, channels = 1, 32
    for t, c, blocks, first_stride in TABLE_2:
        for i in range(blocks):
            stride = first_stride if i == 0 else 1
            prefix = f'base_model.features.{index}.conv'
            op = lambda v: v  # noqa: E731
            if index in shifted and temporal != 'none':
                op = lambda v: shift(v, num_segments, shift_div, temporal == 'shift')  # noqa: E731
            if shift_place == 'block':
                x, op = op(x), (lambda v: v)
            y, k = x, 0
            if t != 1:
                first = f'{prefix}.0.net.weight' if index in shifted else f'{prefix}.0.weight'
                y, k = relu6(batch_norm(conv(op(y), p[first]), p, f'{prefix}.1')), 3
            y = relu6(batch_norm(depthwise(y, p[f'{prefix}.{k}.weight'], stride), p, f'{prefix}.{k + 1}'))
            y = batch_norm(conv(y, p[f'{prefix}.{k + 3}.weight']), p, f'{prefix}.{k + 4}')
            x = x + y if index in shifted or (stride == 1 and channels == c) else y
            index, channels = index + 1, c
    x = relu6(batch_norm(conv(x, p[f'base_model.features.{index}.0.weight']), p, f'base_model.features.{index}.1'))
    logits = x.mean(axis=(2, 3)) @ p['new_fc.weight'].T + p['new_fc.bias']
    return logits.reshape(n, num_segments, -1).mean(axis=1)  # [N*T, K] -> [N, T, K] -> [N, K]
