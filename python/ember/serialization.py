"""ember.save / ember.load: PyTorch's checkpoint format, and ember's own for whole modules.

`ember.save` writes PyTorch's own zip format (see `_torch_format`) for everything PyTorch's
`weights_only=True` loader accepts: state dicts, optimizer states and plain containers of
tensors, so real `torch.load(path, weights_only=True)` opens them
(`_use_new_zipfile_serialization=False` writes PyTorch's legacy format). Anything else (whole
`nn.Module`s, numpy arrays, functions, namedtuples) is written in ember's own format below:
PyTorch pickles classes for those, which ember will not execute.

`ember.load` reads PyTorch's zip and legacy formats (with a restricted unpickler: nothing is
imported or run), ember's own format (versions 1 and 2) and plain safetensors files. The
default `weights_only=None` means True, as in PyTorch >= 2.6: whole modules, functions and
non-allowlisted globals are refused with `pickle.UnpicklingError` unless the caller passes
`weights_only=False` (which also maps a whole torch model's `torch.nn` classes to `ember.nn`).

ember's own format, version 2 (version 1 files still load): a valid safetensors file.

    8 bytes   little-endian u64 N, the size of the JSON header
    N bytes   JSON header: {"t0": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
              "__metadata__": {"format": "ember", "version": "1", "tree": <json>,
                               "crc32": <crc of the data section>}}
    rest      the raw little-endian bytes of every tensor, back to back

`tree` describes the saved object: dict/OrderedDict (any key type), list, tuple,
set, None/bool/int/float (incl. nan/inf)/str/bytes, ember dtypes and devices,
numpy arrays, tensors and Parameters (by reference into the tensor table, so an
object saved twice is loaded as one object: tied weights stay tied), and whole
`nn.Module`s.

A Module is stored as its class path ("package.module:QualName") plus its
`__dict__` (parameters, buffers, submodules, plain attributes), and rebuilt with
`cls.__new__(cls)` + `__dict__` restore: no `__init__`, no `__setstate__`, no
pickle. Loading imports the named module to find the class, so only with
`weights_only=False`; otherwise modules (and functions) are refused. Module-level
functions stored as attributes (e.g. an activation) are saved by import path.
Not supported (save raises TypeError naming the attribute): lambdas, local
classes/functions, bound methods, arbitrary objects; non-empty hook dicts are
dropped with a warning.

The header's `crc32` (version 2) covers the whole file: the canonical JSON header without
the crc field and every data byte, so a flipped byte anywhere is rejected (version 1 covered
the tensor bytes only).

Writes are atomic: a temporary file in the target directory is written,
fsynced and `os.replace`d over the destination, so a failure mid-save leaves
any previous file intact. A truncated, corrupted or foreign file raises
RuntimeError naming the file. Plain safetensors files (without ember metadata)
load as a dict of tensors.
"""

import collections
import importlib
import io
import json
import math
import os
import pickle
import struct
import sys
import tempfile
import types
import warnings
import zlib

import numpy as np

import ember

from . import _torch_format, _torch_load
from ._torch_load import (  # noqa: F401 - PyTorch's torch.serialization names
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    safe_globals,
)

__all__ = [
    "save",
    "load",
    "add_safe_globals",
    "get_safe_globals",
    "clear_safe_globals",
    "safe_globals",
    "get_unsafe_globals_in_checkpoint",
]

_FORMAT = "ember"
_VERSION = "2"

_DTYPES = {
    "float32": ("F32", np.float32),
    "float64": ("F64", np.float64),
    "float16": ("F16", np.float16),
    "bfloat16": ("BF16", np.uint16),
    "int64": ("I64", np.int64),
    "int32": ("I32", np.int32),
    "int16": ("I16", np.int16),
    "int8": ("I8", np.int8),
    "uint8": ("U8", np.uint8),
    "bool": ("BOOL", np.bool_),
    "complex64": ("C64", np.complex64),
}
_ST_TO_NAME = {v[0]: k for k, v in _DTYPES.items()}
_NP_TO_ST = {
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
    np.dtype(np.float16): "F16",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
    np.dtype(np.int16): "I16",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint8): "U8",
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint16): "U16",
    np.dtype(np.uint32): "U32",
    np.dtype(np.uint64): "U64",
}
_ST_TO_NP = {v: k for k, v in _NP_TO_ST.items()}


