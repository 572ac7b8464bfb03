"""Tensor methods for sorting and selection (sort, argsort, msort, topk,
kthvalue, median, nanmedian, mode, unique, unique_consecutive, cummax,
cummin), scans and special functions (logcumsumexp, lgamma, digamma,
polygamma, mvlgamma, erfinv) and small math helpers composed from tensor ops
(diff, hypot, logaddexp, logaddexp2, xlogy, sinc, deg2rad, rad2deg, copysign,
heaviside). The kernels live in ember-core; this file only shapes results."""

import collections
import math

from . import _C, _dtype
from ._tensor import Tensor, _method, return_types

return_types.nanmedian = collections.namedtuple("nanmedian", ["values", "indices"])


# ----- sorting and selection -----
def sort(self, dim=-1, descending=False, stable=False, *, out=None):
    v, i = _C.sort(self, dim, descending, bool(stable))
    return return_types.sort(v, i)


def argsort(self, dim=-1, descending=False, stable=False):
    return _C.argsort(self, dim, descending, bool(stable))


def msort(self):
    return _C.sort(self, 0, False, True)[0]


def topk(self, k, dim=-1, largest=True, sorted=True, *, out=None):  # noqa: A002 - PyTorch's name
    v, i = _C.topk(self, int(k), dim, largest, sorted)
    return return_types.topk(v, i)


def kthvalue(self, k, dim=-1, keepdim=False, *, out=None):
    v, i = _C.kthvalue(self, int(k), dim, keepdim)
    return return_types.kthvalue(v, i)


def median(self, dim=None, keepdim=False, *, out=None):
    if dim is None:
        return _C.median_all(self, False)
    v, i = _C.median_dim(self, dim, keepdim, False)
    return return_types.median(v, i)


def nanmedian(self, dim=None, keepdim=False, *, out=None):
    if dim is None:
        return _C.median_all(self, True)
    v, i = _C.median_dim(self, dim, keepdim, True)
    return return_types.nanmedian(v, i)


def mode(self, dim=-1, keepdim=False, *, out=None):
    v, i = _C.mode(self, dim, keepdim)
    return return_types.mode(v, i)


def _unique_result(v, inv, counts, return_inverse, return_counts):
    if return_inverse and return_counts:
        return v, inv, counts
    if return_inverse:
        return v, inv
    if return_counts:
        return v, counts
    return v


def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    # PyTorch's CPU kernel always sorts; sorted=False gives the same result.
    v, inv, counts = _C.unique(self, dim, False)
    return _unique_result(v, inv, counts, return_inverse, return_counts)


def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
    v, inv, counts = _C.unique(self, dim, True)
    return _unique_result(v, inv, counts, return_inverse, return_counts)


def cummax(self, dim):
    v, i = _C.cummax(self, dim, True)
    return return_types.cummax(v, i)


def cummin(self, dim):
    v, i = _C.cummax(self, dim, False)
    return return_types.cummin(v, i)


for _f in (
    sort,
    argsort,
    msort,
    topk,
    kthvalue,
    median,
    nanmedian,
    mode,
    unique,
    unique_consecutive,
    cummax,
    cummin,
):
    _method(_f.__name__, _f)


# ----- scans and special functions -----
_method("logcumsumexp", lambda self, dim: _C.logcumsumexp(self, dim))
for _n in ("lgamma", "digamma", "erfinv"):
    _method(_n, (lambda n: lambda self: _C.special(self, n))(_n))
    _method(
        _n + "_", (lambda n: lambda self: self._inplace(n + "_", lambda s: _C.special(s, n)))(_n)
    )
_method("polygamma", lambda self, n: _C.special(self, "polygamma", int(n)))
_method(
    "polygamma_",
    lambda self, n: self._inplace("polygamma_", lambda s: _C.special(s, "polygamma", int(n))),
)


def mvlgamma(self, p):
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1 (got p={p})")
    x = self if self.is_floating_point() else self.float()
    if bool((x <= (p - 1) / 2).any()):
        raise RuntimeError(
            f"mvlgamma: All elements must be greater than (p-1)/2 = {(p - 1) / 2} for p={p}"
        )
    r = p * (p - 1) / 4 * math.log(math.pi)
    for i in range(p):
        r = _C.special(x - i / 2, "lgamma") + r
    return r


_method("mvlgamma", mvlgamma)


# ----- binary math -----
for _n in ("hypot", "logaddexp", "logaddexp2", "xlogy", "copysign"):
    _method(_n, (lambda n: lambda self, other: _C.special_binary(self, other, n))(_n))
    _method(
        _n + "_",
        (
            lambda n: (
                lambda self, other: self._inplace(n + "_", lambda s: _C.special_binary(s, other, n))
            )
        )(_n),
    )


def _floating(self):
    return self if self.is_floating_point() else self.float()


def sinc(self):
    x = _floating(self)
    zero = x == 0
    # Keep the masked-out branch finite so its zero gradient stays zero.
    px = _C.where_(zero, 1.0, x * math.pi)
    return _C.where_(zero, 1.0, px.sin() / px)


def deg2rad(self):
    return _floating(self) * (math.pi / 180.0)


def rad2deg(self):
    return _floating(self) * (180.0 / math.pi)


def heaviside(self, values):
    if not isinstance(values, Tensor):
        raise TypeError("heaviside(): argument 'values' must be Tensor")
    if self.dtype != values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    return _C.where_(self == 0, values, (self > 0).to(self.dtype))


def _diff_extra(self, extra, dim):
    if not isinstance(extra, Tensor):
        shape = list(self.shape)
        shape[dim] = 1
        return self.new_full(shape, extra)
    if extra.dim() != self.dim():
        raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    return extra


def diff(self, n=1, dim=-1, prepend=None, append=None):
    if self.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    parts = [self]
    if prepend is not None:
        parts.insert(0, _diff_extra(self, prepend, dim))
    if append is not None:
        parts.append(_diff_extra(self, append, dim))
    x = _C.cat(parts, dim) if len(parts) > 1 else self
    for _ in range(n):
        length = x.shape[dim]
        if length == 0:
            break
        a = x.narrow(dim, 1, length - 1)
        b = x.narrow(dim, 0, length - 1)
        x = a.logical_xor(b) if x.dtype == _dtype.bool else a - b
    return x


for _f in (sinc, deg2rad, rad2deg, heaviside, diff):
    _method(_f.__name__, _f)
for _n in ("sinc", "deg2rad", "rad2deg"):
    _method(
        _n + "_",
        (lambda f, n: lambda self: self._inplace(n + "_", f))(getattr(Tensor, _n), _n),
    )
_method(
    "heaviside_",
    lambda self, values: self._inplace("heaviside_", lambda s: heaviside(s, values)),
)
