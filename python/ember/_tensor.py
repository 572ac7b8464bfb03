"""Tensor methods written in Python on top of ember._C (thin wrappers only)."""

import builtins
import collections
import numbers

from . import _C, _dtype
from ._device import _as_device, device
from ._formatting import tensor_str

Tensor = _C.Tensor


class Size(tuple):
    """torch.Size: a tuple of ints."""

    def __repr__(self):
        return f"ember.Size([{', '.join(str(x) for x in self)}])"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, k):
        r = tuple.__getitem__(self, k)
        return Size(r) if isinstance(k, slice) else r


def _rt(name, fields):
    return collections.namedtuple(name, fields)


class return_types:  # noqa: N801 - PyTorch's name
    max = _rt("max", ["values", "indices"])
    min = _rt("min", ["values", "indices"])
    sort = _rt("sort", ["values", "indices"])
    topk = _rt("topk", ["values", "indices"])
    kthvalue = _rt("kthvalue", ["values", "indices"])
    median = _rt("median", ["values", "indices"])
    mode = _rt("mode", ["values", "indices"])
    std_mean = _rt("std_mean", ["std", "mean"])
    var_mean = _rt("var_mean", ["var", "mean"])
    cummax = _rt("cummax", ["values", "indices"])
    cummin = _rt("cummin", ["values", "indices"])
    aminmax = _rt("aminmax", ["min", "max"])


def _dims(dim):
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        return list(dim)
    return dim


def _method(name, fn):
    fn.__name__ = name
    fn.__qualname__ = f"Tensor.{name}"
    setattr(Tensor, name, fn)


# ----- properties -----
Tensor.shape = property(lambda self: Size(self._shape))
Tensor.device = property(lambda self: device(self._device))
Tensor.is_cuda = property(lambda self: self._device != "cpu")
Tensor.is_cpu = property(lambda self: self._device == "cpu")
Tensor.layout = property(lambda self: "strided")
Tensor.T = property(lambda self: self.permute(*reversed(range(self.dim()))) if self.dim() else self)
Tensor.mT = property(lambda self: self.transpose(-2, -1))
Tensor.H = Tensor.T
Tensor.mH = Tensor.mT
Tensor.is_sparse = False
Tensor.is_quantized = False
Tensor.is_meta = False
Tensor.__array_priority__ = 1000


def size(self, dim=None):
    s = self._shape
    if dim is None:
        return Size(s)
    if self.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    n = len(s)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return s[dim]


def stride(self, dim=None):
    s = self._stride()
    return s if dim is None else s[dim]


_method("size", size)
_method("stride", stride)


def __repr__(self, *, tensor_contents=None):
    return tensor_str(self)


Tensor.__repr__ = __repr__
Tensor.__str__ = __repr__
Tensor.__format__ = lambda self, spec: (
    self.item().__format__(spec) if self.dim() == 0 else repr(self)
)


def numpy(self, *, force=False):
    if self.requires_grad and not force:
        raise RuntimeError(
            "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
        )
    if self._device != "cpu":
        if not force:
            raise TypeError(
                f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first."
            )
        return self.cpu().numpy(force=True)
    if self.dtype == _dtype.bfloat16:
        raise TypeError("Got unsupported ScalarType BFloat16")
    from ._interop import numpy_view

    # a view of the storage with the tensor's strides; the array keeps the storage alive
    return numpy_view(self)


_method("numpy", numpy)


# __array__, __array_wrap__ and DLPack live in _interop.py


def tolist(self):
    if self.dtype == _dtype.bfloat16:
        return self.float().tolist()
    a = self.detach().cpu().numpy()
    return a.tolist()


_method("tolist", tolist)


def __iter__(self):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(self.unbind(0))


Tensor.__iter__ = __iter__


def __reversed__(self):
    return iter(self.flip(0).unbind(0)) if self.dim() else iter([self])


Tensor.__reversed__ = __reversed__
Tensor.__contains__ = lambda self, x: builtins.bool((self == x).any().item())
Tensor.__deepcopy__ = lambda self, memo: _deepcopy(self, memo)
Tensor.__copy__ = lambda self: self


def _deepcopy(self, memo):
    if id(self) in memo:
        return memo[id(self)]
    with _C_no_grad():
        new = self.clone()
    new = type(self).__new__(type(self), new) if type(self) is not Tensor else new
    if type(self) is not Tensor:
        new.requires_grad_(self.requires_grad)
    elif self.is_leaf:
        new.requires_grad_(self.requires_grad)
    if self.grad is not None:
        new.grad = self.grad.clone()
    d = getattr(self, "__dict__", None)
    if d:
        import copy

        for k, v in d.items():
            setattr(new, k, copy.deepcopy(v, memo))
    memo[id(self)] = new
    return new


class _C_no_grad:
    def __enter__(self):
        self.prev = _C._set_grad_enabled(False)

    def __exit__(self, *a):
        _C._set_grad_enabled(self.prev)


