"""PyTorch's argument checks that the Rust bindings do not make, found by the differential
fuzzer (tests/fuzz, issue 17): each wrapper checks dtypes and arguments before the call
and raises PyTorch's exception type (NotImplementedError for an op a dtype does not
support, TypeError for a wrong argument type, IndexError for a dimension or index out of
range, RuntimeError otherwise). Without them ember returned a value where PyTorch raises.

The checks are dtype and shape comparisons only (no host round trip), and stay off the
arithmetic operators (`+ - * /`), which are the hot path.
"""

import functools
import sys

from . import _dtype
from ._tensor import Tensor

_ops = sys.modules[__package__ + "._ops"]

_FLOATS = frozenset([_dtype.float16, _dtype.bfloat16, _dtype.float32, _dtype.float64])
_BOOL = _dtype.bool
# PyTorch's C++ scalar-type names, which its messages use.
_CNAME = {
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


def _cname(dt):
    return _CNAME.get(dt.name, dt.name)


def _wrap_method(name, check):
    f = getattr(Tensor, name)

    @functools.wraps(f)
    def g(self, *args, **kwargs):
        check(self, *args, **kwargs)
        return f(self, *args, **kwargs)

    g.__qualname__ = f"Tensor.{name}"
    setattr(Tensor, name, g)


def _wrap_function(module, name, check):
    f = getattr(module, name)

    @functools.wraps(f)
    def g(*args, **kwargs):
        check(*args, **kwargs)
        return f(*args, **kwargs)

    setattr(module, name, g)
    return g


def _wrap_public(name, check):
    """ember.<name> (re-exported from _ops by `import *`) and _ops.<name> both."""
    g = _wrap_function(_ops, name, check)
    setattr(sys.modules[__package__], name, g)


def _not_implemented(kernel, dt):
    raise NotImplementedError(f"\"{kernel}\" not implemented for '{_cname(dt)}'")


# ----- bitwise ops: integer and bool only ---------------------------------------------------
def _bitwise(kernel):
    def check(self, other=None, *args, **kwargs):
        if not isinstance(self, Tensor):  # reflected operator: 2 & t
            self, other = other, self
        if isinstance(other, Tensor):
            try:
                _ops.broadcast_shapes(self.shape, other.shape)
            except RuntimeError:
                return  # PyTorch names the shapes first; the op does too
        dt = _ops.result_type(self, other) if other is not None else self.dtype
        if dt in _FLOATS or (dt == _BOOL and kernel in ("lshift_cpu", "rshift_cpu")):
            _not_implemented(kernel, dt)

    return check


for _name, _kernel in [
    ("bitwise_and", "bitwise_and_cpu"),
    ("bitwise_or", "bitwise_or_cpu"),
    ("bitwise_xor", "bitwise_xor_cpu"),
    ("bitwise_left_shift", "lshift_cpu"),
    ("bitwise_right_shift", "rshift_cpu"),
    ("__and__", "bitwise_and_cpu"),
    ("__or__", "bitwise_or_cpu"),
    ("__xor__", "bitwise_xor_cpu"),
    ("__lshift__", "lshift_cpu"),
    ("__rshift__", "rshift_cpu"),
    ("__rand__", "bitwise_and_cpu"),
    ("__ror__", "bitwise_or_cpu"),
    ("__rxor__", "bitwise_xor_cpu"),
]:
    for _n in (_name, _name + "_") if not _name.startswith("__") else (_name,):
        if hasattr(Tensor, _n):
            _wrap_method(_n, _bitwise(_kernel))


def _check_bitwise_not(self):
    if self.dtype in _FLOATS:
        _not_implemented("bitwise_not_cpu", self.dtype)


_wrap_method("bitwise_not", _check_bitwise_not)
_wrap_method("bitwise_not_", _check_bitwise_not)
_wrap_public("bitwise_not", lambda input, **kwargs: _check_bitwise_not(input))


def _check_invert(self):
    if self.dtype in _FLOATS:
        raise TypeError(
            "~ (operator.invert) is only implemented on integer and Boolean-type tensors"
        )


_wrap_method("__invert__", _check_invert)


# ----- tensor-only `other` ------------------------------------------------------------------
def _tensor_other(name):
    def check(self, other, *args, **kwargs):
        if not isinstance(other, Tensor):
            raise TypeError(
                f"{name}(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}"
            )

    return check


for (
    _name
) in "maximum minimum fmax fmin hypot atan2 arctan2 logical_and logical_or logical_xor".split():
    for _n in (_name, _name + "_"):
        if hasattr(Tensor, _n):
            _wrap_method(_n, _tensor_other(_name))


# ----- reductions over an empty dimension ---------------------------------------------------
def _empty_dim(name, full_ok):
    def check(self, dim=None, *args, **kwargs):
        dim = kwargs.get("dim", dim)
        if self.numel() != 0 or isinstance(dim, Tensor):
            return
        if dim is None:
            if not full_ok:
                raise IndexError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
                )
            return
        n = self.dim()
        for d in dim if isinstance(dim, (list, tuple)) else (dim,):
            if not isinstance(d, int) or not -max(n, 1) <= d < max(n, 1):
                return  # the op's own dimension check names it
            if n and self.shape[d] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")

    return check


