"""Temporal Interlacing (TIN, Shao et al., AAAI 2020), MMAction2 semantics, from graph-mode ops only.

The first `C // shift_div` channels of the input (a quarter by default) form four groups of `C // (4*shift_div)`.
Per clip, an offset network predicts two offsets `(o0, o1)` in (-2, 2); groups take `[o0, o1, -o0, -o1]`. Per frame,
a weight network predicts two weights in (0, 2); groups take `[w0, w1, w0, w1]`. Group g of frame t becomes
`w_g[t] * x_g(t - o_g)`, the clip linearly interpolated in time with zeros outside it. A fractional shift is a T x T
interpolation matrix `relu(1 - |t - o - s|)` applied with one batched matmul: no custom kernel.
"""
import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.common.initializer import Constant

NUM_GROUPS = 4
OFFSET_BIAS = 0.5108  # 4 * (sigmoid(0.5108) - 0.5) = 0.5: the offsets start at half a frame


class OffsetNet(nn.Cell):
    """(B, C', T) clip descriptor -> (B, 2) offsets in (-2, 2)."""

    def __init__(self, channels, num_segments):
        super().__init__()
        self.conv = nn.Conv1d(channels, 1, 3, pad_mode='pad', padding=1, has_bias=True)
        self.fc1 = nn.Dense(num_segments, num_segments)
        self.relu = nn.ReLU()
        self.fc2 = nn.Dense(num_segments, 2, bias_init=Constant(OFFSET_BIAS))
        self.sigmoid = nn.Sigmoid()

    def construct(self, x):
        x = self.conv(x).squeeze(1)  # [B, 1, T] -> [B, T]
        return 4 * (self.sigmoid(self.fc2(self.relu(self.fc1(x)))) - 0.5)


class WeightNet(nn.Cell):
    """(B, C', T) clip descriptor -> (B, 2, T) per-frame weights in (0, 2)."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv1d(channels, 2, 3, pad_mode='pad', padding=1, has_bias=True, bias_init='zeros')
        self.sigmoid = nn.Sigmoid()

    def construct(self, x):
        return 2 * self.sigmoid(self.conv(x))


class TemporalInterlace(nn.Cell):
    """Learned fractional temporal shift of four channel groups (TIN): `(N*T, C, H, W)` -> same shape."""

    def __init__(self, in_channels, num_segments, shift_div=4):
        super().__init__()
        self.num_segments = num_segments
        self.fold = in_channels // shift_div
        if self.fold < NUM_GROUPS or self.fold % NUM_GROUPS:
            raise ValueError(f"TIN needs C // shift_div divisible by {NUM_GROUPS}, got {in_channels} // {shift_div}")
        self.offset_net = OffsetNet(self.fold, num_segments)
        self.weight_net = WeightNet(self.fold)
        self.frames = Tensor(np.arange(num_segments, dtype=np.float32).reshape(1, 1, 1, num_segments))

    def construct(self, x):
        nt, c, h, w = x.shape
        t, fold = self.num_segments, self.fold
        x = x.reshape(-1, t, c, h, w)  # [N*T, C, H, W] -> [N, T, C, H, W]
        part, rest = ops.split(x, (fold, c - fold), axis=2)
        descriptor = part.mean(axis=(3, 4)).transpose(0, 2, 1)  # [N, T, fold, H, W] -> [N, fold, T]
        offsets = self.offset_net(descriptor)  # [N, 2]
        offsets = ops.concat((offsets, -offsets), axis=1)  # [N, 4]: o0, o1, -o0, -o1
        weights = self.weight_net(descriptor)  # [N, 2, T]
        weights = ops.concat((weights, weights), axis=1).expand_dims(-1)  # [N, 4, T, 1]: w0, w1, w0, w1
        # interpolation[n, g, t, s]: weight of frame s in group g's sample at time t - offset
        sample_at = self.frames.transpose(0, 1, 3, 2) - offsets.reshape(-1, NUM_GROUPS, 1, 1)  # [N, 4, T, 1]
        interpolation = ops.relu(1 - ops.abs(sample_at - self.frames))  # [N, 4, T, T]
        groups = part.reshape(-1, t, NUM_GROUPS, fold // NUM_GROUPS * h * w).transpose(0, 2, 1, 3)  # [N, 4, T, D]
        shifted = ops.matmul(interpolation, groups) * weights  # [N, 4, T, D]
        shifted = shifted.transpose(0, 2, 1, 3).reshape(-1, t, fold, h, w)  # [N, 4, T, D] -> [N, T, fold, H, W]
        return ops.concat((shifted, rest), axis=2).reshape(nt, c, h, w)  # [N, T, C, H, W] -> [N*T, C, H, W]
