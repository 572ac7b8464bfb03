"""Core API names PyTorch programs use that the kernels did not cover, composed from ember ops.

memory_format (accepted, no layout change), Tensor.nbytes/itemsize/trace,
tile, kron, rot90, isin, tril_indices/triu_indices, bincount, multinomial as
a method, pdist/cdist, and the top-level cosine_similarity/pairwise_distance.
Everything differentiable is built from differentiable ember ops, so
autograd and both devices work without new kernels.
"""

import builtins

import numpy as np

from . import _dtype, _ops
from . import _tensor as _tensor_mod
from ._tensor import Tensor, _method

# ----------------------------------------------------------------- memory_format


class memory_format:  # noqa: N801 - PyTorch's name
    """A memory layout request. ember keeps every tensor in row-major (contiguous)
    layout: the formats are accepted where PyTorch takes them and give the same
    values, but no channels-last copy is made."""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"ember.{self._name}"

    def __reduce__(self):
        return (_format_by_name, (self._name,))


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")
_FORMATS = {
    f._name: f for f in (contiguous_format, channels_last, channels_last_3d, preserve_format)
}


def _format_by_name(name):
    return _FORMATS[name]


def _check_format(fn, mf):
    if mf is not None and not isinstance(mf, memory_format):
        raise TypeError(
            f"{fn}(): argument 'memory_format' must be ember.memory_format, not {type(mf).__name__}"
        )


def _channels_last_strided(t, order):
    """Whether t's strides are those of a dense layout whose dims run `order` innermost first."""
    expected = 1
    for d in order:
        if t.shape[d] != 1 and t.stride(d) != expected:
            return False
        expected *= t.shape[d]
    return True


# The wrappers below sit on hot paths (.to, .clone, .contiguous run per batch): they check
# the format only when one is given and call the underlying methods directly.
_C_is_contiguous = Tensor.is_contiguous
_C_clone = Tensor.clone
_C_contiguous = _tensor_mod._C_contiguous
_py_to = Tensor.to


def is_contiguous(self, memory_format=contiguous_format):
    if memory_format is contiguous_format:
        return _C_is_contiguous(self)
    _check_format("is_contiguous", memory_format)
    if memory_format is channels_last:
        return self.dim() == 4 and _channels_last_strided(self, (1, 3, 2, 0))
    if memory_format is channels_last_3d:
        return self.dim() == 5 and _channels_last_strided(self, (1, 4, 3, 2, 0))
    return _C_is_contiguous(self)


def clone(self, *, memory_format=preserve_format):
    if memory_format is not preserve_format:
        _check_format("clone", memory_format)
    return _C_clone(self)


def to(self, *args, memory_format=None, **kwargs):
    if memory_format is not None:
        _check_format("to", memory_format)
    return _py_to(self, *args, **kwargs)


def contiguous(self, memory_format=contiguous_format):
    if memory_format is not contiguous_format:
        _check_format("contiguous", memory_format)
    # PyTorch returns the tensor itself (same object) when no copy is needed.
    return self if _C_is_contiguous(self) else _C_contiguous(self)


_method("is_contiguous", is_contiguous)
_method("clone", clone)
_method("to", to)
_method("contiguous", contiguous)


def _clone_fn(input, *, memory_format=preserve_format):
    return input.clone(memory_format=memory_format)


# ----------------------------------------------------------------- sizes, trace

Tensor.itemsize = property(lambda self: self.element_size())
Tensor.nbytes = property(lambda self: self.numel() * self.element_size())


def trace(input):
    """Sum of the main diagonal of a 2-D tensor."""
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    return input.diagonal().sum()


_method("trace", trace)

# ----------------------------------------------------------------- tile, kron, rot90


def _int_tuple(fn, name, v):
    if isinstance(v, (list, tuple)) and builtins.all(
        isinstance(x, (int, np.integer)) and not isinstance(x, builtins.bool) for x in v
    ):
        return tuple(int(x) for x in v)
    raise TypeError(f"{fn}(): argument '{name}' must be tuple of ints, not {type(v).__name__}")


def tile(input, dims):
    """Repeat `input` dims[i] times along each dim (missing leading dims count as 1)."""
    dims = _int_tuple("tile", "dims", dims)
    t = input
    while t.dim() < len(dims):
        t = t.unsqueeze(0)
    reps = (1,) * (t.dim() - len(dims)) + dims
    return t.repeat(*reps)


_method(
    "tile",
    lambda self, *dims: tile(
        self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims
    ),
)


def kron(input, other):
    """Kronecker product: out[i*b0 + k, ...] = input[i, ...] * other[k, ...]."""
    n = builtins.max(input.dim(), other.dim())
    a = input.reshape((1,) * (n - input.dim()) + tuple(input.shape))
    b = other.reshape((1,) * (n - other.dim()) + tuple(other.shape))
    # interleave: a's dims at even positions, b's at odd, then merge each pair
    a = a.reshape(tuple(x for s in a.shape for x in (s, 1)))
    b = b.reshape(tuple(x for s in b.shape for x in (1, s)))
    return (a * b).reshape(tuple(p * q for p, q in zip(a.shape[::2], b.shape[1::2])))


