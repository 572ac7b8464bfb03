"""Read and write PyTorch's own checkpoint formats without torch and without running code.

Formats (as written by `torch.save`):

* zip (PyTorch >= 1.6, the default): a stored (uncompressed) zip archive whose entries live under
  one folder (`<stem>/`): `data.pkl` (the object, pickled with protocol 2; every tensor is a
  `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)` call whose
  storage is a persistent id `("storage", torch.FloatStorage, key, location, numel)`), the raw
  little-endian storage bytes in `data/<key>` (aligned to 64 bytes), `byteorder`, `version`,
  `.format_version`, `.storage_alignment` and `.data/serialization_id`. The zip CRC-32 of every
  entry is checked on load, and Python's zipfile cross-checks local and central headers, so a
  flipped byte anywhere is either rejected or does not change what is loaded.
* legacy (`_use_new_zipfile_serialization=False`): five pickles back to back (magic number,
  protocol version, sys_info, the object, the list of storage keys), then for every key an int64
  element count and the storage's raw bytes. The object pickle refers to storages by persistent
  id `("storage", type, key, location, numel, view_metadata)`.

Loading (with a restricted unpickler) lives in `_torch_load`.

Saving writes the zip format for objects PyTorch's `weights_only=True` loader accepts: tensors,
Parameters, dict/OrderedDict, list, tuple, set, None/bool/int/float/complex/str/bytes/bytearray,
dtypes, devices and Sizes. Tensors sharing storage are written once (one storage spanning every
saved view), so views and tied weights stay shared. GPU tensors are saved with location
"cuda:0" (PyTorch's tag for its accelerator); ember loads "cuda"/"mps" locations onto "gpu".
"""

import collections
import io
import os
import pickle
import random
import struct
import sys
import zipfile

import ember

__all__ = ["is_torch_writable", "write_zip", "write_legacy", "archive_name_for"]

# storage class name -> ember dtype name (PyTorch's typed storages)
_STORAGES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}
_DTYPE_TO_STORAGE = {v: k for k, v in _STORAGES.items()}
_ITEMSIZE = {
    "float32": 4,
    "float64": 8,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
    "complex64": 8,
    "complex128": 16,
}
# torch dtype global names (torch.float32, torch.long...) -> ember dtype name
_TORCH_DTYPES = {name: name for name in _ITEMSIZE}
_TORCH_DTYPES.update(
    {
        "float": "float32",
        "double": "float64",
        "half": "float16",
        "long": "int64",
        "int": "int32",
        "short": "int16",
        "cfloat": "complex64",
        "cdouble": "complex128",
    }
)
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_ALIGN = 64


def _ember_dtype(name):
    return getattr(ember, name)


def _dtype_name(dtype):
    return str(dtype).split(".")[-1]


# ------------------------------------------------------------------------------------ saving
def is_torch_writable(obj, _seen=None):
    """True when PyTorch's weights_only loader can read `obj` (so ember writes torch's format)."""
    from .nn.parameter import Parameter

    if _seen is None:
        _seen = set()
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, bytearray)):
        # protocol 2 writes b"" as a call of builtins.bytes, which PyTorch's loader refuses
        plain = type(obj) in (type(None), bool, int, float, complex, str, bytes, bytearray)
        return plain and obj != b""
    if isinstance(obj, ember.Tensor):
        if type(obj) not in (ember.Tensor, Parameter):
            return False
        return _dtype_name(obj.dtype) in _ITEMSIZE
    if type(obj) is type(ember.float32) or type(obj) is ember.device or type(obj) is ember.Size:
        return True
    if id(obj) in _seen:
        return True
    _seen.add(id(obj))
    if type(obj) in (dict, collections.OrderedDict):
        attrs = getattr(obj, "__dict__", {})  # a state dict's OrderedDict carries _metadata
        if set(attrs) - {"_metadata"} or not is_torch_writable(attrs.get("_metadata"), _seen):
            return False
        return all(
            is_torch_writable(k, _seen) and is_torch_writable(v, _seen) for k, v in obj.items()
        )
    if type(obj) in (list, tuple, set):
        return all(is_torch_writable(v, _seen) for v in obj)
    return False