def _dtype_name(dtype):
    return str(dtype).split(".")[-1]


def _tensor_to_bytes(t):
    """Raw little-endian bytes of a tensor (bfloat16 via its exact float32 widening)."""
    name = _dtype_name(t.dtype)
    if name not in _DTYPES:
        raise TypeError(f"ember.save: unsupported tensor dtype {t.dtype}")
    t = t.detach()
    if str(t.device) != "cpu":
        t = t.to("cpu")
    if name == "bfloat16":
        arr = np.ascontiguousarray(t.to(ember.float32).numpy()).view(np.uint32)
        arr = (arr >> 16).astype("<u2")
    else:
        arr = np.ascontiguousarray(t.contiguous().numpy()).astype(_DTYPES[name][1], copy=False)
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return arr.tobytes(), name


def _bytes_to_tensor(buf, name, shape):
    if name == "bfloat16":
        u16 = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
        arr = u16.view(np.float32).reshape(shape)
        return _np_to_tensor(arr).to(ember.bfloat16)
    np_dtype = np.dtype(_DTYPES[name][1]).newbyteorder("<")
    # on little-endian hosts the astype is a no-op view; _np_to_tensor makes the one copy
    arr = np.frombuffer(buf, dtype=np_dtype).astype(_DTYPES[name][1], copy=False).reshape(shape)
    return _np_to_tensor(arr)


def _np_to_tensor(arr):
    arr = np.array(arr, copy=True, order="C")
    conv = getattr(ember, "from_numpy", None)
    return conv(arr) if conv is not None else ember.tensor(arr)


def _is_module(obj):
    from .nn.modules.module import Module

    return isinstance(obj, Module)


def _class_path(cls):
    qual = cls.__qualname__
    if "<locals>" in qual:
        raise TypeError(
            f"ember.save: cannot save an instance of the local class {qual!r}; "
            "define it at module level"
        )
    return f"{cls.__module__}:{qual}"


def _resolve(path, what, allow_import):
    mod_name, _, qual = path.partition(":")
    if mod_name not in sys.modules:
        if not allow_import:
            raise pickle.UnpicklingError(
                f"ember.load: the checkpoint needs {what} {path!r}, but module {mod_name!r} is "
                "not imported and weights_only=True forbids importing it"
            )
        importlib.import_module(mod_name)
    obj = sys.modules[mod_name]
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


