"""Checkpoints: the torch-free `.pth` reader against torch-written fixtures, the name maps, strict loading, the CLI.

Fixtures in tests/fixtures were written once by make_pth_fixtures.py (needs torch); the tests never import torch.
Full-network `.pth` files are written here by `write_pth`, a minimal torch-format writer (protocol-2 pickle with
`torch._utils._rebuild_tensor_v2` globals and persistent storage ids, like torch.save's output).
"""
import collections
import io
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import mindspore as ms
from mindspore.nn.utils import no_init_parameters

from src.checkpoint import (CheckpointError, CheckpointMismatchError, convert_params, detect_layout,
                            infer_num_classes, load_checkpoint, network_shapes, read_metadata, read_params,
                            save_params)
from src.models import create_model
from src.torch_pickle import PthReadError, load_pth
from helpers import uninitialised

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import convert_checkpoint  # noqa: E402

NUM_CLASSES = 5
MS_TO_TORCH_BN = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def cli(argv):
    """tools/convert_checkpoint.py's main: its networks give their shapes and verify a strict load, so their initial
    weights are not drawn (seconds over this file's CLI tests)."""
    with no_init_parameters():
        return convert_checkpoint.main(argv)


def fixture(name):
    return os.path.join(FIXTURES, name)


def expected(name):
    with np.load(fixture(name + ".npz")) as data:
        return {k: data[k] for k in data.files}


# ------------------------------------------------------------------------------------ a minimal torch-format writer
class _Global:
    """Pickled as the GLOBAL `module.name` (torch is not importable here, so the normal path cannot be used)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise AssertionError("only pickled, never called")


class _StorageRef:
    TYPES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float16): "HalfStorage",
             np.dtype(np.int64): "LongStorage"}

    def __init__(self, key, array):
        self.key, self.array = key, np.ascontiguousarray(array).ravel()


class _TensorStub:
    """Reduces to `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` (+ state if given)."""

    def __init__(self, storage, offset, size, stride, state=None):
        self.storage, self.offset, self.size, self.stride, self.state = storage, offset, size, stride, state

    def __reduce__(self):
        args = (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict())
        rebuild = _Global("torch._utils", "_rebuild_tensor_v2")
        return (rebuild, args) if self.state is None else (rebuild, args, self.state)


class _TorchPickler(pickle._Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            storage_type = _Global("torch", _StorageRef.TYPES[obj.array.dtype])
            return ("storage", storage_type, obj.key, "cpu", obj.array.size)
        return None


def stub(array, key):
    """A contiguous tensor stub on its own storage."""
    array = np.array(array, order="C")  # (np.ascontiguousarray would turn a 0-d array into 1-d)
    strides = [s // array.itemsize for s in array.strides]
    return _TensorStub(_StorageRef(key, array), 0, array.shape, strides)


def write_pth(path, obj, archive="archive"):
    """torch.save layout: `<archive>/data.pkl` + `<archive>/data/<key>`; arrays in obj become tensors."""
    storages = {}

    def convert(value):
        if isinstance(value, np.ndarray):
            value = stub(value, str(len(storages)))
        if isinstance(value, _TensorStub):
            storages[value.storage.key] = value.storage.array
            return value
        if isinstance(value, dict):
            return collections.OrderedDict((k, convert(v)) for k, v in value.items())
        return value

    buf = io.BytesIO()
    _TorchPickler(buf, protocol=2).dump(convert(obj))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{archive}/data.pkl", buf.getvalue())
        zf.writestr(f"{archive}/byteorder", "little")
        for key, array in storages.items():
            zf.writestr(f"{archive}/data/{key}", array.astype(array.dtype.newbyteorder("<")).tobytes())
        zf.writestr(f"{archive}/version", "3\n")
    return str(path)


# ------------------------------------------------------------------------------------ reader: torch-written files
@pytest.mark.parametrize("name", ["reader_cases", "official_tiny", "torchvision_tiny"])
def test_reader_returns_the_torch_arrays_exactly(name):
    obj = load_pth(fixture(name + ".pth"))
    tensors = obj["tensors"] if name == "reader_cases" else obj.get("state_dict", obj)
    want = expected(name)
    assert list(tensors) == list(want)  # order kept
    for key, array in want.items():
        assert tensors[key].dtype == array.dtype and tensors[key].shape == array.shape, key
        np.testing.assert_array_equal(tensors[key], array, err_msg=key)


def test_reader_storage_semantics():
    """Views with offset/stride, shared storages, dtypes, bfloat16 widening, and the non-tensor values."""
    obj = load_pth(fixture("reader_cases.pth"))
    t = obj["tensors"]
    base = np.arange(60, dtype=np.float32).reshape(6, 10)
    np.testing.assert_array_equal(t["view_t_offset"], base.T[2:7, 1:5])
    np.testing.assert_array_equal(t["view_step"], base[1:, ::3])
    np.testing.assert_array_equal(np.concatenate([t["shared_a"].ravel(), t["shared_b"]]), np.arange(12))
    t["shared_a"][0, 0] = 99  # shared storage, independent arrays
    assert t["shared_b"][0] == 6
    assert t["bf16"].dtype == np.float32 and t["bf16"].tolist() == [1.5, -3.25, 0.0078125]
    assert t["i64"].tolist() == [-(2 ** 40), 0, 7] and t["bool"].tolist() == [True, False, True]
    assert t["scalar"].shape == () and t["empty"].shape == (0, 4)
    assert obj["meta"] == {"epoch": 3, "tag": "x", "ratio": 0.5, "none": None, "seq": [1, (2, 3)]}


def test_reader_big_endian_archive(tmp_path):
    """The same archive rewritten big-endian (byteorder record + swapped storages) reads to the same values."""
    src = fixture("official_tiny.pth")
    dst = tmp_path / "big.pth"
    dtypes = {k: v.dtype for k, v in load_pth(src)["state_dict"].items()}
    itemsize = {key: 8 if dt == np.int64 else 4 for key, dt in zip(range(len(dtypes)), dtypes.values())}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("byteorder"):
                data = b"big"
            elif "/data/" in info.filename:
                size = itemsize[int(info.filename.rsplit("/", 1)[1])]
                data = np.frombuffer(data, f"<u{size}").astype(f">u{size}").tobytes()
            zout.writestr(info, data)
    big, little = load_pth(dst)["state_dict"], load_pth(src)["state_dict"]
    for key in little:
        np.testing.assert_array_equal(big[key], little[key])
        assert big[key].dtype == little[key].dtype


def test_reader_of_the_test_writer_round_trips(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int64),
              "c": np.ones((1, 2, 1), np.float16)}
    got = load_pth(write_pth(tmp_path / "w.pth", {"state_dict": arrays, "epoch": 1}))
    for key, array in arrays.items():
        np.testing.assert_array_equal(got["state_dict"][key], array)
        assert got["state_dict"][key].dtype == array.dtype


# ------------------------------------------------------------------------------------ reader: refused files
class _Payload:
    """Unpickling this would run `func(*args)` (e.g. os.system): it must be refused before anything runs."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _zip_with_pickle(path, data):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("evil/data.pkl", data)
        zf.writestr("evil/version", "3\n")
    return str(path)


