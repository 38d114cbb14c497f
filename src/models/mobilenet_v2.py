"""MobileNetV2 (width 1.0, Sandler et al. 2018) in the layout of the official TSM code and torchvision.

`features.0` is the stem (3x3/2 conv, BN, ReLU6), `features.1`-`features.17` the inverted-residual blocks,
`features.18` the 1x1 conv to 1280 channels; then the global average pool. Parameter names are those of the official
PyTorch TSM checkpoints (flat `features.K.conv.<i>`), so they load as they are; torchvision's nested names
(`features.K.conv.0.0`) are mapped by src/checkpoint.py. As in the original TSM, the temporal op goes into every
block with a residual connection (and an expansion), before its first 1x1 convolution (`features.K.conv.0.net`,
`blockres`), or on the whole block input (`block`). Padding is explicit and symmetric, BN eps 1e-5, momentum 0.9.
"""
from mindspore import nn

from src.models.resnet import batch_norm, conv2d
from src.models.temporal_ops import TemporalBlock, TemporalConv

# (expansion t, output channels c, blocks n, stride of the first block s), as in the paper's Table 2
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
STEM_CHANNELS, LAST_CHANNELS = 32, 1280


def conv_bn_relu6(in_channels, out_channels, kernel_size, stride=1):
    """The stem and the last layer: `{0: conv, 1: BN, 2: ReLU6}`."""
    return nn.SequentialCell([conv2d(in_channels, out_channels, kernel_size, stride), batch_norm(out_channels),
                              nn.ReLU6()])


class Branch(nn.SequentialCell):
    """A block's `conv` sequence; `after_first(y)` runs it from its second layer on (the streaming path)."""

    def after_first(self, x):
        for index, cell in enumerate(self.cell_list):
            if index > 0:
                x = cell(x)
        return x


class InvertedResidual(TemporalBlock):
    """[1x1 expand, BN, ReLU6 ->] 3x3 depthwise (stride here), BN, ReLU6 -> 1x1 project, BN [+ input].

    A block that keeps its shape and expands (`shiftable`) wraps its first conv as a TemporalConv (`conv.0.net`)
    whatever its temporal op, so TSN, TSM and online TSM weights share names.
    """

    def __init__(self, in_channels, out_channels, stride, expand_ratio, conv_op=None, input_op=None):
        super().__init__(input_op)
        hidden = in_channels * expand_ratio
        self.use_res_connect = stride == 1 and in_channels == out_channels
        self.shiftable = self.use_res_connect and expand_ratio != 1
        if (conv_op is not None or input_op is not None) and not self.shiftable:
            raise ValueError("only residual blocks with an expansion take a temporal op")
        layers = []
        if expand_ratio != 1:
            expand = conv2d(in_channels, hidden, 1)
            layers += [TemporalConv(expand, conv_op) if self.shiftable else expand, batch_norm(hidden), nn.ReLU6()]
        layers += [conv2d(hidden, hidden, 3, stride, group=hidden), batch_norm(hidden), nn.ReLU6(),
                   conv2d(hidden, out_channels, 1), batch_norm(out_channels)]
        self.conv = Branch(layers)

    @property
    def first_conv(self):
        return self.conv[0]

    def merge(self, first, x):
        """The block after its first conv: `first` is that conv's output, `x` the block input."""
        out = self.conv.after_first(first)
        return x + out if self.use_res_connect else out


class MobileNetV2(nn.Cell):
    """`features` + global average `pool`: `(B, 3, H, W)` -> `(B, 1280)`.

    `make_ops(stage, index, in_channels)` returns `(conv_op, input_op)` for each shiftable block (stage: a row of
    SETTINGS, index: the block in it). The stem is `features.0`, so `stem` passes its input on.
    """

    def __init__(self, make_ops):
        super().__init__()
        features = [conv_bn_relu6(3, STEM_CHANNELS, 3, 2)]
        in_channels = STEM_CHANNELS
        for stage, (expand_ratio, channels, num_blocks, first_stride) in enumerate(SETTINGS):
            for index in range(num_blocks):
                stride = first_stride if index == 0 else 1
                shiftable = stride == 1 and in_channels == channels and expand_ratio != 1
                conv_op, input_op = make_ops(stage, index, in_channels) if shiftable else (None, None)
                features.append(InvertedResidual(in_channels, channels, stride, expand_ratio, conv_op, input_op))
                in_channels = channels
        features.append(conv_bn_relu6(in_channels, LAST_CHANNELS, 1))
        self.features = nn.SequentialCell(features)
        self.num_features = LAST_CHANNELS

    @property
    def stages(self):
        """The block sequences between `stem` and `pool`, in order (streaming walks them block by block)."""
        return (self.features,)

    def stem(self, x):
        return x  # the stem conv is features.0

    def pool(self, x):
        return x.mean(axis=(2, 3))  # [B, C, h, w] -> [B, C]

    def construct(self, x):
        return self.pool(self.features(x))
