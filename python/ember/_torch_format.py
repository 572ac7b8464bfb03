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

Loading uses a restricted unpickler: only the globals PyTorch's own `weights_only=True`
unpickler allows resolve (tensor/parameter rebuild functions, storage types, dtypes,
`torch.Size`, `torch.device`, OrderedDict/Counter, set, bytearray, complex, `_codecs.encode`),
each to an ember counterpart; nothing is imported. Any other global raises
`pickle.UnpicklingError` naming it. BUILD (state restore) is allowed only on OrderedDicts (the
`_metadata` of state dicts); object construction (NEWOBJ/OBJ/INST) only for allowed types.
With `weights_only=False` other globals are imported as ordinary pickle would (the caller trusts
the file), except torch classes that ember cannot rebuild.

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
import zipfile

import numpy as np

import ember

__all__ = ["is_torch_writable", "write_zip", "write_legacy", "load_zip", "load_legacy"]

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
    }
)
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_ALIGN = 64


def _ember_dtype(name):
    return getattr(ember, name)


def _dtype_name(dtype):
    return str(dtype).split(".")[-1]


# ------------------------------------------------------------------------------------ loading
class _StorageType:
    """What `GLOBAL torch.FloatStorage` (or torch.storage.UntypedStorage) resolves to."""

    def __init__(self, qualname, dtype_name):
        self.qualname = qualname
        self.dtype_name = dtype_name  # None for an untyped (byte) storage

    def __repr__(self):
        return f"<storage type {self.qualname}>"


class _Storage:
    """One deserialised storage: raw bytes plus the dtype its class declared."""

    def __init__(self, ctx, key, stype, location, numel):
        self.ctx = ctx
        self.key = key
        self.stype = stype
        self.location = location
        self.numel = numel
        self.raw = None  # bytes-like, set once the data is read
        self.base_offset = 0  # elements, for legacy view storages
        self._tensors = {}  # dtype name -> 1-D ember tensor of the whole storage

    def tensor(self, dtype_name):
        """The storage as a 1-D ember tensor of `dtype_name`, on its final device (cached)."""
        if dtype_name not in _ITEMSIZE:
            raise pickle.UnpicklingError(
                f"ember.load: {self.ctx.name!r} has a tensor of dtype {dtype_name}, which ember "
                "does not support"
            )
        if dtype_name not in self._tensors:
            from .serialization import _bytes_to_tensor

            raw = self.raw
            size = _ITEMSIZE[dtype_name]
            if len(raw) % size:
                raise self.ctx.corrupt(
                    f"storage {self.key} has {len(raw)} bytes, not a multiple of {size}"
                )
            if self.ctx.big_endian and size > 1:
                raw = np.frombuffer(raw, dtype=f">u{size}").astype(f"<u{size}").tobytes()
            t = _bytes_to_tensor(raw, dtype_name, [len(raw) // size])
            self._tensors[dtype_name] = self.ctx.place(t, self.location)
        return self._tensors[dtype_name]


class _Context:
    """Per-load state shared by the unpickler and the rebuild functions."""

    def __init__(self, name, map_location, weights_only):
        self.name = name
        self.map_location = map_location
        self.weights_only = weights_only
        self.big_endian = False
        self.storages = {}
        self.dry = False  # legacy first pass: record storages, build nothing

    def corrupt(self, why):
        return RuntimeError(f"ember.load: {self.name!r} is not a valid PyTorch checkpoint: {why}")

    def place(self, t, location):
        """Move a freshly loaded cpu storage tensor where map_location says."""
        ml = self.map_location
        location = str(location)
        if callable(ml) and not isinstance(ml, (str, dict, ember.device)):
            out = ml(t, location)
            return out if isinstance(out, ember.Tensor) else t
        if isinstance(ml, dict):
            target = ml.get(location, location)
        elif ml is not None:
            target = ml
        else:
            target = location
        target = str(target)
        dev = "cpu" if target.startswith("cpu") else "gpu"
        if target.split(":")[0] not in ("cpu", "gpu", "cuda", "mps"):
            raise RuntimeError(f"ember.load: unknown device location {target!r} in {self.name!r}")
        return t if dev == "cpu" else t.to(dev)


def _check_view(ctx, storage, offset, size, stride, what):
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    offset = int(offset)
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size + stride):
        raise ctx.corrupt(f"{what}: bad view size={size} stride={stride} offset={offset}")
    n = storage.numel
    if all(size):
        last = offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= n:
            raise ctx.corrupt(
                f"{what}: view size={size} stride={stride} offset={offset} reaches element "
                f"{last} of a storage with {n} elements"
            )
    return offset, size, stride


def _make_tensor(ctx, storage, offset, size, stride, dtype_name):
    if storage is None or ctx.dry:
        return None
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"ember.load: {ctx.name!r}: tensor storage is {storage!r}")
    offset, size, stride = _check_view(ctx, storage, offset, size, stride, "tensor")
    base = storage.tensor(dtype_name)
    return ember.as_strided(base, size, stride, offset + storage.base_offset)