@pytest.mark.parametrize("func, refused", [(os.system, "posix.system"), (exec, "builtins.exec"),
                                           (shutil.rmtree, "shutil.rmtree")])
def test_malicious_pth_is_refused_and_does_not_run(tmp_path, func, refused):
    marker = tmp_path / "pwned"
    arg = {os.system: f"touch {marker}", exec: f"open({str(marker)!r}, 'w').close()", shutil.rmtree: str(tmp_path)}
    payload = pickle.dumps({"state_dict": {"w": _Payload(func, (arg[func],))}}, protocol=4)
    path = _zip_with_pickle(tmp_path / "evil.pth", payload)
    with pytest.raises(CheckpointError, match=f"evil.pth: refused global '{refused}'"):
        read_params(path)
    assert not marker.exists() and tmp_path.exists()


def test_malicious_build_on_a_tensor_is_refused(tmp_path):
    """A BUILD opcode applied to a rebuilt tensor (state injection) is refused."""
    tensor = stub(np.zeros(3, np.float32), "0")
    tensor.state = {"__class__": "x"}
    path = write_pth(tmp_path / "build.pth", {"w": tensor})
    with pytest.raises(PthReadError, match="build.pth: refusing to set state"):
        load_pth(path)


@pytest.mark.parametrize("offset, size, stride", [(0, (10,), (1,)), (3, (2,), (1,)), (0, (2, 2), (3, 1)),
                                                  (0, (8,), (0,))])
def test_tensor_outside_its_storage_is_refused(tmp_path, offset, size, stride):
    """Out-of-bounds views would read foreign memory through as_strided; expanded views would blow up memory."""
    storage = _StorageRef("0", np.zeros(4, np.float32))
    path = write_pth(tmp_path / "oob.pth", {"w": _TensorStub(storage, offset, size, stride)})
    with pytest.raises(CheckpointError, match="oob.pth: tensor of size .* does not fit its storage of 4 elements"):
        read_params(path)


def test_storage_size_mismatch_is_refused(tmp_path):
    path = write_pth(tmp_path / "short.pth", {"w": np.zeros(4, np.float32)})
    with zipfile.ZipFile(path) as zin:
        records = {i.filename: zin.read(i) for i in zin.infolist()}
    records["archive/data/0"] = records["archive/data/0"][:8]
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in records.items():
            zout.writestr(name, data)
    with pytest.raises(CheckpointError, match="short.pth: storage 'archive/data/0' holds 8 bytes, expected 4"):
        read_params(path)


def test_legacy_pickle_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "legacy.pth"
    path.write_bytes(pickle.dumps(_Payload(os.system, (f"touch {marker}",)), protocol=2))
    with pytest.raises(CheckpointError, match=r"legacy.pth: legacy \(pre-1.6, non-zip\).*re-save it with torch >= 1.6"
                                              r".*torch\.load\(path, map_location='cpu', weights_only=True\)"):
        read_params(path)  # the advice itself runs no pickled code
    assert not marker.exists()


def test_corrupt_zip_is_refused(tmp_path):
    data = open(fixture("official_tiny.pth"), "rb").read()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.pth: corrupt torch .pth archive: BadZipFile"):
        read_params(truncated)
    flipped = bytearray(data)
    start = data.index(b"official_tiny/data/0") + len("official_tiny/data/0")  # inside the first storage
    flipped[start + 100] ^= 0xFF
    bad_crc = tmp_path / "bad_crc.pth"
    bad_crc.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="bad_crc.pth: corrupt torch .pth archive: BadZipFile: Bad CRC-32"):
        read_params(bad_crc)


def test_zip_without_torch_pickle_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match=r"other.pth: not a torch .pth archive \(expected one"):
        read_params(path)