for _n in ("amax", "amin", "aminmax"):
    _wrap_method(_n, _empty_dim(_n, full_ok=True))
for _n in ("argmax", "argmin"):
    _wrap_method(_n, _empty_dim(_n, full_ok=False))
for _n in ("max", "min", "median", "mode", "nanmedian"):
    _wrap_method(_n, _empty_dim(_n, full_ok=True))


def _check_kthvalue(self, k, dim=-1, keepdim=False):
    n = self.dim()
    if isinstance(dim, int) and -max(n, 1) <= dim < max(n, 1) and n and self.shape[dim] == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {dim % n} to have non-zero size.")


_wrap_method("kthvalue", _check_kthvalue)


def _check_hypot(self, other, **kwargs):
    _tensor_other("hypot")(self, other)
    dt = _ops.result_type(self, other)
    if dt not in _FLOATS:
        _not_implemented("hypot_cpu", dt)


_wrap_public("hypot", _check_hypot)
_wrap_method("hypot", _check_hypot)


def _check_roll(self, shifts, dims=None):
    if dims is not None and self.dim() == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")


_wrap_method("roll", _check_roll)
for _n in ("cumsum", "cumprod", "cumsum_", "cumprod_"):
    if hasattr(Tensor, _n):
        _wrap_method(_n, lambda self, dim, *a, **k: _dim_in_range(self, dim))

# ----- ops a dtype does not support ---------------------------------------------------------
# ops whose first positional argument is `dim` (kthvalue's is k, topk's is k)
# (PyTorch checks median's dim before its dtype, but argmax's, std's and norm's dtype first.)
_DIM0 = ("median",)


def _unsupported(kernel_or_msg, dtypes, nonempty_only=False, raw=False, complex_ok=False):
    """dtypes: 'bool', 'int' (integers and bool) — the inputs PyTorch rejects; complex_ok:
    the op has a complex rule (ops/complex_math.rs), so complex inputs pass."""
    dim_first = kernel_or_msg.startswith(_DIM0)
    k_first = kernel_or_msg.startswith("topk")

    def check(self, *args, **kwargs):
        # The common (valid) case costs one dtype test; the rest runs only to raise.
        if dtypes == "bool":
            if self.dtype != _BOOL:
                return
        elif self.is_floating_point() or (complex_ok and self.dtype.is_complex):
            return
        dt = self.dtype
        if dim_first:
            dim = kwargs.get("dim", args[0] if args else None)
            if isinstance(dim, int) and not -max(self.dim(), 1) <= dim < max(self.dim(), 1):
                return  # PyTorch checks the dimension first; the op names it
        if k_first and args and isinstance(args[0], int):
            n = self.shape[kwargs.get("dim", -1)] if self.dim() else 1
            if not 0 <= args[0] <= n:
                return  # k out of range comes first
        if not (nonempty_only and self.numel() == 0):
            if raw:
                raise NotImplementedError(kernel_or_msg.format(c=_cname(dt), e=dt.name))
            _not_implemented(kernel_or_msg, dt)

    return check


