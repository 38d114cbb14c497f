"""Online TSM, one frame at a time: every shifted block's cache is an explicit input and output.

For the same weights, feeding frames 0..T-1 in order (caches starting at zero) gives exactly the per-frame logits of
the offline online network (`tsm_online_*`) on the clip: the uni-directional shift only reads the previous frame,
and each shifted block caches that frame's first `C // shift_div` input channels (`TemporalBlock`, the block owns
its cache). Works for every backbone: the backbone's own `stem`, `stages` and `pool` run here.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor

from src.models.temporal_ops import TemporalBlock
from src.models.tsm import create_model


class StreamingTSM(nn.Cell):
    """`(frame (N, 3, H, W), *caches) -> (logits (N, K), *new caches)`; parameters named as the offline network.

    Without caches (`net(frame)`) the caches are zeros: the first frame of a stream.
    """

    def __init__(self, base_model, new_fc):
        super().__init__()
        self.base_model = base_model
        self.new_fc = new_fc
        self.folds = tuple(block.cache_channels() if isinstance(block, TemporalBlock) else 0
                           for stage in base_model.stages for block in stage)

    def cache_shapes(self, batch_size, height, width):
        """Shapes of the caches for frames of `height` x `width`, in input order, found by running one zero frame
        through the network (PyNative, in inference mode; the previous mode and train flag are restored)."""
        mode, training = ms.get_context('mode'), self.training
        frame = Tensor(np.zeros((batch_size, 3, height, width), np.float32))
        try:
            ms.set_context(mode=ms.PYNATIVE_MODE)
            self.set_train(False)
            outputs = self(frame)
        finally:
            self.set_train(training)
            ms.set_context(mode=mode)
        return [tuple(cache.shape) for cache in outputs[1:]]

    def initial_caches(self, batch_size, height, width):
        return [Tensor(np.zeros(shape, np.float32)) for shape in self.cache_shapes(batch_size, height, width)]

    def construct(self, frame, *caches):
        base = self.base_model
        x = base.stem(frame)
        new_caches = ()
        k, c = 0, 0
        for stage in base.stages:
            for block in stage:
                fold = self.folds[k]
                if fold:
                    cache = caches[c] if caches else ops.zeros_like(x[:, :fold])  # the first frame: zeros
                    x, cache = block(x, cache)
                    new_caches = new_caches + (cache,)
                    c += 1
                else:
                    x = block(x)
                k += 1
        logits = self.new_fc(base.pool(x))  # [N, C, h, w] -> [N, C] -> [N, K]
        return (logits,) + new_caches


def create_streaming_model(name='tsm_online', **overrides):
    """A StreamingTSM of the registered online model `name` (`tsm_online` = `tsm_online_r50`,
    `tsm_online_mobilenetv2`, ...) whose parameter names match `create_model(name, ...)`: checkpoints load as
    they are. Keywords override the registered defaults (depth, num_classes, shift_div, backbone, ...)."""
    offline = create_model(name, **{**overrides, 'num_segments': 1, 'dropout': 0.0})
    return StreamingTSM(offline.base_model, offline.new_fc)