def _rebuild_functions(ctx):
    """The ember counterparts of torch._utils' rebuild functions, bound to one load."""

    def _rebuild_tensor_v2(
        storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None
    ):
        dtype_name = storage.stype.dtype_name if isinstance(storage, _Storage) else None
        if isinstance(storage, _Storage) and dtype_name is None:
            raise pickle.UnpicklingError(
                f"ember.load: {ctx.name!r}: an untyped storage needs _rebuild_tensor_v3"
            )
        t = _make_tensor(ctx, storage, storage_offset, size, stride, dtype_name)
        if t is not None and requires_grad:
            t.requires_grad_(True)
        return t

    def _rebuild_tensor_v3(
        storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None
    ):
        if ctx.dry:
            return None
        name = _dtype_name(dtype)
        if isinstance(storage, _Storage) and storage.stype.dtype_name is None:
            # an untyped storage counts bytes; view it as `dtype` elements
            storage.numel = len(storage.raw) // _ITEMSIZE.get(name, 1)
        t = _make_tensor(ctx, storage, storage_offset, size, stride, name)
        if t is not None and requires_grad:
            t.requires_grad_(True)
        return t

    def _rebuild_tensor(storage, storage_offset, size, stride):
        dtype_name = storage.stype.dtype_name if isinstance(storage, _Storage) else None
        return _make_tensor(ctx, storage, storage_offset, size, stride, dtype_name)

    def _rebuild_parameter(data, requires_grad, backward_hooks):
        if data is None:
            return None
        from .nn.parameter import Parameter

        return Parameter(data, requires_grad=bool(requires_grad))

    def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
        p = _rebuild_parameter(data, requires_grad, backward_hooks)
        _set_plain_state(ctx, p, state)
        return p

    def _rebuild_from_type_v2(func, new_type, args, state):
        if func not in funcs.values():
            raise pickle.UnpicklingError(f"ember.load: {ctx.name!r}: bad rebuild function {func!r}")
        ret = func(*args)
        if ret is None:
            return None
        from .nn.parameter import Parameter

        if new_type is Parameter and not isinstance(ret, Parameter):
            ret = Parameter(ret, requires_grad=ret.requires_grad)
        elif new_type not in (ember.Tensor, Parameter):
            raise pickle.UnpicklingError(
                f"ember.load: {ctx.name!r}: tensor subclass {new_type!r} is not supported"
            )
        _set_plain_state(ctx, ret, state)
        return ret

    def unsupported(name):
        def f(*args, **kwargs):
            raise pickle.UnpicklingError(
                f"ember.load: {ctx.name!r} uses torch._utils.{name} (quantized, sparse, meta or "
                "subclass tensors), which ember does not support"
            )

        return f

    funcs = {
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
    }
    for name in [
        "_rebuild_qtensor",
        "_rebuild_sparse_tensor",
        "_rebuild_meta_tensor_no_storage",
        "_rebuild_wrapper_subclass",
        "_rebuild_device_tensor_from_numpy",
        "_rebuild_device_tensor_from_cpu_tensor",
        "_rebuild_nested_tensor",
    ]:
        funcs[f"torch._utils.{name}"] = unsupported(name)
    funcs["torch._tensor._rebuild_from_type_v2"] = _rebuild_from_type_v2
    return funcs


def _set_plain_state(ctx, obj, state):
    """Attribute state on a tensor or OrderedDict: plain names only (no dunders, no methods)."""
    if obj is None or not state:
        return
    if not isinstance(state, dict):
        raise pickle.UnpicklingError(f"ember.load: {ctx.name!r}: bad object state {type(state)}")
    for k, v in state.items():
        if not isinstance(k, str) or k.startswith("__"):
            raise pickle.UnpicklingError(f"ember.load: {ctx.name!r}: refused attribute {k!r}")
        object.__setattr__(obj, k, v) if not isinstance(obj, dict) else setattr(obj, k, v)


