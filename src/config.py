"""Typed configuration: every key declared once (type, default, range, help); yaml files and `--key value` overrides.

Precedence: the defaults below (the SSv2 TSM-R50 8-frame recipe, mirrored by default_config.yaml) < the files given
with `--config_path` (variants holding only what differs; several are composed in the order given, a later file
winning; a file's `base:` list names files it builds on, read first, relative to it) < `--key value` on the command
line (the last one wins when a key is given twice). Booleans are `--flip` / `--no-flip` (or `--flip true|false`).
`-h` / `--help` prints every key (type, default, choices or range, help) and exits. Unknown keys, values of the wrong
type and values out of the key's range are rejected when the config is read, with the source (file or command line)
and the closest valid key; float keys take yaml-style numbers such as `1e-2`. Only entry scripts read a Config;
library code takes explicit arguments. An entry script may declare keys of its own (`option(...)` in a dataclass
passed as `get_config(options=...)`), command-line only, positional ones included.
"""
import dataclasses
import difflib
import hashlib
import inspect
import json
import math
import os
import re
import shutil
import sys
import textwrap
import typing
from dataclasses import dataclass, field

import yaml

from src.errors import InputError
from src.files import write_text_atomically
from src.models.registry import DEFAULT_MODEL, MODELS, get_spec

MODEL = MODELS[DEFAULT_MODEL]  # the model keys default to the registry's published model (python -m src.models)


@dataclass(frozen=True)
class Range:
    """Allowed numbers (for a list key: allowed items): `low <= x <= high`, either end open or absent."""
    low: float = None
    high: float = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, x):
        if isinstance(x, float) and not math.isfinite(x):
            return False
        above = self.low is None or (x > self.low if self.low_open else x >= self.low)
        below = self.high is None or (x < self.high if self.high_open else x <= self.high)
        return above and below

    def __str__(self):
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return f"{'<' if self.high_open else '<='} {self.high}"


POSITIVE_INT = Range(1)
NON_NEGATIVE = Range(0)
POSITIVE = Range(0, low_open=True)


def _nonempty(value):
    return None if value else 'must not be empty'


def _frame_template(value):
    """A file name with one integer field: {:06d}.jpg, img_{:05d}.jpg."""
    try:
        one, two = value.format(1), value.format(2)
    except (ValueError, IndexError, KeyError, AttributeError):
        return "must be a file name with one integer field such as '{:06d}.jpg'"
    if one == two or os.sep in one:
        return "must be a file name with one integer field such as '{:06d}.jpg'"
    return None


def _ascending(values):
    return None if all(a < b for a, b in zip(values, values[1:])) else 'must be in ascending order'


def _pairs(values):
    return None if len(values) % 2 == 0 else 'needs an even number of labels (consecutive pairs)'


def _key(default, help, choices=None, *, range=None, check=None, positional=False):  # noqa: A002  (users' words)
    """A config key: its default, help, and what is valid (`choices`, a numeric `range`, a `check` of the value);
    `positional` (an entry script's own keys only): given without `--name`, in declaration order, and required."""
    kwargs = {'default_factory': lambda: list(default)} if isinstance(default, list) else {'default': default}
    return field(metadata={'help': help, 'choices': choices, 'range': range, 'check': check,
                           'positional': positional}, **kwargs)


option = _key  # an entry script's own keys: `get_config(options=<a dataclass of option(...) fields>)`