class _Encoder:
    def __init__(self):
        self.tensors = []  # (key, bytes, dtype name, shape)
        self.memo = {}  # id(obj) -> reference node
        self.keepalive = []
        self.offset = 0

    def tensor_ref(self, t):
        if id(t) in self.memo:
            return self.memo[id(t)]
        key = f"t{len(self.tensors)}"
        data, name = _tensor_to_bytes(t)
        self.tensors.append((key, data, name, [int(s) for s in t.shape]))
        from .nn.parameter import Parameter

        node = {
            "__tensor__": key,
            "param": isinstance(t, Parameter),
            "requires_grad": bool(t.requires_grad),
            "device": str(t.device),
        }
        self.memo[id(t)] = {"__ref__": key}
        self.keepalive.append(t)
        return node

    def encode(self, obj, path="obj"):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            if math.isnan(obj) or math.isinf(obj):
                return {"__float__": repr(obj)}
            return obj
        if isinstance(obj, ember.Tensor):
            return self.tensor_ref(obj)
        if type(obj) is type(ember.float32):
            return {"__dtype__": _dtype_name(obj)}
        if (
            hasattr(ember, "device")
            and isinstance(ember.device, type)
            and isinstance(obj, ember.device)
        ):
            return {"__device__": str(obj)}
        if isinstance(obj, bytes):
            return {"__bytes__": obj.hex()}
        if isinstance(obj, np.ndarray):
            if obj.dtype not in _NP_TO_ST:
                raise TypeError(f"ember.save: unsupported numpy dtype {obj.dtype} at {path}")
            if id(obj) in self.memo:
                return self.memo[id(obj)]
            key = f"t{len(self.tensors)}"
            arr = np.ascontiguousarray(obj)
            self.tensors.append(
                (
                    key,
                    arr.astype(arr.dtype.newbyteorder("<")).tobytes(),
                    "np:" + _NP_TO_ST[arr.dtype],
                    list(arr.shape),
                )
            )
            self.memo[id(obj)] = {"__ref__": key}
            self.keepalive.append(obj)
            return {"__ndarray__": key}
        if isinstance(obj, np.generic):
            return {"__npscalar__": self.encode(np.asarray(obj), path)["__ndarray__"]}
        if _is_module(obj):
            return self.encode_module(obj, path)
        if isinstance(obj, dict):
            kind = "__odict__" if isinstance(obj, collections.OrderedDict) else "__dict__"
            if type(obj) not in (dict, collections.OrderedDict, collections.defaultdict):
                if not _is_plain_mapping(obj):
                    raise TypeError(f"ember.save: cannot save a {type(obj).__qualname__} at {path}")
            items = [
                [self.encode(k, f"{path} key"), self.encode(v, f"{path}[{k!r}]")]
                for k, v in obj.items()
            ]
            return {kind: items}
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return {
                "__namedtuple__": _class_path(type(obj)),
                "items": [self.encode(v, f"{path}.{f}") for f, v in zip(obj._fields, obj)],
            }
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, (set, frozenset)):
            return {"__set__": [self.encode(v, f"{path} item") for v in obj]}
        if isinstance(obj, slice):
            return {
                "__slice__": [self.encode(obj.start), self.encode(obj.stop), self.encode(obj.step)]
            }
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type)):
            qual = getattr(obj, "__qualname__", "")
            mod = getattr(obj, "__module__", None)
            if not mod or "<lambda>" in qual or "<locals>" in qual:
                raise TypeError(
                    f"ember.save: cannot save the function/class {qual or obj!r} at {path}: only "
                    "module-level functions and classes are stored (by import path)"
                )
            return {"__global__": f"{mod}:{qual}"}
        raise TypeError(
            f"ember.save: cannot save an object of type {type(obj).__module__}."
            f"{type(obj).__qualname__} at {path} (supported: tensors, nn.Modules, dict, list, "
            "tuple, set, None, bool, int, float, str, bytes, dtypes, numpy arrays)"
        )

    def encode_module(self, mod, path):
        if id(mod) in self.memo:
            return self.memo[id(mod)]
        key = f"m{len(self.memo)}"
        self.memo[id(mod)] = {"__ref__": key}
        self.keepalive.append(mod)
        state = {}
        for name, value in mod.__dict__.items():
            if name.startswith("_") and "hooks" in name and isinstance(value, dict):
                if len(value):
                    warnings.warn(f"ember.save: hooks in {path}.{name} are not saved", stacklevel=3)
                state[name] = {"__odict__": []}
                continue
            state[name] = self.encode(value, f"{path}.{name}")
        return {"__module__": _class_path(type(mod)), "id": key, "state": state}


def _is_plain_mapping(obj):
    return isinstance(obj, dict)


