"""Inference only: fold each BatchNorm into the convolution before it (one conv with a bias instead of conv + BN).

    y = gamma * (conv(x, W) - mean) / sqrt(var + eps) + beta = conv(x, W * s) + (beta - mean * s),
    s = gamma / sqrt(var + eps)   (per output channel)

Pairs are found by structure, the same for every backbone here: sibling cells `conv<k>` / `bn<k>` (a `conv<k>`
may be a TemporalConv, whose temporal op acts on its input and so is unaffected), and a Conv2d directly followed by
a BatchNorm2d inside a SequentialCell. The folded network is for evaluation, prediction and export: load the
checkpoint first (parameter names change), do not train it. Exact up to float32 rounding (tested against the
unfolded network).
"""
import numpy as np
import mindspore as ms
from mindspore import nn


def _inner_conv(cell):
    """The Conv2d of `cell` (itself, or the `net` of a TemporalConv), else None."""
    if isinstance(cell, nn.Conv2d):
        return cell
    inner = getattr(cell, 'net', None)
    return inner if isinstance(inner, nn.Conv2d) else None


def _folded_conv(conv, bn):
    """A Conv2d with bias equal to `bn(conv(x))` in inference mode."""
    gamma, beta, mean, var = (p.asnumpy().astype(np.float64) for p in (bn.gamma, bn.beta, bn.moving_mean,
                                                                        bn.moving_variance))
    scale = gamma / np.sqrt(var + bn.eps)
    weight = conv.weight.asnumpy().astype(np.float64) * scale[:, None, None, None]
    bias = beta - mean * scale
    if conv.has_bias:
        bias = bias + conv.bias.asnumpy().astype(np.float64) * scale
    return nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                       pad_mode=conv.pad_mode, padding=conv.padding, dilation=conv.dilation, group=conv.group,
                       has_bias=True, weight_init=ms.Tensor(weight.astype(np.float32)),
                       bias_init=ms.Tensor(bias.astype(np.float32)))


def _fold_into(owner, key, conv_cell, bn, name):
    """Replace `conv_cell` (owner[key] or owner.key) by its folded conv named `name`; returns the BN's replacement."""
    conv = _inner_conv(conv_cell)
    folded = _folded_conv(conv, bn)
    if conv_cell is not conv:
        conv_cell.net, name = folded, f'{name}.net'
    elif isinstance(key, int):
        owner[key] = folded
    else:
        setattr(owner, key, folded)
    folded.weight.name, folded.bias.name = f'{name}.weight', f'{name}.bias'  # after assignment, which renames
    return nn.Identity()


def fold_batchnorm(net):
    """Fold every conv + BatchNorm pair of `net` in place (eval mode); returns how many were folded."""
    count = 0
    for prefix, cell in list(net.cells_and_names()):
        prefix = f'{prefix}.' if prefix else ''
        if isinstance(cell, nn.SequentialCell):
            cells = list(cell.cells())
            for i in range(len(cells) - 1):
                if _inner_conv(cells[i]) is not None and isinstance(cells[i + 1], nn.BatchNorm2d):
                    cell[i + 1] = _fold_into(cell, i, cells[i], cells[i + 1], f'{prefix}{i}')
                    count += 1
            continue
        children = dict(cell.name_cells())
        for name, bn in children.items():
            conv_name = f'conv{name[2:]}'
            if name.startswith('bn') and isinstance(bn, nn.BatchNorm2d) and \
                    _inner_conv(children.get(conv_name)) is not None:
                setattr(cell, name, _fold_into(cell, conv_name, children[conv_name], bn, f'{prefix}{conv_name}'))
                count += 1
    net.set_train(False)
    return count