def __reduce_ex__(self, proto):
    """Pickle (DataLoader workers, multiprocessing, copy.deepcopy): values, dtype,
    requires_grad and the device, as PyTorch keeps them."""
    from . import _ops

    t = self.detach()
    dev = None if t.device.type == "cpu" else str(t.device)
    t = t.cpu()
    if t.dtype == _dtype.bfloat16:
        t = t.float()  # numpy has no bfloat16; every bfloat16 value is a float32 value
    args = (t.numpy().copy(), self.dtype.name, self.requires_grad)
    return (_ops._rebuild_tensor, args + ((dev,) if dev else ()))


Tensor.__reduce_ex__ = __reduce_ex__


# ----- conversion -----
def to(self, *args, **kwargs):
    dtype = kwargs.pop("dtype", None)
    dev = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {list(kwargs)}")
    for a in args:
        if isinstance(a, _C.dtype):
            dtype = a
        elif isinstance(a, (str, device)):
            dev = a
        elif isinstance(a, Tensor):
            dtype, dev = a.dtype, a.device
        elif isinstance(a, builtins.bool):
            pass
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    t = self
    if dev is not None:
        t = _to_device(t, _as_device(dev))
    if dtype is not None and dtype != t.dtype:
        t = t._to(dtype)
    if copy and t is self:
        t = t.clone()
    return t


def _to_device(t, d):
    if d.type == "gpu" and d.index not in (None, 0):
        # ember drives one GPU; landing on it silently would hide a multi-GPU script's bug.
        raise RuntimeError(
            f"to(): invalid device ordinal: '{d}': ember has one GPU device ('gpu:0' / 'cuda:0')"
        )
    if d.type == t.device.type:
        return t
    from . import _gpu

    return _gpu.to_device(t, d)


_method("to", to)

_C_float, _C_int = Tensor.__float__, Tensor.__int__


def _one_element(self):
    if self.numel() != 1:
        # PyTorch's type: ValueError (float(t) / int(t) on a multi-element tensor).
        raise ValueError(
            "only one element tensors can be converted to Python scalars "
            f"(got a tensor of shape {list(self.shape)})"
        )


def __float__(self):
    _one_element(self)
    return _C_float(self)


def __int__(self):
    _one_element(self)
    return _C_int(self)


Tensor.__float__ = __float__
Tensor.__int__ = __int__
_method("cpu", lambda self, memory_format=None: _to_device(self, device("cpu")))
_method(
    "cuda",
    lambda self, device=None, non_blocking=False, memory_format=None: _to_device(
        self, _as_device(device if device is not None else "gpu")
    ),
)
_method("gpu", lambda self: _to_device(self, _as_device("gpu")))
for _n, _d in [
    ("float", "float32"),
    ("double", "float64"),
    ("half", "float16"),
    ("bfloat16", "bfloat16"),
    ("long", "int64"),
    ("int", "int32"),
    ("short", "int16"),
    ("char", "int8"),
    ("byte", "uint8"),
    ("bool", "bool"),
]:
    _method(_n, (lambda d: lambda self, memory_format=None: self.to(getattr(_dtype, d)))(_d))


def type_(self, dtype=None, non_blocking=False):
    if dtype is None:
        return "ember." + self.dtype.name.capitalize() + "Tensor"
    if isinstance(dtype, str):
        name = dtype.rsplit(".", 1)[-1]
        m = {
            "FloatTensor": _dtype.float32,
            "DoubleTensor": _dtype.float64,
            "LongTensor": _dtype.int64,
            "IntTensor": _dtype.int32,
            "HalfTensor": _dtype.float16,
            "BoolTensor": _dtype.bool,
            "ByteTensor": _dtype.uint8,
        }
        dtype = m[name]
    return self.to(dtype)


_method("type", type_)
_method("type_as", lambda self, other: self.to(other.dtype))
_C_contiguous = Tensor.contiguous


def contiguous(self, memory_format=None):
    # PyTorch returns the tensor itself (same object) when no copy is needed.
    return self if self.is_contiguous() else _C_contiguous(self)


_method("contiguous", contiguous)
_method("broadcast_to", lambda self, size: self.expand(size))
_method("view_as", lambda self, other: self.view(other.shape))
_method("reshape_as", lambda self, other: self.reshape(other.shape))
_method("expand_as", lambda self, other: self.expand(other.shape))
_method("pin_memory", lambda self, device=None: self)
_method("is_pinned", lambda self, device=None: False)
_method("share_memory_", lambda self: self)
_method("get_device", lambda self: -1 if self._device == "cpu" else 0)
_method("cpu_", lambda self: self)


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    from . import _ops

    return _ops.tensor(
        data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad
    )


def _new_factory(fn_name):
    def f(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        from . import _ops

        return getattr(_ops, fn_name)(
            *size,
            dtype=dtype or self.dtype,
            device=device or self.device,
            requires_grad=requires_grad,
        )

    return f


_method("new_tensor", new_tensor)
_method("new_zeros", _new_factory("zeros"))
_method("new_ones", _new_factory("ones"))
_method("new_empty", _new_factory("empty"))


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    from . import _ops

    return _ops.full(
        size,
        fill_value,
        dtype=dtype or self.dtype,
        device=device or self.device,
        requires_grad=requires_grad,
    )


_method("new_full", new_full)


# ----- autograd -----
def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    from . import autograd

    autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)


_method("backward", backward)