@dataclass
class Config:
    """All keys of train.py / eval.py / export.py. Defaults: SSv2, TSM-R50, 8 segments, 8 x Ascend 910 x batch 8."""
    # platform
    device_target: str = _key('Ascend', 'where to run', ('Ascend', 'GPU', 'CPU'))
    mode: str = _key('graph', 'MindSpore execution mode', ('graph', 'pynative'))
    seed: int = _key(0, 'random seed for weights, sampling and augmentation', range=Range(0, 2 ** 32 - 1))
    output_dir: str = _key('outputs', 'checkpoints, logs and the effective config.yaml go here', check=_nonempty)
    # model
    arch: str = _key(MODEL.arch, 'temporal modelling: tsn (none), tsm (bi-directional shift), tsm_online (past '
                     'only), tin (learned interlace)', ('tsn', 'tsm', 'tsm_online', 'tin'))
    backbone: str = _key(MODEL.backbone, 'resnet (of depth) or mobilenetv2 (width 1.0)', ('resnet', 'mobilenetv2'))
    depth: int = _key(MODEL.depth, 'ResNet depth', (18, 34, 50, 101))
    num_classes: int = _key(MODEL.num_classes, 'number of classes of the classifier', range=POSITIVE_INT)
    num_segments: int = _key(MODEL.num_segments, 'frames per clip (T)', range=POSITIVE_INT)
    shift_div: int = _key(MODEL.shift_div, "shift 1/shift_div of the channels each way (set nowhere: the arch's "
                          "registered value, see python -m src.models)", range=Range(2, 64))
    shift_place: str = _key('blockres', 'blockres: shift the residual branch; block: the whole block input',
                            ('blockres', 'block'))
    dropout: float = _key(0.5, 'drop probability before the classifier', range=Range(0, 1, high_open=True))
    # data: list lines `<path> <num_frames> <label>`, paths relative to data_root
    data_root: str = _key('', 'folder holding the frame folders or videos named in the list files')
    train_list: str = _key('', 'training list file')
    val_list: str = _key('', 'validation list file')
    crop_size: int = _key(224, 'network input height and width (train crops are resized to it; at most scale_size)',
                          range=POSITIVE_INT)
    class_names: str = _key('', 'optional class file, one name per line in label order (for readable output)')
    source: str = _key('frames', 'frames: JPEG folders; video: files decoded by OpenCV', ('frames', 'video'))
    frame_template: str = _key('{:06d}.jpg', 'frame file names, 1-based (SSv1 {:05d}.jpg, MMAction2 img_{:05d}.jpg)',
                               check=_frame_template)
    scale_size: int = _key(256, 'short side the frames are resized to before cropping', range=POSITIVE_INT)
    flip: bool = _key(False, 'random horizontal flip in training (off for Something-Something)')
    flip_pairs: list[int] = _key([], 'labels swapped by a flip, as consecutive pairs (SSv2: [86,87,93,94,166,167])',
                                 range=NON_NEGATIVE, check=_pairs)
    sampling: str = _key('segment', 'frame sampling: segments (train: random in each; eval: centres, 2 clips adds '
                         'starts) or dense 64-frame windows', ('segment', 'dense'))
    num_clips: int = _key(1, 'eval clips per video (segment: 1 or 2; dense: 10 in the reference)', range=POSITIVE_INT)
    num_crops: int = _key(1, 'eval crops per clip: 1 centre or 3 along the long side', (1, 3))
    eval_protocol: str = _key('reference', "eval.py: reference (the sampling and aspect-keeping crops above) or "
                              "zoo_r17 (model zoo r1.7's test pipeline, which measured the Hub checkpoint's 58.0 / "
                              "85.0: its frame indices, frames squashed to scale_size x scale_size, 1 centre crop, "
                              "videos of < 3 frames left out)", ('reference', 'zoo_r17'))
    num_parallel_workers: int = _key(8, 'data loading workers per device', range=POSITIVE_INT)
    worker_processes: bool = _key(False, 'workers as processes (scale past the GIL on many-core hosts) instead of '
                                  'threads (less CPU per clip: OpenCV decodes and resizes without the GIL)')
    skip_bad_samples: bool = _key(False, 'skip unreadable samples (logged and counted) instead of stopping')
    allow_outside_root: bool = _key(False, 'accept list paths outside data_root (absolute, or .. above it); refused '
                                    'without it')
    # checkpoints
    pretrained: str = _key('', 'ImageNet initialisation: a torchvision resnet .pth or its converted .ckpt')
    ckpt: str = _key('', 'checkpoint to evaluate or export (Hub .ckpt, converted .pth, or ours)')
    # export
    file_format: str = _key('MINDIR', 'export format (AIR needs an Ascend backend)', ('MINDIR', 'AIR', 'ONNX'))
    file_name: str = _key('tsm', 'exported file name without extension (relative to output_dir)', check=_nonempty)
    input_dtype: str = _key('float32', 'exported graph input: float32 normalised clips (as eval.py feeds) or uint8 '
                            'RGB pixels normalised inside (4x smaller offline inputs)', ('float32', 'uint8'))
    # optimisation (the original SSv2 recipe: SGD, lr 0.01 at global batch 64, x0.1 at epochs 20 and 40)
    batch_size: int = _key(8, 'clips per device and step', range=POSITIVE_INT)
    epochs: int = _key(50, 'training epochs', range=POSITIVE_INT)
    base_lr: float = _key(0.01, 'learning rate at the reference global batch lr_batch_size (scaled linearly)',
                          range=POSITIVE)
    lr_batch_size: int = _key(64, 'global batch at which base_lr applies', range=POSITIVE_INT)
    lr_schedule: str = _key('step', 'learning-rate schedule', ('step', 'cosine'))
    lr_steps: list[int] = _key([20, 40], 'epochs at which the step schedule multiplies the lr by lr_decay',
                               range=POSITIVE_INT, check=_ascending)
    lr_decay: float = _key(0.1, 'factor of the step schedule', range=Range(0, 1, low_open=True))
    warmup_epochs: int = _key(0, 'linear warm-up epochs', range=NON_NEGATIVE)
    momentum: float = _key(0.9, 'SGD momentum', range=Range(0, 1, high_open=True))
    weight_decay: float = _key(5e-4, 'L2 weight decay on conv/dense weights', range=NON_NEGATIVE)
    clip_grad_norm: float = _key(20.0, 'global gradient-norm clip (0 disables)', range=NON_NEGATIVE)
    # training
    partial_bn: bool = _key(False, 'freeze every BatchNorm but the first (statistics and affine), as TSN does')
    amp_level: str = _key('auto', 'mixed precision; auto: O0 on CPU (float16 is slower there), O2 on Ascend/GPU',
                          ('auto', 'O0', 'O1', 'O2', 'O3'))
    loss_scale: float = _key(1024.0, 'loss scale with amp_level O1-O3 (initial value if dynamic)', range=Range(1))
    dynamic_loss_scale: bool = _key(True, 'halve the loss scale on overflow (the step is skipped), double it after '
                                    '1000 good steps')
    dataset_sink_mode: bool = _key(True, 'feed a whole epoch to the device per call (Ascend/GPU; MindSpore runs CPU '
                                   'training step by step whatever this says); progress is then logged per epoch')
    max_nonfinite_steps: int = _key(10, 'stop every rank after this many consecutive steps with a non-finite loss or '
                                    'gradients (each is skipped; a dynamic loss scale halves on each)',
                                    range=POSITIVE_INT)
    overwrite: bool = _key(False, 'start afresh in an output_dir that holds an earlier run (moved to '
                           'output_dir/previous/<time>/); without it such a directory is refused unless --resume')
    eval_every: int = _key(1, 'validate on val_list every k epochs and after the last (0: never)', range=NON_NEGATIVE)
    keep_checkpoints: int = _key(5, 'epoch checkpoints kept (the newest; 0 keeps all); the best is kept apart',
                                  range=NON_NEGATIVE)
    resume: str = _key('', 'continue a run from a training checkpoint, or "last" for the newest in output_dir')
    log_every: int = _key(20, 'steps between progress lines', range=POSITIVE_INT)
    # evaluation
    out: str = _key('', 'eval.py: write the metrics and per-video top-5 predictions to this JSON file')


