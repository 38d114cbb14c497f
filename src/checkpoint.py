"""Checkpoints: read MindSpore `.ckpt` and PyTorch `.pth` files, map their names explicitly, load strictly.

Accepted inputs (the layout is detected from the parameter names, the container from the file content):
- `mindspore`: our own `.ckpt` files, also with `base_model.` missing on some names; optimizer state is ignored.
- `torch_tsm`: the official PyTorch TSM/TSN `.pth` (`{'state_dict': {'module.base_model.…': …}}`).
- `torchvision`: an ImageNet ResNet or MobileNetV2 `.pth` (`conv1.weight`, `layer1.0.downsample.0.weight`, `fc.*`
  dropped; `features.2.conv.0.0.weight` numbered flat as the official TSM layout, `classifier.*` dropped), an
  initialisation for the backbone: load it with `init_only=True`, `new_fc` keeps its initial values.
Loading is strict: every network parameter must be found with its shape, nothing may be left over, and no two
names may map to the same parameter; otherwise one error lists what is missing, unexpected, mis-shaped or ambiguous.
"""
import glob
import json
import logging
import os
import re
import tempfile

import numpy as np

from src.errors import InputError
from src.torch_pickle import PICKLE_PROTO, ZIP_MAGIC, PthReadError, load_pth

logger = logging.getLogger(__name__)

BACKBONE_PREFIX = "base_model."
CLASSIFIER_PREFIX = "new_fc."

# MindSpore training bookkeeping saved next to the weights (Momentum/Adam/... state, loss scaling, step counters).
OPTIMIZER_NAMES = frozenset({
    "learning_rate", "global_step", "momentum", "scale_sense", "loss_scale", "weight_decay", "beta1_power",
    "beta2_power", "current_iterator_step", "last_overflow_iterator_step", "epoch_num", "step_num",
})
OPTIMIZER_PREFIXES = ("moments.", "accum.", "moment1.", "moment2.", "adam_m.", "adam_v.", "vhat.", "mean_grad.",
                      "mean_square.", "linear.", "accumulation.")

# PyTorch -> ours. BN leaves are renamed only inside modules that hold BN running statistics.
TORCH_BN_LEAVES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
TORCH_BN_MARKERS = ("running_mean", "running_var")
TORCH_MODULES = {"downsample": "down_sample_layer"}  # one path component -> its MindSpore name
TORCH_DROPPED_LEAVES = ("num_batches_tracked",)
TORCH_WRAPPER = "module."  # nn.DataParallel
# Official TSM/TSN code keeps the classifier in base_model.fc (MobileNetV2: base_model.classifier) when dropout == 0.
TORCH_TSM_PREFIXES = {"base_model.fc.": CLASSIFIER_PREFIX, "base_model.classifier.": CLASSIFIER_PREFIX}
# the ImageNet classifier: ResNet `fc`, torchvision MobileNetV2 `classifier.1` (after its dropout), flat `classifier`
TORCHVISION_DROPPED = ("fc.weight", "fc.bias", "classifier.1.weight", "classifier.1.bias", "classifier.weight",
                      "classifier.bias")
# Unshifted spelling -> our spelling of a shiftable block's first conv (ResNet `conv1`, MobileNetV2 `conv.0`; our
# blocks always wrap it as `net`; TSN and torchvision name it plainly). Applied only when the plain name is not a
# network parameter itself.
SHIFTED_CONVS = ((".conv1.weight", ".conv1.net.weight"), (".conv.0.weight", ".conv.0.net.weight"))
# torchvision's MobileNetV2 block `features.K.conv`: m nested conv-BN-ReLU6 groups `I.J` (J = 0, 1, 2), then a plain
# conv and BN `I` (I = m, m + 1); the official TSM layout (ours) numbers the same layers flat: 3*I + J, 3*m + I - m.
TORCHVISION_BLOCK = re.compile(r"^(features\.\d+\.conv)\.(\d+)\.(?:(\d+)\.)?([a-z_]+)$")

