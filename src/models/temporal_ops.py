"""Temporal operations a ResNet block applies before its first convolution (or to its whole input).

Every op maps `(N*T, C, H, W)` to the same shape and knows `num_segments` (T) to recover the clip axis.
"""
from mindspore import nn, ops

from src.models.tin import TemporalInterlace


class ChannelShift(nn.Cell):
    """Base of the parameter-free shifts: `num_segments` frames a clip, `C // shift_div` channels a fold."""

    def __init__(self, num_segments, shift_div=8):
        super().__init__()
        self.num_segments = num_segments
        self.shift_div = shift_div


class TemporalShift(ChannelShift):
    """Zero-padded temporal shift of `C // shift_div` channels each way (TSM, Lin et al. 2019).

    Channels `[0, fold)` of frame t take frame t+1 (the last frame gets zeros), channels `[fold, 2*fold)` take
    frame t-1 (the first frame gets zeros); the rest are unchanged. The shift is zero-FLOP data movement.
    """

    def construct(self, x):
        nt, c, h, w = x.shape
        fold = c // self.shift_div
        x = x.reshape(-1, self.num_segments, c, h, w)  # [N*T, C, H, W] -> [N, T, C, H, W]
        # One split and one concat of whole channel blocks: on CPU, ops.pad and channel slices of 5-D tensors are
        # several times slower than a copy of the feature map (benchmarks/README.md, The shift overhead).
        future, past, rest = ops.split(x, (fold, fold, c - 2 * fold), axis=2)
        zeros = ops.zeros_like(future[:, :1])  # [N, 1, fold, H, W]
        future = ops.concat((future[:, 1:], zeros), axis=1)  # frame t <- t+1, zeros at t=T-1
        past = ops.concat((zeros, past[:, :-1]), axis=1)  # frame t <- t-1, zeros at t=0
        out = ops.concat((future, past, rest), axis=2)
        return out.reshape(nt, c, h, w)  # [N, T, C, H, W] -> [N*T, C, H, W]


class OnlineTemporalShift(ChannelShift):
    """Uni-directional shift for streaming (online TSM): channels `[0, fold)` of frame t take frame t-1.

    Nothing reads the future, so a clip can be processed one frame at a time with a cache of `fold` channels.
    """

    def construct(self, x):
        nt, c, h, w = x.shape
        fold = c // self.shift_div
        x = x.reshape(-1, self.num_segments, c, h, w)  # [N*T, C, H, W] -> [N, T, C, H, W]
        past, rest = ops.split(x, (fold, c - fold), axis=2)
        past = ops.concat((ops.zeros_like(past[:, :1]), past[:, :-1]), axis=1)  # frame t <- t-1, zeros at t=0
        out = ops.concat((past, rest), axis=2)
        return out.reshape(nt, c, h, w)  # [N, T, C, H, W] -> [N*T, C, H, W]


class TemporalConv(nn.Cell):
    """A convolution whose input first passes `temporal_op`; the convolution is `net` (published checkpoint names)."""

    def __init__(self, net, temporal_op=None):
        super().__init__()
        self.temporal_op = temporal_op if temporal_op is not None else nn.Identity()
        self.net = net

    def construct(self, x):
        return self.net(self.temporal_op(x))


class TemporalBlock(nn.Cell):
    """A backbone block whose first convolution (`first_conv`, a TemporalConv) or whole input (`input_op`) takes a
    temporal op; subclasses define `first_conv` and `merge(first, x)`, the block after that convolution.

    Offline: `construct(x)`. One frame of the online network: `construct(x, cache) -> (out, new_cache)`, where
    `cache` holds channels `[0, fold)` of this block's input at the previous frame: each block owns its cache, as
    in the original online demo.
    """

    def __init__(self, input_op=None):
        super().__init__()
        self.input_op = input_op if input_op is not None else nn.Identity()

    def construct(self, x, cache=None):
        if cache is None:
            x = self.input_op(x)
            return self.merge(self.first_conv(x), x)
        fold = cache.shape[1]
        past, rest = ops.split(x, (fold, x.shape[1] - fold), axis=1)  # one split: cheaper than two channel slices
        shifted = ops.concat((cache, rest), axis=1)  # channels [0, fold) from the previous frame
        return self.merge(self.first_conv.net(shifted), x), past

    def cache_channels(self):
        """Channels cached when streaming: `C // shift_div` with an online shift on the first conv, 0 without."""
        op = getattr(self.first_conv, 'temporal_op', nn.Identity())
        if not isinstance(self.input_op, nn.Identity) or not isinstance(op, (OnlineTemporalShift, nn.Identity)):
            raise ValueError("streaming needs a tsm_online network with shift_place 'blockres'")
        return self.first_conv.net.in_channels // op.shift_div if isinstance(op, OnlineTemporalShift) else 0


# name -> builder(in_channels, num_segments, shift_div); 'none' builds nothing.
TEMPORAL_OPS = {
    'none': None,
    'shift': lambda in_channels, num_segments, shift_div: TemporalShift(num_segments, shift_div),
    'online_shift': lambda in_channels, num_segments, shift_div: OnlineTemporalShift(num_segments, shift_div),
    'interlace': TemporalInterlace,
}


def create_temporal_op(name, in_channels, num_segments, shift_div):
    """Build the temporal op called `name` (a key of TEMPORAL_OPS) for `in_channels` inputs; `None` for 'none'."""
    if name not in TEMPORAL_OPS:
        raise ValueError(f"unknown temporal op {name!r}; expected one of {sorted(TEMPORAL_OPS)}")
    build = TEMPORAL_OPS[name]
    if build is None:
        return None
    if in_channels // shift_div < 1:
        raise ValueError(f"shift_div={shift_div} leaves no channel to shift out of {in_channels}")
    return build(in_channels, num_segments, shift_div)