class _Decoder:
    def __init__(self, tensors, map_location, weights_only, filename):
        self.tensors = tensors  # key -> (name, shape, bytes)
        self.map_location = map_location
        self.weights_only = weights_only
        self.filename = filename
        self.refs = {}

    def _device_for(self, saved):
        ml = self.map_location
        if ml is None:
            return saved
        if isinstance(ml, dict):
            return ml.get(saved, saved)
        if callable(ml):
            return None
        return str(ml)

    def make_tensor(self, node):
        key = node["__tensor__"]
        name, shape, data = self.tensors[key]
        t = _bytes_to_tensor(data, name, shape)
        saved_dev = node.get("device", "cpu")
        if callable(self.map_location) and not isinstance(self.map_location, (str, dict)):
            out = self.map_location(t, saved_dev)
            if isinstance(out, ember.Tensor):
                t = out
        else:
            dev = self._device_for(saved_dev)
            if dev is not None and str(dev) != "cpu":
                t = t.to(dev)
        if node.get("param"):
            from .nn.parameter import Parameter

            t = Parameter(t, requires_grad=node.get("requires_grad", True))
        elif node.get("requires_grad"):
            t.requires_grad_(True)
        self.refs[key] = t
        return t

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise RuntimeError(f"ember.load: malformed object tree in {self.filename!r}")
        if "__ref__" in node:
            return self.refs[node["__ref__"]]
        if "__tensor__" in node:
            return self.make_tensor(node)
        if "__float__" in node:
            return float(node["__float__"])
        if "__dtype__" in node:
            return getattr(ember, node["__dtype__"])
        if "__device__" in node:
            dev = node["__device__"]
            return ember.device(dev) if hasattr(ember, "device") else dev
        if "__bytes__" in node:
            return bytes.fromhex(node["__bytes__"])
        if "__ndarray__" in node:
            key = node["__ndarray__"]
            if key in self.refs:
                return self.refs[key]
            name, shape, data = self.tensors[key]
            arr = np.frombuffer(data, dtype=np.dtype(_ST_TO_NP[name[3:]]).newbyteorder("<"))
            arr = arr.astype(_ST_TO_NP[name[3:]]).reshape(shape)
            self.refs[key] = arr
            return arr
        if "__npscalar__" in node:
            name, shape, data = self.tensors[node["__npscalar__"]]
            return np.frombuffer(data, dtype=np.dtype(_ST_TO_NP[name[3:]]).newbyteorder("<"))[0]
        if "__dict__" in node or "__odict__" in node:
            ordered = "__odict__" in node
            items = node["__odict__"] if ordered else node["__dict__"]
            out = collections.OrderedDict() if ordered else {}
            for k, v in items:
                out[_hashable(self.decode(k))] = self.decode(v)
            return out
        if "__tuple__" in node:
            return tuple(self.decode(v) for v in node["__tuple__"])
        if "__set__" in node:
            return {self.decode(v) for v in node["__set__"]}
        if "__slice__" in node:
            return slice(*(self.decode(v) for v in node["__slice__"]))
        if "__namedtuple__" in node:
            cls = _resolve(node["__namedtuple__"], "class", not self.weights_only)
            if not (isinstance(cls, type) and issubclass(cls, tuple)):
                raise RuntimeError(f"ember.load: {node['__namedtuple__']} is not a namedtuple")
            return cls(*(self.decode(v) for v in node["items"]))
        if "__global__" in node:
            from ._torch_load import _USER_SAFE_GLOBALS

            allowed = _USER_SAFE_GLOBALS.get(node["__global__"].replace(":", ".", 1))
            if allowed is not None:
                return allowed
            if self.weights_only:
                raise pickle.UnpicklingError(
                    f"ember.load: {self.filename!r} references {node['__global__']!r}; "
                    "weights_only=True refuses functions and classes"
                )
            return _resolve(node["__global__"], "function", True)
        if "__module__" in node:
            return self.decode_module(node)
        raise RuntimeError(f"ember.load: unknown node {sorted(node)} in {self.filename!r}")

    def decode_module(self, node):
        from ._torch_load import _USER_SAFE_GLOBALS
        from .nn.modules.module import Module

        # As PyTorch: under weights_only a whole module loads only when every class in it was
        # allow-listed (`safe_globals`/`add_safe_globals`); the class comes from that list,
        # nothing is imported.
        allowed = _USER_SAFE_GLOBALS.get(node["__module__"].replace(":", ".", 1))
        if self.weights_only and allowed is None:
            raise pickle.UnpicklingError(
                f"ember.load: {self.filename!r} contains a whole nn.Module "
                f"({node['__module__']}); pass weights_only=False to rebuild it (this imports "
                "the module that defines the class), allow-list its classes with "
                "ember.serialization.safe_globals([...]), or save and load a state_dict instead"
            )
        cls = allowed if allowed is not None else _resolve(node["__module__"], "class", True)
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            raise RuntimeError(f"ember.load: {node['__module__']} is not an nn.Module subclass")
        mod = cls.__new__(cls)
        self.refs[node["id"]] = mod
        state = {name: self.decode(v) for name, v in node["state"].items()}
        object.__getattribute__(mod, "__dict__").update(state)
        return mod


def _hashable(k):
    if isinstance(k, list):
        return tuple(_hashable(v) for v in k)
    return k


# ---------------------------------------------------------------------------- file I/O
def _serialize(obj):
    enc = _Encoder()
    tree = enc.encode(obj)
    header = {}
    offset = 0
    chunks = []
    for key, data, name, shape in enc.tensors:
        st = name[3:] if name.startswith("np:") else _DTYPES[name][0]
        entry = {"dtype": st, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        header[key] = entry
        offset += len(data)
        chunks.append(data)
    kinds = {key: name for key, _, name, _ in enc.tensors}
    header["__metadata__"] = {
        "format": _FORMAT,
        "version": _VERSION,
        "tree": json.dumps(tree, separators=(",", ":"), allow_nan=False),
        "kinds": json.dumps(kinds, separators=(",", ":")),
    }
    # the checksum covers the header too: edits to a shape, dtype or value are caught
    crc = zlib.crc32(_canonical_header(header))
    for data in chunks:
        crc = zlib.crc32(data, crc)
    header["__metadata__"]["crc32"] = str(crc)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)  # safetensors aligns the data to 8 bytes
    return struct.pack("<Q", len(hbytes)) + hbytes, chunks


