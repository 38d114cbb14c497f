"""torchvision-layout ResNet (v1.5) backbones whose blocks take their temporal op from the caller.

Explicit symmetric padding everywhere (`pad_mode='same'` pads asymmetrically at stride 2), BatchNorm eps 1e-5 and
momentum 0.9 (PyTorch's 0.1), the last BN of each residual branch starting at gamma = 0.
"""
from mindspore import nn
from mindspore.common.initializer import HeNormal

from src.models.temporal_ops import TemporalBlock, TemporalConv


def conv2d(in_channels, out_channels, kernel_size, stride=1, group=1):
    """Bias-free convolution with symmetric padding `kernel_size // 2` and Kaiming (fan_out) init."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, pad_mode='pad',
                     padding=kernel_size // 2, group=group, has_bias=False,
                     weight_init=HeNormal(mode='fan_out', nonlinearity='relu'))


def batch_norm(channels, zero_init=False):
    return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.9, gamma_init='zeros' if zero_init else 'ones')


def down_sample(in_channels, out_channels, stride):
    """The projection shortcut: 1x1 conv + BN (published name `down_sample_layer.{0,1}`)."""
    return nn.SequentialCell([conv2d(in_channels, out_channels, 1, stride), batch_norm(out_channels)])


class ResidualBlock(TemporalBlock):
    """Shared wiring: `input_op` acts on the whole block input (in-place shift), `conv1.temporal_op` on the branch.

    Subclasses define `conv1` (a TemporalConv) and `rest(first)`, the residual branch after conv1.
    """

    def __init__(self, input_op, down_sample_layer):
        super().__init__(input_op)
        self.relu = nn.ReLU()
        self.down_sample_layer = down_sample_layer if down_sample_layer is not None else nn.Identity()

    @property
    def first_conv(self):
        return self.conv1

    def merge(self, first, x):
        """The block after `conv1`: `first` is conv1's output, `x` the block input (for the shortcut)."""
        return self.relu(self.rest(first) + self.down_sample_layer(x))


class BasicBlock(ResidualBlock):
    """Two 3x3 convs (ResNet-18/34)."""
    expansion = 1

    def __init__(self, in_channels, channels, stride=1, conv1_op=None, input_op=None, down_sample_layer=None):
        super().__init__(input_op, down_sample_layer)
        self.conv1 = TemporalConv(conv2d(in_channels, channels, 3, stride), conv1_op)
        self.bn1 = batch_norm(channels)
        self.conv2 = conv2d(channels, channels, 3)
        self.bn2 = batch_norm(channels, zero_init=True)

    def rest(self, first):
        x = self.relu(self.bn1(first))
        return self.bn2(self.conv2(x))


class Bottleneck(ResidualBlock):
    """1x1 -> 3x3 (stride here, v1.5) -> 1x1 x4 (ResNet-50/101)."""
    expansion = 4

    def __init__(self, in_channels, channels, stride=1, conv1_op=None, input_op=None, down_sample_layer=None):
        super().__init__(input_op, down_sample_layer)
        self.conv1 = TemporalConv(conv2d(in_channels, channels, 1), conv1_op)
        self.bn1 = batch_norm(channels)
        self.conv2 = conv2d(channels, channels, 3, stride)
        self.bn2 = batch_norm(channels)
        self.conv3 = conv2d(channels, channels * 4, 1)
        self.bn3 = batch_norm(channels * 4, zero_init=True)

    def rest(self, first):
        x = self.relu(self.bn1(first))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.bn3(self.conv3(x))


# depth -> (block, blocks per stage)
RESNET_SPECS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
}


class ZeroPadMaxPool(nn.Cell):
    """The stem's 3x3/2 max-pool (padding 1) as zero padding + an unpadded pool, for ONNX export.

    MindSpore 2.10 cannot export `nn.MaxPool2d(pad_mode='pad')` to ONNX and writes `MaxPool3D`'s explicit pads as
    SAME_UPPER (asymmetric: wrong results). The stem pool reads a ReLU output (>= 0), so zero padding gives exactly
    the -inf-padded maximum. Not the default: on MindSpore's CPU backend the separate pad costs ~3x the fused pool.
    """

    def __init__(self, kernel_size=3, stride=2, padding=1):
        super().__init__()
        self.pad = nn.Pad(((0, 0), (0, 0), (padding, padding), (padding, padding)))
        self.pool = nn.MaxPool2d(kernel_size, stride, pad_mode='valid')

    def construct(self, x):
        return self.pool(self.pad(x))


class ResNet(nn.Cell):
    """`stem` + four `stages` + global average `pool`: `(B, 3, H, W)` -> `(B, num_features)`.

    `make_ops(stage, index, in_channels)` returns `(conv1_op, input_op)` for each block, so the temporal
    modelling is chosen by the caller and the backbone never branches on it. `onnx_stem`: the stem pool as
    `ZeroPadMaxPool` (same results, exportable to ONNX).
    """

    def __init__(self, depth, make_ops, onnx_stem=False):
        super().__init__()
        if depth not in RESNET_SPECS:
            raise ValueError(f"unsupported ResNet depth {depth}; expected one of {sorted(RESNET_SPECS)}")
        block, stage_sizes = RESNET_SPECS[depth]
        self.conv1 = conv2d(3, 64, 7, stride=2)
        self.bn1 = batch_norm(64)
        self.relu = nn.ReLU()
        self.maxpool = ZeroPadMaxPool() if onnx_stem else nn.MaxPool2d(kernel_size=3, stride=2, pad_mode='pad',
                                                                       padding=1)
        in_channels = 64
        for stage, num_blocks in enumerate(stage_sizes):
            channels, stride = 64 * 2 ** stage, 1 if stage == 0 else 2
            layer = make_stage(block, in_channels, channels, num_blocks, stride,
                               lambda i, c, s=stage: make_ops(s, i, c))
            setattr(self, f'layer{stage + 1}', layer)
            in_channels = channels * block.expansion
        self.num_features = in_channels

    @property
    def stages(self):
        """The block sequences between `stem` and `pool`, in order (streaming walks them block by block)."""
        return self.layer1, self.layer2, self.layer3, self.layer4

    def stem(self, x):
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def pool(self, x):
        return x.mean(axis=(2, 3))  # [B, C, h, w] -> [B, C]

    def construct(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.pool(x)


def make_stage(block, in_channels, channels, num_blocks, stride, make_ops):
    """One stage (`layer{k}`): the first block changes stride/width through a projection shortcut."""
    blocks = []
    for index in range(num_blocks):
        block_stride = stride if index == 0 else 1
        projection = None
        if block_stride != 1 or in_channels != channels * block.expansion:
            projection = down_sample(in_channels, channels * block.expansion, block_stride)
        conv1_op, input_op = make_ops(index, in_channels)
        blocks.append(block(in_channels, channels, block_stride, conv1_op, input_op, projection))
        in_channels = channels * block.expansion
    return nn.SequentialCell(blocks)