def _encode(obj, encoding="utf-8"):
    """`_codecs.encode`, which protocol-2 pickles use for bytes: str -> bytes only."""
    if not isinstance(obj, str) or not isinstance(encoding, str):
        raise pickle.UnpicklingError("ember.load: _codecs.encode with non-string arguments")
    return obj.encode(encoding)


def _make_device(*args):
    try:
        return ember.device(*args)
    except (RuntimeError, TypeError):
        return args[0] if len(args) == 1 else ":".join(str(a) for a in args)


def _allowed_globals(ctx):
    from .nn.parameter import Parameter

    rc = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "builtins.set": set,
        "builtins.bytearray": bytearray,
        "builtins.complex": complex,
        "_codecs.encode": _encode,
        "torch.Size": ember.Size,
        "torch.device": _make_device,
        "torch.Tensor": ember.Tensor,
        "torch.nn.parameter.Parameter": Parameter,
        "torch.serialization._get_layout": lambda name: name,
        "torch.storage.UntypedStorage": _StorageType("torch.storage.UntypedStorage", None),
        "torch.UntypedStorage": _StorageType("torch.UntypedStorage", None),
    }
    for torch_name, name in _TORCH_DTYPES.items():
        rc[f"torch.{torch_name}"] = _ember_dtype(name)
    for sname, dname in _STORAGES.items():
        for mod in ("torch", "torch.cuda"):
            rc[f"{mod}.{sname}"] = _StorageType(f"{mod}.{sname}", dname)
    rc.update(_rebuild_functions(ctx))
    return rc


# globals the user allowed with add_safe_globals: "module.qualname" -> object
_USER_SAFE_GLOBALS = {}


def _global_name(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


def add_safe_globals(safe_globals):
    """Allow these globals in weights-only loads (PyTorch's torch.serialization API).

    Items are objects (classes, functions) or `(object, "module.name")` pairs naming the global
    as the file spells it. Allowed classes may also be constructed and have their state
    restored, as in PyTorch.
    """
    for item in safe_globals:
        if isinstance(item, tuple):
            obj, name = item
        else:
            obj, name = item, _global_name(item)
        _USER_SAFE_GLOBALS[name] = obj


def get_safe_globals():
    return [
        obj if name == _global_name(obj) else (obj, name)
        for name, obj in _USER_SAFE_GLOBALS.items()
    ]


def clear_safe_globals():
    _USER_SAFE_GLOBALS.clear()


class safe_globals:
    """Context manager adding safe globals for the duration of a block."""

    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        self.saved = dict(_USER_SAFE_GLOBALS)
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc):
        _USER_SAFE_GLOBALS.clear()
        _USER_SAFE_GLOBALS.update(self.saved)


def unsafe_globals_in_pickle(pkl):
    """Globals a pickle names that a weights-only load would refuse (no unpickling)."""
    import pickletools

    allowed = set(_allowed_globals(_Context("<scan>", None, True))) | set(_USER_SAFE_GLOBALS)
    found, strings = [], []
    for op, arg, _ in pickletools.genops(pkl):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strings.append(arg)
        name = None
        if op.name in ("GLOBAL", "INST"):
            module, _, attr = arg.partition(" ")
            name = f"{_PY2_MODULES.get(module, module)}.{attr}"
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            name = f"{_PY2_MODULES.get(strings[-2], strings[-2])}.{strings[-1]}"
        if name and name not in allowed and name not in found:
            found.append(name)
    return found


# pickle's protocol-2 files name Python 2 modules; map them as pickle's fix_imports does
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_CONSTRUCTIBLE = (collections.OrderedDict, collections.Counter, set, bytearray, complex)