def _canonical_header(header):
    """The header JSON without its crc32 field, as _serialize writes it (checksum input)."""
    meta = {k: v for k, v in header["__metadata__"].items() if k != "crc32"}
    body = {k: v for k, v in header.items() if k != "__metadata__"}
    body["__metadata__"] = meta
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _writer(obj, path, _use_new_zipfile_serialization):
    """A function writing `obj` to a binary file object, in the format save chooses."""
    if _torch_format.is_torch_writable(obj):
        if _use_new_zipfile_serialization:
            name = _torch_format.archive_name_for(path)
            return lambda out: _torch_format.write_zip(obj, out, name)
        return lambda out: _torch_format.write_legacy(obj, out)
    head, chunks = _serialize(obj)

    def write(out):
        out.write(head)
        for c in chunks:
            out.write(c)

    return write


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True):
    """Save `obj` to the path or writable binary file-like `f` (see module docs)."""
    if hasattr(f, "write"):
        write = _writer(obj, None, _use_new_zipfile_serialization)
        if _use_new_zipfile_serialization and _torch_format.is_torch_writable(obj):
            # zipfile needs to seek back over headers; write through a buffer
            buf = io.BytesIO()
            write(buf)
            f.write(buf.getvalue())
        else:
            write(f)
        if hasattr(f, "flush"):
            f.flush()
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {os.path.dirname(path) or directory} does not exist.")
    write = _writer(obj, path, _use_new_zipfile_serialization)
    fd, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _corrupt(name, why):
    return RuntimeError(f"ember.load: {name!r} is not a valid ember checkpoint: {why}")


def get_unsafe_globals_in_checkpoint(f):
    """The globals a PyTorch zip checkpoint names that weights_only loading would refuse."""
    import zipfile

    with zipfile.ZipFile(f if isinstance(f, io.IOBase) else os.fspath(f)) as zf:
        pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise RuntimeError("get_unsafe_globals_in_checkpoint: not a PyTorch zip checkpoint")
        return _torch_load.unsafe_globals_in_pickle(zf.read(pkl[0]))


def _resolve_weights_only(weights_only, pickle_module):
    """PyTorch's rules: default safe unless a pickle_module is given; env overrides."""
    not_set = weights_only is None
    if not_set:
        weights_only = pickle_module is None
    truthy = ("1", "y", "yes", "true")
    force = os.getenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in truthy
    force_no = os.getenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0").lower() in truthy
    if force and force_no:
        raise RuntimeError(
            "Only one of `TORCH_FORCE_WEIGHTS_ONLY_LOAD` or `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD` "
            "should be set, but both were set."
        )
    if force:
        weights_only = True
    elif force_no and not_set:
        warnings.warn(
            "Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD detected, since the "
            "`weights_only` argument was not explicitly passed to `ember.load`, forcing "
            "weights_only=False.",
            UserWarning,
            stacklevel=3,
        )
        weights_only = False
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    return bool(weights_only)