class _Handle:
    def __init__(self, t, idx):
        self._t, self._idx = t, idx

    def remove(self):
        # Hooks are disabled by replacing them with a no-op.
        self._t._disabled_hooks = getattr(self._t, "_disabled_hooks", set()) | {self._idx}


def register_hook(self, hook):
    handle = None

    def call(g):
        if handle is not None and handle._idx in getattr(self, "_disabled_hooks", ()):
            return None
        return hook(g)

    idx = self._register_hook(call)
    handle = _Handle(self, idx)
    return handle


_method("register_hook", register_hook)


# ----- unary math -----
_UNARY = [
    "neg",
    "negative",
    "abs",
    "absolute",
    "exp",
    "exp2",
    "log",
    "log2",
    "log10",
    "log1p",
    "expm1",
    "sqrt",
    "rsqrt",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "sigmoid",
    "relu",
    "erf",
    "erfc",
    "floor",
    "ceil",
    "trunc",
    "fix",
    "frac",
    "sign",
    "reciprocal",
    "square",
    "bitwise_not",
    "logical_not",
]
for _n in _UNARY:
    if not hasattr(Tensor, _n):
        _method(_n, (lambda n: lambda self: _C.unary(self, n))(_n))
    _method(_n + "_", (lambda n: lambda self: self._inplace(n + "_", lambda s: _C.unary(s, n)))(_n))
_method("sgn", lambda self: _C.unary(self, "sign"))
_method("positive", lambda self: self)
_method("isnan", lambda self: self != self)
_method(
    "isinf",
    lambda self: (
        self.abs() == float("inf")
        if self.is_floating_point()
        else self.new_zeros(self.shape, dtype=_dtype.bool)
    ),
)
_method("isposinf", lambda self: self == float("inf"))
_method("isneginf", lambda self: self == float("-inf"))
_method(
    "isfinite",
    lambda self: (
        (self.abs() < float("inf"))
        if self.is_floating_point()
        else self.new_ones(self.shape, dtype=_dtype.bool)
    ),
)
_method("isreal", lambda self: self.new_ones(self.shape, dtype=_dtype.bool))
_method("signbit", lambda self: _signbit(self))


def _signbit(self):
    if not self.is_floating_point():
        return self < 0
    # -0.0 has its sign bit set: 1/x == -inf
    return (self < 0) | ((self == 0) & ((1.0 / self.double()) < 0))


def round_(self, decimals=0):
    if decimals == 0:
        return _C.unary(self, "round")
    s = 10.0**decimals
    return _C.unary(self * s, "round") / s


_method("round", round_)
_method("round_", lambda self, decimals=0: self._inplace("round_", lambda s: round_(s, decimals)))


def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
    if not self.is_floating_point():
        return self.clone()
    big = {
        "float32": 3.4028234663852886e38,
        "float64": 1.7976931348623157e308,
        "float16": 65504.0,
        "bfloat16": 3.3895313892515355e38,
    }[self.dtype.name]
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    r = _C.where_(self != self, nan, self)
    r = _C.where_(r == float("inf"), posinf, r)
    return _C.where_(r == float("-inf"), neginf, r)


_method("nan_to_num", nan_to_num)
_method(
    "nan_to_num_",
    lambda self, nan=0.0, posinf=None, neginf=None: self._inplace(
        "nan_to_num_", lambda s: nan_to_num(s, nan, posinf, neginf)
    ),
)


# ----- binary math -----
def _binop(n):
    return lambda self, other: _C.binary(self, other, n)


for _n in [
    "mul",
    "multiply",
    "true_divide",
    "floor_divide",
    "remainder",
    "fmod",
    "atan2",
    "arctan2",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "logical_and",
    "logical_or",
    "logical_xor",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
]:
    if not hasattr(Tensor, _n):
        _method(_n, _binop(_n))
    if _n == "mul":
        continue  # mul_ is native (rust/py/src/tensor.rs): one pass, in place
    _method(
        _n + "_",
        (lambda n: lambda self, other: self._inplace(n + "_", lambda s: _C.binary(s, other, n)))(
            _n
        ),
    )

_method("divide", lambda self, other, rounding_mode=None: _C.div(self, other, rounding_mode))
_method("subtract", lambda self, other, alpha=1: self.sub(other, alpha=alpha))
_method("pow", lambda self, exponent: self.__pow__(exponent))
_method("pow_", lambda self, exponent: self._inplace("pow_", lambda s: s.__pow__(exponent)))
_method(
    "float_power",
    lambda self, exponent: (
        self.double() ** (exponent.double() if isinstance(exponent, Tensor) else exponent)
    ),
)
# add_, sub_, mul_ and div_ are native methods of _C.Tensor: they write in place
# in one pass where nothing is recorded for autograd (rust/core/src/ops/inplace.rs).
_method(
    "equal",
    lambda self, other: builtins.bool(self.shape == other.shape and (self == other).all().item()),
)
_method(
    "allclose",
    lambda self, other, rtol=1e-05, atol=1e-08, equal_nan=False: builtins.bool(
        self.isclose(other, rtol, atol, equal_nan).all().item()
    ),
)