def test_missing_and_unknown_files_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="nowhere.ckpt: no such checkpoint file"):
        read_params(tmp_path / "nowhere.ckpt")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="notes.txt: neither a torch .pth zip nor a MindSpore checkpoint"):
        read_params(tmp_path / "notes.txt")
    (tmp_path / "junk.ckpt").write_bytes(b"\x0agarbage\x00\x01")
    with pytest.raises(CheckpointError, match="junk.ckpt: cannot read as a MindSpore checkpoint"):
        read_params(tmp_path / "junk.ckpt")


def test_pth_without_state_dict_is_refused(tmp_path):
    path = write_pth(tmp_path / "meta.pth", {"epoch": 3, "arch": "resnet50"})
    with pytest.raises(CheckpointError, match=r"meta.pth: expected a state dict of tensors.*epoch \(int\)"):
        read_params(path)


# ------------------------------------------------------------------------------------ name maps on the tiny fixtures
OFFICIAL_TINY = {  # stored name -> ours, written out by hand
    "module.base_model.conv1.weight": "base_model.conv1.weight",
    "module.base_model.bn1.weight": "base_model.bn1.gamma",
    "module.base_model.bn1.bias": "base_model.bn1.beta",
    "module.base_model.bn1.running_mean": "base_model.bn1.moving_mean",
    "module.base_model.bn1.running_var": "base_model.bn1.moving_variance",
    "module.base_model.layer1.0.conv1.net.weight": "base_model.layer1.0.conv1.net.weight",
    "module.base_model.layer1.0.bn1.weight": "base_model.layer1.0.bn1.gamma",
    "module.base_model.layer1.0.bn1.bias": "base_model.layer1.0.bn1.beta",
    "module.base_model.layer1.0.bn1.running_mean": "base_model.layer1.0.bn1.moving_mean",
    "module.base_model.layer1.0.bn1.running_var": "base_model.layer1.0.bn1.moving_variance",
    "module.base_model.layer1.0.conv2.weight": "base_model.layer1.0.conv2.weight",
    "module.base_model.layer1.0.bn2.weight": "base_model.layer1.0.bn2.gamma",
    "module.base_model.layer1.0.bn2.bias": "base_model.layer1.0.bn2.beta",
    "module.base_model.layer1.0.bn2.running_mean": "base_model.layer1.0.bn2.moving_mean",
    "module.base_model.layer1.0.bn2.running_var": "base_model.layer1.0.bn2.moving_variance",
    "module.base_model.layer1.0.downsample.0.weight": "base_model.layer1.0.down_sample_layer.0.weight",
    "module.base_model.layer1.0.downsample.1.weight": "base_model.layer1.0.down_sample_layer.1.gamma",
    "module.base_model.layer1.0.downsample.1.bias": "base_model.layer1.0.down_sample_layer.1.beta",
    "module.base_model.layer1.0.downsample.1.running_mean": "base_model.layer1.0.down_sample_layer.1.moving_mean",
    "module.base_model.layer1.0.downsample.1.running_var": "base_model.layer1.0.down_sample_layer.1.moving_variance",
    "module.new_fc.weight": "new_fc.weight",
    "module.new_fc.bias": "new_fc.bias",
}
# torchvision: no `module.`/`base_model.`, the block conv1 unwrapped, fc dropped.
TORCHVISION_TINY = {k[len("module.base_model."):].replace("conv1.net.", "conv1."): v
                    for k, v in OFFICIAL_TINY.items() if "new_fc" not in k}


def _targets(mapping, arrays, extra=None):
    shapes = {ours: arrays[stored].shape for stored, ours in mapping.items()}
    return {**shapes, **(extra or {})}


def test_official_tiny_maps_every_name():
    raw, want = read_params(fixture("official_tiny.pth")), expected("official_tiny")
    assert detect_layout(raw) == "torch_tsm" and infer_num_classes(raw) == 3
    params = convert_params(raw, _targets(OFFICIAL_TINY, want))
    assert set(params) == set(OFFICIAL_TINY.values())
    for stored, ours in OFFICIAL_TINY.items():
        np.testing.assert_array_equal(params[ours], want[stored])
        assert params[ours].dtype == np.float32


def test_torchvision_tiny_initialises_the_backbone_only():
    raw, want = read_params(fixture("torchvision_tiny.pth")), expected("torchvision_tiny")
    assert detect_layout(raw) == "torchvision" and infer_num_classes(raw) is None
    targets = _targets(TORCHVISION_TINY, want, {"new_fc.weight": (3, 6), "new_fc.bias": (3,)})
    params = convert_params(raw, targets, init_only=True)
    assert set(params) == set(TORCHVISION_TINY.values())
    for stored, ours in TORCHVISION_TINY.items():
        np.testing.assert_array_equal(params[ours], want[stored])
    with pytest.raises(CheckpointMismatchError, match=r"2 missing: \[new_fc.bias, new_fc.weight\].*init_only=True"):
        convert_params(raw, targets, source="tv.pth")


def test_float16_checkpoints_are_widened():
    raw = {"w": np.array([0.5, -1.25], np.float16)}
    params = convert_params(raw, {"w": (2,)})
    assert params["w"].dtype == np.float32 and params["w"].tolist() == [0.5, -1.25]


# ------------------------------------------------------------------------------------ mismatches and ambiguity
SMALL = {"base_model.conv1.weight": (4, 3, 1, 1), "base_model.bn1.gamma": (4,), "new_fc.weight": (2, 4),
         "new_fc.bias": (2,)}