for _name, _kernel in [
    ("abs", "abs_cpu"),
    ("absolute", "abs_cpu"),
    ("floor", "floor_vml_cpu"),
    ("ceil", "ceil_vml_cpu"),
    ("round", "round_vml_cpu"),
    ("trunc", "trunc_vml_cpu"),
    ("fix", "trunc_vml_cpu"),
    ("kthvalue", "kthvalue_cpu"),
]:
    for _n in (_name, _name + "_"):
        if hasattr(Tensor, _n):
            _wrap_method(_n, _unsupported(_kernel, "bool"))
# PyTorch returns for an empty bool tensor's median (there is no value to compare).
_wrap_method("median", _unsupported("median_cpu", "bool", nonempty_only=True))

for _n in ("relu", "relu_"):
    _wrap_method(_n, _unsupported("Boolean inputs not supported for relu", "bool", raw=True))
for _n in ("frac", "frac_"):
    _wrap_method(_n, _unsupported("frac_cpu", "int"))
for _n in ("argmax", "argmin"):
    _wrap_method(_n, _unsupported(f"{_n}(): does not support bool input", "bool", raw=True))
_wrap_method("topk", _unsupported("topk does not support bool dtypes on CPU", "bool", raw=True))
_wrap_method(
    "neg",
    _unsupported(
        "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.",
        "bool",
        raw=True,
    ),
)
for _n in ("std", "var"):
    _wrap_method(
        _n,
        _unsupported(
            "std and var only support floating point and complex dtypes (got {e})",
            "int",
            raw=True,
            complex_ok=True,
        ),
    )
_wrap_method(
    "nanmean",
    _unsupported(
        "nanmean(): expected input to have floating point or complex dtype but got {c}",
        "int",
        raw=True,
    ),
)
_wrap_method(
    "norm",
    _unsupported(
        "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {c}",
        "int",
        raw=True,
        complex_ok=True,
    ),
)


def _check_mean(self, dim=None, keepdim=False, dtype=None, **kwargs):
    if dtype is None and (self.is_floating_point() or self.is_complex()):
        return
    dt = dtype if dtype is not None else self.dtype
    if dt not in _FLOATS:
        what = "Optional dtype" if dtype is not None else "Input dtype"
        raise NotImplementedError(
            f"mean(): could not infer output dtype. {what} must be either a floating point or "
            f"complex dtype. Got: {_cname(dt)}"
        )


_wrap_method("mean", _check_mean)


def _softmax_check(kernel):
    def check(self, dim=None, dtype=None, *args, **kwargs):
        _dim_in_range(self, dim)
        dt = dtype if dtype is not None else self.dtype
        if dt not in _FLOATS and self.numel() != 0:
            _not_implemented(kernel, dt)

    return check


_wrap_method("softmax", _softmax_check("softmax_lastdim_kernel_impl"))
_wrap_method("log_softmax", _softmax_check("log_softmax_lastdim_kernel_impl"))


# ----- add/sub alpha, sub with bool, lerp/addcdiv dtypes ------------------------------------
_SUB_BOOL = (
    "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
    "invert a mask, use the `~` or `logical_not()` operator instead."
)


def _is_bool(x):
    return x.dtype == _BOOL if isinstance(x, Tensor) else isinstance(x, bool)


def _alpha_check(sub):
    def check(self, other, *args, alpha=1, **kwargs):
        if sub and (_is_bool(other) or (not self.is_floating_point() and self.dtype == _BOOL)):
            raise NotImplementedError(_SUB_BOOL)
        if type(alpha) is int and alpha == 1:  # the default: nothing to check (fast path)
            return
        dt = _ops.result_type(self, other)
        if isinstance(alpha, bool):
            if dt != _BOOL:
                raise RuntimeError("Boolean alpha only supported for Boolean results.")
        elif isinstance(alpha, float) and dt not in _FLOATS:
            raise RuntimeError(
                "For integral input tensors, argument alpha must not be a floating point number."
            )

    return check