def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    if not isinstance(other, Tensor):
        other = self.new_tensor(other)
    a, b = self, other
    if not (a.is_floating_point() or b.is_floating_point()):
        return a == b
    ad, bd = (
        a.double() if a.dtype != _dtype.float64 else a,
        b.double() if b.dtype != _dtype.float64 else b,
    )
    close = (ad - bd).abs() <= atol + rtol * bd.abs()
    close = close | (ad == bd)
    if equal_nan:
        close = close | ((ad != ad) & (bd != bd))
    return close


_method("isclose", isclose)


def lerp(self, end, weight):
    # PyTorch's two-sided formula: from self for |weight| < 0.5, from end otherwise. It
    # rounds differently from one formula and gives end itself at weight 1 (and NaN, not
    # -inf, for lerp(x, -inf, 0.5)).
    diff = end - self
    if not isinstance(weight, Tensor):
        if abs(weight) < 0.5:
            return self + weight * diff
        return end - diff * (1 - weight)
    # One expression for both sides, so no gradient goes through an unpicked where() branch
    # (0 * inf would be NaN): base + (weight - k) * diff with k = 0 (from self) or 1 (end).
    far = weight.abs() >= 0.5
    return _C.where_(far, end, self) + (weight - far.to(weight.dtype)) * diff


_method("lerp", lerp)
_method("lerp_", lambda self, end, weight: self._inplace("lerp_", lambda s: lerp(s, end, weight)))


def _addc_operands(self, tensor1, tensor2):
    # PyTorch computes in the result type of all three operands; composing with `*` would
    # round tensor1 * tensor2 in their own (maybe narrower) type first.
    if tensor1.dtype == tensor2.dtype == self.dtype:
        return tensor1, tensor2
    # Dimensioned operands first; a 0-d one counts only if it is of a higher category.
    ops = [t for t in (self, tensor1, tensor2) if t.dim() > 0]
    ops += [t for t in (self, tensor1, tensor2) if t.dim() == 0]
    acc = ops[0]
    for t in ops[1:]:
        acc = acc.new_empty([0] * builtins.min(acc.dim(), 1)).to(_C.result_type(acc, t))
    return tensor1.to(acc.dtype), tensor2.to(acc.dtype)


def addcmul(self, tensor1, tensor2, value=1):
    tensor1, tensor2 = _addc_operands(self, tensor1, tensor2)
    return self + value * tensor1 * tensor2


def addcdiv(self, tensor1, tensor2, value=1):
    tensor1, tensor2 = _addc_operands(self, tensor1, tensor2)
    return self + value * tensor1 / tensor2


_method("addcmul", addcmul)
_method("addcdiv", addcdiv)
_method(
    "addcmul_",
    lambda self, t1, t2, value=1: self._inplace("addcmul_", lambda s: addcmul(s, t1, t2, value)),
)
_method(
    "addcdiv_",
    lambda self, t1, t2, value=1: self._inplace("addcdiv_", lambda s: addcdiv(s, t1, t2, value)),
)


def clamp(self, min=None, max=None):  # noqa: A002
    return _C.clamp(self, min, max)


_method("clamp", clamp)
_method("clip", clamp)
_method(
    "clamp_",
    lambda self, min=None, max=None: self._inplace("clamp_", lambda s: _C.clamp(s, min, max)),
)  # noqa: A002
_method("clip_", Tensor.clamp_)
_method("clamp_min", lambda self, min: _C.clamp(self, min, None))  # noqa: A002
_method("clamp_max", lambda self, max: _C.clamp(self, None, max))  # noqa: A002
_method(
    "clamp_min_", lambda self, min: self._inplace("clamp_min_", lambda s: _C.clamp(s, min, None))
)  # noqa: A002
_method(
    "clamp_max_", lambda self, max: self._inplace("clamp_max_", lambda s: _C.clamp(s, None, max))
)  # noqa: A002
_method("where", lambda self, condition, other: _C.where_(condition, self, other))


def masked_fill(self, mask, value):
    # Out of place, self and mask broadcast together (PyTorch returns the
    # broadcast shape: ones(1).masked_fill(mask of [1, 1], v) is [1, 1]).
    if isinstance(mask, Tensor) and mask.shape != self.shape:
        from ._ops import broadcast_shapes

        try:
            shape = broadcast_shapes(self.shape, mask.shape)
        except RuntimeError:
            shape = self.shape  # not broadcastable: masked_fill names the shapes
        if tuple(shape) != tuple(self.shape):
            self = self.expand(*shape)
    return _C.masked_fill(self, mask, value)


_method("masked_fill", masked_fill)
_method(
    "masked_fill_",
    lambda self, mask, value: self._inplace(
        "masked_fill_", lambda s: _C.masked_fill(s, mask, value)
    ),
)
_method("masked_select", lambda self, mask: _C.masked_select(self, mask))
_method("masked_scatter", lambda self, mask, source: _masked_scatter(self, mask, source))


def _masked_scatter(self, mask, source):
    mask = mask.expand(self.shape)
    n = int(mask.sum().item())
    vals = source.reshape(-1)[:n]
    return _C.index_put(self, [mask], vals)