def _small_params(**changes):
    params = {name: np.ones(shape, np.float32) for name, shape in SMALL.items()}
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def test_mismatch_error_lists_missing_unexpected_and_misshaped():
    raw = _small_params(**{"base_model.bn1.gamma": None, "base_model.extra.weight": np.ones(1, np.float32),
                           "new_fc.weight": np.ones((3, 4), np.float32)})
    with pytest.raises(CheckpointMismatchError) as info:
        convert_params(raw, SMALL, source="x.ckpt")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.missing == ["base_model.bn1.gamma"] and err.unexpected == ["base_model.extra.weight"]
    assert str(err) == ("x.ckpt does not match the network: 1 missing: [base_model.bn1.gamma]; 1 unexpected: "
                        "[base_model.extra.weight]; 1 mis-shaped: [new_fc.weight (checkpoint 3x4 float32, "
                        "network 2x4)]")


def test_non_float_parameter_is_misshaped():
    with pytest.raises(CheckpointMismatchError, match=r"new_fc.bias \(checkpoint 2 int64, network 2\)"):
        convert_params(_small_params(**{"new_fc.bias": np.ones(2, np.int64)}), SMALL)


def test_long_listings_are_truncated():
    raw = {f"junk.{i}": np.ones(1, np.float32) for i in range(25)}
    with pytest.raises(CheckpointMismatchError, match=r"25 unexpected: \[.*, \.\.\. and 5 more\]"):
        convert_params({**_small_params(), **raw}, SMALL)


def test_init_only_skips_a_misshaped_classifier_but_not_the_backbone():
    raw = _small_params(**{"new_fc.weight": np.ones((9, 4), np.float32), "new_fc.bias": np.ones(9, np.float32)})
    assert set(convert_params(raw, SMALL, init_only=True)) == {"base_model.conv1.weight", "base_model.bn1.gamma"}
    raw["base_model.conv1.weight"] = np.ones((4, 3, 3, 3), np.float32)
    with pytest.raises(CheckpointMismatchError, match=r"1 mis-shaped: \[base_model.conv1.weight"):
        convert_params(raw, SMALL, init_only=True)


def test_mindspore_names_without_prefix_and_optimizer_state():
    raw = _small_params()
    raw["conv1.weight"] = raw.pop("base_model.conv1.weight")  # prefix lost on some entries
    raw.update({"moments.base_model.conv1.weight": np.ones((4, 3, 1, 1), np.float32), "learning_rate": np.ones(1),
                "global_step": np.array([7], np.int32), "momentum": np.ones(1), "scale_sense": np.ones(1),
                "accum.new_fc.bias": np.ones(2, np.float32)})
    assert set(convert_params(raw, SMALL)) == set(SMALL)


@pytest.mark.parametrize("first, second", [
    ("conv1.weight", "base_model.conv1.weight"),  # MindSpore: both spellings of one parameter
    ("module.base_model.fc.weight", "module.new_fc.weight"),  # official: classifier twice
    ("module.base_model.layer1.0.conv1.weight", "module.base_model.layer1.0.conv1.net.weight"),  # TSN and TSM conv
])
def test_two_spellings_of_one_parameter_are_ambiguous(first, second):
    target = {"conv1.weight": "base_model.conv1.weight", "module.base_model.fc.weight": "new_fc.weight",
              "module.base_model.layer1.0.conv1.weight": "base_model.layer1.0.conv1.net.weight"}[first]
    shapes = {target: (2,)}
    raw = {first: np.ones(2, np.float32), second: np.ones(2, np.float32)}
    if first.startswith("module."):
        raw["module.base_model.bn1.running_mean"] = np.ones(2, np.float32)
    with pytest.raises(CheckpointError, match=f"src.pth: ambiguous names: '{first}' and '{second}' both map to "
                                              f"'{target}'"):
        convert_params(raw, shapes, source="src.pth")


def test_mixed_torch_and_mindspore_names_are_refused():
    raw = {"bn1.running_mean": np.ones(2), "bn2.moving_mean": np.ones(2)}
    with pytest.raises(CheckpointError, match="mixed PyTorch"):
        convert_params(raw, {})


# ------------------------------------------------------------------------------------ full networks
def to_torch_names(params, *, wrapped=True, plain_conv1=False, fc_in_base=False, torchvision=False):
    """The reverse of the loader's map, written independently: our names -> official TSM/TSN or torchvision."""
    bn_modules = {n.rsplit(".", 1)[0] for n in params if n.endswith(".moving_mean")}
    out = {}
    for name, array in params.items():
        module, leaf = name.rsplit(".", 1)
        if module in bn_modules:
            leaf = MS_TO_TORCH_BN[leaf]
        module = module.replace("down_sample_layer", "downsample")
        if plain_conv1 or torchvision:
            module = module.replace(".conv1.net", ".conv1")
        if fc_in_base:
            module = module.replace("new_fc", "base_model.fc")
        if torchvision:
            if module == "new_fc":
                continue
            module = module[len("base_model."):]
        out[module + "." + leaf] = array
        if leaf == "running_var":
            out[module + ".num_batches_tracked"] = np.array(123, np.int64)
    if torchvision:
        out.update({"fc.weight": np.ones((1000, 512), np.float32), "fc.bias": np.ones(1000, np.float32)})
    return {("module." + k if wrapped and not torchvision else k): v for k, v in out.items()}


def random_params(net, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in network_shapes(net).items()}


def net_arrays(net):
    return {name: p.asnumpy() for name, p in net.parameters_and_names()}


@pytest.fixture(scope="module")
def r18():
    return uninitialised("tsm", depth=18, num_classes=NUM_CLASSES)


@pytest.fixture(scope="module")
def r18_params(r18):
    return random_params(r18)


