"""Read PyTorch `.pth` files into NumPy arrays without torch and without running arbitrary pickle code.

A `.pth` written by `torch.save` (torch >= 1.6) is a zip: `<archive>/data.pkl` (the pickled object, whose tensors
point at storages through persistent ids), `<archive>/data/<key>` (raw storage bytes) and `<archive>/byteorder`.
The unpickler below resolves only the handful of globals that rebuild tensors and state dicts; any other global
(e.g. `os.system`) is refused before it is looked up, so nothing else can run.
"""
import collections
import pickle
import zipfile

import numpy as np

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTO = b"\x80"

# `torch.<Name>Storage` -> element dtype of the raw storage bytes (bfloat16 is read as uint16, widened later).
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
UNTYPED_STORAGES = {("torch", "UntypedStorage"), ("torch.storage", "UntypedStorage")}


class PthReadError(ValueError):
    """A `.pth` file that cannot be read safely: not a torch zip, corrupt, or holding a refused global."""


class _StorageType:
    """Stands for a `torch.*Storage` class in a persistent id: only its element dtype matters."""

    def __init__(self, dtype):
        self.dtype = dtype


class _Frozen:
    """Base of the objects the unpickler hands out: the pickle cannot mutate them (no BUILD, no items)."""

    __slots__ = ()

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"refusing to set state on a {type(self).__name__}")


class _Storage(_Frozen):
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


class _Tensor(_Frozen):
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _check_ints(name, values):
    if not isinstance(values, tuple) or not all(type(v) is int and v >= 0 for v in values):
        raise pickle.UnpicklingError(f"{name} must be a tuple of non-negative ints, got {values!r}")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """`torch._utils._rebuild_tensor_v2`: a strided view of a storage, copied into a new contiguous array."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor storage is not a persistent storage reference")
    _check_ints("size", size)
    _check_ints("stride", stride)
    _check_ints("storage offset", (storage_offset,))
    if len(size) != len(stride):
        raise pickle.UnpicklingError(f"size {size} and stride {stride} differ in length")
    flat = storage.array
    numel = int(np.prod(size, dtype=np.int64))
    if numel == 0:
        return _Tensor(np.zeros(size, flat.dtype))
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= flat.size or numel > flat.size:
        raise pickle.UnpicklingError(f"tensor of size {size}, stride {stride}, offset {storage_offset} does not "
                                     f"fit its storage of {flat.size} elements")
    view = np.lib.stride_tricks.as_strided(flat[storage_offset:], size, [s * flat.itemsize for s in stride],
                                           writeable=False)
    return _Tensor(np.array(view, copy=True))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    """`torch._utils._rebuild_parameter(_with_state)`: a parameter is just its tensor here."""
    if not isinstance(data, _Tensor):
        raise pickle.UnpicklingError("parameter data is not a tensor")
    return data


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only ALLOWED_GLOBALS and storage classes; storages come from the zip through `load_storage`."""

    def __init__(self, file, load_storage):
        super().__init__(file)
        self._load_storage = load_storage
        self._storages = {}

    def find_class(self, module, name):
        if (module, name) in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if (module, name) in UNTYPED_STORAGES:
            return _StorageType(np.uint8)
        raise pickle.UnpicklingError(f"refused global '{module}.{name}' (only tensor reconstruction is allowed)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and type(pid[4]) is int):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if key not in self._storages:
            self._storages[key] = _Storage(self._load_storage(key, storage_type.dtype, numel))
        return self._storages[key]


def _unwrap(obj):
    """Replace the unpickler's tensor wrappers by their arrays, recursively through dicts, lists and tuples."""
    if isinstance(obj, _Tensor):
        return obj.array
    if isinstance(obj, _Storage):
        raise PthReadError("a bare storage outside a tensor is not supported")
    if isinstance(obj, dict):
        return type(obj)((k, _unwrap(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(v) for v in obj)
    return obj


class _Archive:
    """The records of one torch zip archive."""

    def __init__(self, zf, path):
        pickles = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise PthReadError(f"{path}: not a torch .pth archive (expected one '<archive>/data.pkl', "
                               f"found {len(pickles)})")
        self.zf, self.path = zf, path
        self.prefix = pickles[0][: -len("data.pkl")]
        self.byteorder = self._byteorder()

    def _byteorder(self):
        name = self.prefix + "byteorder"
        if name not in self.zf.namelist():
            return "<"  # written before torch recorded it: always little-endian
        order = self.zf.read(name).decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise PthReadError(f"{self.path}: unknown byteorder {order!r}")
        return "<" if order == "little" else ">"

    def load_storage(self, key, dtype, numel):
        """The flat array of storage `key`, checked against the element count the pickle declares."""
        name = f"{self.prefix}data/{key}"
        raw_dtype = np.dtype(np.uint16 if dtype == "bfloat16" else dtype).newbyteorder(self.byteorder)
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise pickle.UnpicklingError(f"missing storage record '{name}'") from None
        if info.file_size != numel * raw_dtype.itemsize:
            raise pickle.UnpicklingError(f"storage '{name}' holds {info.file_size} bytes, expected {numel} "
                                         f"elements of {raw_dtype.itemsize} bytes")
        flat = np.frombuffer(self.zf.read(name), raw_dtype).astype(raw_dtype.newbyteorder("="))
        if dtype == "bfloat16":  # bfloat16 = the high half of a float32
            flat = (flat.astype(np.uint32) << 16).view(np.float32)
        return flat

    def load(self):
        with self.zf.open(self.prefix + "data.pkl") as f:
            return _unwrap(_SafeUnpickler(f, self.load_storage).load())


def _check_header(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        raise PthReadError(f"{path}: cannot open: {err.strerror or err}") from err
    if head.startswith(PICKLE_PROTO):
        raise PthReadError(f"{path}: legacy (pre-1.6, non-zip) torch serialization is not supported; re-save it "
                           f"with torch >= 1.6, reading it without running pickled code: "
                           f"torch.save(torch.load(path, map_location='cpu', weights_only=True), new_path)")
    if head != ZIP_MAGIC:
        raise PthReadError(f"{path}: not a torch .pth zip archive (starts with {head!r})")


def load_pth(path):
    """Unpickle a torch zip `.pth` with tensors as NumPy arrays (bfloat16 widened to float32).

    Raises PthReadError for a missing, legacy, corrupt or unsafe file; the message names the file.
    """
    path = str(path)
    _check_header(path)
    try:
        with zipfile.ZipFile(path) as zf:
            return _Archive(zf, path).load()
    except PthReadError:
        raise
    except pickle.UnpicklingError as err:
        raise PthReadError(f"{path}: {err}") from err
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            RecursionError) as err:
        raise PthReadError(f"{path}: corrupt torch .pth archive: {type(err).__name__}: {err}") from err
