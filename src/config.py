"""Typed configuration: every key declared once (type, default, help); yaml files and `--key value` overrides.

Precedence: the defaults below (the SSv2 TSM-R50 8-frame recipe, mirrored by default_config.yaml) < the file given
with `--config_path` (a variant holding only what differs) < `--key value` on the command line. Unknown keys and
values of the wrong type are rejected with the closest valid key. Only entry scripts read a Config; library code
takes explicit arguments.
"""
import dataclasses
import difflib
import os
import sys
import typing
from dataclasses import dataclass, field

import yaml


def _key(default, help, choices=None):  # noqa: A002  (the word users read)
    kwargs = {'default_factory': lambda: list(default)} if isinstance(default, list) else {'default': default}
    return field(metadata={'help': help, 'choices': choices}, **kwargs)


@dataclass
class Config:
    """All keys of train.py / eval.py / export.py. Defaults: SSv2, TSM-R50, 8 segments, 8 x Ascend 910 x batch 8."""
    # platform
    device_target: str = _key('Ascend', 'where to run', ('Ascend', 'GPU', 'CPU'))
    mode: str = _key('graph', 'MindSpore execution mode', ('graph', 'pynative'))
    seed: int = _key(0, 'random seed for weights, sampling and augmentation')
    output_dir: str = _key('outputs', 'checkpoints, logs and the effective config.yaml go here')
    # model
    arch: str = _key('tsm', 'temporal modelling: tsn (none), tsm (bi-directional shift), tsm_online (past only), '
                     'tin (learned interlace, use shift_div 4)', ('tsn', 'tsm', 'tsm_online', 'tin'))
    depth: int = _key(50, 'ResNet depth', (18, 34, 50, 101))
    num_classes: int = _key(174, 'number of classes of the classifier')
    num_segments: int = _key(8, 'frames per clip (T)')
    shift_div: int = _key(8, 'shift 1/shift_div of the channels each way')
    shift_place: str = _key('blockres', 'blockres: shift the residual branch; block: the whole block input',
                            ('blockres', 'block'))
    dropout: float = _key(0.5, 'drop probability before the classifier')
    # data (DESIGN section 5): list lines `<path> <num_frames> <label>`, paths relative to data_root
    data_root: str = _key('', 'folder holding the frame folders or videos named in the list files')
    train_list: str = _key('', 'training list file')
    val_list: str = _key('', 'validation list file')
    crop_size: int = _key(224, 'network input height and width (train crops are resized to it)')
    class_names: str = _key('', 'optional class file, one name per line in label order (for readable output)')
    source: str = _key('frames', 'frames: JPEG folders; video: files decoded by OpenCV', ('frames', 'video'))
    frame_template: str = _key('{:06d}.jpg', 'frame file names, 1-based (SSv1 {:05d}.jpg, MMAction2 img_{:05d}.jpg)')
    scale_size: int = _key(256, 'short side the frames are resized to before cropping')
    flip: bool = _key(False, 'random horizontal flip in training (off for Something-Something)')
    flip_pairs: list[int] = _key([], 'labels swapped by a flip, as consecutive pairs (SSv2: [86,87,93,94,166,167])')
    sampling: str = _key('segment', 'frame sampling: segments (train: random in each; eval: centres, 2 clips adds '
                         'starts) or dense 64-frame windows', ('segment', 'dense'))
    num_clips: int = _key(1, 'eval clips per video (segment: 1 or 2; dense: 10 in the reference)')
    num_crops: int = _key(1, 'eval crops per clip: 1 centre or 3 along the long side', (1, 3))
    num_parallel_workers: int = _key(8, 'data loading workers per device')
    worker_processes: bool = _key(False, 'workers as processes (scale past the GIL on many-core hosts) instead of '
                                  'threads (less CPU per clip: OpenCV decodes and resizes without the GIL)')
    skip_bad_samples: bool = _key(False, 'skip unreadable samples (logged and counted) instead of stopping')
    # checkpoints
    pretrained: str = _key('', 'ImageNet initialisation: a torchvision resnet .pth or its converted .ckpt')
    ckpt: str = _key('', 'checkpoint to evaluate or export (Hub .ckpt, converted .pth, or ours)')
    # export
    file_format: str = _key('MINDIR', 'export format (AIR needs an Ascend backend)', ('MINDIR', 'AIR', 'ONNX'))
    file_name: str = _key('tsm', 'exported file name without extension (relative to output_dir)')
    input_dtype: str = _key('float32', 'exported graph input: float32 normalised clips (as eval.py feeds) or uint8 '
                            'RGB pixels normalised inside (4x smaller offline inputs)', ('float32', 'uint8'))
    # optimisation (DESIGN section 4: SGD, lr 0.01 at global batch 64, x0.1 at epochs 20 and 40)
    batch_size: int = _key(8, 'clips per device and step')
    epochs: int = _key(50, 'training epochs')
    base_lr: float = _key(0.01, 'learning rate at the reference global batch lr_batch_size (scaled linearly)')
    lr_batch_size: int = _key(64, 'global batch at which base_lr applies')
    lr_schedule: str = _key('step', 'learning-rate schedule', ('step', 'cosine'))
    lr_steps: list[int] = _key([20, 40], 'epochs at which the step schedule multiplies the lr by lr_decay')
    lr_decay: float = _key(0.1, 'factor of the step schedule')
    warmup_epochs: int = _key(0, 'linear warm-up epochs')
    momentum: float = _key(0.9, 'SGD momentum')
    weight_decay: float = _key(5e-4, 'L2 weight decay on conv/dense weights')
    clip_grad_norm: float = _key(20.0, 'global gradient-norm clip (0 disables)')
    # training
    partial_bn: bool = _key(False, 'freeze every BatchNorm but the first (statistics and affine), as TSN does')
    amp_level: str = _key('auto', 'mixed precision; auto: O0 on CPU (float16 is slower there), O2 on Ascend/GPU',
                          ('auto', 'O0', 'O1', 'O2', 'O3'))
    loss_scale: float = _key(1024.0, 'loss scale with amp_level O1-O3 (initial value if dynamic)')
    dynamic_loss_scale: bool = _key(True, 'halve the loss scale on overflow (the step is skipped), double it after '
                                    '1000 good steps')
    dataset_sink_mode: bool = _key(True, 'feed a whole epoch to the device per call (Ascend/GPU; MindSpore runs CPU '
                                   'training step by step whatever this says); progress is then logged per epoch')
    max_nonfinite_steps: int = _key(10, 'stop every rank after this many consecutive steps with a non-finite loss or '
                                    'gradients (each is skipped; a dynamic loss scale halves on each)')
    overwrite: bool = _key(False, 'start afresh in an output_dir that holds an earlier run (moved to '
                           'output_dir/previous/<time>/); without it such a directory is refused unless --resume')
    eval_every: int = _key(1, 'validate on val_list every k epochs and after the last (0: never)')
    keep_checkpoints: int = _key(5, 'epoch checkpoints kept (the newest; 0 keeps all); the best is kept apart')
    resume: str = _key('', 'continue a run from a training checkpoint, or "last" for the newest in output_dir')
    log_every: int = _key(20, 'steps between progress lines')
    # evaluation
    out: str = _key('', 'eval.py: write the metrics and per-video top-5 predictions to this JSON file')


