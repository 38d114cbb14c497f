"""The video classifier: a 2D backbone applied per frame, a linear head, and the mean over frames (TSN consensus)."""
from mindspore import Tensor, dtype as mstype, nn
from mindspore.common.initializer import Normal

from src.models.resnet import ResNet
from src.models.temporal_ops import create_temporal_op
from src.pixels import pixel_affine

# arch -> the temporal op its blocks get; nothing else differs between the variants.
ARCHS = {
    'tsn': 'none',
    'tsm': 'shift',
    'tsm_online': 'online_shift',
    'tin': 'interlace',
}
SHIFT_PLACES = ('blockres', 'block')


class TSMNet(nn.Cell):
    """`(N, T*3, H, W)` clips -> `(N, num_classes)` logits, the mean over T of per-frame logits.

    Clips are either float32, already normalised, or uint8 RGB in 0..255, normalised here with the ImageNet
    statistics (the same arithmetic): 4x less data from the loader or an offline-inference file.
    """

    def __init__(self, base_model, num_classes, num_segments, dropout=0.5):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is a drop probability in [0, 1), got {dropout}")
        self.num_segments = num_segments
        self.base_model = base_model
        self.dropout = nn.Dropout(p=dropout) if dropout > 0 else nn.Identity()
        self.new_fc = nn.Dense(base_model.num_features, num_classes, weight_init=Normal(0.001), bias_init='zeros')
        scale, shift = pixel_affine(num_segments)
        self.pixel_scale, self.pixel_shift = Tensor(scale.reshape(1, -1, 1, 1)), Tensor(shift.reshape(1, -1, 1, 1))

    def construct(self, x):
        n, channels, h, w = x.shape
        if channels != 3 * self.num_segments:
            raise ValueError(f"expected (N, {3 * self.num_segments}, H, W) clips of {self.num_segments} RGB frames, "
                             f"got {channels} channels")
        if x.dtype == mstype.uint8:
            x = x.astype(mstype.float32) * self.pixel_scale - self.pixel_shift  # (x / 255 - mean) / std
        x = x.reshape(n * self.num_segments, 3, h, w)  # [N, T*3, H, W] -> [N*T, 3, H, W]
        logits = self.new_fc(self.dropout(self.base_model(x)))  # [N*T, K]
        return logits.reshape(n, self.num_segments, -1).mean(axis=1)  # [N*T, K] -> [N, T, K] -> [N, K]


def create_model(arch='tsm', *, depth=50, num_classes=174, num_segments=8, shift_div=8, shift_place='blockres',
                 dropout=0.5, onnx_stem=False):
    """Build a TSN/TSM/online-TSM/TIN ResNet video classifier whose parameter names match the published checkpoint.

    ResNet-101 shifts every other block (as the original TSM does for deep networks); the others shift all.
    TIN follows MMAction2 with `shift_div=4` (a quarter of the channels interlaced); pass it explicitly.
    `onnx_stem`: build the stem pool in the form MindSpore's ONNX exporter translates correctly (same results).
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {sorted(ARCHS)}")
    if shift_place not in SHIFT_PLACES:
        raise ValueError(f"unknown shift_place {shift_place!r}; expected one of {SHIFT_PLACES}")
    shift_every = 2 if depth >= 101 else 1

    def make_ops(stage, index, in_channels):
        if index % shift_every:
            return None, None
        op = create_temporal_op(ARCHS[arch], in_channels, num_segments, shift_div)
        return (op, None) if shift_place == 'blockres' else (None, op)

    return TSMNet(ResNet(depth, make_ops, onnx_stem), num_classes, num_segments, dropout)