# ----- reductions -----
def _reduce_max(is_max):
    def f(self, dim=None, keepdim=False, *, out=None):
        if isinstance(dim, Tensor):
            return _C.binary(self, dim, "maximum" if is_max else "minimum")
        if dim is None:
            return _C.max_all(self, is_max)
        v, i = _C.max_dim(self, dim, keepdim, is_max)
        return (return_types.max if is_max else return_types.min)(v, i)

    return f


_method("max", _reduce_max(True))
_method("min", _reduce_max(False))
_method(
    "amax",
    lambda self, dim=(), keepdim=False: _C.amax(
        self, _dims(dim) if dim != () else None, keepdim, True
    ),
)
_method(
    "amin",
    lambda self, dim=(), keepdim=False: _C.amax(
        self, _dims(dim) if dim != () else None, keepdim, False
    ),
)
_method(
    "aminmax",
    lambda self, *, dim=None, keepdim=False: return_types.aminmax(
        self.amin(dim if dim is not None else (), keepdim),
        self.amax(dim if dim is not None else (), keepdim),
    ),
)
_method("argmax", lambda self, dim=None, keepdim=False: _C.argmax(self, dim, keepdim, True))
_method("argmin", lambda self, dim=None, keepdim=False: _C.argmax(self, dim, keepdim, False))
_C_sum = Tensor.sum
_FLOAT_DTYPES = (_dtype.float16, _dtype.bfloat16, _dtype.float32, _dtype.float64)


def _int_dtype_arg(self, dtype):
    # An integer/bool `dtype=` is the output dtype in PyTorch (the input is cast to it
    # first); the kernels only honour floating ones, so cast around them here.
    return dtype is not None and dtype != self.dtype and dtype not in _FLOAT_DTYPES


def sum(self, dim=None, keepdim=False, dtype=None):  # noqa: A001
    if _int_dtype_arg(self, dtype):
        r = _C_sum(self.to(dtype), dim, keepdim)
        return r if r.dtype == dtype else r.to(dtype)
    if dim is None and not self.is_contiguous():
        st = self.stride()
        rep = [d for d in builtins.range(self.dim()) if st[d] == 0 and self._shape[d] > 1]
        if rep:
            # An expanded (stride-0) dim repeats the same values: sum one slice and scale,
            # instead of materialising the broadcast (x.expand(10**6, n).sum()).
            n = 1
            base = self
            for d in reversed(rep):
                n *= self._shape[d]
                base = base.select(d, 0)
            r = sum(base, None, False, dtype) * n
            return r.reshape([1] * self.dim()) if keepdim else r
    return _C_sum(self, dim, keepdim, dtype=dtype)


def prod(self, dim=None, keepdim=False, dtype=None):
    if _int_dtype_arg(self, dtype):
        r = _C.prod(self.to(dtype), dim, keepdim, None)
        return r if r.dtype == dtype else r.to(dtype)
    return _C.prod(self, dim, keepdim, dtype)


_method("sum", sum)
_method("prod", prod)


def _correction(unbiased, correction):
    if correction is not None:
        return float(correction)
    if unbiased is None:
        return 1.0
    return 1.0 if unbiased else 0.0


def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, builtins.bool):
        unbiased, dim = dim, None
    return _C.var(self, _dims(dim), _correction(unbiased, correction), keepdim, False)


def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, builtins.bool):
        unbiased, dim = dim, None
    return _C.var(self, _dims(dim), _correction(unbiased, correction), keepdim, True)


_method("var", var)
_method("std", std)
_method("logsumexp", lambda self, dim, keepdim=False: _C.logsumexp(self, _dims(dim), keepdim))


def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    if p == "fro" or p is None:
        p = 2.0
    if p == "nuc":
        raise NotImplementedError("norm(p='nuc') is not supported by ember")
    return _C.vector_norm(self, float(p), _dims(dim), keepdim, dtype)


_method("norm", norm)
_method("all", lambda self, dim=None, keepdim=False: _C.all_any(self, _dims(dim), keepdim, True))
_method("any", lambda self, dim=None, keepdim=False: _C.all_any(self, _dims(dim), keepdim, False))
_method("cumsum", lambda self, dim, dtype=None: _C.cumulative(self, dim, False, dtype))
_method("cumprod", lambda self, dim, dtype=None: _C.cumulative(self, dim, True, dtype))
_method(
    "cumsum_",
    lambda self, dim, dtype=None: self._inplace(
        "cumsum_", lambda s: _C.cumulative(s, dim, False, dtype)
    ),
)
_method(
    "softmax",
    lambda self, dim, dtype=None: _C.softmax(self if dtype is None else self.to(dtype), dim, False),
)
_method(
    "log_softmax",
    lambda self, dim, dtype=None: _C.softmax(self if dtype is None else self.to(dtype), dim, True),
)


def nansum(self, dim=None, keepdim=False, dtype=None):
    return _C.where_(self != self, 0, self).sum(dim, keepdim, dtype=dtype)


def nanmean(self, dim=None, keepdim=False, dtype=None):
    notnan = (self == self).to(self.dtype)
    return nansum(self, dim, keepdim, dtype) / notnan.sum(dim, keepdim)


