"""Online TSM, one frame at a time: every shifted block's cache is an explicit input and output.

For the same weights, feeding frames 0..T-1 in order (caches starting at zero) gives exactly the per-frame logits of
the offline `tsm_online` network on the clip: the uni-directional shift only reads the previous frame, and the cache
carries that frame's first `C // shift_div` channels of each shifted block's input.
"""
import numpy as np
from mindspore import nn, ops, Tensor

from src.models.temporal_ops import OnlineTemporalShift
from src.models.tsm import create_model

STAGES = ('layer1', 'layer2', 'layer3', 'layer4')


def conv_out(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


class StreamingTSM(nn.Cell):
    """`(frame (N, 3, H, W), *caches) -> (logits (N, K), *new caches)`; parameters named as the offline network."""

    def __init__(self, base_model, new_fc):
        super().__init__()
        self.base_model = base_model
        self.new_fc = new_fc
        self.folds = tuple(self._fold(block) for stage in STAGES for block in getattr(base_model, stage))

    @staticmethod
    def _fold(block):
        """Cached channels of a block (0: not shifted); only the published residual placement streams."""
        op = block.conv1.temporal_op
        if isinstance(block.input_op, OnlineTemporalShift) or not isinstance(op, (OnlineTemporalShift, nn.Identity)):
            raise ValueError("streaming needs a tsm_online network with shift_place 'blockres'")
        return block.conv1.net.in_channels // op.shift_div if isinstance(op, OnlineTemporalShift) else 0

    def cache_shapes(self, batch_size, height, width):
        """Shapes of the caches for frames of `height` x `width`, in input order."""
        h, w = (conv_out(conv_out(s, 7, 2, 3), 3, 2, 1) for s in (height, width))  # stem: conv /2, max-pool /2
        shapes, k = [], 0
        for index, stage in enumerate(STAGES):
            for position, _ in enumerate(getattr(self.base_model, stage)):
                if index > 0 and position == 1:  # the first block of stages 2-4 halves the size
                    h, w = conv_out(h, 3, 2, 1), conv_out(w, 3, 2, 1)
                if self.folds[k]:
                    shapes.append((batch_size, self.folds[k], h, w))
                k += 1
        return shapes

    def initial_caches(self, batch_size, height, width):
        return [Tensor(np.zeros(shape, np.float32)) for shape in self.cache_shapes(batch_size, height, width)]

    def construct(self, frame, *caches):
        base = self.base_model
        x = base.maxpool(base.relu(base.bn1(base.conv1(frame))))
        new_caches = ()
        k, c = 0, 0
        for stage in (base.layer1, base.layer2, base.layer3, base.layer4):
            for block in stage:
                fold = self.folds[k]
                if fold:
                    shifted = ops.concat((caches[c], x[:, fold:]), axis=1)  # channels [0, fold) from frame t-1
                    new_caches = new_caches + (x[:, :fold],)
                    x = block.merge(block.conv1.net(shifted), x)
                    c += 1
                else:
                    x = block(x)
                k += 1
        logits = self.new_fc(x.mean(axis=(2, 3)))  # [N, C, h, w] -> [N, C] -> [N, K]
        return (logits,) + new_caches


def create_streaming_model(*, depth=50, num_classes=174, shift_div=8):
    """A StreamingTSM whose parameter names match `create_model('tsm_online', ...)` (checkpoints load as they are)."""
    offline = create_model('tsm_online', depth=depth, num_classes=num_classes, num_segments=1, shift_div=shift_div,
                           dropout=0.0)
    return StreamingTSM(offline.base_model, offline.new_fc)
