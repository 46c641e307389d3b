"""Reading PyTorch `.pth` files without torch, through a restricted unpickler.

Both formats `torch.save` writes are read:
- zip (PyTorch >= 1.6): `<root>/data.pkl` plus one `<root>/data/<key>` entry
  of raw little-endian bytes per storage;
- legacy (`_use_new_zipfile_serialization=False`, and every file written
  before 1.6, including Python 2 ones): five consecutive pickles (magic
  number, protocol, system info, the object, the storage keys), then each
  storage as an int64 element count and its raw bytes. Python 2 strings are
  decoded as latin1.

Safety: like `torch.load(weights_only=True)`, the unpickler resolves only
the tensor-rebuild functions, the storage types, `collections.OrderedDict`
and `_codecs.encode`. Any other global (a class, `os.system`, ...) is never
imported or called: it becomes an inert `Refused` stand-in, so the parts of
a checkpoint a converter ignores (mmaction2's `meta`, optimizer state) may
hold arbitrary objects. `tensors()` raises `UnsafePickleError` when a
stand-in sits where tensors are read.
"""
import _codecs
import collections
import io
import pickle
import zipfile

import numpy as np
import tensorflow as tf

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class UnsafePickleError(ValueError):
    """The pickle needs a global outside the allowed tensor-rebuild set."""


class Refused:
    """Inert stand-in for a refused global and anything built from it."""
    global_name = "?"

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return self

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass


def _refused(module, name):
    return type("Refused", (Refused,), {"global_name": f"{module}.{name}"})


class _Storage:
    """A storage's dtype and its bytes, read on first use."""

    def __init__(self, dtype, read):
        self.dtype, self._read, self._array = dtype, read, None

    def array(self):
        if self._array is None:
            self._array = _from_bytes(self._read(), self.dtype)
        return self._array


def _from_bytes(data, dtype):
    if dtype == "bfloat16":
        bits = np.frombuffer(data, "<u2").astype(np.uint32) << 16
        return bits.view(np.float32)
    return np.frombuffer(data, np.dtype(dtype).newbyteorder("<"))


class Tensor:
    """A tensor to rebuild: legacy files store the bytes after the pickle."""

    def __init__(self, storage, storage_offset, size, stride, *unused):
        self.storage, self.offset = storage, storage_offset
        self.size, self.stride = tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        """A strided view of the storage, copied (torch._utils._rebuild_tensor_v2)."""
        array = self.storage.array()
        if not self.size:
            return array[self.offset].copy()
        needed = self.offset + 1 + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if min(self.size) > 0 and needed > array.size:
            raise ValueError(f"tensor of size {self.size} at offset {self.offset} overruns "
                             f"its storage of {array.size} elements")
        view = np.lib.stride_tricks.as_strided(
            array[self.offset:], shape=self.size,
            strides=tuple(s * array.itemsize for s in self.stride))
        return np.array(view, dtype=array.dtype.newbyteorder("="))


def _rebuild_parameter(data, *unused):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _codecs.encode,
    ("torch._utils", "_rebuild_tensor"): Tensor,
    ("torch._utils", "_rebuild_tensor_v2"): Tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, load_storage):
        super().__init__(file, encoding="latin1")
        self._load_storage = load_storage

    def find_class(self, module, name):
        if module in ("torch", "torch.cuda") and name in STORAGE_DTYPES:
            return name  # resolved by persistent_load (GPU-saved files: torch.cuda.*)
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        return _refused(module, name)

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise UnsafePickleError(f"unsupported persistent id {pid!r:.80}")
        storage_type, key = pid[1], str(pid[2])
        if storage_type not in STORAGE_DTYPES:
            raise UnsafePickleError(f"unsupported storage type {storage_type!r:.80}")
        view = pid[5] if len(pid) > 5 else None
        return self._load_storage(key, STORAGE_DTYPES[storage_type], view)