_method("nansum", nansum)
_method("nanmean", nanmean)
_method("count_nonzero", lambda self, dim=None: (self != 0).sum(dim))

# ----- shape -----


def _set_view(self, v):
    self.data = v.detach()
    return self


_method("squeeze_", lambda self, dim=None: _set_view(self, self.squeeze(dim)))
_method("unsqueeze_", lambda self, dim: _set_view(self, self.unsqueeze(dim)))
_method("t_", lambda self: _set_view(self, self.t()))
_method("transpose_", lambda self, a, b: _set_view(self, self.transpose(a, b)))
_method("resize_", lambda self, *size: _set_view(self, _resize(self, size)))


def _resize(self, size):
    from . import _ops

    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = tuple(size[0])
    n = 1
    for s in size:
        n *= s
    flat = self.reshape(-1)
    if n <= flat.numel():
        return flat[:n].reshape(size)
    info = _C._storage_info(self)
    if info is not None and info[2]:
        # memory from numpy / DLPack cannot grow (PyTorch's message)
        raise RuntimeError("Trying to resize storage that is not resizable")
    return _ops.cat([flat, _ops.zeros(n - flat.numel(), dtype=self.dtype)]).reshape(size)


_method("swapaxes", lambda self, a, b: self.transpose(a, b))
_method("swapdims", lambda self, a, b: self.transpose(a, b))
_method("moveaxis", lambda self, s, d: self.movedim(s, d))


def movedim(self, source, destination):
    s = [source] if isinstance(source, int) else list(source)
    d = [destination] if isinstance(destination, int) else list(destination)
    return _C.movedim(self, s, d)


_method("movedim", movedim)
_method("unflatten", lambda self, dim, sizes: _C.unflatten(self, dim, list(sizes)))
_method("ravel", lambda self: self.reshape(-1))
_method("narrow", lambda self, dim, start, length: _C.narrow(self, dim, int(start), int(length)))
_method("select", lambda self, dim, index: _C.select(self, dim, int(index)))
_method("diagonal", lambda self, offset=0, dim1=0, dim2=1: _C.diagonal(self, offset, dim1, dim2))
_method(
    "as_strided",
    lambda self, size, stride, storage_offset=None: _C.as_strided(
        self, list(size), list(stride), storage_offset
    ),
)


def split(self, split_size_or_sections, dim=0):
    return tuple(_C.split(self, split_size_or_sections, dim))


_method("split", split)
_method("tensor_split", lambda self, sections, dim=0: _tensor_split(self, sections, dim))


def _tensor_split(self, sections, dim):
    n = self.shape[dim]
    if isinstance(sections, int):
        q, r = divmod(n, sections)
        sizes = [q + 1] * r + [q] * (sections - r)
    else:
        idx = [0] + list(sections) + [n]
        sizes = [max(0, min(b, n) - min(a, n)) for a, b in zip(idx[:-1], idx[1:])]
    return tuple(_C.split(self, sizes, dim))


_method("chunk", lambda self, chunks, dim=0: tuple(_C.chunk(self, chunks, dim)))
_method("unbind", lambda self, dim=0: tuple(_C.unbind(self, dim)))


def flip(self, *dims):
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = dims[0]
    return _C.flip(self, list(dims))


_method("flip", flip)
_method("fliplr", lambda self: _C.flip(self, [1]))
_method("flipud", lambda self: _C.flip(self, [0]))


def roll(self, shifts, dims=None):
    s = [shifts] if isinstance(shifts, int) else list(shifts)
    d = [] if dims is None else ([dims] if isinstance(dims, int) else list(dims))
    return _C.roll(self, s, d)


_method("roll", roll)


def repeat(self, *sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)):
        sizes = sizes[0]
    return _C.repeat(self, list(sizes))


_method("repeat", repeat)


def repeat_interleave(self, repeats, dim=None, *, output_size=None):
    from . import _ops

    x = self
    if dim is None:
        x = x.reshape(-1)
        dim = 0
    dim = dim % max(x.dim(), 1)
    n = x.shape[dim]
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        if repeats.shape[0] != n:
            raise RuntimeError("repeats must have the same size as input along dim")
        idx = _ops.arange(n).repeat_interleave(repeats)
    else:
        r = int(repeats.item()) if isinstance(repeats, Tensor) else int(repeats)
        if r < 0:
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        idx = _ops.arange(n).unsqueeze(1).expand(n, r).reshape(-1)
    return x.index_select(dim, idx)


def _ri_index(self, repeats):
    # arange(n).repeat_interleave(tensor) for 1-d int input
    vals = self.tolist()
    reps = repeats.tolist()
    if any(r < 0 for r in reps):
        raise RuntimeError("repeats can not be negative")
    out = [v for v, r in zip(vals, reps) for _ in range(r)]
    from . import _ops

    return _ops.tensor(out, dtype=self.dtype)