def config_fields():
    return {f.name: f for f in dataclasses.fields(Config)}


class ConfigError(InputError, ValueError):
    """A bad key or value; the message names the source (file or command line) and the closest valid key."""


def _closest(name, names=None):
    match = difflib.get_close_matches(name, names or config_fields(), n=1, cutoff=0.5)
    return f"; did you mean '{match[0]}'?" if match else ''


YAML_FLOAT = re.compile(r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?')


def _as_float(value):
    """ints and yaml-style number strings (`1e-2`, which yaml 1.1 reads as a string) as float; others unchanged."""
    if type(value) is int or (isinstance(value, str) and YAML_FLOAT.fullmatch(value.strip())):
        return float(value)
    return value


def check_value(name, value, source, fields=None):
    """Return `value` as the declared type of `name`, checked against its choices/range, or raise ConfigError.
    `fields`: the declared keys ({name: dataclasses.Field}; default: Config's)."""
    fields = fields or config_fields()
    if name not in fields:
        raise ConfigError(f"{source}: unknown config key '{name}'{_closest(name, fields)}")
    f = fields[name]
    if typing.get_origin(f.type) is list:
        return _check_list(name, value, f, source)
    expected = f.type
    if expected is float:
        value = _as_float(value)
    if expected is bool and type(value) is not bool:
        raise ConfigError(f"{source}: '{name}' must be true or false (on the command line: --{name} or --no-{name}), "
                          f"got {value!r}")
    if type(value) is not expected:
        raise ConfigError(f"{source}: '{name}' must be {expected.__name__}, got {type(value).__name__} {value!r}")
    choices, valid, check = f.metadata['choices'], f.metadata['range'], f.metadata['check']
    if choices and value not in choices:
        raise ConfigError(f"{source}: '{name}' must be one of {list(choices)}, got {value!r}")
    if valid is not None and value not in valid:
        raise ConfigError(f"{source}: '{name}' must be {valid}, got {value!r}")
    if isinstance(value, str) and '\0' in value:
        raise ConfigError(f"{source}: '{name}' contains a NUL character: {value!r}")
    problem = check(value) if check else None
    if problem:
        raise ConfigError(f"{source}: '{name}' {problem}, got {value!r}")
    return value


def _check_list(name, value, f, source):
    item_type = typing.get_args(f.type)[0]
    if not isinstance(value, list):
        raise ConfigError(f"{source}: '{name}' must be a list of {item_type.__name__}, got {value!r}")
    items = [_as_float(v) for v in value] if item_type is float else value
    if not all(type(v) is item_type for v in items):
        raise ConfigError(f"{source}: '{name}' must be a list of {item_type.__name__}, got {value!r}")
    valid, check = f.metadata['range'], f.metadata['check']
    if valid is not None and not all(v in valid for v in items):
        raise ConfigError(f"{source}: every item of '{name}' must be {valid}, got {value!r}")
    problem = check(items) if check else None
    if problem:
        raise ConfigError(f"{source}: '{name}' {problem}, got {value!r}")
    return items


BASE = 'base'  # a config file's list of the files it builds on (not a config key)


def read_config_files(path, _chain=()):
    """[(file, {key: value})] of the yaml file `path` and, first, of the files its `base:` list names (paths relative
    to the file naming them, each read the same way); every key checked. A file building on itself is refused."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}" + (f" (a base of {_chain[-1]})" if _chain else ''))
    if os.path.realpath(path) in map(os.path.realpath, _chain):
        raise ConfigError(f"config files build on each other in a cycle: {' -> '.join([*_chain, path])}")
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not a readable yaml file: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    bases = data.pop(BASE, [])
    bases = [bases] if isinstance(bases, str) else bases
    if not isinstance(bases, list) or not all(isinstance(b, str) and b for b in bases):
        raise ConfigError(f"{path}: '{BASE}' must be a list of config files (relative to this one), got {bases!r}")
    files = []
    for base in bases:
        files += read_config_files(os.path.join(os.path.dirname(path), os.path.expanduser(base)), (*_chain, path))
    return files + [(path, {name: check_value(name, value, path) for name, value in data.items()})]


def load_yaml(path):
    """Keys of a yaml file (after those of its `base:` files), checked; an empty file is an empty mapping."""
    values = {}
    for _, from_file in read_config_files(path):
        values.update(from_file)
    return values


HELP_FLAGS = ('-h', '--help')


def _parse(argv, own=None):
    """(`--config_path` files, {config key: value}, {own key: value}, [positional arguments]) of a command line;
    `own`: an entry script's keys ({name: Field}). See parse_cli."""
    fields, own = config_fields(), own or {}
    positional = any(f.metadata['positional'] for f in own.values())
    config_paths, overrides, own_values, positionals, i = [], {}, {}, [], 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith('--'):
            if not positional or (arg.startswith('-') and arg != '-'):
                raise ConfigError(f"command line: expected --key value, got {arg!r}")
            positionals.append(arg)
            i += 1
            continue
        name, has_value, value = arg[2:].partition('=')
        if name == 'config_path':
            if not has_value:
                if i + 1 >= len(argv):
                    raise ConfigError("command line: --config_path needs a file")
                value, i = argv[i + 1], i + 1
            if not value:
                raise ConfigError("command line: --config_path needs a file")
            config_paths.append(value)
            i += 1
            continue
        negated = name.startswith('no-')
        key, source = name[3:] if negated else name, f"command line --{name}"
        declared = own if key in own else fields
        if key not in declared:
            raise ConfigError(f"{source}: unknown config key '{key}'{_closest(key, [*fields, *own])}")
        f = declared[key]
        if negated:
            if f.type is not bool:
                raise ConfigError(f"{source}: '{key}' is not a boolean key, so there is no --no-{key} "
                                  f"(give --{key} VALUE)")
            if has_value:
                raise ConfigError(f"{source}: --no-{key} takes no value (it means {key} false)")
            parsed = False
        else:
            if not has_value:
                following = argv[i + 1] if i + 1 < len(argv) else None
                if f.type is bool and (following is None or following.startswith('-')):
                    value = 'true'  # a bare --flip
                elif following is None:
                    raise ConfigError(f"command line: --{name} needs a value")
                else:
                    value, i = following, i + 1  # `--key value`, also `--flip false` (the long form)
            try:
                parsed = value if value == '' or f.type is str else yaml.safe_load(value)
            except yaml.YAMLError as err:
                raise ConfigError(f"{source}: cannot read {value!r} as a yaml value: {' '.join(str(err).split())}") \
                    from None
        (own_values if declared is own else overrides)[key] = check_value(key, parsed, source, declared)
        i += 1
    return config_paths, overrides, own_values, positionals


def parse_cli(argv):
    """(`--config_path` files in order, {key: value}) of `--key value` pairs; values are yaml scalars or lists
    (`--lr_steps [20,40]`) except for text keys, which take the text as it is (`--frame_template {:05d}.jpg`);
    a boolean key alone is true (`--flip`), `--no-flip` false, `--flip false` / `--flip=false` as given;
    a key given twice keeps its last value."""
    config_paths, overrides, _, _ = _parse(argv)
    return config_paths, overrides


def check_config(config, sources=None):
    """Rules between keys; `sources` names where each key was set (default: 'default'). Raises ConfigError."""
    sources = sources or {}

    def where(*names):
        return ', '.join(f"{n} {getattr(config, n)!r} from {sources.get(n, 'the defaults')}" for n in names)

    if config.crop_size > config.scale_size:
        raise ConfigError(f"crop_size must not exceed scale_size (a crop larger than the resized frame would be "
                          f"stretched): {where('crop_size', 'scale_size')}")
    if config.sampling == 'segment' and config.num_clips > 2:
        raise ConfigError(f"segment sampling takes 1 clip (centres) or 2 (centres + starts): "
                          f"{where('sampling', 'num_clips')}")
    if config.eval_protocol == 'zoo_r17' and (config.sampling, config.num_clips, config.num_crops) != ('segment', 1, 1):
        raise ConfigError(f"eval_protocol zoo_r17 takes segment sampling, 1 clip and 1 crop: "
                          f"{where('eval_protocol', 'sampling', 'num_clips', 'num_crops')}")
    if config.eval_protocol == 'zoo_r17' and config.crop_size % 2 and not config.scale_size % 2:
        raise ConfigError(f"eval_protocol zoo_r17 cuts an odd crop_size from an even scale_size one pixel too wide or "
                          f"narrow (PIL rounds both edges): {where('crop_size', 'scale_size')}")
    if any(label >= config.num_classes for label in config.flip_pairs):
        raise ConfigError(f"flip_pairs names a label >= num_classes: {where('flip_pairs', 'num_classes')}")
    return config


def _own_fields(options):
    own = {f.name: f for f in dataclasses.fields(options)} if options else {}
    clash = sorted(set(own) & set(config_fields()) | ({'config_path', BASE} & set(own)))
    if clash:
        raise TypeError(f"{options.__name__} redeclares config keys {clash}")
    return own


def get_config(argv=None, config_path=None, *, description='', prog=None, options=None):
    """Defaults < `config_path`, then each `--config_path` file in order (later wins) < `--key value` overrides.

    Every value is checked (type, choices, range) as it is read, and the rules between keys once all are known.
    `-h` / `--help` anywhere prints `help_text(prog, description, options)` (`description`: what the script does,
    printed as written, e.g. its docstring) and exits (status 0) before anything else. `options`: a dataclass of
    the entry script's own keys (declared with `option(...)`, command line only); then returns (config, options
    instance) instead of the config.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    own = _own_fields(options)
    if any(arg in HELP_FLAGS for arg in argv):
        sys.stdout.write(help_text(prog, description, options))
        raise SystemExit(0)
    cli_paths, overrides, own_values, positionals = _parse(argv, own)
    values, sources = {}, {}
    for path in ([config_path] if config_path else []) + cli_paths:
        for file, from_file in read_config_files(path):
            values.update(from_file)
            sources.update(dict.fromkeys(from_file, file))
    values.update(overrides)
    sources.update({name: f"command line --{name}" for name in overrides})
    if 'shift_div' not in values:  # the arch's registered value (TIN interlaces a quarter of the channels)
        values['shift_div'] = get_spec(values.get('arch', MODEL.arch)).shift_div
    config = check_config(Config(**values), sources)
    if options is None:
        return config
    wanted = [f for f in own.values() if f.metadata['positional']]
    if len(positionals) > len(wanted):
        raise ConfigError(f"command line: expected --key value, got {positionals[len(wanted)]!r}")
    if len(positionals) < len(wanted):
        missing = wanted[len(positionals)]
        raise ConfigError(f"command line: {_prog(prog)} needs {missing.name.upper()} ({missing.metadata['help']}); "
                          f"see --help")
    for f, value in zip(wanted, positionals):
        own_values[f.name] = check_value(f.name, value, f"command line {f.name.upper()}", own)
    return config, options(**own_values)


def _prog(prog):
    return prog or os.path.basename(sys.argv[0]) or 'python'


def _sections(cls):
    """[(title, [key, ...])]: the keys of dataclass `cls` under the `# title` comment lines of its source."""
    names = [f.name for f in dataclasses.fields(cls)]
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # no source (a frozen build): one section
        return [('', names)]
    sections, seen = [], set()
    for line in lines:
        title = re.match(r'^    # (.+)$', line)
        key = re.match(r'^    (\w+): ', line)
        if title:  # `# data: list lines ...` reads `data (list lines ...)`
            sections.append((re.sub(r'^(\w+): (.+)$', r'\1 (\2)', title.group(1)), []))
        elif key and key.group(1) in names:
            if not sections:
                sections.append(('', []))
            sections[-1][1].append(key.group(1))
            seen.add(key.group(1))
    return [s for s in sections if s[1]] + ([('', [n for n in names if n not in seen])] if len(seen) < len(names)
                                           else [])


def _yaml_text(value):
    """`value` as written in a yaml file (false, [20, 40], '')."""
    return yaml.safe_dump(value, default_flow_style=True, width=1000).replace('\n...\n', '').strip()


def _metavar(f):
    if f.type is bool:
        return None
    if f.metadata['choices']:
        return '{' + ','.join(map(str, f.metadata['choices'])) + '}'
    if typing.get_origin(f.type) is list:
        return f"[{typing.get_args(f.type)[0].__name__.upper()},...]"
    if f.name in PATH_KEYS:
        return 'PATH'
    return {int: 'INT', float: 'FLOAT', str: 'TEXT'}[f.type]


def _describe(f, width):
    """The help lines of one key: its flags, then the help with its default and valid values."""
    if f.metadata['positional']:
        flags = f.name.upper()
    elif f.type is bool:
        flags = f"--{f.name}, --no-{f.name}"
    else:
        flags = f"--{f.name} {_metavar(f)}"
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default
    notes = [] if f.metadata['positional'] else [f"default: {_yaml_text(default)}"]
    if f.metadata['range'] is not None:
        notes.append(('each ' if typing.get_origin(f.type) is list else '') + str(f.metadata['range']))
    text = f"{f.metadata['help']} ({'; '.join(notes)})" if notes else f.metadata['help']
    return [f"  {flags}"] + textwrap.wrap(text, width, initial_indent=' ' * 6, subsequent_indent=' ' * 6)


def help_text(prog=None, description='', options=None):
    """The `--help` text of an entry script: usage, description, how keys are given, then every key by section."""
    prog, own = _prog(prog), _own_fields(options)
    width = max(60, min(shutil.get_terminal_size((120, 24)).columns, 120)) - 2  # the docstrings: 120
    positionals = ' '.join(f.name.upper() for f in own.values() if f.metadata['positional'])
    lines = [f"usage: {prog} {positionals + ' ' if positionals else ''}[-h] [--config_path FILE ...] "
             f"[--key VALUE ...]", '']
    if description:  # as written (an entry script's docstring: what it does, example commands)
        lines += textwrap.dedent(description).strip('\n').splitlines() + ['']
    lines += textwrap.wrap(
        "Each key below has a default; YAML files given with --config_path (repeatable: a later file overrides an "
        "earlier one; a file's `base:` list names files it builds on, relative to it) override the defaults, and "
        "--key VALUE or --key=VALUE on the command line overrides them all (the last one wins). Booleans: --key / "
        "--no-key (also --key true|false; true/false in YAML). Lists: --key [1,2]. Text keys take the text as "
        "it is.", width) + ['']
    lines += ['options:', '  -h, --help', '      show this help and exit', '  --config_path FILE',
              '      a YAML file of config keys; repeatable, later files override earlier ones']
    fields = config_fields()
    for title, names in _sections(Config):
        lines += ['', f"{title}:" if title else 'other keys:']
        for name in names:
            lines += _describe(fields[name], width)
    if own:
        lines += ['', f"{prog} only (command line):"]
        for f in own.values():
            lines += _describe(f, width)
    return '\n'.join(lines) + '\n'


PATH_KEYS = ('output_dir', 'data_root', 'train_list', 'val_list', 'class_names', 'pretrained', 'ckpt', 'resume', 'out')


def with_absolute_paths(config):
    """The config with every file or folder key made absolute (before an entry script changes directory)."""
    values = {k: os.path.abspath(getattr(config, k)) for k in PATH_KEYS
              if getattr(config, k) and not (k == 'resume' and config.resume == 'last')}
    return dataclasses.replace(config, **values)


def model_kwargs(config):
    """`create_model(config.arch, **model_kwargs(config))`: the network a run's config describes."""
    return dict(backbone=config.backbone, depth=config.depth if config.backbone == 'resnet' else None,
                num_classes=config.num_classes, num_segments=config.num_segments, shift_div=config.shift_div,
                shift_place=config.shift_place, dropout=config.dropout)


def network_settings(config):
    """The arch and `model_kwargs`: what `load_checkpoint(..., settings=)` compares with a checkpoint's record."""
    return {'arch': config.arch, **model_kwargs(config)}


def checkpoint_metadata(config):
    """What a run's checkpoints record: the arch, the network's settings (json) and the config's SHA-1."""
    return {'arch': config.arch, 'model': json.dumps(model_kwargs(config), sort_keys=True),
            'config_sha1': hashlib.sha1(dump_config(config).encode('utf-8')).hexdigest()}


def dataset_kwargs(config):
    """The `create_dataset` keywords a run's config sets for both training and evaluation."""
    return dict(source=config.source, frame_template=config.frame_template, num_classes=config.num_classes,
                sampling=config.sampling, crop_size=config.crop_size, scale_size=config.scale_size,
                num_parallel_workers=config.num_parallel_workers, worker_processes=config.worker_processes,
                skip_bad_samples=config.skip_bad_samples, allow_outside_root=config.allow_outside_root)


def save_config(config, directory):
    """Write the effective config next to a run's outputs; returns the file path."""
    os.makedirs(directory, exist_ok=True)
    return write_text_atomically(os.path.join(directory, 'config.yaml'), dump_config(config))


def dump_config(config=None):
    """The config as commented yaml (`python -m src.config > default_config.yaml` regenerates the defaults file)."""
    config = config or Config()
    lines = []
    for name, f in config_fields().items():
        valid = f.metadata['choices'] and '|'.join(map(str, f.metadata['choices'])) or f.metadata['range']
        if valid and typing.get_origin(f.type) is list:
            valid = f"each {valid}"
        lines.append(f"# {f.metadata['help']}" + (f" ({valid})" if valid else ''))
        lines.append(yaml.safe_dump({name: getattr(config, name)}, default_flow_style=True, width=1000).strip()
                     .removeprefix('{').removesuffix('}'))
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    sys.stdout.write(dump_config())
