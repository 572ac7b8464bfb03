"""In-place variants (`x_`) PyTorch has for ops ember already had, and a few small ops
(logit, addr, ldexp, i0, nextafter, frexp, resize_as_, conj_physical) they need.

Each in-place op goes through `Tensor._inplace`, as `add_` does: the new value is
computed from a snapshot of self with differentiable ember ops, then written back,
which bumps the version counter and records the autograd history. View-changing
ones (swapaxes_, as_strided_) reuse the `_set_view` path of `transpose_`.
tools/list_missing_inplace.py lists what is still missing against PyTorch.
"""

import numpy as np

from . import _dtype, _ops
from ._tensor import Tensor, _method, _set_view


def _inplace(name, compute):
    """Tensor method `name` writing compute(snapshot, *args, **kwargs) into self."""

    def f(self, *args, **kwargs):
        return self._inplace(name, lambda s: compute(s, *args, **kwargs))

    _method(name, f)


_inplace("addbmm_", lambda s, b1, b2, *, beta=1, alpha=1: s.addbmm(b1, b2, beta=beta, alpha=alpha))
_inplace(
    "addmv_", lambda s, mat, vec, *, beta=1, alpha=1: s.addmv(mat, vec, beta=beta, alpha=alpha)
)
_inplace(
    "baddbmm_", lambda s, b1, b2, *, beta=1, alpha=1: s.baddbmm(b1, b2, beta=beta, alpha=alpha)
)
_inplace("cumprod_", lambda s, dim, dtype=None: s.cumprod(dim, dtype=dtype))
_inplace(
    "divide_", lambda s, other, *, rounding_mode=None: s.div(other, rounding_mode=rounding_mode)
)
_inplace("true_divide_", lambda s, other: s.div(other))
_inplace("subtract_", lambda s, other, *, alpha=1: s.sub(other, alpha=alpha))
_inplace("multiply_", lambda s, other: s.mul(other))
_inplace("masked_scatter_", lambda s, mask, source: s.masked_scatter(mask, source))
_inplace("mvlgamma_", lambda s, p: s.mvlgamma(p))
_inplace("sgn_", lambda s: s.sgn())


def _float_power_(self, exponent):
    # float_power computes in float64, so only a float64 self can hold the result.
    if self.dtype != _dtype.float64:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {_dtype_title(self.dtype)} but the "
            "operation's result requires dtype Double"
        )
    return self._inplace("float_power_", lambda s: s.float_power(exponent))