def _repeat_interleave_entry(self, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # torch.repeat_interleave(repeats_tensor)
        from . import _ops

        return _ri_index(_ops.arange(self.shape[0]), self)
    if (
        isinstance(repeats, Tensor)
        and repeats.numel() != 1
        and self.dim() == 1
        and dim in (None, 0)
        and not self.is_floating_point()
    ):
        return _ri_index(self, repeats)
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        from . import _ops

        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else dim
        idx = _ri_index(_ops.arange(x.shape[d]), repeats)
        return x.index_select(d, idx)
    return repeat_interleave(self, repeats, dim)


_method("repeat_interleave", _repeat_interleave_entry)
_method("tril", lambda self, diagonal=0: _C.tri(self, diagonal, False))
_method("triu", lambda self, diagonal=0: _C.tri(self, diagonal, True))
_method(
    "tril_", lambda self, diagonal=0: self._inplace("tril_", lambda s: _C.tri(s, diagonal, False))
)
_method(
    "triu_", lambda self, diagonal=0: self._inplace("triu_", lambda s: _C.tri(s, diagonal, True))
)


def unfold(self, dimension, size, step):
    d = dimension % max(self.dim(), 1)
    n = self.shape[d] if self.dim() else 1
    cnt = (n - size) // step + 1
    if cnt < 0 or size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    x = self.contiguous()
    st = list(x.stride())
    shape = list(x.shape)
    new_shape = shape[:d] + [cnt] + shape[d + 1 :] + [size]
    new_stride = st[:d] + [st[d] * step] + st[d + 1 :] + [st[d]]
    return _C.as_strided(x, new_shape, new_stride, None)


_method("unfold", unfold)

# ----- indexing -----
_method("gather", lambda self, dim, index, *, sparse_grad=False: _C.gather(self, dim, index))
_method(
    "scatter",
    lambda self, dim, index, src=None, value=None, *, reduce=None: _C.scatter(
        self, dim, index, src if src is not None else value, reduce
    ),
)
_method(
    "scatter_",
    lambda self, dim, index, src=None, value=None, *, reduce=None: self._inplace(
        "scatter_", lambda s: _C.scatter(s, dim, index, src if src is not None else value, reduce)
    ),
)
_method("scatter_add", lambda self, dim, index, src: _C.scatter_add(self, dim, index, src))
_method(
    "scatter_add_",
    lambda self, dim, index, src: self._inplace(
        "scatter_add_", lambda s: _C.scatter_add(s, dim, index, src)
    ),
)
_method(
    "scatter_reduce",
    lambda self, dim, index, src, reduce, *, include_self=True: _C.scatter_reduce(
        self, dim, index, src, reduce, include_self
    ),
)
_method(
    "scatter_reduce_",
    lambda self, dim, index, src, reduce, *, include_self=True: self._inplace(
        "scatter_reduce_", lambda s: _C.scatter_reduce(s, dim, index, src, reduce, include_self)
    ),
)
_method("index_select", lambda self, dim, index: _C.index_select(self, dim, index))
_method(
    "index_add",
    lambda self, dim, index, source, *, alpha=1: _C.index_add(
        self, dim, index, source, float(alpha)
    ),
)
_method(
    "index_add_",
    lambda self, dim, index, source, *, alpha=1: self._inplace(
        "index_add_", lambda s: _C.index_add(s, dim, index, source, float(alpha))
    ),
)


def index_fill(self, dim, index, value):
    dim = dim % max(self.dim(), 1)
    idx = [None] * dim + [index]
    return _C.index_put(self, idx, value)


_method("index_fill", index_fill)
_method(
    "index_fill_",
    lambda self, dim, index, value: self._inplace(
        "index_fill_", lambda s: index_fill(s, dim, index, value)
    ),
)


def index_copy(self, dim, index, source):
    dim = dim % max(self.dim(), 1)
    size = int(self.shape[dim]) if self.dim() else 1
    if index.numel() and index.device.type == "cpu":
        # index_put wraps negative indices like Python; index_copy refuses them (PyTorch).
        # Checked on the cpu only: on the gpu it would cost a host wait.
        bad = (index < 0) | (index >= size)
        if bool(bad.any()):
            first = int(index.reshape(-1)[bad.reshape(-1)][0])
            raise IndexError(
                f"index_copy_(): index {first} is out of bounds for dimension {dim} "
                f"with size {size}"
            )
    return _C.index_put(self, [None] * dim + [index], source)


_method("index_copy", index_copy)
_method(
    "index_copy_",
    lambda self, dim, index, source: self._inplace(
        "index_copy_", lambda s: index_copy(s, dim, index, source)
    ),
)
_method(
    "index_put",
    lambda self, indices, values, accumulate=False: _C.index_put(
        self, list(indices), values, accumulate
    ),
)


def index_put_(self, indices, values, accumulate=False):
    _C.index_put_(self, list(indices), values, accumulate)
    return self


_method("index_put_", index_put_)


def take(self, index):
    return self.reshape(-1)[index]


_method("take", take)


def take_along_dim(self, indices, dim=None):
    # Negative indices count from the end of the dim, as in numpy's take_along_axis.
    size = self.numel() if dim is None else self.shape[dim]
    if not indices.dtype.is_floating_point and indices.dtype != _dtype.bool:
        indices = _C.where_(indices < 0, indices + size, indices)
    if dim is None:
        return self.reshape(-1).gather(0, indices.reshape(-1))
    d = dim % self.dim()
    shape = list(self.shape)
    ishape = list(indices.shape)
    bshape = [max(a, b) if i != d else None for i, (a, b) in enumerate(zip(shape, ishape))]
    src = self.expand(*[b if b is not None else s for b, s in zip(bshape, shape)])
    idx = indices.expand(*[b if b is not None else s for b, s in zip(bshape, ishape)])
    return src.gather(d, idx)


_method("take_along_dim", take_along_dim)
_method(
    "nonzero",
    lambda self, *, as_tuple=False: (
        _C.nonzero(self) if not as_tuple else tuple(_C.nonzero(self).unbind(1))
    ),
)
_method("argwhere", lambda self: _C.nonzero(self))

# ----- linear algebra -----
_method("mm", lambda self, other: _C.mm(self, other))
_method("bmm", lambda self, other: _C.bmm(self, other))
_method("mv", lambda self, other: _C.mv(self, other))
_method("dot", lambda self, other: _C.dot(self, other))


def _inner(self, other):
    if self.dim() == 0 or other.dim() == 0:
        return self * other
    if self.dim() == 1:
        prod = self * other
        # The sum keeps the product's dtype (int32 stays int32, as PyTorch's dot).
        return prod.sum(-1, dtype=prod.dtype)
    return self @ other.transpose(-1, -2) if other.dim() > 1 else self @ other


_method("inner", _inner)
_method("outer", lambda self, other: _C.outer(self, other))
_method("ger", lambda self, other: _C.outer(self, other))
_method(
    "addmm",
    lambda self, mat1, mat2, *, beta=1, alpha=1: _C.addmm(
        self, mat1, mat2, float(beta), float(alpha)
    ),
)
_method(
    "addmm_",
    lambda self, mat1, mat2, *, beta=1, alpha=1: self._inplace(
        "addmm_", lambda s: _C.addmm(s, mat1, mat2, float(beta), float(alpha))
    ),
)


def baddbmm(self, b1, b2, *, beta=1, alpha=1):
    p = b1 @ b2
    if alpha != 1:
        p = p * alpha
    return p if beta == 0 else (self * beta if beta != 1 else self) + p


_method("baddbmm", baddbmm)
_method(
    "addbmm",
    lambda self, b1, b2, *, beta=1, alpha=1: (
        (self * beta if beta != 1 else self) + alpha * (b1 @ b2).sum(0)
    ),
)
_method(
    "addmv",
    lambda self, mat, vec, *, beta=1, alpha=1: (
        (self * beta if beta != 1 else self) + alpha * (mat @ vec)
    ),
)

# ----- misc -----
_method("fill_diagonal_", lambda self, fill_value, wrap=False: _fill_diagonal(self, fill_value))


def _fill_diagonal(self, v):
    n = builtins.min(self.shape)
    from . import _ops

    i = _ops.arange(n)
    self[tuple(i for _ in range(self.dim()))] = v
    return self


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    _C.uniform_(self, float(a), float(b), generator)
    return self


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    _C.normal_(self, float(mean), float(std), generator)
    return self


_method("uniform_", uniform_)
_method("normal_", normal_)


def bernoulli_(self, p=0.5, *, generator=None):
    with _C_no_grad():
        if isinstance(p, Tensor):
            r = _C.bernoulli(p.expand(self.shape).to(_dtype.float32), generator)
        else:
            r = _C.bernoulli_scalar(list(self.shape), float(p), self.dtype, generator)
        self._set_raw(r)
    return self


def bernoulli(self, p=None, *, generator=None):
    if p is None:
        return _C.bernoulli(self, generator)
    return self.new_empty(self.shape).bernoulli_(p, generator=generator)


_method("bernoulli_", bernoulli_)
_method("bernoulli", bernoulli)


def random_(self, from_=0, to=None, *, generator=None):
    if to is None:
        to, from_ = from_, 0
        if to == 0:
            to = 2**24 if self.is_floating_point() else 2**31
    r = _C.randint(
        int(from_),
        int(to),
        list(self.shape),
        self.dtype if not self.is_floating_point() else _dtype.int64,
        generator,
    )
    self._set_raw(r.to(self.dtype))
    return self


_method("random_", random_)


def exponential_(self, lambd=1.0, *, generator=None):
    u = _C.rand(list(self.shape), _dtype.float64, generator)
    self._set_raw((-(1 - u).log() / lambd).to(self.dtype))
    return self


_method("exponential_", exponential_)
_method("apply_", lambda self, fn: _apply_(self, fn))


def _apply_(self, fn):
    from . import _ops

    vals = [fn(v) for v in self.reshape(-1).tolist()]
    self._set_raw(_ops.tensor(vals, dtype=self.dtype).reshape(self.shape))
    return self


_method("dim_order", lambda self: tuple(sorted(range(self.dim()), key=lambda i: -self.stride()[i])))
_method("is_set_to", lambda self, other: self._storage_id() == other._storage_id())
_method("untyped_storage", lambda self: _StorageRef(self))


class _StorageRef:
    def __init__(self, t):
        self._id = t._storage_id()

    def data_ptr(self):
        return self._id


numbers.Number  # noqa: B018 - keep import used

from . import _tensor_sort  # noqa: E402, F401 - sort/selection and special-function methods
