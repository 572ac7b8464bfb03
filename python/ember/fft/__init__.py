"""ember.fft: PyTorch's torch.fft on rustfft and realfft.

Every transform composes three primitives of the core, each the unnormalized DFT along one
dim with its gradient: `_C._fft_c2c` (complex to complex, rust/core/src/ops/fft.rs),
`_C._fft_r2c` (real signal to its n // 2 + 1 bins) and `_C._fft_c2r` (half spectrum to real
signal, rust/core/src/ops/fft_real.rs), with ember's differentiable ops: `n`/`s` truncate or
zero-pad, and the `norm` mode scales. Gradients follow from the primitives' adjoints, which
are PyTorch's (doubled middle bins for irfft, for example).
"""

import math

from .. import _C, _dtype

__all__ = [
    "fft",
    "ifft",
    "fft2",
    "ifft2",
    "fftn",
    "ifftn",
    "rfft",
    "irfft",
    "rfft2",
    "irfft2",
    "rfftn",
    "irfftn",
    "hfft",
    "ihfft",
    "hfft2",
    "ihfft2",
    "hfftn",
    "ihfftn",
    "fftfreq",
    "rfftfreq",
    "fftshift",
    "ifftshift",
]

_NORMS = (None, "backward", "forward", "ortho")


def _ember():
    import ember

    return ember


def _check_norm(norm):
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')


def _scale(norm, n, inverse):
    """The factor a transform of n points applies in this norm mode."""
    if norm == "ortho":
        return 1.0 / math.sqrt(n)
    if (norm in (None, "backward")) == inverse:
        return 1.0 / n
    return 1.0


def _swap(norm):
    """hfft/ihfft run irfft/rfft in the opposite direction's norm."""
    return {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}[norm]


def _check_tensor(fn, x):
    if not isinstance(x, _C.Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(x).__name__}")


def _wrap_dim(x, dim):
    nd = x.dim()
    if nd == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if not -nd <= dim < nd:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})"
        )
    return dim % nd


def _as_complex(fn, x):
    """x as a complex tensor: float32 -> complex64, float64 -> complex128, ints -> default."""
    torch = _ember()
    dt = x.dtype
    if dt.is_complex:
        return x
    if dt in (_dtype.float16, _dtype.bfloat16):
        raise NotImplementedError(f"Unsupported dtype {_dtype_short(dt)}")
    if dt == _dtype.float64:
        target = torch.complex128
    elif dt == _dtype.float32:
        target = torch.complex64
    else:
        x = x.to(torch.get_default_dtype())
        target = torch.complex128 if x.dtype == _dtype.float64 else torch.complex64
    return torch.complex(x, torch.zeros_like(x)).to(target)


def _as_real(fn, x):
    torch = _ember()
    dt = x.dtype
    if dt.is_complex:
        raise TypeError(f"{fn} expects a real input tensor, but got {_dtype_short(dt)}")
    if dt in (_dtype.float16, _dtype.bfloat16):
        raise NotImplementedError(f"Unsupported dtype {_dtype_short(dt)}")
    if not dt.is_floating_point:
        x = x.to(torch.get_default_dtype())
    return x


def _dtype_short(dt):
    return {
        "complex64": "ComplexFloat",
        "complex128": "ComplexDouble",
        "float16": "Half",
        "bfloat16": "BFloat16",
    }.get(dt.name, dt.name)


def _resize(x, dim, n):
    """x cut or zero-padded (at the end) to n elements along dim (complex or real)."""
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    size = x.shape[dim]
    if n == size:
        return x
    if n < size:
        return x.narrow(dim, 0, n)
    torch = _ember()
    if x.dtype.is_complex:
        r = torch.view_as_real(x)
        return torch.view_as_complex(_resize(r, dim, n).contiguous())
    shape = list(x.shape)
    shape[dim] = n - size
    return torch.cat([x, torch.zeros(shape, dtype=x.dtype, device=x.device)], dim)