@pytest.mark.parametrize("spelling", [{}, {"plain_conv1": True}, {"fc_in_base": True}, {"wrapped": False}])
def test_official_state_dict_converts_to_identical_values(r18, r18_params, spelling):
    torch_sd = to_torch_names(r18_params, **spelling)
    assert len(torch_sd) > len(r18_params) and detect_layout(torch_sd) == "torch_tsm"
    params = convert_params(torch_sd, network_shapes(r18))
    assert params.keys() == r18_params.keys()
    for name, array in r18_params.items():
        np.testing.assert_array_equal(params[name], array, err_msg=name)


def test_official_r50_names_map_onto_the_published_ones():
    """Every TSM-R50 name (bottlenecks, conv3/bn3) through the official spelling and back; no weights allocated."""
    shapes = network_shapes(uninitialised("tsm", depth=50, num_classes=174))
    assert len(shapes) == 267
    fake = {name: np.broadcast_to(np.float32(i), shape) for i, (name, shape) in enumerate(shapes.items())}
    params = convert_params(to_torch_names(fake), shapes)
    assert all(params[name].flat[0] == i for i, name in enumerate(shapes))


def test_pth_file_loads_strictly_into_the_network(tmp_path, r18_params):
    path = write_pth(tmp_path / "tsm.pth", {"epoch": 45, "state_dict": to_torch_names(r18_params),
                                            "best_prec1": 58.8})
    net = uninitialised("tsm", depth=18, num_classes=NUM_CLASSES)
    assert load_checkpoint(net, path) == []
    loaded = net_arrays(net)
    for name, array in r18_params.items():
        np.testing.assert_array_equal(loaded[name], array, err_msg=name)


def test_torchvision_pth_initialises_all_but_the_classifier(tmp_path, r18_params):
    path = write_pth(tmp_path / "resnet18.pth", to_torch_names(r18_params, torchvision=True))
    net = create_model("tsm", depth=18, num_classes=NUM_CLASSES)
    fc_before = net.new_fc.weight.asnumpy().copy()
    with pytest.raises(CheckpointMismatchError, match="resnet18.pth does not match the network: 2 missing"):
        load_checkpoint(net, path)
    assert load_checkpoint(net, path, init_only=True) == ["new_fc.bias", "new_fc.weight"]
    loaded = net_arrays(net)
    np.testing.assert_array_equal(loaded["new_fc.weight"], fc_before)
    for name, array in r18_params.items():
        if not name.startswith("new_fc."):
            np.testing.assert_array_equal(loaded[name], array, err_msg=name)


def test_save_load_round_trip_is_atomic(tmp_path, r18, r18_params):
    path = tmp_path / "tsm.ckpt"
    save_params(r18_params, path)
    save_params(r18_params, path)  # over an existing (read-only) checkpoint
    assert os.listdir(tmp_path) == ["tsm.ckpt"]  # no temporary left behind
    net = uninitialised("tsm", depth=18, num_classes=NUM_CLASSES)
    load_checkpoint(net, path)
    save_params(net, tmp_path / "again.ckpt")
    again = read_params(tmp_path / "again.ckpt")
    for name, array in r18_params.items():
        np.testing.assert_array_equal(again[name], array, err_msg=name)
    with pytest.raises(CheckpointError, match="tsm.pth: MindSpore checkpoints must end in .ckpt"):
        save_params(r18_params, tmp_path / "tsm.pth")


def test_hub_style_ckpt_with_optimizer_state_and_lost_prefixes(tmp_path, r18_params):
    stored = {(k[len("base_model."):] if ".layer4." in k else k): v for k, v in r18_params.items()}
    stored.update({"moments." + k: np.zeros_like(v) for k, v in r18_params.items() if "moving" not in k})
    stored.update({"learning_rate": np.array([0.01], np.float32), "global_step": np.array([100], np.int32)})
    save_params(stored, tmp_path / "hub.ckpt")
    net = uninitialised("tsm", depth=18, num_classes=NUM_CLASSES)
    load_checkpoint(net, tmp_path / "hub.ckpt")
    np.testing.assert_array_equal(net_arrays(net)["base_model.layer4.1.bn2.gamma"],
                                  r18_params["base_model.layer4.1.bn2.gamma"])


def test_wrong_network_names_the_file(tmp_path, r18_params):
    save_params(r18_params, tmp_path / "r18.ckpt")
    net = uninitialised("tsm", depth=18, num_classes=NUM_CLASSES + 1)
    with pytest.raises(CheckpointMismatchError, match=r"r18.ckpt does not match the network: 2 mis-shaped: "
                                                      r"\[new_fc.bias \(checkpoint 5 float32, network 6\)"):
        load_checkpoint(net, tmp_path / "r18.ckpt")


