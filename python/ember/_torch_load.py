"""Load PyTorch checkpoints (zip and legacy, see `_torch_format`) without torch or code.

Loading uses a restricted unpickler: only the globals PyTorch's own `weights_only=True`
unpickler allows resolve (tensor/parameter rebuild functions, storage types, dtypes,
`torch.Size`, `torch.device`, OrderedDict/Counter, set, bytearray, complex, `_codecs.encode`),
each to an ember counterpart; nothing is imported. Any other global raises
`pickle.UnpicklingError` naming it. BUILD (state restore) is allowed only on OrderedDicts (the
`_metadata` of state dicts, never shadowing a method); NEWOBJ only for allowed container types;
Tensor and Parameter are never called. `add_safe_globals` allows more globals, as PyTorch's.
With `weights_only=False` other globals are imported as ordinary pickle would (the caller trusts
the file), and torch globals resolve to ember's counterparts (`torch.nn.modules.linear.Linear`
-> `ember.nn.Linear`, `torch.nn.functional.relu` -> `ember.nn.functional.relu`), so a whole model
saved by `torch.save(model)` loads as an ember model; torch objects ember lacks are refused.
"""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

import ember

from ._torch_format import (
    _ITEMSIZE,
    _STORAGES,
    _TORCH_DTYPES,
    MAGIC_NUMBER,
    PROTOCOL_VERSION,
    _dtype_name,
    _ember_dtype,
)

__all__ = [
    "load_zip",
    "load_legacy",
    "add_safe_globals",
    "get_safe_globals",
    "clear_safe_globals",
    "safe_globals",
    "unsafe_globals_in_pickle",
]


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
            if dtype_name == "bfloat16":
                t = _bytes_to_tensor(raw, dtype_name, [len(raw) // size])
            else:
                # one copy into the tensor (a memory-mapped record is read here)
                data = raw if isinstance(raw, bytes) else bytes(raw)
                dt = _ember_dtype(dtype_name)
                if dt.is_complex:  # stored as (re, im) pairs of its real dtype
                    real = ember.float32 if dtype_name == "complex64" else ember.float64
                    t = ember._C._from_bytes(data, [len(raw) // size, 2], real)
                    t = ember.view_as_complex(t)
                else:
                    t = ember._C._from_bytes(data, [len(raw) // size], dt)
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
    # legacy view storages start base_offset elements into their root: check the absolute view
    offset = int(offset) + storage.base_offset
    offset, size, stride = _check_view(ctx, storage, offset, size, stride, "tensor")
    base = storage.tensor(dtype_name)
    return ember.as_strided(base, size, stride, offset)


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
        # no dunders, and nothing that would shadow a method or property of the class
        if not isinstance(k, str) or k.startswith("__") or hasattr(type(obj), k):
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
        if not self.ctx.weights_only:
            # weights_only=False: the caller trusts the file (PyTorch then unpickles anything)
            if module.split(".")[0] != "torch":
                return super().find_class(module, name)
            found = _ember_counterpart(module, name)
            if found is not None:
                return found
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
        if not self.ctx.weights_only and _is_module(inst) and isinstance(state, dict):
            # a whole torch nn.Module: give the ember module its base attributes, then the
            # file's (PyTorch's Module.__setstate__ also fills in what old files lack)
            self.stack.pop()
            from .nn.modules.module import Module

            if "_parameters" not in inst.__dict__:
                Module.__init__(inst)
            inst.__dict__.update(state)
            return
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

    def _check_call(self, func):
        from .nn.parameter import Parameter

        # Tensor and Parameter are allowed only as the type argument of _rebuild_from_type_v2;
        # calling them would build tensors of any size from file data
        if self.ctx.weights_only and (not callable(func) or func in (ember.Tensor, Parameter)):
            raise pickle.UnpicklingError(f"ember.load: {self.ctx.name!r}: refused to call {func!r}")

    def load_reduce(self):
        self._check_call(self.stack[-2])
        super().load_reduce()

    dispatch[pickle.REDUCE[0]] = load_reduce

    def _instantiate(self, klass, args):  # the INST and OBJ opcodes (protocols 0 and 1)
        self._check_call(klass)
        super()._instantiate(klass, args)


def _is_module(obj):
    from .nn.modules.module import Module

    return isinstance(obj, Module)


def _ember_counterpart(module, name):
    """For weights_only=False: ember's object for a torch global (`torch.nn.Linear` ...)."""
    import importlib

    from .nn.modules.module import Module

    path = "ember" + module[len("torch") :]
    try:
        obj = getattr(importlib.import_module(path), name)
    except (ImportError, AttributeError):
        obj = None
    if obj is None and module.startswith("torch.nn.modules"):
        obj = getattr(ember.nn, name, None)  # ember keeps every module class in ember.nn
        if not (isinstance(obj, type) and issubclass(obj, Module)):
            obj = None
    return obj


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