LAYOUTS = ("mindspore", "torch_tsm", "torchvision")
MAX_LISTED = 20
# Our checkpoints record what they were trained as (text entries MindSpore stores next to the tensors): the arch,
# the network's other settings (json) and a digest of the run's config. Loading compares them with the network.
METADATA_PREFIX = "tsm_meta."
COMPARED_SETTINGS = ("arch", "num_segments", "shift_div", "shift_place")


class CheckpointError(InputError, ValueError):
    """A checkpoint that cannot be read or does not fit the network."""


class CheckpointMismatchError(CheckpointError):
    """Names or shapes differ from the network; `missing`, `unexpected`, `mismatched` hold the details."""

    def __init__(self, source, missing, unexpected, mismatched, hint=""):
        self.missing, self.unexpected, self.mismatched = missing, unexpected, mismatched
        parts = [_listing("missing", missing), _listing("unexpected", unexpected), _listing("mis-shaped", mismatched)]
        text = "; ".join(p for p in parts if p)
        super().__init__(f"{source} does not match the network: {text}{hint}")


def _listing(what, items):
    if not items:
        return ""
    shown = ", ".join(items[:MAX_LISTED])
    more = f", ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"{len(items)} {what}: [{shown}{more}]"


def _shape_str(shape):
    return "x".join(str(d) for d in shape) or "scalar"