class _Global:
    """A `module.name` global written verbatim (torch need not be importable to write it)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's save_reduce insists on a callable
        raise TypeError(f"{self.module}.{self.name} exists only in PyTorch")


class _StorageStub:
    def __init__(self, key, storage_name, location, numel, data):
        self.key, self.storage_name, self.location = key, storage_name, location
        self.numel, self.data = numel, data


_EMPTY_HOOKS = collections.OrderedDict()


class _TorchPickler(pickle._Pickler):
    """Protocol-2 pickler that writes ember objects as the torch globals they correspond to."""

    def __init__(self, file, storages, legacy):
        super().__init__(file, protocol=2)
        self.storages = storages  # storage id -> _StorageStub
        self.legacy = legacy

    def save(self, obj, save_persistent_id=True):
        if type(obj) is type(ember.float32):
            obj = _DTYPE_GLOBALS[_dtype_name(obj)]
        if isinstance(obj, _Global):
            key = id(obj)
            if key in self.memo:
                self.write(self.get(self.memo[key][0]))
                return
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
            self.memoize(obj)
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if isinstance(obj, _StorageStub):
            pid = ("storage", _STORAGE_GLOBALS[obj.storage_name], obj.key, obj.location, obj.numel)
            return pid + (None,) if self.legacy else pid
        return None

    def reducer_override(self, obj):
        from .nn.parameter import Parameter

        if isinstance(obj, Parameter):
            return (_REBUILD_PARAMETER, (obj.detach(), obj.requires_grad, _EMPTY_HOOKS))
        if isinstance(obj, ember.Tensor):
            stub = self.storages[_storage_key(obj)]
            args = (
                stub,
                obj.storage_offset(),
                tuple(int(s) for s in obj.shape),
                tuple(int(s) for s in obj.stride()),
                bool(obj.requires_grad),
                _EMPTY_HOOKS,
            )
            return (_REBUILD_TENSOR_V2, args)
        if type(obj) is ember.device:
            if obj.type == "cpu":
                return (_DEVICE, ("cpu",))
            return (_DEVICE, ("cuda", obj.index or 0))
        if type(obj) is ember.Size:
            return (_SIZE, (tuple(int(s) for s in obj),))
        return NotImplemented


_REBUILD_TENSOR_V2 = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
_DEVICE = _Global("torch", "device")
_SIZE = _Global("torch", "Size")
_STORAGE_GLOBALS = {name: _Global("torch", name) for name in _STORAGES}
_DTYPE_GLOBALS = {name: _Global("torch", name) for name in _ITEMSIZE}


def _storage_key(t):
    return (t._storage_id(), str(t.device))


def _collect_storages(obj):
    """One _StorageStub per distinct storage, spanning every saved view of it."""
    from .serialization import _tensor_to_bytes

    tensors = []
    seen = set()

    def walk(o):
        if isinstance(o, ember.Tensor):
            tensors.append(o)
            return
        if id(o) in seen:
            return
        if isinstance(o, dict):
            seen.add(id(o))
            for k, v in o.items():
                walk(k)
                walk(v)
            meta = getattr(o, "__dict__", {}).get("_metadata")
            if meta is not None:
                walk(meta)
        elif isinstance(o, (list, tuple, set)):
            seen.add(id(o))
            for v in o:
                walk(v)

    walk(obj)
    extents = {}
    first = {}
    for t in tensors:
        key = _storage_key(t)
        first.setdefault(key, t)
        end = 0
        if t.numel():
            end = t.storage_offset() + sum((s - 1) * st for s, st in zip(t.shape, t.stride())) + 1
        extents[key] = max(extents.get(key, 0), end)
    stubs = {}
    for i, (key, t) in enumerate(first.items()):
        n = extents[key]
        whole = ember.as_strided(t.detach(), (n,), (1,), 0)
        name = _dtype_name(whole.dtype)
        if name in _ITEMSIZE and name != "bfloat16" and sys.byteorder == "little":
            # the storage's own bytes, one copy (bfloat16 goes through its float32 widening)
            host = whole if whole.device.type == "cpu" else whole.cpu()
            if host.dtype.is_complex:  # its bytes are its real view's: (re, im) pairs
                host = ember.view_as_real(host)
            data = host.contiguous()._to_bytes()
        else:
            data, name = _tensor_to_bytes(whole)
        location = "cpu" if key[1] == "cpu" else "cuda:0"
        stubs[key] = _StorageStub(str(i), _DTYPE_TO_STORAGE[name], location, n, data)
    return stubs


def _pickle_with_storages(obj, legacy):
    stubs = _collect_storages(obj)
    buf = io.BytesIO()
    _TorchPickler(buf, stubs, legacy).dump(obj)
    return buf.getvalue(), stubs


def _padding_extra(offset, name):
    """A zip extra field ("FB" + padding, as PyTorch writes) that aligns the record's data."""
    header = 30 + len(name.encode("utf-8")) + 4
    pad = (-(offset + header)) % _ALIGN
    return b"FB" + struct.pack("<H", pad) + b"Z" * pad


def write_zip(obj, fileobj, archive_name):
    """Write `obj` in PyTorch's zip format to a seekable binary file object."""
    pkl, stubs = _pickle_with_storages(obj, legacy=False)
    records = [
        ("data.pkl", pkl),
        (".format_version", b"1"),
        (".storage_alignment", str(_ALIGN).encode()),
        ("byteorder", b"little"),
    ]
    records += [(f"data/{s.key}", s.data) for s in stubs.values()]
    serial_id = "".join(random.choice("0123456789") for _ in range(40)).encode()
    records += [("version", b"3\n"), (".data/serialization_id", serial_id)]
    with zipfile.ZipFile(fileobj, "w", zipfile.ZIP_STORED) as zf:
        for rec, data in records:
            name = f"{archive_name}/{rec}"
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.extra = _padding_extra(fileobj.tell(), name)
            zf.writestr(info, data)


def write_legacy(obj, fileobj):
    """Write `obj` in PyTorch's legacy (non-zip) format to a binary file object."""
    pkl, stubs = _pickle_with_storages(obj, legacy=True)
    sys_info = {
        "protocol_version": PROTOCOL_VERSION,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    for head in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info):
        pickle.dump(head, fileobj, protocol=2)
    fileobj.write(pkl)
    pickle.dump([s.key for s in stubs.values()], fileobj, protocol=2)
    for s in stubs.values():
        fileobj.write(struct.pack("<q", s.numel))
        fileobj.write(s.data)


def archive_name_for(path):
    """PyTorch names the zip's folder after the file (`model.pt` -> `model/`)."""
    if path is None:
        return "archive"
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return stem if stem and all(c.isprintable() and c != "/" for c in stem) else "archive"