for _n, _sub in (("add", False), ("add_", False), ("sub", True), ("sub_", True)):
    _wrap_method(_n, _alpha_check(_sub))


def _check_lerp(self, end, weight):
    for what, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype != self.dtype:
            raise RuntimeError(
                f"lerp: expected dtype {self.dtype.name} for `{what}` but got dtype {t.dtype.name}"
            )
    if self.dtype not in _FLOATS:
        kernel = "lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar"
        _not_implemented(kernel, self.dtype)


_wrap_method("lerp", _check_lerp)
_wrap_method("lerp_", _check_lerp)


def _check_addcdiv(self, tensor1, tensor2, value=1):
    if tensor1.dtype not in _FLOATS and tensor2.dtype not in _FLOATS:
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))"
            ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs."
        )


def _check_addcmul(self, tensor1, tensor2, value=1):
    if _ops.result_type(tensor1, tensor2) == _BOOL and self.dtype == _BOOL:
        _not_implemented("addcmul_cpu_out", _BOOL)


_wrap_method("addcmul", _check_addcmul)
_wrap_method("addcmul_", _check_addcmul)
_wrap_method("addcdiv", _check_addcdiv)
_wrap_method("addcdiv_", _check_addcdiv)


def _check_clamp(self, min=None, max=None):  # noqa: A002
    # PyTorch has a (Tensor min, Tensor max) and a (Number min, Number max) overload; a 0-d
    # tensor also binds as a Number, so only a number with a dimensioned tensor is mixed.
    def dimensioned(x):
        return isinstance(x, Tensor) and x.dim() > 0

    def number(x):
        return not isinstance(x, Tensor)

    if (
        min is not None
        and max is not None
        and ((dimensioned(min) and number(max)) or (number(min) and dimensioned(max)))
    ):
        raise TypeError(
            "clamp() received an invalid combination of arguments - got (Tensor, "
            f"min={type(min).__name__}, max={type(max).__name__}): min and max must both be "
            "Tensors or both be numbers"
        )


for _n in ("clamp", "clamp_", "clip", "clip_"):
    _wrap_method(_n, _check_clamp)
_wrap_public("clamp", _check_clamp)
_ops.clip = sys.modules[__package__].clip = _ops.clamp


# ----- div rounding_mode --------------------------------------------------------------------
def _check_div(self, other, *args, rounding_mode=None, **kwargs):
    if args:
        rounding_mode = args[0]
    if rounding_mode not in (None, "trunc", "floor"):
        raise RuntimeError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )


for _n in ("div", "divide", "div_"):
    _wrap_method(_n, _check_div)
for _n in ("div", "divide", "true_divide"):
    _wrap_public(_n, _check_div)


# ----- argument counts and shapes -----------------------------------------------------------
def _needs_size(name):
    def check(*size, **kwargs):
        if not size and "size" not in kwargs:
            raise TypeError(f'{name}() missing 1 required positional arguments: "size"')

    return check


for _n in ("zeros", "ones", "empty", "randn", "rand"):
    _wrap_public(_n, _needs_size(_n))


def _needs_args(name, what):
    def check(self, *args, **kwargs):
        if not args and not kwargs:
            raise TypeError(f'{name}() missing 1 required positional arguments: "{what}"')

    return check


_wrap_method("repeat", _needs_args("repeat", "repeats"))
_wrap_method("permute", _needs_args("permute", "dims"))


def _check_cat(tensors, *args, **kwargs):
    if isinstance(tensors, (list, tuple)) and len(tensors) == 0:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")


for _n in ("cat", "concat", "concatenate"):
    _wrap_public(_n, _check_cat)


