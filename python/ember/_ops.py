"""Top-level functions: creation, random, and the torch.* mirror of Tensor methods."""

import builtins
import collections.abc as _abc
import math
from typing import Callable

import numpy as np

from . import _C, _device, _dtype
from ._device import _as_device
from ._oom import numpy_oom
from ._tensor import Size, Tensor, return_types

# ---------------------------------------------------------------- creation


def _sizes(size):
    if len(size) == 1 and isinstance(size[0], (list, tuple, Size)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)) or isinstance(s, builtins.bool):
            raise TypeError(
                f"size must be a sequence of ints, but got an element of type {type(s).__name__}"
            )
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return out


def _finish(t, device=None, requires_grad=False):
    if device is None:
        device = _device._default[0]  # ember.set_default_device / `with ember.device(...)`
    if device is not None:
        d = _as_device(device)
        if d.type != "cpu":
            t = t.to(d)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(arr, from_python):
    if arr.dtype.kind == "f" and from_python:
        return _dtype.get_default_dtype()
    if arr.dtype.kind == "b":
        return _dtype.bool
    if arr.dtype.kind in "iu" and from_python:
        return _dtype.int64
    return _dtype.from_numpy_dtype(arr.dtype)


def _check_ragged(data, depth=0):
    """Raise ValueError for ragged nested sequences, as PyTorch does."""
    if isinstance(data, (list, tuple)):
        lens = set()
        for x in data:
            if isinstance(x, (list, tuple)):
                lens.add(len(x))
                _check_ragged(x, depth + 1)
            else:
                lens.add(None)
        if len(lens) > 1:
            first = next(iter(x for x in data))
            exp = len(first) if isinstance(first, (list, tuple)) else 0
            bad = next(
                (len(x) if isinstance(x, (list, tuple)) else 0)
                for x in data
                if (len(x) if isinstance(x, (list, tuple)) else 0) != exp
            )
            raise ValueError(f"expected sequence of length {exp} at dim {depth + 1} (got {bad})")


def _from_numpy_array(arr, dtype):
    arr = np.asarray(arr)
    if not arr.flags.c_contiguous:
        arr = arr.copy(order="C")
    if dtype is not None and dtype.name == "bfloat16":
        t = _C._from_bytes(
            np.ascontiguousarray(arr.astype(np.float32)).tobytes(), list(arr.shape), _dtype.float32
        )
        return t.to(dtype)
    if dtype is not None:
        arr = arr.astype(_dtype.to_numpy_dtype(dtype), order="C", copy=False)
    dt = dtype or _dtype.from_numpy_dtype(arr.dtype)
    return _C._from_bytes(arr.tobytes(), list(arr.shape), dt)


def _to_array(data):
    """(numpy array, inferred ember dtype) of arbitrary tensor-like data."""
    if isinstance(data, Tensor):
        if data.dtype == _dtype.bfloat16:
            return None, data.dtype
        return data.detach().cpu().numpy(), data.dtype
    if isinstance(data, np.ndarray):
        return data, _infer_dtype(data, False)
    if isinstance(data, np.generic):
        a = np.asarray(data)
        return a, _infer_dtype(a, False)
    if isinstance(data, (list, tuple)):
        _check_ragged(data)
        has_tensor = _contains_tensor(data)
        if has_tensor:
            data = _tensors_to_lists(data)
        try:
            arr = np.array(data)
        except ValueError as e:
            raise ValueError(
                f"tensor(): could not build a tensor from ragged nested sequences: {e}"
            ) from None
        if arr.dtype == object or (arr.dtype == np.uint64 and not has_tensor):
            if builtins.all(isinstance(x, int) for x in arr.reshape(-1).tolist()):
                # Python ints outside int64 (numpy gives uint64 or object for them)
                raise RuntimeError("Overflow when unpacking long")
            raise TypeError(f"tensor(): could not infer dtype of {type(data).__name__} elements")
        if arr.dtype.kind in "US":
            raise TypeError("new(): invalid data type 'str'")
        return arr, _infer_dtype(arr, not has_tensor)
    if isinstance(data, builtins.bool):
        return np.array(data), _dtype.bool
    if isinstance(data, int):
        if not -(2**63) <= data < 2**63:
            raise RuntimeError("Overflow when unpacking long")
        return np.array(data, dtype=np.int64), _dtype.int64
    if isinstance(data, float):
        return np.array(data, dtype=np.float64), _dtype.get_default_dtype()
    if isinstance(data, complex):
        return np.array(data, dtype=np.complex128), _infer_dtype(np.array(data), True)
    if hasattr(data, "__array__"):
        a = np.asarray(data)
        return a, _infer_dtype(a, False)
    if isinstance(data, _abc.Sequence) and not isinstance(data, (str, bytes)):
        # Any other sequence (deque, range, ...) is read like a list, as PyTorch does.
        return _to_array(list(data))
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _contains_tensor(data):
    for x in data:
        if isinstance(x, Tensor):
            return True
        if isinstance(x, (list, tuple)) and _contains_tensor(x):
            return True
    return False