# ---------------------------------------------------------------------------------------------------- reading
def read_params(path):
    """name -> NumPy array of a checkpoint, names as stored (a `.pth` state dict or a MindSpore `.ckpt`)."""
    path = str(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as f:
        head = f.read(4)
    if head == ZIP_MAGIC or head.startswith(PICKLE_PROTO):
        try:
            return _state_dict_of(load_pth(path), path)
        except PthReadError as err:
            raise CheckpointError(str(err)) from err
    return _read_mindspore(path)


def _state_dict_of(obj, path):
    """The tensors of an unpickled `.pth`: `obj['state_dict']` when present, else obj itself."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a state dict, found a {type(obj).__name__}")
    others = [f"{k} ({type(v).__name__})" for k, v in obj.items() if not isinstance(v, np.ndarray)]
    if others or not obj:
        raise CheckpointError(f"{path}: expected a state dict of tensors (or {{'state_dict': ...}}), found "
                              f"non-tensor entries: {others[:MAX_LISTED] or 'none, it is empty'}")
    return dict(obj)


def load_mindspore_checkpoint(path):
    """name -> Parameter of a MindSpore `.ckpt` (our text metadata left out); CheckpointError naming the file if it
    is missing, empty, truncated or corrupt, or holds no parameter."""
    import mindspore as ms

    path = str(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"no parameters in {path}: the file is empty")
    try:
        params = ms.load_checkpoint(path)
    except (ValueError, RuntimeError, TypeError) as err:
        raise CheckpointError(f"{path}: cannot read as a MindSpore checkpoint: {err}") from err
    params = {name: p for name, p in params.items() if not isinstance(p, str)}
    if not params:
        raise CheckpointError(f"no parameters in {path}")
    return params


def read_metadata(path):
    """What one of our `.ckpt` files records about its network ({'arch': ..., 'model': ..., ...}); {} otherwise."""
    import mindspore as ms

    path = str(path)
    if not path.endswith(".ckpt") or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return {}
    try:
        entries = ms.load_checkpoint(path, choice_func=lambda name: name.startswith(METADATA_PREFIX))
    except (ValueError, RuntimeError, TypeError):
        return {}  # no metadata (MindSpore refuses an empty selection) or unreadable (reported when loading)
    return {name[len(METADATA_PREFIX):]: value for name, value in entries.items() if isinstance(value, str)}


def _read_mindspore(path):
    if not path.endswith(".ckpt"):
        raise CheckpointError(f"{path}: neither a torch .pth zip nor a MindSpore checkpoint (those end in .ckpt)")
    return {name: p.asnumpy() for name, p in load_mindspore_checkpoint(path).items()}


# ---------------------------------------------------------------------------------------------------- mapping
def detect_layout(names):
    """Which naming a checkpoint uses (one of LAYOUTS), from BN spellings and the `base_model.` prefix."""
    torch_bn = any(n.rsplit(".", 1)[-1] in TORCH_BN_MARKERS + TORCH_DROPPED_LEAVES for n in names)
    ms_bn = any(n.endswith((".moving_mean", ".moving_variance")) for n in names)
    if torch_bn and ms_bn:
        raise CheckpointError("mixed PyTorch (running_mean) and MindSpore (moving_mean) parameter names")
    if not torch_bn:
        return "mindspore"
    stripped = [_strip_wrapper(n) for n in names]
    if any(n.startswith((BACKBONE_PREFIX, CLASSIFIER_PREFIX)) for n in stripped):
        return "torch_tsm"
    return "torchvision"


def _strip_wrapper(name):
    return name[len(TORCH_WRAPPER):] if name.startswith(TORCH_WRAPPER) else name


def _is_optimizer_state(name):
    return name in OPTIMIZER_NAMES or name.startswith(OPTIMIZER_PREFIXES)


def _map_mindspore(names, targets):
    """`X` -> `base_model.X` when only the latter is a network parameter; optimizer state dropped."""
    mapping, dropped = {}, []
    for name in names:
        if name in targets:
            mapping[name] = name
        elif _is_optimizer_state(name):
            dropped.append(name)
        elif BACKBONE_PREFIX + name in targets:
            mapping[name] = BACKBONE_PREFIX + name
        else:
            mapping[name] = name  # reported as unexpected
    return mapping, dropped


def _flat_block_names(paths):
    """torchvision MobileNetV2 block names -> the flat official ones (TORCHVISION_BLOCK); others unchanged."""
    matches = {path: TORCHVISION_BLOCK.match(path) for path in paths}
    nested = {}  # block -> number of nested groups
    for m in filter(None, matches.values()):
        if m.group(3) is not None:
            nested[m.group(1)] = max(nested.get(m.group(1), 0), int(m.group(2)) + 1)
    flat = {}
    for path, m in matches.items():
        if m is None:
            flat[path] = path
            continue
        block, index, inner, leaf = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        groups = nested.get(block, 0)
        position = 3 * index + int(inner) if inner is not None else 3 * groups + index - groups
        flat[path] = f"{block}.{position}.{leaf}"
    return flat


def _map_torch(names, targets, layout):
    """PyTorch names -> ours through the TORCH_* tables; `num_batches_tracked` (and torchvision `fc`) dropped."""
    bn_modules = {n.rsplit(".", 1)[0] for n in names if n.rsplit(".", 1)[-1] in TORCH_BN_MARKERS}
    flat = _flat_block_names([_strip_wrapper(n) for n in names]) if layout == "torchvision" else {}
    mapping, dropped = {}, []
    for name in names:
        module, _, leaf = name.rpartition(".")
        path = _strip_wrapper(name)
        if leaf in TORCH_DROPPED_LEAVES or (layout == "torchvision" and path in TORCHVISION_DROPPED):
            dropped.append(name)
            continue
        if module in bn_modules:
            leaf = TORCH_BN_LEAVES.get(leaf, leaf)
        path = flat.get(path, path)
        parts = [TORCH_MODULES.get(p, p) for p in path.split(".")[:-1]]
        ours = ".".join(parts + [leaf])
        if layout == "torchvision":
            ours = BACKBONE_PREFIX + ours
        for old, new in TORCH_TSM_PREFIXES.items():
            if layout == "torch_tsm" and ours.startswith(old):
                ours = new + ours[len(old):]
        mapping[name] = _shifted_conv_name(ours, targets)
    return mapping, dropped


def _shifted_conv_name(name, targets):
    for plain, wrapped in SHIFTED_CONVS:
        if name not in targets and name.endswith(plain):
            candidate = name[: -len(plain)] + wrapped
            if candidate in targets:
                return candidate
    return name


def _check_unambiguous(mapping, source):
    """Refuse two stored names that map to the same network parameter."""
    seen, clashes = {}, []
    for src, dst in mapping.items():
        if dst in seen:
            clashes.append(f"'{seen[dst]}' and '{src}' both map to '{dst}'")
        seen.setdefault(dst, src)
    if clashes:
        raise CheckpointError(f"{source}: ambiguous names: {'; '.join(clashes[:MAX_LISTED])}")


def _map_names(names, targets, source):
    """(layout, stored name -> network name, dropped stored names), refusing ambiguous mappings."""
    layout = detect_layout(names)
    if layout == "mindspore":
        mapping, dropped = _map_mindspore(names, targets)
    else:
        mapping, dropped = _map_torch(names, targets, layout)
    _check_unambiguous(mapping, source)
    return layout, mapping, dropped


def infer_num_classes(raw, source="checkpoint"):
    """Rows of the stored classifier weight (`new_fc`, or `base_model.fc` of official code); None without one."""
    _, mapping, _ = _map_names(list(raw), {}, source)
    for src, dst in mapping.items():
        if dst == CLASSIFIER_PREFIX + "weight":
            return int(raw[src].shape[0])
    return None


def convert_params(raw, target_shapes, *, init_only=False, source="checkpoint"):
    """Map stored names to the network's, check them strictly, return name -> float32 array.

    raw: name -> array as read by `read_params`; target_shapes: network name -> shape. With init_only the
    classifier (`new_fc.*`) may be missing or mis-shaped: it is then left out (and logged), the backbone is strict.
    Raises CheckpointError (ambiguous names) or CheckpointMismatchError (missing/unexpected/mis-shaped).
    """
    targets = {name: tuple(shape) for name, shape in target_shapes.items()}
    layout, mapping, dropped = _map_names(list(raw), targets, source)
    if dropped:
        logger.info("%s: %s layout, ignoring %d entries (%s)", source, layout, len(dropped),
                    ", ".join(dropped[:5]) + (", ..." if len(dropped) > 5 else ""))
    params = {dst: raw[src] for src, dst in mapping.items()}
    params = _check_against(params, targets, init_only, source, layout)
    return {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in params.items()}


def _check_against(params, targets, init_only, source, layout):
    """Strict name/shape check; with init_only the classifier is dropped when absent or mis-shaped."""
    missing = sorted(n for n in targets if n not in params)
    unexpected = sorted(n for n in params if n not in targets)
    bad = sorted(n for n in params if n in targets and not _fits(params[n], targets[n]))
    if init_only:
        skipped = [n for n in missing + bad if n.startswith(CLASSIFIER_PREFIX)]
        if skipped:
            logger.warning("%s: classifier left as initialised: %s", source, ", ".join(skipped))
        missing = [n for n in missing if n not in skipped]
        bad = [n for n in bad if n not in skipped]
        params = {n: a for n, a in params.items() if n not in skipped}
    if missing or unexpected or bad:
        mismatched = [f"{n} (checkpoint {_shape_str(params[n].shape)} {params[n].dtype}, network "
                      f"{_shape_str(targets[n])})" for n in bad]
        hint = ""
        if layout == "torchvision" and not init_only and all(n.startswith(CLASSIFIER_PREFIX) for n in missing):
            hint = " (an ImageNet backbone has no new_fc: load it with init_only=True / --init_only)"
        raise CheckpointMismatchError(source, missing, unexpected, mismatched, hint)
    return params


def _fits(array, shape):
    return tuple(array.shape) == shape and np.issubdtype(array.dtype, np.floating)


# ---------------------------------------------------------------------------------------------------- networks
def network_shapes(net):
    """name -> shape of every parameter (trainable or not) of a MindSpore network."""
    return {name: tuple(p.shape) for name, p in net.parameters_and_names()}


def load_params_into_net(net, params, *, source="checkpoint", init_only=False):
    """Put checked params (from `convert_params`) into net; the names left unloaded must be allowed ones."""
    import mindspore as ms

    net_params = dict(net.parameters_and_names())
    feed = {n: ms.Parameter(ms.Tensor(a, dtype=net_params[n].dtype), name=n) for n, a in params.items()}
    not_loaded, _ = ms.load_param_into_net(net, feed, strict_load=True)
    allowed = {n for n in net_params if init_only and n.startswith(CLASSIFIER_PREFIX)}
    refused = sorted(set(not_loaded) - allowed)
    if refused:
        raise CheckpointError(f"{source}: MindSpore did not load {len(refused)} parameters: {refused[:MAX_LISTED]}")
    return sorted(not_loaded)


def load_checkpoint(net, path, *, init_only=False, settings=None):
    """Strictly load a `.ckpt`/`.pth` (format auto-detected) into net; return the names left as initialised.

    init_only: initialise from a checkpoint without a usable classifier (torchvision ImageNet ResNet, or a TSM
    trained on another label set): `new_fc.*` keeps its values, every backbone parameter must still be found.
    settings: how `net` was built ({'arch': 'tsn', 'num_segments': 8, ...}); a checkpoint of ours that records
    other values for COMPARED_SETTINGS loads (the parameter names are the same by design) with a warning.
    """
    path = str(path)
    params = convert_params(read_params(path), network_shapes(net), init_only=init_only, source=path)
    left = load_params_into_net(net, params, source=path, init_only=init_only)
    logger.info("%s: loaded %d parameters%s", path, len(params), f", kept initial {left}" if left else "")
    if settings:
        differences = settings_differences(read_metadata(path), settings)
        if differences:
            logger.warning("%s was saved from a network with %s; it loads (the parameter names are the same) but "
                           "this network differs", path, ", ".join(differences))
    return left


def settings_differences(metadata, settings):
    """['arch tsm (this network: tsn)', ...] for the COMPARED_SETTINGS a checkpoint records differently."""
    try:
        recorded = json.loads(metadata.get("model", "{}"))
    except ValueError:
        recorded = None
    recorded = dict(recorded) if isinstance(recorded, dict) else {}  # a damaged record compares nothing
    if "arch" in metadata:
        recorded["arch"] = metadata["arch"]
    return [f"{key} {recorded[key]} (this network: {settings[key]})" for key in COMPARED_SETTINGS
            if key in recorded and key in settings and recorded[key] != settings[key]]


def save_params(params, path, metadata=None):
    """Write a network's parameters or a name -> array dict to a MindSpore `.ckpt`, atomically.

    metadata: text entries recorded with the tensors ({'arch': 'tsm', ...}; `read_metadata` returns them). The
    file is written under a temporary name and renamed: a failure (a full disk) removes the temporaries (also
    MindSpore's own `.tmp`) and leaves an earlier file at `path` untouched; temporaries a killed process left for
    the same `path` are removed first.
    """
    import mindspore as ms

    path = str(path)
    if not path.endswith(".ckpt"):
        raise CheckpointError(f"{path}: MindSpore checkpoints must end in .ckpt")
    directory, base = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CheckpointError(f"{path}: the folder {directory} does not exist")
    if isinstance(params, ms.nn.Cell):
        params = {name: p for name, p in params.parameters_and_names()}
    records = [{"name": n, "data": ms.Tensor(_to_numpy(v))} for n, v in params.items()]
    for stale in glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(base)}.*.tmp.*")):
        os.remove(stale)
        logger.warning("removed %s, left by an interrupted save", stale)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp.ckpt", dir=directory)
    os.close(fd)
    temporaries = (tmp, os.path.splitext(tmp)[0] + ".tmp")  # MindSpore writes <name>.tmp, then renames it
    append = {METADATA_PREFIX + key: str(value) for key, value in (metadata or {}).items()}
    try:
        ms.save_checkpoint(records, tmp, append_dict=append or None)
        os.replace(tmp, path)
    finally:
        for leftover in temporaries:
            if os.path.exists(leftover):
                os.remove(leftover)
    return path


def _to_numpy(value):
    return value.asnumpy() if hasattr(value, "asnumpy") else np.asarray(value)