def _nonempty_list(name):
    def check(tensors, *args, **kwargs):
        if isinstance(tensors, (list, tuple)) and len(tensors) == 0:
            raise RuntimeError(f"{name} expects a non-empty TensorList")

    return check


for _n in ("hstack", "vstack", "dstack", "column_stack", "row_stack"):
    _wrap_public(_n, _nonempty_list(_n))


def _matrix_property(name, prop):
    def get(self):
        if self.dim() == 0:
            return self  # PyTorch returns a 0-d tensor as it is
        if self.dim() < 2:
            raise RuntimeError(
                f"tensor.{name} is only supported on matrices or batches of matrices. "
                f"Got {self.dim()}-D tensor."
            )
        return prop.__get__(self)

    return property(get)


Tensor.mT = _matrix_property("mT", Tensor.mT)
Tensor.mH = _matrix_property("mH", Tensor.mH)


def _check_addmm(self, mat1, mat2, *args, **kwargs):
    if self.dim() > 2:
        raise RuntimeError(
            f"addmm: expand({list(self.shape)}, size=[{mat1.shape[0]}, {mat2.shape[-1]}]): the "
            "number of sizes provided (2) must be greater or equal to the number of dimensions "
            f"in the tensor ({self.dim()})"
        )


_wrap_method("addmm", _check_addmm)


def _check_inner(self, other):
    if isinstance(other, Tensor) and other.dtype != self.dtype:
        raise RuntimeError(
            f"inner: both inputs should have same dtype (got {self.dtype.name} and "
            f"{other.dtype.name})"
        )
    if self.dim() and other.dim() and self.shape[-1] != other.shape[-1]:
        raise RuntimeError(
            "inner() the last dimension must match on both input tensors but got shapes "
            f"{list(self.shape)} and {list(other.shape)}"
        )


_wrap_method("inner", _check_inner)


def _dim_in_range(self, dim):
    n = max(self.dim(), 1)
    if isinstance(dim, int) and not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )


def _check_index_copy(self, dim, index, source):
    _dim_in_range(self, dim)
    k = index.numel()
    n = source.shape[dim] if source.dim() and isinstance(dim, int) else 1
    if source.dim() == self.dim() and k != n:
        raise IndexError(
            f"index_copy_(): Number of indices ({k}) should be equal to source.size(dim) ({n})"
        )


for _n in ("index_copy", "index_copy_"):
    _wrap_method(_n, _check_index_copy)
for _n in ("index_fill", "index_fill_"):
    _wrap_method(_n, lambda self, dim, *a, **k: _dim_in_range(self, dim))
_wrap_method(
    "take_along_dim", lambda self, indices, dim=None: dim is None or _dim_in_range(self, dim)
)


# ----- nn.functional ------------------------------------------------------------------------
def _wrap_nn_functional():
    """Called from ember/__init__ once ember.nn is imported."""
    from .nn import functional as F

    for name, check in [
        ("softplus", _unsupported("softplus_cpu", "int")),
        ("hardtanh", _unsupported("Bool inputs not supported for hardtanh", "bool", raw=True)),
        ("hardtanh_", _unsupported("Bool inputs not supported for hardtanh", "bool", raw=True)),
        ("gelu", _unsupported("GeluKernelImpl", "int")),
        ("silu", _unsupported("silu_cpu", "int")),
        ("elu", _unsupported("elu_cpu", "int")),
        ("leaky_relu", _unsupported("leaky_relu_cpu", "int")),
    ] + [
        (name, _unsupported(kernel, "int"))
        for name, kernel in [
            ("avg_pool1d", "avg_pool2d"),
            ("avg_pool2d", "avg_pool2d"),
            ("adaptive_avg_pool1d", "adaptive_avg_pool2d"),
            ("adaptive_avg_pool2d", "adaptive_avg_pool2d"),
            ("adaptive_max_pool1d", "adaptive_max_pool2d"),
            ("adaptive_max_pool2d", "adaptive_max_pool2d"),
        ]
    ]:
        _wrap_function(F, name, check)