def _tensors_to_lists(data):
    out = []
    for x in data:
        if isinstance(x, Tensor):
            if x.numel() != 1 and x.dim() == 0:
                raise ValueError("only one element tensors can be converted to Python scalars")
            out.append(x.detach().cpu().numpy())
        elif isinstance(x, (list, tuple)):
            out.append(_tensors_to_lists(x))
        else:
            out.append(x)
    return out


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    if isinstance(data, Tensor) and data.dtype == _dtype.bfloat16:
        t = data.detach().clone()
        t = t.to(dtype) if dtype is not None else t
        return _finish(t, device, requires_grad)
    arr, inferred = _to_array(data)
    t = _from_numpy_array(arr, dtype or inferred)
    return _finish(t, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor):
        t = data
        if dtype is not None and dtype != t.dtype:
            t = t.to(dtype)
        if device is not None:
            t = t.to(device)
        return t
    if isinstance(data, np.ndarray) and data.dtype.name in _dtype._NP_NAMES:
        # shares the array's memory (as PyTorch); converting the dtype or device copies
        t = from_numpy(data)
        if dtype is not None and dtype != t.dtype:
            t = t.to(dtype)
        return t.to(device) if device is not None else t
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False) -> Tensor:
    if (
        not copy
        and not isinstance(obj, (Tensor, np.ndarray))
        and hasattr(obj, "__dlpack__")
        and hasattr(obj, "__dlpack_device__")
    ):
        # any DLPack producer (e.g. a torch.Tensor) is viewed, not copied, as in PyTorch
        from . import _interop

        try:
            obj = _interop.from_dlpack(obj)
        except (BufferError, RuntimeError, TypeError):
            pass  # e.g. a GPU producer: the copying path below
    if copy is False:
        _check_can_alias(obj, dtype)
    t = as_tensor(obj, dtype=dtype, device=device)
    if copy:
        t = t.clone()
    return t.requires_grad_(requires_grad) if requires_grad else t


# PyTorch's C++ scalar-type names, for its "can't alias" messages
_SCALAR_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
}


def _check_can_alias(obj, dtype):
    """asarray(copy=False): ValueError where sharing memory is impossible (PyTorch's messages)."""
    if isinstance(obj, Tensor) or (isinstance(obj, np.ndarray) and obj.dtype.name in _SCALAR_NAMES):
        src = obj.dtype if isinstance(obj, Tensor) else _dtype.from_numpy_dtype(obj.dtype)
        if dtype is not None and dtype != src:
            raise ValueError(
                f"can't alias tensor with dtype '{_SCALAR_NAMES[src.name]}' into dtype "
                f"'{_SCALAR_NAMES[dtype.name]}'."
            )
        if isinstance(obj, np.ndarray) and not (obj.flags.writeable and obj.flags.aligned):
            raise ValueError(
                "asarray(copy=False): ember copies read-only and unaligned numpy arrays (its "
                "tensors are always writable); pass copy=None to allow the copy."
            )
    elif not hasattr(obj, "__dlpack__") and not isinstance(obj, np.ndarray):
        raise ValueError("can't alias arbitrary sequence into a tensor.")