# ------------------------------------------------------------------------------------ bad input (issue 12)
def test_an_empty_truncated_or_parameterless_ckpt_is_named(tmp_path, r18_params):
    (tmp_path / "empty.ckpt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"^no parameters in .*empty\.ckpt: the file is empty$"):
        read_params(tmp_path / "empty.ckpt")
    data = open(save_params(r18_params, tmp_path / "full.ckpt"), "rb").read()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.ckpt: cannot read as a MindSpore checkpoint"):
        load_checkpoint(uninitialised("tsm", depth=18, num_classes=NUM_CLASSES), tmp_path / "cut.ckpt")
    save_params({}, tmp_path / "none.ckpt", metadata={"arch": "tsm"})  # only our text entries, no tensor
    with pytest.raises(CheckpointError, match=r"^no parameters in .*none\.ckpt$"):
        read_params(tmp_path / "none.ckpt")


SETTINGS = {"arch": "tsm", "depth": 18, "num_classes": NUM_CLASSES, "num_segments": 8, "shift_div": 8,
            "shift_place": "blockres", "dropout": 0.5}


def test_a_checkpoint_records_its_network_and_another_arch_is_warned_about(tmp_path, r18_params, caplog):
    model = json.dumps({k: v for k, v in SETTINGS.items() if k != "arch"})
    path = save_params(r18_params, tmp_path / "tsm.ckpt", metadata={"arch": "tsm", "model": model})
    assert read_metadata(path) == {"arch": "tsm", "model": model}
    assert read_metadata(save_params(r18_params, tmp_path / "plain.ckpt")) == {}
    tsn = uninitialised("tsn", depth=18, num_classes=NUM_CLASSES)
    with caplog.at_level(logging.WARNING, logger="src.checkpoint"):
        load_checkpoint(tsn, path, settings=dict(SETTINGS, arch="tsn", num_segments=16))
    assert caplog.messages == [f"{path} was saved from a network with arch tsm (this network: tsn), num_segments 8 "
                               "(this network: 16); it loads (the parameter names are the same) but this network "
                               "differs"]
    np.testing.assert_array_equal(net_arrays(tsn)["new_fc.weight"], r18_params["new_fc.weight"])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="src.checkpoint"):
        load_checkpoint(uninitialised("tsm", depth=18, num_classes=NUM_CLASSES), path, settings=SETTINGS)
        load_checkpoint(tsn, tmp_path / "plain.ckpt", settings=dict(SETTINGS, arch="tsn"))  # nothing recorded
    assert caplog.messages == []
    not_loaded, _ = ms.load_param_into_net(tsn, ms.load_checkpoint(path))  # MindSpore's own loader: unaffected
    assert not_loaded == []
    damaged = save_params(r18_params, tmp_path / "damaged.ckpt", metadata={"arch": "tsm", "model": "{not json"})
    with caplog.at_level(logging.WARNING, logger="src.checkpoint"):
        load_checkpoint(tsn, damaged, settings=dict(SETTINGS, arch="tsn", num_segments=16))
    assert caplog.messages == [f"{damaged} was saved from a network with arch tsm (this network: tsn); it loads (the "
                               "parameter names are the same) but this network differs"]


@pytest.mark.slow  # a process of its own
def test_a_full_disk_keeps_the_earlier_checkpoint_and_frees_the_space(tmp_path, r18_params):
    """RLIMIT_FSIZE fails the write as a full disk would; MindSpore's own `<name>.tmp` is removed too."""
    save_params({"a": np.zeros(2, np.float32)}, tmp_path / "tsm.ckpt")
    earlier = (tmp_path / "tsm.ckpt").read_bytes()
    script = ("import resource, signal, sys\n"
              f"sys.path.insert(0, {ROOT!r})\n"
              "import src, numpy as np\n"
              "from src.checkpoint import save_params\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.RLIM_INFINITY))\n"
              "try:\n"
              f"    save_params({{'a': np.ones((1000, 100), np.float32)}}, {str(tmp_path / 'tsm.ckpt')!r})\n"
              "except OSError as err:\n"
              "    print('failed:', err.strerror)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "failed: File too large" in result.stdout, result.stderr[-2000:]
    assert os.listdir(tmp_path) == ["tsm.ckpt"] and (tmp_path / "tsm.ckpt").read_bytes() == earlier


def test_temporaries_of_a_killed_save_are_removed_by_the_next_save(tmp_path, r18_params):
    stale = [tmp_path / ".tsm.ckpt.k1ll3d.tmp.ckpt", tmp_path / ".tsm.ckpt.k1ll3d.tmp.tmp"]
    for path in stale + [tmp_path / ".other.ckpt.x.tmp.ckpt"]:
        path.write_bytes(b"x" * 100)
    save_params(r18_params, tmp_path / "tsm.ckpt")
    assert sorted(os.listdir(tmp_path)) == [".other.ckpt.x.tmp.ckpt", "tsm.ckpt"]  # only those of tsm.ckpt


def test_saving_into_a_missing_folder_is_named(tmp_path, r18_params):
    with pytest.raises(CheckpointError, match=r"nowhere/x\.ckpt: the folder .*nowhere does not exist"):
        save_params(r18_params, tmp_path / "nowhere" / "x.ckpt")


def test_cli_refuses_a_missing_folder_its_own_source_and_an_empty_file(tmp_path, r18_params, capsys):
    src = save_params(dict(r18_params, epoch_num=np.array(3, np.int32)), tmp_path / "train-e3.ckpt")
    before = open(src, "rb").read()
    args = ["--arch", "tsm", "--depth", "18"]
    assert cli(["--src", src, "--dst", str(tmp_path / "nowhere" / "w.ckpt"), *args]) == 1
    assert capsys.readouterr().err == (f"error: --dst {tmp_path / 'nowhere' / 'w.ckpt'}: the folder "
                                       f"{tmp_path / 'nowhere'} does not exist\n")
    same = os.path.join(str(tmp_path), ".", "train-e3.ckpt")
    assert cli(["--src", src, "--dst", same, *args]) == 1
    assert f"--dst {same} is the --src file" in capsys.readouterr().err
    assert open(src, "rb").read() == before  # the training checkpoint is intact
    (tmp_path / "empty.ckpt").write_bytes(b"")
    assert cli(["--src", str(tmp_path / "empty.ckpt"), "--dst", str(tmp_path / "w.ckpt"), *args]) == 1
    assert capsys.readouterr().err == f"error: no parameters in {tmp_path / 'empty.ckpt'}: the file is empty\n"
    assert sorted(os.listdir(tmp_path)) == ["empty.ckpt", "train-e3.ckpt"]


def test_cli_replaces_an_existing_output_only_once_verified(tmp_path, r18_params, capsys, monkeypatch):
    src = save_params(r18_params, tmp_path / "src.ckpt")
    (tmp_path / "w.ckpt").write_bytes(b"an earlier output")
    args = ["--src", src, "--dst", str(tmp_path / "w.ckpt"), "--arch", "tsm", "--depth", "18"]

    def verification_fails(net, path, **kwargs):
        assert os.path.basename(path) == ".w.ckpt.converting.ckpt" and os.path.getsize(path) > 0
        raise CheckpointError(f"{path}: verification failed")

    with monkeypatch.context() as patch:
        patch.setattr(convert_checkpoint, "load_checkpoint", verification_fails)
        assert cli(args) == 1
    assert "verification failed" in capsys.readouterr().err
    assert (tmp_path / "w.ckpt").read_bytes() == b"an earlier output"
    assert sorted(os.listdir(tmp_path)) == ["src.ckpt", "w.ckpt"]
    assert cli(args) == 0
    assert sorted(os.listdir(tmp_path)) == ["src.ckpt", "w.ckpt"]  # no staging file left
    np.testing.assert_array_equal(read_params(tmp_path / "w.ckpt")["new_fc.weight"], r18_params["new_fc.weight"])


# ------------------------------------------------------------------------------------ MobileNetV2
# Table 2 of the MobileNetV2 paper: expansion, output channels, blocks, first stride
MOBILENET_V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]