def config_fields():
    return {f.name: f for f in dataclasses.fields(Config)}


class ConfigError(ValueError):
    """A bad key or value; the message names the source (file or command line) and the closest valid key."""


def _closest(name):
    match = difflib.get_close_matches(name, config_fields(), n=1, cutoff=0.5)
    return f"; did you mean '{match[0]}'?" if match else ''


def check_value(name, value, source):
    """Return `value` as the declared type of `name`, or raise ConfigError naming `source`."""
    fields = config_fields()
    if name not in fields:
        raise ConfigError(f"{source}: unknown config key '{name}'{_closest(name)}")
    f = fields[name]
    if typing.get_origin(f.type) is list:
        return _check_list(name, value, f, source)
    expected = f.type
    if expected is float and type(value) is int:
        value = float(value)
    if type(value) is not expected:
        raise ConfigError(f"{source}: '{name}' must be {expected.__name__}, got {type(value).__name__} {value!r}")
    choices = f.metadata['choices']
    if choices and value not in choices:
        raise ConfigError(f"{source}: '{name}' must be one of {list(choices)}, got {value!r}")
    return value


def _check_list(name, value, f, source):
    item_type = typing.get_args(f.type)[0]
    if not isinstance(value, list):
        raise ConfigError(f"{source}: '{name}' must be a list of {item_type.__name__}, got {value!r}")
    items = [float(v) if item_type is float and type(v) is int else v for v in value]
    if not all(type(v) is item_type for v in items):
        raise ConfigError(f"{source}: '{name}' must be a list of {item_type.__name__}, got {value!r}")
    return items