class _RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with every way to reach code locked down (see module docs)."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, ctx, persistent_load):
        super().__init__(file, encoding="utf-8")
        self.ctx = ctx
        self.allowed = _allowed_globals(ctx)
        self._persistent_load = persistent_load

    def persistent_load(self, pid):
        return self._persistent_load(pid)

    def find_class(self, module, name):
        module = _PY2_MODULES.get(module, module)
        full = f"{module}.{name}"
        if full in self.allowed:
            return self.allowed[full]
        if full in _USER_SAFE_GLOBALS:
            return _USER_SAFE_GLOBALS[full]
        if not self.ctx.weights_only and module.split(".")[0] != "torch":
            # weights_only=False: the caller trusts the file (PyTorch then unpickles anything)
            return super().find_class(module, name)
        hint = (
            "ember cannot rebuild this torch object; save a state_dict instead"
            if module.split(".")[0] == "torch"
            else "allow it with ember.serialization.add_safe_globals([...]) if you trust it, "
            "or pass weights_only=False only if you trust the file (it can run code)"
        )
        raise pickle.UnpicklingError(
            f"ember.load: weights-only load of {self.ctx.name!r} failed: unsupported global "
            f"GLOBAL {full} is not an allowed global ({hint})"
        )

    def load_build(self):
        state = self.stack[-1]
        inst = self.stack[-2]
        user_class = type(inst) in _USER_SAFE_GLOBALS.values()
        if (
            not isinstance(inst, collections.OrderedDict)
            and self.ctx.weights_only
            and not user_class
        ):
            raise pickle.UnpicklingError(
                f"ember.load: {self.ctx.name!r}: refused to restore state on a "
                f"{type(inst).__name__} (only OrderedDict state is allowed)"
            )
        if isinstance(inst, collections.OrderedDict):
            self.stack.pop()
            _set_plain_state(self.ctx, inst, state)
            return
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def _check_cls(self, cls):
        if self.ctx.weights_only and cls not in _CONSTRUCTIBLE and not _is_user_class(cls):
            raise pickle.UnpicklingError(
                f"ember.load: {self.ctx.name!r}: refused to construct {cls!r}"
            )

    def load_newobj(self):
        self._check_cls(self.stack[-2])
        super().load_newobj()

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        self._check_cls(self.stack[-3])
        super().load_newobj_ex()

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def load_reduce(self):
        func = self.stack[-2]
        if self.ctx.weights_only and not callable(func):
            raise pickle.UnpicklingError(f"ember.load: {self.ctx.name!r}: REDUCE on {func!r}")
        super().load_reduce()

    dispatch[pickle.REDUCE[0]] = load_reduce


def _is_user_class(cls):
    return isinstance(cls, type) and any(cls is obj for obj in _USER_SAFE_GLOBALS.values())


def _unpickle(data, ctx, persistent_load):
    f = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    return _RestrictedUnpickler(f, ctx, persistent_load).load()


def _storage_pid(ctx, pid, n):
    if not isinstance(pid, tuple) or len(pid) != n or pid[0] not in ("storage", b"storage"):
        raise pickle.UnpicklingError(f"ember.load: {ctx.name!r}: unknown persistent id {pid!r}")
    stype, key, location = pid[1], pid[2], pid[3]
    if isinstance(location, bytes):
        location = location.decode("ascii")
    if not isinstance(stype, _StorageType):
        raise pickle.UnpicklingError(f"ember.load: {ctx.name!r}: bad storage type {stype!r}")
    return stype, str(key), str(location), int(pid[4])


def _find_prefix(zf, ctx):
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            raise RuntimeError(
                f"ember.load: {ctx.name!r} is a TorchScript archive (torch.jit.save); ember "
                "reads torch.save checkpoints only"
            )
        raise ctx.corrupt("no <archive>/data.pkl record in the zip file")
    return pkl[0][: -len("data.pkl")]


def load_zip(source, name, map_location, weights_only, mmap):
    """Load a PyTorch zip checkpoint from a path or bytes (see module docs)."""
    ctx = _Context(name, map_location, weights_only)
    try:
        zf = zipfile.ZipFile(source if isinstance(source, str) else io.BytesIO(source))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ctx.corrupt(f"unreadable zip archive ({e})") from None
    with zf:
        prefix = _find_prefix(zf, ctx)
        try:
            return _load_zip_records(zf, prefix, ctx, source if mmap else None)
        except (pickle.UnpicklingError, RuntimeError, MemoryError):
            raise
        except Exception as e:  # noqa: BLE001 - any other failure of a damaged file
            raise ctx.corrupt(f"{type(e).__name__}: {e}") from None


def _read_record(zf, name, ctx):
    try:
        return zf.read(name)
    except KeyError:
        raise ctx.corrupt(f"missing record {name}") from None
    except zipfile.BadZipFile as e:
        raise ctx.corrupt(f"damaged record {name} ({e})") from None