_method("kron", kron)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane dims, from dims[0] towards dims[1]."""
    dims = _int_tuple("rot90", "dims", dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.dim()}")
    nd = input.dim()
    d0, d1 = dims
    if not (-nd <= d0 < nd and -nd <= d1 < nd):
        raise IndexError(f"rot90: dims {dims} out of range for a tensor of dimension {nd}")
    if d0 % nd == d1 % nd:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"
        )
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip(d0, d1)
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


_method("rot90", rot90)

# ----------------------------------------------------------------- isin, bincount

# Beyond this many element pairs isin runs a sorted search on the host instead of comparing
# every pair on the device (which would need elements * test_elements booleans of memory).
_ISIN_PAIRWISE_LIMIT = 1 << 22


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Bool tensor shaped like `elements`: whether each element occurs in `test_elements`."""
    e_t, t_t = isinstance(elements, Tensor), isinstance(test_elements, Tensor)
    if not e_t and not t_t:
        raise TypeError(
            "isin(): expected elements or test_elements to be a Tensor, got "
            f"{type(elements).__name__} and {type(test_elements).__name__}"
        )
    like = elements if e_t else test_elements
    if not e_t:
        elements = _ops.tensor(elements, device=like.device)
    if not t_t:
        test_elements = _ops.tensor(test_elements, device=like.device)
    elements, test_elements = elements.detach(), test_elements.detach()
    if elements.numel() * test_elements.numel() <= _ISIN_PAIRWISE_LIMIT:
        flat = elements.reshape(-1, 1) == test_elements.reshape(1, -1)
        r = (
            flat.any(-1).reshape(elements.shape)
            if test_elements.numel()
            else (_ops.zeros(elements.shape, dtype=_dtype.bool, device=elements.device))
        )
    else:
        a = elements.cpu().numpy()
        b = test_elements.cpu().numpy()
        r = _ops.tensor(np.isin(a, b, assume_unique=assume_unique), device=elements.device)
    return r.logical_not() if invert else r


def bincount(input, weights=None, minlength=0):
    """Counts (or summed weights) of each value of a 1-D non-negative integer tensor."""
    if (
        input.dim() != 1
        or input.dtype.is_floating_point
        or input.dtype == _dtype.bool
        or (input.numel() and builtins.bool((input < 0).any().item()))
    ):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    if weights is not None and (weights.dim() != 1 or weights.shape[0] != input.shape[0]):
        raise RuntimeError(
            "bincount: weights should be 1-d and have the same length as input, got "
            f"input {list(input.shape)} and weights {list(weights.shape)}"
        )
    a = input.cpu().numpy()
    if weights is None:
        r = np.bincount(a, minlength=minlength).astype(np.int64)
        return _ops.tensor(r, device=input.device)
    w = weights.detach().cpu().numpy().astype(np.float64)
    # PyTorch keeps float32/float16 weights' dtype and counts integer weights in float64.
    dt = weights.dtype if weights.dtype.is_floating_point else _dtype.float64
    return _ops.tensor(np.bincount(a, w, minlength), dtype=dt, device=input.device)


_method("bincount", bincount)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices sampled from the categorical distribution(s) in the rows of `input`."""
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: {input.dtype}"
        )
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = input.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    # The sampler reads the probabilities on the host anyway; check them there in one read.
    a = input.detach().cpu().to(_dtype.float64).numpy()
    if not np.isfinite(a).all() or (a < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (a.reshape(-1, n).sum(-1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    r = _ops.multinomial(input, int(num_samples), replacement, generator=generator)
    return r.to(input.device)


_method("multinomial", multinomial)

# ----------------------------------------------------------------- index helpers


def _tri_indices(fn, row, col, offset, dtype, device, lower):
    for name, v in (("row", row), ("col", col), ("offset", offset)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, builtins.bool):
            raise TypeError(f"{fn}(): argument '{name}' must be int, not {type(v).__name__}")
    if row < 0 or col < 0:
        raise RuntimeError(f"{fn}: row must be non-negative, got {row} and col {col}")
    if dtype not in (_dtype.int64, _dtype.int32):
        raise RuntimeError(f"{fn}: \"{fn}\" not implemented for '{dtype}'")
    ind = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    arr = np.stack(ind).astype(np.int64).reshape(2, -1)
    return _ops.tensor(arr, dtype=dtype, device=device)


def tril_indices(row, col, offset=0, *, dtype=_dtype.int64, device=None, layout=None):
    """2 x N indices of the lower triangle (on and below diagonal `offset`), row by row."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device, True)


def triu_indices(row, col, offset=0, *, dtype=_dtype.int64, device=None, layout=None):
    """2 x N indices of the upper triangle (on and above diagonal `offset`), row by row."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device, False)


# ----------------------------------------------------------------- distances


def _dist(a, b, p):
    # ember's norm backward gives 0 (not nan) at a zero difference, as PyTorch's cdist does.
    return (a - b).norm(p=float(p), dim=-1)


def pdist(input, p=2.0):
    """Distances between all row pairs i < j of an N x M tensor, in row-major pair order."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = triu_indices(input.shape[0], input.shape[0], 1, device=input.device)
    return _dist(input.index_select(0, i), input.index_select(0, j), p)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distance between each row of x1 and each row of x2 (batched: ..., P x M / R x M)."""
    if x1.dim() < 2 or x2.dim() < 2:
        raise RuntimeError(
            f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D, X2 got: {x2.dim()}D"
        )
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    return _dist(x1.unsqueeze(-2), x2.unsqueeze(-3), p)


# ----------------------------------------------------------------- is_complex


def is_complex(input):
    """True if `input`'s dtype is complex. ember has no complex dtypes yet, so this is False for
    every ember tensor; it reads `dtype.is_complex` so it stays right once they exist."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"is_complex(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    return input.dtype.is_complex


_method("is_complex", lambda self: self.dtype.is_complex)