def from_numpy(arr) -> Tensor:
    """A CPU tensor sharing `arr`'s memory (PyTorch's torch.from_numpy; see ember._interop)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    from . import _interop

    if arr.dtype.kind == "c" and arr.dtype.name in _dtype._NP_NAMES:
        # a complex array is shared through its (re, im) float view
        real = arr[..., None].view(arr.real.dtype)
        return _C.view_as_complex(_interop.share_numpy(real))
    return _interop.share_numpy(arr)


def _rebuild_tensor(arr, dtype_name, requires_grad, device=None):
    t = _from_numpy_array(arr, _dtype.dtype(dtype_name))
    if device is not None:
        t = t.to(device)
    return t.requires_grad_(requires_grad) if requires_grad else t


def _factory(fill) -> Callable[..., Tensor]:
    def f(
        *size,
        out=None,
        dtype=None,
        layout=None,
        device=None,
        requires_grad=False,
        pin_memory=False,
        memory_format=None,
    ):
        dt = dtype or _dtype.get_default_dtype()
        t = _C.zeros(_sizes(size), dt) if fill == 0 else _C.full(_sizes(size), fill, dt)
        return _finish(t, device, requires_grad)

    return f


zeros = _factory(0)
ones = _factory(1)
empty = _factory(0)


def full(
    size,
    fill_value,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
) -> Tensor:
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        if isinstance(fill_value, builtins.bool):
            dtype = _dtype.bool
        elif isinstance(fill_value, int):
            dtype = _dtype.int64
        elif isinstance(fill_value, complex):
            from . import _complex

            dtype = _complex.default_complex()
        else:
            dtype = _dtype.get_default_dtype()
    if dtype.is_complex:
        from . import _complex

        shape = _sizes((size,) if isinstance(size, int) else (size,))
        return _finish(_complex.full(shape, fill_value, dtype), device, requires_grad)
    return _finish(
        _C.full(_sizes((size,) if isinstance(size, int) else (size,)), fill_value, dtype),
        device,
        requires_grad,
    )


def _like(fn) -> Callable[..., Tensor]:
    def f(
        input,
        *,
        dtype=None,
        layout=None,
        device=None,
        requires_grad=False,
        memory_format=None,
        **kw,
    ):
        return fn(
            *input.shape,
            dtype=dtype or input.dtype,
            device=device or input.device,
            requires_grad=requires_grad,
        )

    return f


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)


def full_like(
    input,
    fill_value,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    memory_format=None,
) -> Tensor:
    return full(
        input.shape,
        fill_value,
        dtype=dtype or input.dtype,
        device=device or input.device,
        requires_grad=requires_grad,
    )


def rand_like(input, *, dtype=None, device=None, requires_grad=False, **kw) -> Tensor:
    return rand(
        *input.shape,
        dtype=dtype or input.dtype,
        device=device or input.device,
        requires_grad=requires_grad,
    )


def randn_like(input, *, dtype=None, device=None, requires_grad=False, **kw) -> Tensor:
    return randn(
        *input.shape,
        dtype=dtype or input.dtype,
        device=device or input.device,
        requires_grad=requires_grad,
    )


def randint_like(
    input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, **kw
) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(
        low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device
    )


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


def arange(
    start=0,
    end=None,
    step=1,
    *,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
) -> Tensor:
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_float = builtins.any(isinstance(v, float) for v in (start, end, step))
        dtype = _dtype.get_default_dtype() if is_float else _dtype.int64
    return _finish(_C.arange(float(start), float(end), float(step), dtype), device, requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):  # noqa: A001
    return arange(
        start,
        end + (step if end is not None else 0) * 0.5 if end is not None else None,
        step,
        dtype=dtype or _dtype.get_default_dtype(),
        device=device,
        requires_grad=requires_grad,
    )


def linspace(
    start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    return _finish(
        _C.linspace(
            float(_num(start)), float(_num(end)), int(steps), dtype or _dtype.get_default_dtype()
        ),
        device,
        requires_grad,
    )


def logspace(
    start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False
) -> Tensor:
    lin = _C.linspace(float(start), float(end), int(steps), _dtype.float64)
    t = (float(base) ** lin).to(dtype or _dtype.get_default_dtype())
    return _finish(t, device, requires_grad)


def eye(
    n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False
) -> Tensor:
    return _finish(
        _C.eye(int(n), int(n if m is None else m), dtype or _dtype.get_default_dtype()),
        device,
        requires_grad,
    )


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(_C.full([], s, dtype or _dtype.get_default_dtype()), device, requires_grad)


# ---------------------------------------------------------------- random

Generator = _C.Generator


def manual_seed(seed):
    _C.manual_seed(int(seed))
    from . import random as _random

    _random._seeded(int(seed))
    return default_generator


def seed():
    import time

    s = int(time.time_ns() % (2**63))
    _C.manual_seed(s)
    return s


def initial_seed():
    return _C.initial_seed()


class _DefaultGen:
    def manual_seed(self, s):
        manual_seed(s)
        return self

    def initial_seed(self):
        return _C.initial_seed()


default_generator = _DefaultGen()


def _gen(g):
    return None if g is None or isinstance(g, _DefaultGen) else g


def rand(
    *size,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
) -> Tensor:
    if dtype is not None and dtype.is_complex:
        from . import _complex

        return _finish(_complex.rand(_sizes(size), dtype, _gen(generator)), device, requires_grad)
    return _finish(
        _C.rand(_sizes(size), dtype or _dtype.get_default_dtype(), _gen(generator)),
        device,
        requires_grad,
    )


def randn(
    *size,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
) -> Tensor:
    if dtype is not None and dtype.is_complex:
        from . import _complex

        return _finish(_complex.randn(_sizes(size), dtype, _gen(generator)), device, requires_grad)
    return _finish(
        _C.randn(_sizes(size), dtype or _dtype.get_default_dtype(), _gen(generator)),
        device,
        requires_grad,
    )


def randint(
    low=0,
    high=None,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
) -> Tensor:
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    return _finish(
        _C.randint(int(low), int(high), _sizes((size,)), dtype or _dtype.int64, _gen(generator)),
        device,
        requires_grad,
    )


def randperm(
    n,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
    pin_memory=False,
) -> Tensor:
    return _finish(
        _C.randperm(int(n), dtype or _dtype.int64, _gen(generator)), device, requires_grad
    )


def normal(
    mean=0.0,
    std=1.0,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    device=None,
    requires_grad=False,
) -> Tensor:
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        m = mean if isinstance(mean, Tensor) else None
        s = std if isinstance(std, Tensor) else None
        shape = (m if m is not None else s).shape
        if m is not None and s is not None:
            shape = broadcast_shapes(m.shape, s.shape)
        ref = m if m is not None else s
        z = _C.randn(list(shape), ref.dtype, _gen(generator))
        if ref.device.type != "cpu":
            z = z.to(ref.device)
        return z * std + mean
    return _finish(
        _C.randn(_sizes((size,)), dtype or _dtype.get_default_dtype(), _gen(generator)) * std
        + mean,
        device,
        requires_grad,
    )


def bernoulli(input, p=None, *, generator=None, out=None):
    return input.bernoulli(p, generator=generator)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    return _C.multinomial(input, int(num_samples), replacement, _gen(generator))


def poisson(input, generator=None):
    lam = input.detach().cpu().numpy()
    rng = np.random.default_rng(
        int(_C.randint(0, 2**31 - 1, [], _dtype.int64, _gen(generator)).item())
    )
    return tensor(rng.poisson(lam).astype(lam.dtype))


def get_rng_state():
    return tensor([_C.initial_seed()])


def set_rng_state(state):
    _C.manual_seed(int(state[0].item()))


# ---------------------------------------------------------------- shape utilities


def broadcast_shapes(*shapes):
    out = []
    for s in shapes:
        s = list(s) if not isinstance(s, int) else [s]
        n = builtins.max(len(out), len(s))
        out = [1] * (n - len(out)) + out
        s = [1] * (n - len(s)) + s
        r = []
        for i, (a, b) in enumerate(zip(out, s)):
            if a != b and a != 1 and b != 1:
                raise RuntimeError(
                    f"Shape mismatch: objects cannot be broadcast to a single shape. Mismatch is at dim {i}: {a} vs {b}"
                )
            r.append(b if a == 1 else a)
        out = r
    return Size(out)


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(shape) for t in tensors)


def broadcast_to(input, size) -> Tensor:
    return input.expand(*size)


def cat(tensors, dim=0, *, out=None) -> Tensor:
    return _C.cat(list(tensors), dim)


concat = cat
concatenate = cat


def stack(tensors, dim=0, *, out=None) -> Tensor:
    return _C.stack(list(tensors), dim)


def hstack(tensors) -> Tensor:
    ts = [atleast_1d(t) for t in tensors]
    return cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors) -> Tensor:
    return cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors):
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    return hstack([t.reshape(-1, 1) if t.dim() <= 1 else t for t in tensors])


def atleast_1d(t):
    return t.reshape(1) if t.dim() == 0 else t


def atleast_2d(t):
    return t.reshape(1, -1) if t.dim() < 2 else t


def atleast_3d(t):
    if t.dim() == 0:
        return t.reshape(1, 1, 1)
    if t.dim() == 1:
        return t.reshape(1, -1, 1)
    if t.dim() == 2:
        return t.unsqueeze(-1)
    return t


def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    return _C.where_(condition, input, other)


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    ts = list(tensors)
    if indexing == "xy" and len(ts) >= 2:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.numel() for t in ts]
    out = []
    for i, t in enumerate(ts):
        s = [1] * len(ts)
        s[i] = -1
        out.append(t.reshape(s).expand(shape))
    if indexing == "xy" and len(ts) >= 2:
        out = [o.transpose(0, 1) for o in out]
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def einsum(equation, *operands) -> Tensor:
    from ._einsum import einsum as _e

    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    return _e(equation, *operands)


def tensordot(a, b, dims=2) -> Tensor:
    if isinstance(dims, int):
        da = list(builtins.range(a.dim() - dims, a.dim()))
        db = list(builtins.range(dims))
    else:
        da, db = [list(d) if isinstance(d, (list, tuple)) else [d] for d in dims]
    fa = [i for i in builtins.range(a.dim()) if i not in da]
    fb = [i for i in builtins.range(b.dim()) if i not in db]
    for i, j in zip(da, db):
        # A size-1 side broadcasts (as PyTorch): contract the other side by summing it.
        if a.shape[i] == 1 and b.shape[j] != 1:
            b = b.sum(j, keepdim=True)
        elif b.shape[j] == 1 and a.shape[i] != 1:
            a = a.sum(i, keepdim=True)
        elif a.shape[i] != b.shape[j]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[i]} in dim "
                f"{i} and second has size {b.shape[j]} in dim {j}"
            )
    # Explicit sizes: reshape's -1 cannot be inferred when an empty dim makes numel 0.
    k = math.prod([a.shape[i] for i in da])
    pa = a.permute(*(fa + da)).reshape(math.prod([a.shape[i] for i in fa]), k)
    pb = b.permute(*(db + fb)).reshape(k, math.prod([b.shape[i] for i in fb]))
    return (pa @ pb).reshape(*[a.shape[i] for i in fa], *[b.shape[i] for i in fb])


def cdist(x1, x2, p=2.0):
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return d.norm(p=p, dim=-1)


def block_diag(*tensors):
    ts = [
        t.reshape(1, -1) if t.dim() == 1 else (t.reshape(1, 1) if t.dim() == 0 else t)
        for t in tensors
    ]
    rows = builtins.sum(t.shape[0] for t in ts)
    cols = builtins.sum(t.shape[1] for t in ts)
    out = zeros(rows, cols, dtype=ts[0].dtype)
    r = c = 0
    for t in ts:
        out[r : r + t.shape[0], c : c + t.shape[1]] = t
        r += t.shape[0]
        c += t.shape[1]
    return out


def diag(input, diagonal=0) -> Tensor:
    if input.dim() == 1:
        n = input.shape[0] + builtins.abs(diagonal)
        out = zeros(n, n, dtype=input.dtype)
        i = arange(input.shape[0])
        r, c = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
        return index_put(out, (r, c), input)
    return input.diagonal(diagonal).clone()


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    n = input.shape[-1] + builtins.abs(offset)
    out = zeros(*input.shape[:-1], n, n, dtype=input.dtype)
    i = arange(input.shape[-1])
    r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
    idx = [None] * (input.dim() - 1) + [r, c]
    return _C.index_put(out, idx, input)


def trace(input):
    return input.diagonal().sum()


def cartesian_prod(*tensors):
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1) if len(tensors) > 1 else tensors[0]


def index_put(input, indices, values, accumulate=False):
    return _C.index_put(input, list(indices), values, accumulate)


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    if side is not None:
        right = side == "right"
    s = sorted_sequence.detach().cpu().numpy()
    v = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
    if s.ndim == 1:
        r = np.searchsorted(s, v, side="right" if right else "left")
    else:
        r = np.stack(
            [
                np.searchsorted(a, b, side="right" if right else "left")
                for a, b in zip(s.reshape(-1, s.shape[-1]), v.reshape(-1, v.shape[-1]))
            ]
        ).reshape(v.shape)
    return tensor(r, dtype=_dtype.int32 if out_int32 else _dtype.int64)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@numpy_oom("histc")
def histc(input, bins=100, min=0, max=0):  # noqa: A002
    a = input.detach().cpu().numpy().astype(np.float64)
    lo, hi = (float(a.min()), float(a.max())) if min == max else (min, max)
    h, _ = np.histogram(a, bins=bins, range=(lo, hi))
    return tensor(h.astype(np.float32), dtype=input.dtype)


def bincount(input, weights=None, minlength=0):
    a = input.detach().cpu().numpy()
    w = weights.detach().cpu().numpy() if weights is not None else None
    r = np.bincount(a, w, minlength)
    return tensor(r) if w is not None else tensor(r.astype(np.int64))


def promote_types(a, b):
    return _C.promote_types(a, b)


def result_type(a, b):
    return _C.result_type(a, b)


def can_cast(from_, to):
    if from_.is_floating_point and not to.is_floating_point:
        return False
    if from_ != _dtype.bool and to == _dtype.bool:
        return False
    return True


def is_tensor(obj) -> builtins.bool:
    return isinstance(obj, Tensor)


def is_floating_point(t) -> builtins.bool:
    return t.is_floating_point()


def is_nonzero(t):
    if t.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return builtins.bool(t.item())


def numel(t) -> builtins.int:
    return t.numel()


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return return_types.std_mean(
        input.std(dim, unbiased, keepdim, correction=correction), input.mean(dim, keepdim)
    )


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return return_types.var_mean(
        input.var(dim, unbiased, keepdim, correction=correction), input.mean(dim, keepdim)
    )


def clamp(input, min=None, max=None, *, out=None) -> Tensor:  # noqa: A002
    return _C.clamp(input, min, max)


clip = clamp


def add(input, other, *, alpha=1, out=None) -> Tensor:
    if not isinstance(input, Tensor):
        return _C.binary(input, other * alpha if alpha != 1 else other, "add")
    return input.add(other, alpha=alpha)


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    if not isinstance(input, Tensor):
        return _C.binary(input, other * alpha if alpha != 1 else other, "sub")
    return input.sub(other, alpha=alpha)


subtract = sub


def rsub(input, other, *, alpha=1):
    return _C.binary(other, input * alpha if alpha != 1 else input, "sub")


def mul(input, other, *, out=None) -> Tensor:
    return _C.binary(input, other, "mul")


multiply = mul


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    return _C.div(input, other, rounding_mode)


divide = div
true_divide = div


def pow(input, exponent, *, out=None) -> Tensor:  # noqa: A001
    if not isinstance(input, Tensor):
        return _C.binary(input, exponent, "pow")
    return input.pow(exponent)


def float_power(input, exponent):
    return (
        input.float_power(exponent)
        if isinstance(input, Tensor)
        else tensor(input, dtype=_dtype.float64).float_power(exponent)
    )


def max(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    return input.max(dim, keepdim)


def min(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    return input.min(dim, keepdim)


def sum(input, dim=None, keepdim=False, *, dtype=None, out=None) -> Tensor:  # noqa: A001
    return input.sum(dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None, out=None) -> Tensor:
    return input.mean(dim, keepdim, dtype=dtype)


def matmul(input, other, *, out=None) -> Tensor:
    return _C.matmul(input, other)


def abs(input, *, out=None) -> Tensor:  # noqa: A001
    return input.abs()


def round(input, *, decimals=0, out=None):  # noqa: A001
    return input.round(decimals)


def numel_(t):
    return t.numel()


def softmax(input, dim, dtype=None) -> Tensor:
    return input.softmax(dim, dtype)


def log_softmax(input, dim, dtype=None) -> Tensor:
    return input.log_softmax(dim, dtype)


def sigmoid(input, *, out=None) -> Tensor:
    return _C.unary(input, "sigmoid")


def relu(input) -> Tensor:
    return _C.unary(input, "relu")


def relu_(input):
    return input.relu_()


def dropout(input, p=0.5, train=True) -> Tensor:
    from .nn import functional as F

    return F.dropout(input, p, train)


def logical_not(input, *, out=None):
    return _C.unary(input, "logical_not")


def bitwise_not(input, *, out=None):
    return _C.unary(input, "bitwise_not")


def cummax(input, dim):
    return input.cummax(dim)


def cummin(input, dim):
    return input.cummin(dim)


def polygamma(n, input):
    return input.polygamma(n)


def _special_binary(name):
    def f(input, other, *, out=None):
        return _C.special_binary(input, other, name)

    f.__name__ = name
    return f


hypot = _special_binary("hypot")
logaddexp = _special_binary("logaddexp")
logaddexp2 = _special_binary("logaddexp2")
xlogy = _special_binary("xlogy")
copysign = _special_binary("copysign")


def _mirror(names):
    g = globals()
    for n in names:
        if n in g:
            continue
        g[n] = (lambda name: lambda input, *a, **k: getattr(input, name)(*a, **k))(n)
        g[n].__name__ = n


_mirror(
    """neg negative absolute exp exp2 log log2 log10 log1p expm1 sqrt rsqrt sin cos tan asin acos atan arcsin arccos
    arctan sinh cosh tanh asinh acosh atanh arcsinh arccosh arctanh erf erfc floor ceil trunc fix frac sign sgn
    reciprocal square isnan isinf isfinite isposinf isneginf signbit nan_to_num remainder fmod atan2 arctan2 maximum
    minimum fmax fmin bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift logical_and logical_or
    logical_xor eq ne lt le gt ge not_equal less less_equal greater greater_equal floor_divide equal allclose isclose
    lerp addcmul addcdiv masked_fill masked_select amax amin aminmax argmax argmin prod var std logsumexp norm all any
    cumsum cumprod nansum nanmean count_nonzero reshape view flatten unflatten ravel squeeze unsqueeze transpose t
    permute movedim moveaxis swapaxes swapdims narrow select diagonal split tensor_split chunk unbind flip fliplr flipud
    roll repeat_interleave tril triu gather scatter scatter_add scatter_reduce index_select index_add index_fill
    index_copy take take_along_dim nonzero argwhere mm bmm mv dot inner outer ger addmm baddbmm addbmm addmv
    clone detach contiguous sort argsort topk kthvalue median nanmedian mode unique unique_consecutive msort
    as_strided logcumsumexp diff hypot logaddexp logaddexp2 xlogy sinc deg2rad rad2deg copysign heaviside
    nextafter frexp ldexp i0 erfinv polygamma digamma lgamma mvlgamma""".split()
)


def numel__(t):
    return t.numel()


def squeeze_copy(t, dim=None):
    return t.squeeze(dim).clone()


def is_grad_enabled():
    return _C.is_grad_enabled()


e = math.e
pi = math.pi
inf = math.inf
nan = math.nan
newaxis = None