def _dtype_title(d):
    return {"float32": "Float", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(d.name, d.name)  # fmt: skip


_method("float_power_", _float_power_)
_method("swapaxes_", lambda self, axis0, axis1: _set_view(self, self.transpose(axis0, axis1)))
_method("swapdims_", lambda self, dim0, dim1: _set_view(self, self.transpose(dim0, dim1)))
_method(
    "as_strided_",
    lambda self, size, stride, storage_offset=None: _set_view(
        self, self.as_strided(size, stride, storage_offset)
    ),
)


def _resize_as_(self, the_template, *, memory_format=None):
    return self.resize_(*the_template.shape)


_method("resize_as_", _resize_as_)

# ----------------------------------------------------------------- small ops


def logit(self, eps=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""
    x = self if eps is None else self.clamp(eps, 1.0 - eps)
    return (x / (1 - x)).log()


_method("logit", logit)
_inplace("logit_", lambda s, eps=None: logit(s, eps))


def addr(self, vec1, vec2, *, beta=1, alpha=1):
    """beta * self + alpha * outer(vec1, vec2)."""
    if vec1.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(
            f"addr: Expected 1-D argument vec1 and vec2, but got {vec1.dim()}-D and {vec2.dim()}-D"
        )
    p = vec1.outer(vec2)
    if alpha != 1:
        p = p * alpha
    return p if beta == 0 else (self * beta if beta != 1 else self) + p


_method("addr", addr)
_inplace(
    "addr_", lambda s, vec1, vec2, *, beta=1, alpha=1: addr(s, vec1, vec2, beta=beta, alpha=alpha)
)


def ldexp(self, other):
    """self * 2**other (in floating point, as PyTorch promotes integer inputs)."""
    x = self if self.dtype.is_floating_point else self.to(_dtype.get_default_dtype())
    return x * _ops.pow(2.0, other if isinstance(other, Tensor) else float(other))


_method("ldexp", ldexp)
_inplace("ldexp_", lambda s, other: ldexp(s, other))


def _host_unary(name, np_fn):
    # Host (numpy) evaluation for ops PyTorch does not differentiate either (nextafter,
    # frexp) or that are rare in training code (i0): no autograd history.
    def f(self, *others):
        args = [o.detach().cpu().numpy() if isinstance(o, Tensor) else o for o in others]
        r = np_fn(self.detach().cpu().numpy(), *args)
        if isinstance(r, tuple):
            return tuple(_ops.tensor(x, device=self.device) for x in r)
        return _ops.tensor(np.asarray(r, dtype=r.dtype), device=self.device)

    _method(name, f)


_host_unary("i0", lambda a: np.i0(a).astype(a.dtype))
_inplace("i0_", lambda s: s.i0())
_host_unary("nextafter", lambda a, b: np.nextafter(a, np.asarray(b, dtype=a.dtype)))
_inplace("nextafter_", lambda s, other: s.nextafter(other))


def _frexp(a):
    m, e = np.frexp(a)
    return m.astype(a.dtype), e.astype(np.int32)


_host_unary("frexp", _frexp)
_method("conj_physical", lambda self: self.clone())  # ember has no complex dtypes
_method("conj_physical_", lambda self: self)


def _gcd(a, b):
    return np.gcd(a, np.asarray(b, dtype=a.dtype))


def _lcm(a, b):
    return np.lcm(a, np.asarray(b, dtype=a.dtype))


def _check_integral(fn, *ts):
    for t in ts:
        if isinstance(t, Tensor) and (t.dtype.is_floating_point or t.dtype == _dtype.bool):
            raise NotImplementedError(f"\"{fn}_cpu\" not implemented for '{_dtype_title(t.dtype)}'")


_host_unary("_gcd_host", _gcd)
_host_unary("_lcm_host", _lcm)


def gcd(self, other):
    """Elementwise greatest common divisor of integer tensors (integers have no gradient)."""
    _check_integral("gcd", self, other)
    return self._gcd_host(other)


def lcm(self, other):
    """Elementwise least common multiple of integer tensors."""
    _check_integral("lcm", self, other)
    return self._lcm_host(other)


_method("gcd", gcd)
_method("lcm", lcm)
_inplace("gcd_", gcd)
_inplace("lcm_", lcm)


def put(self, index, source, accumulate=False):
    """Copy of self with source written at flat (row-major) positions `index`."""
    if index.dtype != _dtype.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {index.dtype}")
    if index.numel() != source.numel():
        raise RuntimeError(
            f"put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source.numel()}, index.numel() = {index.numel()}"
        )
    flat = _ops.index_put(self.reshape(-1), (index.reshape(-1),), source.reshape(-1), accumulate)
    return flat.reshape(self.shape)


_method("put", put)
_inplace("put_", put)


def renorm(self, p, dim, maxnorm):
    """Rescale each slice along `dim` whose p-norm exceeds maxnorm to norm maxnorm."""
    if self.dim() <= 1:
        raise RuntimeError(
            f"renorm: input needs at least 2 dimensions, got {self.dim()} dimensions"
        )
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = dim % self.dim()
    others = [i for i in range(self.dim()) if i != d]
    norm = self.norm(p=float(p), dim=others, keepdim=True)
    # PyTorch's factor: maxnorm / (norm + 1e-7) where the norm is too large, else 1
    factor = _ops.where(norm > maxnorm, maxnorm / (norm + 1e-7), _ops.ones_like(norm))
    return self * factor


_method("renorm", renorm)
_inplace("renorm_", renorm)


def index_reduce(self, dim, index, source, reduce, *, include_self=True):
    """self with source's slices reduced ("prod", "mean", "amax", "amin") into rows `index` of dim."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(
            f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}."
        )
    if index.dim() > 1 or index.numel() != source.shape[dim]:
        raise IndexError(
            "index_reduce(): Index should have dimension 1 and as many entries as "
            f"source.size({dim}) = {source.shape[dim]}, got shape {list(index.shape)}"
        )
    d = dim % source.dim()
    shape = [1] * source.dim()
    shape[d] = -1
    idx = index.reshape(shape).expand(source.shape)
    return self.scatter_reduce(d, idx, source, reduce, include_self=include_self)


_method("index_reduce", index_reduce)
_inplace(
    "index_reduce_",
    lambda s, dim, index, source, reduce, *, include_self=True: index_reduce(
        s, dim, index, source, reduce, include_self=include_self
    ),
)

# ----------------------------------------------------------------- torch.x_ functions

# PyTorch's top-level in-place functions (torch.exp_(t) is t.exp_()) and the new ops above.
_TOP_LEVEL = """abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_
as_strided_ asin_ asinh_ atan_ atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ conj_physical_
cos_ cosh_ deg2rad_ detach_ erf_ erfc_ exp2_ exp_ expm1_ fill_ fix_ floor_ frac_ gcd_ i0_
index_put_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_
reciprocal_ relu_ resize_as_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_
trunc_ xlogy_ zero_
logit addr gcd lcm put renorm index_reduce conj_physical""".split()


def _top_level(name):
    def f(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    f.__name__ = f.__qualname__ = name
    return f


top_level_functions = {n: _top_level(n) for n in _TOP_LEVEL}
