"""torch.linalg functions composed from the factorizations: pinv, lstsq,
matrix_rank, cond, matrix_power, matrix_exp, multi_dot, tensorinv,
tensorsolve, vander, diagonal and householder_product.

Gradients come from the differentiable pieces (linalg/_autograd.py: Pinv,
SVD, Inv, MatrixExp) and ordinary ember ops, so they run on both devices.
"""

from .. import _C, _dtype, _ops
from .._tensor import return_types
from . import _autograd as _ag


def _eps(dtype):
    return 2.220446049250313e-16 if dtype == _dtype.float64 else 1.1920928955078125e-07


def _default_rtol(A, atol, rtol):
    """PyTorch's rule: rtol defaults to eps * max(m, n), or to 0 when atol > 0 is given."""
    if rtol is not None:
        return rtol
    if atol is None or (not hasattr(atol, "shape") and atol == 0):
        return _eps(A.dtype) * max(A.shape[-2], A.shape[-1])
    return 0.0


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    if A.dim() < 2:
        raise RuntimeError("linalg.pinv: The input tensor A must have at least 2 dimensions.")
    if not A.is_floating_point():
        raise RuntimeError(
            "linalg.pinv(" + A.dtype.name + "{" + str(list(A.shape)) + "}): expected a tensor "
            "with 2 or more dimensions of float, double, cfloat or cdouble types"
        )
    if rcond is not None:
        rtol = rcond
    rtol = _default_rtol(A, atol, rtol)
    m, n = A.shape[-2], A.shape[-1]
    if m == 0 or n == 0:
        return _ops.zeros(list(A.shape[:-2]) + [n, m], dtype=A.dtype, device=A.device)
    return _ag.Pinv.apply(A, atol, rtol, bool(hermitian))


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    if A.dim() < 2:
        raise RuntimeError(
            "linalg.matrix_rank: The input tensor input must have at least 2 dimensions."
        )
    if tol is not None:
        atol, rtol = tol, 0.0
    rtol = _default_rtol(A, atol, rtol)
    m, n = A.shape[-2], A.shape[-1]
    if m == 0 or n == 0:
        return _ops.zeros(list(A.shape[:-2]), dtype=_dtype.int64, device=A.device)
    if hermitian:
        S = _C._linalg_eigh(A, "L", False)[0].abs()
        smax = S.amax(-1, keepdim=True)
    else:
        S = _C._linalg_svd(A, False, False)[1]
        smax = S[..., :1]
    tol_t = _ag._tol(smax, atol, rtol, A)
    return (S > tol_t).sum(-1)


_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None, out=None):
    """Least squares through the pseudo-inverse (minimum-norm for rank-deficient A,
    as LAPACK's gelsy/gelsd). Outputs follow PyTorch's CPU rules per driver:
    rank for gelsy/gelsd/gelss, singular values for gelsd/gelss, residuals for
    drivers other than gelsy when m > n and every matrix has full rank."""
    fn = "torch.linalg.lstsq"
    if driver is None:
        driver = "gelsy"
    if driver not in _DRIVERS:
        raise RuntimeError(f"{fn}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    if A.dim() < 2:
        raise RuntimeError(f"{fn}: input must have at least 2 dimensions.")
    if A.dtype != B.dtype:
        raise RuntimeError(
            f"{fn}: Expected input and other to have the same dtype, but got "
            f"input's dtype {A.dtype} and other's dtype {B.dtype}"
        )
    if B.dim() > A.dim() or A.dim() - B.dim() > 1:
        raise RuntimeError(
            f"{fn}: input.dim() must be greater or equal to other.dim() and "
            "(input.dim() - other.dim()) <= 1"
        )
    vec = B.dim() == A.dim() - 1
    Bm = B.unsqueeze(-1) if vec else B
    if Bm.dim() < 2 or Bm.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"{fn}: input.size(-2) should match other.size(-2)")
    m, n = A.shape[-2], A.shape[-1]
    rtol = rcond if rcond is not None and rcond >= 0 else _eps(A.dtype) * max(m, n)
    X = pinv(A, rtol=rtol) @ Bm
    empty = _ops.zeros([0], dtype=A.dtype, device=A.device)
    rank = _ops.zeros([0], dtype=_dtype.int64, device=A.device)
    svals = empty
    if driver != "gels" or m > n:
        full_rank = matrix_rank(A.detach(), rtol=rtol)
        if driver != "gels":
            rank = full_rank
    if driver in ("gelsd", "gelss"):
        svals = _C._linalg_svd(A.detach(), False, False)[1]
    residuals = empty
    if driver != "gelsy" and m > n and bool((full_rank == n).all()):
        residuals = ((A @ X - Bm) ** 2).sum(-2)
        if vec:
            residuals = residuals.squeeze(-1)
    if vec:
        X = X.squeeze(-1)
    return return_types.linalg_lstsq(X, residuals, rank, svals)