def torch_mobilenet_v2(num_classes, seed=0, plain_first_conv=False):
    """(official TSM state dict, torchvision state dict, official name -> ours) holding the same random weights,
    written from the two PyTorch module trees: the official `archs/mobilenet_v2.py` wrapped by TSN in DataParallel
    (flat `conv.<i>`, TemporalShift's `.net` on the first conv of every expanding residual block, `module.new_fc`)
    and torchvision's `mobilenet_v2` (conv-BN-ReLU6 groups nested as `conv.<i>.<j>`, `classifier.1`)."""
    rng = np.random.default_rng(seed)
    official, torchvision, ours = {}, {}, {}
    bn_leaves = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}

    def add(official_name, torchvision_name, array, our_name):
        official["module.base_model." + official_name], torchvision[torchvision_name] = array, array
        ours["module.base_model." + official_name] = "base_model." + our_name

    def add_conv(official_module, torchvision_module, shape, shifted=False):
        net = ".net" if shifted and not plain_first_conv else ""
        add(f"{official_module}{net}.weight", f"{torchvision_module}.weight", rng.standard_normal(shape),
            f"{official_module}{'.net' if shifted else ''}.weight")

    def add_bn(official_module, torchvision_module, channels):
        for leaf, ms_leaf in bn_leaves.items():
            array = rng.uniform(0.5, 1.5, channels) if leaf == "running_var" else rng.standard_normal(channels)
            add(f"{official_module}.{leaf}", f"{torchvision_module}.{leaf}", array, f"{official_module}.{ms_leaf}")
        official[f"module.base_model.{official_module}.num_batches_tracked"] = np.array(7)
        torchvision[f"{torchvision_module}.num_batches_tracked"] = np.array(7)

    def add_block(prefix, layers, shifted):
        flat, nested = 0, 0  # positions in the official and the torchvision sequence
        for kind, out_channels, in_channels, kernel in layers:
            shape = (out_channels, in_channels, kernel, kernel)
            if kind == "conv-bn-relu6":
                add_conv(f"{prefix}.{flat}", f"{prefix}.{nested}.0", shape, shifted and flat == 0)
                add_bn(f"{prefix}.{flat + 1}", f"{prefix}.{nested}.1", out_channels)
                flat, nested = flat + 3, nested + 1
            else:  # conv then BN
                add_conv(f"{prefix}.{flat}", f"{prefix}.{nested}", shape)
                add_bn(f"{prefix}.{flat + 1}", f"{prefix}.{nested + 1}", out_channels)
                flat, nested = flat + 2, nested + 2

    def add_stem_or_last(prefix, out_channels, in_channels, kernel):  # `{0: conv, 1: BN, 2: ReLU6}` in both
        add_conv(f"{prefix}.0", f"{prefix}.0", (out_channels, in_channels, kernel, kernel))
        add_bn(f"{prefix}.1", f"{prefix}.1", out_channels)

    add_stem_or_last("features.0", 32, 3, 3)
    index, channels = 1, 32
    for expansion, out_channels, blocks, first_stride in MOBILENET_V2:
        for i in range(blocks):
            hidden = channels * expansion
            layers = [("conv-bn-relu6", hidden, channels, 1)] if expansion != 1 else []
            layers += [("conv-bn-relu6", hidden, 1, 3), ("conv", out_channels, hidden, 1)]
            residual = (first_stride if i == 0 else 1) == 1 and channels == out_channels
            add_block(f"features.{index}.conv", layers, shifted=residual and expansion != 1)
            index, channels = index + 1, out_channels
    add_stem_or_last(f"features.{index}", 1280, 320, 1)
    official["module.new_fc.weight"] = rng.standard_normal((num_classes, 1280))
    official["module.new_fc.bias"] = rng.standard_normal(num_classes)
    ours.update({"module.new_fc.weight": "new_fc.weight", "module.new_fc.bias": "new_fc.bias"})
    torchvision["classifier.1.weight"], torchvision["classifier.1.bias"] = np.ones((1000, 1280)), np.ones(1000)
    as_float = lambda d: {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in d.items()}  # noqa
    return as_float(official), as_float(torchvision), ours