def load_yaml(path):
    """Keys of a yaml file, checked; an empty file is an empty mapping."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return {name: check_value(name, value, path) for name, value in data.items()}


def parse_cli(argv):
    """`--config_path F` and `--key value` pairs (values are yaml scalars or lists: `--lr_steps [20,40]`)."""
    config_path, overrides, i = None, {}, 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith('--'):
            raise ConfigError(f"command line: expected --key value, got {arg!r}")
        name, _, value = arg[2:].partition('=')
        if not _:
            if i + 1 >= len(argv):
                raise ConfigError(f"command line: --{name} needs a value")
            value, i = argv[i + 1], i + 1
        if name == 'config_path':
            config_path = value
        else:
            overrides[name] = check_value(name, yaml.safe_load(value) if value != '' else '', f"command line --{name}")
        i += 1
    return config_path, overrides


def get_config(argv=None, config_path=None):
    """Defaults < `config_path` (or `--config_path` on the command line) < `--key value` overrides."""
    cli_path, overrides = parse_cli(sys.argv[1:] if argv is None else argv)
    values = {}
    path = cli_path or config_path
    if path:
        values.update(load_yaml(path))
    values.update(overrides)
    return Config(**values)


PATH_KEYS = ('output_dir', 'data_root', 'train_list', 'val_list', 'class_names', 'pretrained', 'ckpt', 'resume', 'out')


def with_absolute_paths(config):
    """The config with every file or folder key made absolute (before an entry script changes directory)."""
    values = {k: os.path.abspath(getattr(config, k)) for k in PATH_KEYS
              if getattr(config, k) and not (k == 'resume' and config.resume == 'last')}
    return dataclasses.replace(config, **values)


def model_kwargs(config):
    """`create_model(config.arch, **model_kwargs(config))`: the network a run's config describes."""
    return dict(depth=config.depth, num_classes=config.num_classes, num_segments=config.num_segments,
                shift_div=config.shift_div, shift_place=config.shift_place, dropout=config.dropout)


def dataset_kwargs(config):
    """The `create_dataset` keywords a run's config sets for both training and evaluation."""
    return dict(source=config.source, frame_template=config.frame_template, num_classes=config.num_classes,
                sampling=config.sampling, crop_size=config.crop_size, scale_size=config.scale_size,
                num_parallel_workers=config.num_parallel_workers, worker_processes=config.worker_processes,
                skip_bad_samples=config.skip_bad_samples)


def save_config(config, directory):
    """Write the effective config next to a run's outputs; returns the file path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'config.yaml')
    with open(path, 'w') as f:
        f.write(dump_config(config))
    return path


def dump_config(config=None):
    """The config as commented yaml (`python -m src.config > default_config.yaml` regenerates the defaults file)."""
    config = config or Config()
    lines = []
    for name, f in config_fields().items():
        lines.append(f"# {f.metadata['help']}" + (f" ({'|'.join(map(str, f.metadata['choices']))})"
                                                   if f.metadata['choices'] else ''))
        lines.append(yaml.safe_dump({name: getattr(config, name)}, default_flow_style=True, width=1000).strip()
                     .removeprefix('{').removesuffix('}'))
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    sys.stdout.write(dump_config())