def _is_legacy_torch(data):
    # a legacy torch file starts with a protocol-2 pickle of its magic number; a safetensors
    # file's 8-byte length can also start with 0x80, but its byte 8 is the header's "{"
    return data[:2] == b"\x80\x02" and data[8:9] != b"{"


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **kwargs):
    """Load a checkpoint written by ember.save or torch.save from a path or binary file-like.

    weights_only=None (default) means True, as in PyTorch >= 2.6 (False when a pickle_module
    is passed; TORCH_FORCE_WEIGHTS_ONLY_LOAD / TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD override as in
    PyTorch): only tensors, containers and plain values load, nothing is imported or executed. weights_only=False also rebuilds whole
    nn.Modules saved by ember (importing their class) and lets a PyTorch pickle name other
    globals (import as pickle would: only for files you trust). mmap=True memory-maps the
    tensor data of a PyTorch zip checkpoint (the zip CRC of mapped records is then not checked,
    as in PyTorch).
    """
    weights_only = _resolve_weights_only(weights_only, pickle_module)
    if hasattr(f, "read"):
        if mmap:
            raise ValueError("ember.load: f must be a file path in order to use the mmap argument")
        name = getattr(f, "name", "<file-like object>")
        data = f.read()
    else:
        name = os.fspath(f)
        if not isinstance(name, str):
            name = os.fsdecode(name)
        with open(name, "rb") as fh:
            head = fh.read(16)
        if head[:2] == b"PK":  # zipfile reads the records from the file: no whole-file copy
            return _torch_load.load_zip(name, name, map_location, weights_only, bool(mmap))
        if mmap:
            if _is_legacy_torch(head):
                raise RuntimeError(
                    "ember.load: mmap can only be used with files saved with "
                    "`torch.save(_use_new_zipfile_serialization=True)`, please torch.save your "
                    "checkpoint with this option in order to use mmap."
                )
        with open(name, "rb") as fh:
            data = fh.read()
    if not isinstance(name, str):
        name = str(name)
    if data[:2] == b"PK":
        return _torch_load.load_zip(data, name, map_location, weights_only, False)
    if _is_legacy_torch(data):
        return _torch_load.load_legacy(data, name, map_location, weights_only)
    return _load_ember(data, name, map_location, weights_only)


def _load_ember(data, name, map_location, weights_only):
    if len(data) < 8:
        raise _corrupt(name, f"file too short ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n < 2:
        raise _corrupt(name, "truncated header or not a safetensors/ember file")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _corrupt(name, f"unreadable header ({e})") from None
    if not isinstance(header, dict):
        raise _corrupt(name, "header is not a JSON object")
    full_header = dict(header)
    body = memoryview(data)[8 + n :]
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise _corrupt(name, "metadata is not a JSON object")
    tensors = {}
    end_max = 0
    for key, entry in header.items():
        try:
            b, e = entry["data_offsets"]
            st = entry["dtype"]
            shape = [int(s) for s in entry["shape"]]
        except (KeyError, TypeError, ValueError):
            raise _corrupt(name, f"bad tensor entry {key!r}") from None
        if not (isinstance(b, int) and isinstance(e, int)) or e > len(body) or b > e or b < 0:
            raise _corrupt(
                name, f"truncated data (tensor {key!r} needs bytes {b}..{e}, file has {len(body)})"
            )
        end_max = max(end_max, e)
        tensors[key] = (st, shape, body[b:e])  # memoryview slices: no copy
    if meta.get("format") != _FORMAT:
        return _load_plain_safetensors(tensors, name, map_location)
    if len(body) != end_max:
        raise _corrupt(name, f"data section has {len(body)} bytes, expected {end_max}")
    if meta.get("version") == "1":
        crc = 0  # version 1 covered the tensor bytes only
    else:
        try:
            crc = zlib.crc32(_canonical_header(full_header))
        except (TypeError, ValueError) as e:
            raise _corrupt(name, f"unreadable header ({e})") from None
    for key in header:
        crc = zlib.crc32(tensors[key][2], crc)
    if str(crc) != meta.get("crc32"):
        raise _corrupt(name, "checksum mismatch (the file is corrupted)")
    try:
        kinds = json.loads(meta["kinds"])
        tree = json.loads(meta["tree"])
    except (KeyError, ValueError) as e:
        raise _corrupt(name, f"unreadable object tree ({e})") from None
    table = {}
    for key, (_st, shape, raw) in tensors.items():
        kind = kinds.get(key)
        if kind is None:
            raise _corrupt(name, f"tensor {key!r} has no kind")
        table[key] = (kind, shape, raw)
    dec = _Decoder(table, map_location, weights_only, name)
    try:
        return dec.decode(tree)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise _corrupt(name, f"inconsistent object tree ({type(e).__name__}: {e})") from None


def _load_plain_safetensors(tensors, name, map_location):
    out = collections.OrderedDict()
    for key, (st, shape, raw) in tensors.items():
        if st not in _ST_TO_NAME:
            raise _corrupt(name, f"unsupported dtype {st} for {key!r}")
        t = _bytes_to_tensor(raw, _ST_TO_NAME[st], shape)
        if (
            map_location is not None
            and not callable(map_location)
            and not isinstance(map_location, dict)
        ):
            if str(map_location) != "cpu":
                t = t.to(str(map_location))
        out[key] = t
    return out