def _c2c(x, dim, inverse, norm, n):
    y = _C._fft_c2c(x, dim, inverse)
    s = _scale(norm, n, inverse)
    return y if s == 1.0 else y * s


# ------------------------------------------------------------------ complex transforms
def fft(input, n=None, dim=-1, norm=None, *, out=None):
    _check_tensor("fft_fft", input)
    _check_norm(norm)
    d = _wrap_dim(input, dim)
    x = _as_complex("fft", input)
    n = x.shape[d] if n is None else n
    return _out(_c2c(_resize(x, d, n), d, False, norm, n), out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    _check_tensor("fft_ifft", input)
    _check_norm(norm)
    d = _wrap_dim(input, dim)
    x = _as_complex("ifft", input)
    n = x.shape[d] if n is None else n
    return _out(_c2c(_resize(x, d, n), d, True, norm, n), out)


def _dims_and_sizes(x, s, dim):
    """PyTorch's fftn rule: dims default to all (or the last len(s)); s defaults to their sizes."""
    if dim is None:
        dims = list(range(x.dim())) if s is None else list(range(x.dim() - len(s), x.dim()))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
    dims = [_wrap_dim(x, d) for d in dims]
    if len(set(dims)) != len(dims):
        raise RuntimeError("FFT dims must be unique")
    if s is None:
        sizes = [x.shape[d] for d in dims]
    else:
        sizes = [int(v) for v in s]
        if len(sizes) != len(dims):
            raise RuntimeError(
                f"When given, dim and shape arguments must have the same length (got {len(dims)} "
                f"and {len(sizes)})"
            )
        sizes = [x.shape[d] if v == -1 else v for d, v in zip(dims, sizes)]
    return dims, sizes


def _fftn(fn, input, s, dim, norm, inverse):
    _check_tensor(fn, input)
    _check_norm(norm)
    x = _as_complex(fn, input)
    dims, sizes = _dims_and_sizes(x, s, dim)
    for d, n in zip(dims, sizes):
        x = _c2c(_resize(x, d, n), d, inverse, norm, n)
    return x


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    return _out(_fftn("fft_fftn", input, s, dim, norm, False), out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    return _out(_fftn("fft_ifftn", input, s, dim, norm, True), out)


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return fftn(input, s, dim, norm, out=out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return ifftn(input, s, dim, norm, out=out)


# ------------------------------------------------------------------ real transforms
def _rfft_dim(x, d, n, norm):
    """The n // 2 + 1 bins of the real signal x (resized to n) along d: realfft's r2c."""
    y = _C._fft_r2c(_resize(x, d, n), d)
    s = _scale(norm, n, False)
    return y if s == 1.0 else y * s


def _irfft_dim(x, d, n, norm):
    """Real signal of n points from the half spectrum x along d: realfft's c2r (the imaginary
    parts of the DC and, for even n, Nyquist bins are not read, as PyTorch's)."""
    out = _C._fft_c2r(_resize(x, d, n // 2 + 1), d, n)
    s = _scale(norm, n, True)
    return out if s == 1.0 else out * s


def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    _check_tensor("fft_rfft", input)
    _check_norm(norm)
    d = _wrap_dim(input, dim)
    x = _as_real("rfft", input)
    n = x.shape[d] if n is None else n
    return _out(_rfft_dim(x, d, n, norm), out)


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    _check_tensor("fft_irfft", input)
    _check_norm(norm)
    d = _wrap_dim(input, dim)
    x = _as_complex("irfft", input)
    n = 2 * (x.shape[d] - 1) if n is None else n
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return _out(_irfft_dim(x, d, n, norm), out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    _check_tensor("fft_rfftn", input)
    _check_norm(norm)
    x = _as_real("rfftn", input)
    dims, sizes = _dims_and_sizes(x, s, dim)
    if not dims:
        raise RuntimeError("rfftn must transform at least one axis")
    y = _rfft_dim(x, dims[-1], sizes[-1], norm)
    for d, n in zip(dims[:-1], sizes[:-1]):
        y = _c2c(_resize(y, d, n), d, False, norm, n)
    return _out(y, out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    _check_tensor("fft_irfftn", input)
    _check_norm(norm)
    x = _as_complex("irfftn", input)
    dims, sizes = _dims_and_sizes(x, s, dim)
    if not dims:
        raise RuntimeError("irfftn must transform at least one axis")
    if s is None:
        sizes[-1] = 2 * (x.shape[dims[-1]] - 1)
    for d, n in zip(dims[:-1], sizes[:-1]):
        x = _c2c(_resize(x, d, n), d, True, norm, n)
    if sizes[-1] < 1:
        raise RuntimeError(f"Invalid number of data points ({sizes[-1]}) specified")
    return _out(_irfft_dim(x, dims[-1], sizes[-1], norm), out)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return rfftn(input, s, dim, norm, out=out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return irfftn(input, s, dim, norm, out=out)


def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The real spectrum of a Hermitian signal given by its first half: irfft of the
    conjugate, in the opposite direction's norm."""
    _check_tensor("fft_hfft", input)
    _check_norm(norm)
    x = _as_complex("hfft", input)
    return irfft(x.conj(), n, dim, _swap(norm), out=out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    _check_tensor("fft_ihfft", input)
    _check_norm(norm)
    x = _as_real("ihfft", input)
    return _out(rfft(x, n, dim, _swap(norm)).conj(), out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    _check_tensor("fft_hfftn", input)
    _check_norm(norm)
    x = _as_complex("hfftn", input)
    return irfftn(x.conj(), s, dim, _swap(norm), out=out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    _check_tensor("fft_ihfftn", input)
    _check_norm(norm)
    x = _as_real("ihfftn", input)
    return _out(rfftn(x, s, dim, _swap(norm)).conj(), out)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return hfftn(input, s, dim, norm, out=out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return ihfftn(input, s, dim, norm, out=out)


# ------------------------------------------------------------------ helpers
def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Sample frequencies [0, 1, ..., (n-1)//2, -(n//2), ..., -1] / (d * n)."""
    torch = _ember()
    k = list(range((n - 1) // 2 + 1)) + list(range(-(n // 2), 0))
    t = torch.tensor([v / (d * n) for v in k], dtype=dtype or torch.get_default_dtype())
    t = t.to(device) if device is not None else t
    return _out(t.requires_grad_(requires_grad), out)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Sample frequencies [0, 1, ..., n//2] / (d * n) of rfft."""
    torch = _ember()
    t = torch.tensor(
        [v / (d * n) for v in range(n // 2 + 1)], dtype=dtype or torch.get_default_dtype()
    )
    t = t.to(device) if device is not None else t
    return _out(t.requires_grad_(requires_grad), out)


def _shift(x, dim, sign):
    torch = _ember()
    if dim is None:
        dims = list(range(x.dim()))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
    dims = [_wrap_dim(x, d) for d in dims]
    shifts = [sign * (x.shape[d] // 2) for d in dims]
    if x.dtype.is_complex:
        r = torch.view_as_real(x).roll(shifts, dims)
        return torch.view_as_complex(r.contiguous())
    return x.roll(shifts, dims)


def fftshift(input, dim=None):
    """Zero frequency to the middle: roll each dim by size // 2."""
    _check_tensor("fft_fftshift", input)
    return _shift(input, dim, 1)


def ifftshift(input, dim=None):
    """The inverse of fftshift: roll each dim by -(size // 2)."""
    _check_tensor("fft_ifftshift", input)
    return _shift(input, dim, -1)


def _out(result, out):
    if out is None:
        return result
    if not isinstance(out, _C.Tensor):
        raise TypeError(f"out must be a Tensor, not {type(out).__name__}")
    if out.dtype != result.dtype:
        raise RuntimeError(
            f"Expected out tensor to have dtype {result.dtype}, but got {out.dtype} instead"
        )
    out.resize_(result.shape) if tuple(out.shape) != tuple(result.shape) else None
    out.copy_(result)
    return out


from ._spectral import _install  # noqa: E402

_install()