def _record_data_offset(path, info):
    """Byte offset of a stored record's data (after its local header) in the file at `path`."""
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        head = fh.read(30)
    if head[:4] != b"PK\x03\x04":
        raise RuntimeError(f"bad local header for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _load_zip_records(zf, prefix, ctx, mmap_path):
    order = (
        _read_record(zf, prefix + "byteorder", ctx)
        if prefix + "byteorder" in zf.namelist()
        else b"little"
    )
    if order not in (b"little", b"big"):
        raise ctx.corrupt(f"unknown byteorder {order!r}")
    ctx.big_endian = order == b"big"
    pkl = _read_record(zf, prefix + "data.pkl", ctx)

    def persistent_load(pid):
        stype, key, location, numel = _storage_pid(ctx, pid, 5)
        if key in ctx.storages:
            return ctx.storages[key]
        st = _Storage(ctx, key, stype, location, numel)
        rec = f"{prefix}data/{key}"
        if mmap_path is not None:
            info = zf.getinfo(rec)
            if info.compress_type != zipfile.ZIP_STORED:
                raise ctx.corrupt(f"record {rec} is compressed; mmap needs stored records")
            off = _record_data_offset(mmap_path, info)
            st.raw = (
                np.memmap(mmap_path, dtype=np.uint8, mode="r", offset=off, shape=(info.file_size,))
                if info.file_size
                else b""
            )
        else:
            st.raw = _read_record(zf, rec, ctx)
        itemsize = _ITEMSIZE[stype.dtype_name] if stype.dtype_name else 1
        if len(st.raw) != numel * itemsize:
            raise ctx.corrupt(
                f"storage {key} has {len(st.raw)} bytes, its header says {numel} x {itemsize}"
            )
        ctx.storages[key] = st
        return st

    return _unpickle(pkl, ctx, persistent_load)


def load_legacy(data, name, map_location, weights_only):
    """Load a legacy (non-zip) PyTorch checkpoint from its bytes (see module docs)."""
    ctx = _Context(name, map_location, weights_only)
    try:
        return _load_legacy(data, ctx)
    except (pickle.UnpicklingError, RuntimeError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - any other failure of a damaged file
        raise ctx.corrupt(f"{type(e).__name__}: {e}") from None


def _load_legacy(data, ctx):
    f = io.BytesIO(data)

    def no_pid(pid):
        raise pickle.UnpicklingError(f"ember.load: {ctx.name!r}: unexpected persistent id")

    if _unpickle(f, ctx, no_pid) != MAGIC_NUMBER:
        raise ctx.corrupt("invalid magic number")
    version = _unpickle(f, ctx, no_pid)
    if version != PROTOCOL_VERSION:
        raise ctx.corrupt(f"invalid protocol version {version!r}")
    sys_info = _unpickle(f, ctx, no_pid)
    if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
        ctx.big_endian = True
    views = {}

    def persistent_load(pid):
        stype, key, location, numel = _storage_pid(ctx, pid, 6)
        view = pid[5]
        if key not in ctx.storages:
            ctx.storages[key] = _Storage(ctx, key, stype, location, numel)
        st = ctx.storages[key]
        if view is None:
            return st
        view_key, offset, size = view
        if view_key not in views:
            v = _Storage(ctx, str(view_key), stype, location, int(size))
            v.root, v.base_offset = st, int(offset)
            views[view_key] = v
        return views[view_key]

    # Pass 1 (builds nothing) learns every storage's dtype, which sizing its data needs.
    start = f.tell()
    ctx.dry = True
    _unpickle(f, ctx, persistent_load)
    ctx.dry = False
    keys = _unpickle(f, ctx, no_pid)
    if not isinstance(keys, list):
        raise ctx.corrupt("bad storage key list")
    for key in keys:
        st = ctx.storages.get(str(key))
        if st is None:
            raise ctx.corrupt(f"storage {key!r} is not referenced")
        head = f.read(8)
        if len(head) != 8:
            raise ctx.corrupt(f"truncated data for storage {key!r}")
        (numel,) = struct.unpack("<q", head)
        itemsize = _ITEMSIZE[st.stype.dtype_name] if st.stype.dtype_name else 1
        nbytes = numel * itemsize
        if numel < 0 or numel != st.numel:
            raise ctx.corrupt(f"storage {key!r} has {numel} elements, its header says {st.numel}")
        st.raw = f.read(nbytes)
        if len(st.raw) != nbytes:
            raise ctx.corrupt(f"truncated data for storage {key!r}")
    if f.read(1):
        raise ctx.corrupt("trailing bytes after the last storage")
    for v in views.values():
        v.raw = v.root.raw
        v.numel = v.root.numel
        v._tensors = v.root._tensors
    missing = [k for k, s in ctx.storages.items() if s.raw is None]
    if missing:
        raise ctx.corrupt(f"no data for storages {missing}")
    # Pass 2: the real objects.
    f.seek(start)
    return _unpickle(f, ctx, persistent_load)


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