def load(path):
    """The object pickled in `.pth` file `path` (any TF filesystem path); see `tensors`.

    Raises:
      ValueError: `path` is neither a zip nor a legacy torch.save file, or is
        truncated or corrupt (also when a storage is read, by `tensors`).
    """
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        if zipfile.is_zipfile(io.BytesIO(data)):
            return _load_zip(data, path)
        return _load_legacy(data, path)
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: truncated or corrupt .pth file: {error}") from error


def _load_zip(data, path):
    archive = zipfile.ZipFile(io.BytesIO(data))

    def read(name):  # storages are read later, by tensors()
        try:
            return archive.read(name)
        except (KeyError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path}: truncated or corrupt .pth file: {error}") from error

    pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise ValueError(f"{path}: a zip .pth must hold one */data.pkl; found {pickles}")
    root = pickles[0][:-len("data.pkl")]
    storages = {}

    def load_storage(key, dtype, view):
        if key not in storages:
            storages[key] = _Storage(dtype, lambda: read(f"{root}data/{key}"))
        return storages[key]

    return _Unpickler(io.BytesIO(read(pickles[0])), load_storage).load()


def _load_legacy(data, path):
    f = io.BytesIO(data)
    try:
        magic = _PlainUnpickler(f, encoding="latin1").load()
    except Exception as error:
        raise ValueError(f"{path}: not a torch.save file (neither zip nor legacy pickle): "
                         f"{error}") from error
    if magic != LEGACY_MAGIC:
        raise ValueError(f"{path}: not a torch.save file (legacy magic number missing)")
    for _ in range(2):  # protocol version, system info
        _PlainUnpickler(f, encoding="latin1").load()
    storages, views = {}, {}

    def load_storage(key, dtype, view):
        storages.setdefault(key, _Storage(dtype, None))
        if view is None:
            return storages[key]
        view_key, offset, size = str(view[0]), int(view[1]), int(view[2])
        root = storages[key]
        views.setdefault(view_key, _Storage(
            dtype, None))._read = lambda: root.array()[offset:offset + size].tobytes()
        return views[view_key]

    obj = _Unpickler(f, load_storage).load()
    keys = _PlainUnpickler(f, encoding="latin1").load()
    for key in keys:
        storage, header = storages.get(str(key)), f.read(8)
        if storage is None or len(header) != 8:
            raise ValueError(f"{path}: truncated or corrupt .pth file: storage {key} "
                             + ("is in no tensor" if storage is None else "has no size"))
        count = int(np.frombuffer(header, "<i8")[0])
        nbytes = count * np.dtype(np.uint16 if storage.dtype == "bfloat16"
                                  else storage.dtype).itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise ValueError(f"{path}: storage {key} truncated ({len(raw)} of {nbytes} bytes)")
        storage._read = lambda raw=raw: raw
    unlisted = [key for key, storage in storages.items() if storage._read is None]
    if unlisted:
        raise ValueError(f"{path}: truncated or corrupt .pth file: storage {unlisted[0]} "
                         "has no data")
    return obj


class _PlainUnpickler(pickle.Unpickler):
    """Plain values only (the legacy header pickles need no global)."""

    def find_class(self, module, name):
        raise UnsafePickleError(f"legacy header refers to {module}.{name}")


def tensors(obj, what="state dict"):
    """`obj` as {key: np.ndarray}, refusing stand-ins of refused globals.

    Raises:
      UnsafePickleError: `obj` (or a value) was built from a refused global.
      ValueError: `obj` is not a mapping of names to tensors.
    """
    if isinstance(obj, Refused):
        raise UnsafePickleError(f"{what}: refused to unpickle {obj.global_name} (only tensor "
                                "rebuild functions and storages are allowed)")
    if not isinstance(obj, dict):
        raise ValueError(f"{what} must be a dict of tensors; got {type(obj).__name__}")
    result = {}
    for key, value in obj.items():
        if isinstance(value, Refused):
            raise UnsafePickleError(f"{what}[{key!r}]: refused to unpickle {value.global_name} "
                                    "(only tensor rebuild functions and storages are allowed)")
        if not isinstance(value, Tensor):
            raise ValueError(f"{what}[{key!r}] is a {type(value).__name__}, not a tensor")
        result[str(key)] = value.array()
    return result
