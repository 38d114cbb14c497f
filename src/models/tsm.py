"""The video classifier: a 2D backbone applied per frame, a linear head, and the mean over frames (TSN consensus)."""
from mindspore import Tensor, dtype as mstype, nn
from mindspore.common.initializer import Normal

from src.models.mobilenet_v2 import MobileNetV2
from src.models.registry import network_kwargs
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
BACKBONES = ('resnet', 'mobilenetv2')


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


def create_model(name='tsm', *, onnx_stem=False, **overrides):
    """Build the registered model `name` (`python -m src.models` lists them; a bare arch `tsn`, `tsm`, `tsm_online`,
    `tin` is its ResNet-50 entry) with its defaults; keywords override them: arch, backbone (resnet, mobilenetv2),
    depth (ResNet), num_classes, num_segments, shift_div, shift_place, dropout. Parameter names match the published
    checkpoints. `create_model('tsm', depth=18, num_classes=5)` is `tsm_r50` with three defaults overridden.

    ResNet-101 shifts every other block (as the original TSM does for deep networks); the others shift all, and
    MobileNetV2 every block with a residual connection. `onnx_stem`: build the ResNet stem pool in the form
    MindSpore's ONNX exporter translates correctly (same results; MobileNetV2 has no stem pool).
    """
    kwargs = network_kwargs(name, **overrides)
    arch, backbone, depth, shift_place = kwargs['arch'], kwargs['backbone'], kwargs['depth'], kwargs['shift_place']
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {sorted(ARCHS)}")
    if shift_place not in SHIFT_PLACES:
        raise ValueError(f"unknown shift_place {shift_place!r}; expected one of {SHIFT_PLACES}")
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; expected one of {BACKBONES}")
    shift_every = 2 if backbone == 'resnet' and depth is not None and depth >= 101 else 1

    def make_ops(stage, index, in_channels):
        if index % shift_every:
            return None, None
        op = create_temporal_op(ARCHS[arch], in_channels, kwargs['num_segments'], kwargs['shift_div'])
        return (op, None) if shift_place == 'blockres' else (None, op)

    if backbone == 'resnet':
        base_model = ResNet(depth, make_ops, onnx_stem)
    elif depth is not None:
        raise ValueError(f"depth={depth} is a ResNet setting; the {backbone} backbone has none")
    else:
        base_model = MobileNetV2(make_ops)
    return TSMNet(base_model, kwargs['num_classes'], kwargs['num_segments'], kwargs['dropout'])