@pytest.mark.parametrize("plain_first_conv", [False, True])  # TSM, and TSN's plain spelling of the shifted convs
def test_official_mobilenet_v2_pth_loads_strictly(tmp_path, plain_first_conv):
    official, _, ours = torch_mobilenet_v2(7, plain_first_conv=plain_first_conv)
    path = write_pth(tmp_path / "TSM_kinetics_RGB_mobilenetv2.pth", {"epoch": 100, "state_dict": official})
    net = uninitialised("tsm_mobilenetv2", num_classes=7)
    assert load_checkpoint(net, path) == []
    loaded = net_arrays(net)
    assert len(ours) == len(loaded) == 262 and sum(".net." in n for n in ours.values()) == 10
    for name, our_name in ours.items():
        np.testing.assert_array_equal(loaded[our_name], official[name], err_msg=name)


def test_torchvision_mobilenet_v2_initialises_the_same_weights(tmp_path):
    official, torchvision, _ = torch_mobilenet_v2(7)
    from_official = uninitialised("tsm_mobilenetv2", num_classes=7)
    from_torchvision = create_model("tsm_mobilenetv2", num_classes=7)  # its classifier keeps the initial weights
    load_checkpoint(from_official, write_pth(tmp_path / "official.pth", {"state_dict": official}))
    path = write_pth(tmp_path / "mobilenet_v2-b0353104.pth", torchvision)
    with pytest.raises(CheckpointMismatchError, match=r"2 missing: \[new_fc.bias, new_fc.weight\].*init_only=True"):
        load_checkpoint(from_torchvision, path)
    assert load_checkpoint(from_torchvision, path, init_only=True) == ["new_fc.bias", "new_fc.weight"]
    expected, got = net_arrays(from_official), net_arrays(from_torchvision)
    for name, array in expected.items():
        if not name.startswith("new_fc."):
            np.testing.assert_array_equal(got[name], array, err_msg=name)
    np.testing.assert_array_equal(got["base_model.features.3.conv.3.weight"],  # a depthwise conv, nested in torchvision
                                  torchvision["features.3.conv.1.0.weight"])


def test_a_mobilenet_v2_pth_missing_a_layer_is_refused_with_its_name(tmp_path):
    official, _, _ = torch_mobilenet_v2(7)
    del official["module.base_model.features.5.conv.4.running_var"]
    path = write_pth(tmp_path / "cut.pth", {"state_dict": official})
    with pytest.raises(CheckpointMismatchError, match=r"cut.pth does not match the network: 1 missing: "
                                                      r"\[base_model.features.5.conv.4.moving_variance\]"):
        load_checkpoint(uninitialised("tsm_mobilenetv2", num_classes=7), path)


# ------------------------------------------------------------------------------------ CLI
def test_cli_converts_and_verifies(tmp_path, r18_params, capsys):
    src = write_pth(tmp_path / "tsn.pth", {"state_dict": to_torch_names(r18_params, plain_conv1=True)})
    dst = tmp_path / "tsn.ckpt"
    assert cli(["--src", src, "--dst", str(dst), "--arch", "tsn", "--depth", "18"]) == 0
    assert "verified by a strict load into tsn-R18 with 5 classes" in capsys.readouterr().out
    net = uninitialised("tsn", depth=18, num_classes=NUM_CLASSES)
    load_checkpoint(net, dst)
    np.testing.assert_array_equal(net_arrays(net)["base_model.layer2.0.conv1.net.weight"],
                                  r18_params["base_model.layer2.0.conv1.net.weight"])


def test_cli_fails_clearly(tmp_path, r18_params, capsys):
    src = write_pth(tmp_path / "tv.pth", to_torch_names(r18_params, torchvision=True))
    dst = tmp_path / "tv.ckpt"
    assert cli(["--src", src, "--dst", str(dst), "--depth", "18"]) == 1
    assert "tv.pth holds no classifier (new_fc): pass --init_only" in capsys.readouterr().err
    assert cli(["--src", src, "--dst", str(dst), "--depth", "34", "--init_only"]) == 1
    assert "tv.pth does not match the network" in capsys.readouterr().err
    assert not dst.exists()
    assert cli(["--src", src, "--dst", str(dst), "--depth", "18", "--init_only"]) == 0
    assert "classifier not converted" in capsys.readouterr().out
    assert "new_fc.weight" not in read_params(dst)


def test_cli_converts_an_official_mobilenet_v2_for_a_registered_model(tmp_path, capsys):
    official, _, _ = torch_mobilenet_v2(9)
    src = write_pth(tmp_path / "mnv2.pth", {"state_dict": official})
    dst = tmp_path / "mnv2.ckpt"
    assert cli(["--src", src, "--dst", str(dst), "--model", "tsm_mobilenetv2"]) == 0
    assert "verified by a strict load into tsm-MobileNetV2 with 9 classes" in capsys.readouterr().out
    assert read_params(dst)["base_model.features.16.conv.0.net.weight"].shape == (960, 160, 1, 1)
    assert cli(["--src", src, "--dst", str(dst), "--model", "tsm_r50"]) == 1
    assert "mnv2.pth does not match the network" in capsys.readouterr().err
    assert cli(["--src", src, "--dst", str(dst), "--model", "tsm_mobilenet"]) == 1
    assert "unknown model 'tsm_mobilenet'" in capsys.readouterr().err
