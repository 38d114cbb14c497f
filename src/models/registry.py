"""Named models, in the manner of timm / mindcv: each name declares its network, its defaults and, where one
exists, its published checkpoint. Every such fact is written here once; `create_model`, the Hub entry, the
converter, the online demo and README's model table (`python -m src.models`) read it. No MindSpore here.

A bare arch (`tsn`, `tsm`, `tsm_online`, `tin`) names its ResNet-50 entry, so `create_model('tsm', depth=18)` is
`tsm_r50` with one default overridden.
"""
from dataclasses import dataclass

from src.pixels import IMAGENET_MEAN, IMAGENET_STD

SSV2, KINETICS, JESTER = 'Something-Something V2', 'Kinetics-400', 'Jester'
OFFICIAL = 'mit-han-lab/temporal-shift-module README (PyTorch, official TSM)'
OFFICIAL_URL = 'https://file.lzhu.me/projects/tsm/models/'


@dataclass(frozen=True)
class Checkpoint:
    """A published checkpoint of exactly this network and its reported accuracy (not re-measured here)."""
    file_name: str
    url: str
    sha256: str  # '' when the source publishes none (not downloaded here)
    dataset: str  # the split the accuracy was measured on
    top1: float
    top5: float | None  # None when the source reports no top-5
    protocol: str  # how the accuracy was measured
    source: str


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: the network (`arch` chooses the temporal op) and its defaults."""
    name: str
    arch: str  # tsn | tsm | tsm_online | tin
    backbone: str  # resnet | mobilenetv2
    depth: int | None  # ResNet depth; None for MobileNetV2
    num_classes: int
    num_segments: int
    dataset: str  # whose classes num_classes counts
    shift_div: int = 8
    shift_place: str = 'blockres'
    dropout: float = 0.5
    input_size: int = 224
    scale_size: int = 256
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    checkpoint: Checkpoint | None = None
    note: str = ''

    def network_kwargs(self):
        """The `create_model` keywords of this entry."""
        return dict(arch=self.arch, backbone=self.backbone, depth=self.depth, num_classes=self.num_classes,
                    num_segments=self.num_segments, shift_div=self.shift_div, shift_place=self.shift_place,
                    dropout=self.dropout)


HUB_CHECKPOINT = Checkpoint(
    file_name='tsm_ascend_v170_somethingsomethingv2_research_cv_top1acc58.0_top5acc85.0.ckpt',
    url='https://download.mindspore.cn/models/r1.7/'
        'tsm_ascend_v170_somethingsomethingv2_research_cv_top1acc58.0_top5acc85.0.ckpt',
    sha256='7bbf6027e8311ec5ead1e5f98ff5acb92020b325de000dba765f058810d0e5b4',
    dataset=f'{SSV2} validation', top1=58.0, top5=85.0,
    protocol='zoo_r17 (1 clip x centre crop 224 of frames squashed to 256x256, 8 frames)',
    source='MindSpore model zoo r1.7, research/cv/tsm (trained on Ascend 910); MindSpore Hub card '
           'hub/tsm_r50_sthv2.md')

def _resnet(arch, depth, checkpoint=None, **kwargs):
    return ModelSpec(name=f'{arch}_r{depth}', arch=arch, backbone='resnet', depth=depth, num_classes=174,
                     num_segments=8, dataset=SSV2, checkpoint=checkpoint, **kwargs)


def _mobilenet(arch, num_classes, dataset, checkpoint=None, note=''):
    return ModelSpec(name=f'{arch}_mobilenetv2', arch=arch, backbone='mobilenetv2', depth=None,
                     num_classes=num_classes, num_segments=8, dataset=dataset, checkpoint=checkpoint, note=note)


MODELS = {spec.name: spec for spec in (
    _resnet('tsm', 50, HUB_CHECKPOINT),
    _resnet('tsn', 50),
    _resnet('tsm_online', 50),
    _resnet('tin', 50, shift_div=4),  # MMAction2's TIN interlaces a quarter of the channels
    _resnet('tsm', 18),
    _resnet('tsm', 101, Checkpoint(
        file_name='TSM_somethingv2_RGB_resnet101_shift8_blockres_avg_segment8_e45.pth',
        url=OFFICIAL_URL + 'TSM_somethingv2_RGB_resnet101_shift8_blockres_avg_segment8_e45.pth', sha256='',
        dataset=f'{SSV2} validation', top1=63.3, top5=None,
        protocol='2 clips x 3 crops of 256x256 (full resolution, short side 256), 8 frames', source=OFFICIAL)),
    _mobilenet('tsn', 400, KINETICS),
    _mobilenet('tsm', 400, KINETICS, Checkpoint(
        file_name='TSM_kinetics_RGB_mobilenetv2_shift8_blockres_avg_segment8_e100_dense.pth',
        url=OFFICIAL_URL + 'TSM_kinetics_RGB_mobilenetv2_shift8_blockres_avg_segment8_e100_dense.pth', sha256='',
        dataset=f'{KINETICS} validation', top1=69.5, top5=None,
        protocol='dense sampling, 10 clips x 3 crops of 256x256 (full resolution, short side 256), 8 frames',
        source=OFFICIAL)),
    _mobilenet('tsm_online', 27, JESTER, note='the paper\'s online gesture model'),
)}
DEFAULT_MODEL = 'tsm_r50'
ARCH_MODELS = {arch: f'{arch}_r50' for arch in ('tsn', 'tsm', 'tsm_online', 'tin')}  # a bare arch: its R50 entry
NETWORK_KEYS = tuple(MODELS[DEFAULT_MODEL].network_kwargs())


def get_spec(name):
    """The ModelSpec registered as `name` (a bare arch gives its ResNet-50 entry); ValueError listing the names."""
    key = name.lower() if isinstance(name, str) else name
    key = ARCH_MODELS.get(key, key)
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(MODELS)} (or an arch: "
                         f"{', '.join(ARCH_MODELS)})")
    return MODELS[key]


def network_kwargs(name, **overrides):
    """`create_model` keywords of `name` with `overrides` applied; a ResNet depth needs a ResNet backbone."""
    unknown = sorted(set(overrides) - set(NETWORK_KEYS))
    if unknown:
        raise TypeError(f"unknown model keyword(s) {unknown}; expected some of {list(NETWORK_KEYS)}")
    kwargs = get_spec(name).network_kwargs()
    if overrides.get('backbone', kwargs['backbone']) != kwargs['backbone']:  # another backbone: its own depth
        kwargs['depth'] = 50 if overrides['backbone'] == 'resnet' else None
    kwargs.update(overrides)
    return kwargs


# ------------------------------------------------------------------------------------------------ the table
TABLE_HEADER = ('| name | temporal op | backbone | defaults | published checkpoint (accuracy as reported there) |\n'
                '|---|---|---|---|---|')
TEMPORAL_OPS = {'tsn': 'none', 'tsm': 'shift 1/{div} each way', 'tsm_online': 'shift 1/{div} from the past',
                'tin': 'interlace 1/{div}'}
PLACES = {'blockres': 'residual branch', 'block': 'block input'}


def _checkpoint_cell(checkpoint):
    if checkpoint is None:
        return '-'
    top5 = f' / top-5 {checkpoint.top5:.1f}' if checkpoint.top5 is not None else ''
    sha = f'sha256 `{checkpoint.sha256[:8]}...`' if checkpoint.sha256 else 'no published sha256'
    return (f'`{checkpoint.file_name}` ({sha}): top-1 {checkpoint.top1:.1f}{top5}, {checkpoint.dataset}, '
            f'{checkpoint.protocol}; {checkpoint.source}')


def registry_table():
    """README's model table, one row per registered name (`python -m src.models` prints it)."""
    rows = [TABLE_HEADER]
    for spec in MODELS.values():
        op = TEMPORAL_OPS[spec.arch].format(div=spec.shift_div)
        op += f', {PLACES[spec.shift_place]}' if spec.arch != 'tsn' else ''
        backbone = f'ResNet-{spec.depth}' if spec.backbone == 'resnet' else 'MobileNetV2 (width 1.0)'
        note = f'; {spec.note}' if spec.note else ''
        rows.append(f'| `{spec.name}` | {op} | {backbone} | {spec.num_classes} classes ({spec.dataset}), '
                    f'{spec.num_segments} frames, {spec.input_size} px{note} | {_checkpoint_cell(spec.checkpoint)} |')
    return '\n'.join(rows)