def cond(A, p=None, *, out=None):
    from . import inv_ex, matrix_norm, svdvals

    if A.dim() < 2:
        raise RuntimeError("linalg.cond: The input tensor A must have at least 2 dimensions.")
    if p is None or p in (2, -2):
        S = svdvals(A)
        if p == -2:
            return S[..., -1] / S[..., 0]
        return S[..., 0] / S[..., -1]
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"linalg.cond: A must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )
    Ainv, info = inv_ex(A)
    c = matrix_norm(A, p) * matrix_norm(Ainv, p)
    # A singular matrix has infinite condition number (PyTorch's convention).
    return c.where(info == 0, float("inf"))


def matrix_power(A, n, *, out=None):
    from . import inv

    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(
            f"linalg_matrix_power(): argument 'n' (position 2) must be int, not {type(n).__name__}"
        )
    if A.dim() < 2 or A.shape[-1] != A.shape[-2]:
        if A.dim() < 2:
            raise RuntimeError(
                "linalg.matrix_power: The input tensor A must have at least 2 dimensions."
            )
        raise RuntimeError(
            f"linalg.matrix_power: A must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )
    if n == 0:
        eye = _ops.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        return eye.expand(A.shape).clone()
    if n < 0:
        A, n = inv(A), -n
    result = None
    base = A
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def matrix_exp(A):
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_exp: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            "linalg.matrix_exp: Expected a square matrix or batch of square matrices, but got "
            f"{list(A.shape)}"
        )
    if not A.is_floating_point():
        raise RuntimeError(
            f"linalg.matrix_exp: Expected a floating point or complex tensor as input. Got {A.dtype}"
        )
    return _ag.MatrixExp.apply(A)


def multi_dot(tensors, *, out=None):
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first, last = tensors[0], tensors[-1]
    if first.dim() not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first.dim()}D")
    if last.dim() not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.dim()}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t.dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
    mats = list(tensors)
    if first.dim() == 1:
        mats[0] = first.unsqueeze(0)
    if last.dim() == 1:
        mats[-1] = last.unsqueeze(-1)
    r = mats[0]
    for t in mats[1:]:
        r = r @ t
    if first.dim() == 1:
        r = r.squeeze(0)
    if last.dim() == 1:
        r = r.squeeze(-1)
    return r


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def tensorinv(A, ind=2, *, out=None):
    from . import inv

    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    lead, tail = list(A.shape[:ind]), list(A.shape[ind:])
    if _prod(lead) != _prod(tail):
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[ind:]) == "
            f"prod(self.shape[:ind]), but got {_prod(tail)} != {_prod(lead)}"
        )
    return inv(A.reshape(_prod(lead), _prod(tail))).reshape(tail + lead)


def tensorsolve(A, B, dims=None, *, out=None):
    from . import solve

    if dims is not None:
        nd = A.dim()
        dims = [d % nd for d in dims]
        keep = [d for d in range(nd) if d not in dims]
        A = A.permute(*(keep + dims))
    rest = list(A.shape[B.dim() :])
    nb = B.numel()
    if _prod(rest) != nb:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
            f"prod(self.shape[:other.ndim]), but got {_prod(rest)} != {nb}"
        )
    return solve(A.reshape(nb, nb), B.reshape(nb)).reshape(rest)


def vander(x, *, N=None):
    if x.dim() < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension.")
    n = x.shape[-1] if N is None else N
    if n <= 1:
        if n < 0:
            raise RuntimeError("N must be non-negative.")
        return _ops.ones(list(x.shape) + [n], dtype=x.dtype, device=x.device)
    ones = _ops.ones(list(x.shape) + [1], dtype=x.dtype, device=x.device)
    powers = x.unsqueeze(-1).expand(list(x.shape) + [n - 1]).cumprod(-1)
    return _ops.cat([ones, powers], -1)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)


def householder_product(A, tau, *, out=None):
    """Q = H_1 ... H_k with H_i = I - tau_i v_i v_i^T, v_i = (0, ..., 1, A[i+1:, i])."""
    m, n = A.shape[-2], A.shape[-1]
    k = tau.shape[-1]
    if m < n:
        raise RuntimeError(
            "torch.linalg.householder_product: input.shape[-2] must be greater than or equal "
            "to input.shape[-1]"
        )
    if k > n:
        raise RuntimeError(
            "torch.linalg.householder_product: input.shape[-1] must be greater than or equal "
            "to tau.shape[-1]"
        )
    batch = list(A.shape[:-2])
    Q = _ops.eye(m, dtype=A.dtype, device=A.device).expand(batch + [m, m])
    rows = _ops.arange(m, device=A.device)
    for i in range(k):
        below = (rows > i).to(A.dtype)
        unit = (rows == i).to(A.dtype)
        v = A[..., :, i] * below + unit
        Qv = (Q @ v.unsqueeze(-1)).squeeze(-1)
        Q = Q - tau[..., i, None, None] * (Qv.unsqueeze(-1) * v.unsqueeze(-2))
    return Q[..., :, :n]
