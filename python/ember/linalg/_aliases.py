"""The top-level and Tensor-method spellings of linear algebra that real code
uses (torch.inverse, torch.det, Tensor.slogdet, torch.svd's old API, ...), as
thin wrappers over ember.linalg. `install(namespace)` adds them to the ember
module and the Tensor class; names removed from PyTorch 2.15 (torch.qr,
torch.cholesky) raise PyTorch's RuntimeError.
"""

from .. import _ops
from .._tensor import Tensor, _method, return_types
from . import (
    det,
    inv,
    lu_factor_ex,
    lu_unpack,
    matrix_exp,
    matrix_power,
    pinv,
    slogdet,
    solve_triangular,
)
from . import lu_solve as _linalg_lu_solve
from . import svd as _linalg_svd


def inverse(input, *, out=None):
    return inv(input)


def logdet(input):
    s, la = slogdet(input)
    # log of a negative determinant is nan; of a zero one, -inf (logabsdet).
    return la.where(s >= 0, float("nan"))


def _slogdet(input):
    s, la = slogdet(input)
    return return_types.slogdet(s, la)


def svd(input, some=True, compute_uv=True, *, out=None):
    """Old API: returns V (not Vh); with compute_uv=False, U and V are zeros."""
    if not compute_uv:
        from . import svdvals

        S = svdvals(input)
        m, n = input.shape[-2], input.shape[-1]
        bm = list(input.shape[:-2])
        ku = min(m, n) if some else m
        kv = min(m, n) if some else n
        U = _ops.zeros(bm + [m, ku], dtype=input.dtype, device=input.device)
        V = _ops.zeros(bm + [n, kv], dtype=input.dtype, device=input.device)
        return return_types.svd(U, S, V)
    U, S, Vh = _linalg_svd(input, full_matrices=not some)
    return return_types.svd(U, S, Vh.mT)


def qr(input, some=True, *, out=None):
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. `torch.qr` is "
        "deprecated in favor of `torch.linalg.qr` and the boolean parameter `some` has been "
        "replaced with a string parameter `mode`.\n\nQ, R = torch.qr(A) should be replaced "
        "with:\nQ, R = torch.linalg.qr(A, mode='reduced')\n\nand\n\nQ, R = torch.qr(A, "
        "some=False) should be replaced with:\nQ, R = torch.linalg.qr(A, mode='complete')\n\n"
        f"Since `some` was set to {bool(some)}, use mode='{'reduced' if some else 'complete'}'."
    )


def cholesky(input, upper=False, *, out=None):
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. `torch.cholesky` is "
        "deprecated in favor of `torch.linalg.cholesky`.\nL = torch.cholesky(A) should be "
        "replaced with:\nL = torch.linalg.cholesky(A)\nU = torch.cholesky(A, upper=True) should "
        "be replaced with:\nU = torch.linalg.cholesky(A).mH"
    )


def cholesky_solve(B, L, upper=False, *, out=None):
    """Solve A X = B given the Cholesky factor of A (A = L L^T, or U^T U)."""
    if upper:
        Y = solve_triangular(L.mT, B, upper=False)
        return solve_triangular(L, Y, upper=True)
    Y = solve_triangular(L, B, upper=False)
    return solve_triangular(L.mT, Y, upper=True)


def cholesky_inverse(L, upper=False, *, out=None):
    eye = _ops.eye(L.shape[-1], dtype=L.dtype, device=L.device).expand(L.shape)
    return cholesky_solve(eye, L, upper)


def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """Old API: solves A X = b (A^T X = b with transpose), returns (X, A clone)."""
    M = A.mT if transpose else A
    X = solve_triangular(M, b, upper=upper != transpose, unitriangular=unitriangular)
    return return_types.triangular_solve(X, A.clone())


def lu(A, pivot=True, get_infos=False, out=None):
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    if get_infos:
        return LU, piv, info
    from . import _lu_factor_message, _raise_info

    _raise_info(info, _lu_factor_message, RuntimeError)
    return LU, piv


def lu_solve(b, LU_data, LU_pivots, *, out=None):
    return _linalg_lu_solve(LU_data, LU_pivots, b)


_TOP = {
    "inverse": inverse,
    "det": det,
    "logdet": logdet,
    "slogdet": _slogdet,
    "cholesky": cholesky,
    "cholesky_solve": cholesky_solve,
    "cholesky_inverse": cholesky_inverse,
    "svd": svd,
    "qr": qr,
    "pinverse": pinverse,
    "matrix_exp": matrix_exp,
    "matrix_power": matrix_power,
    "triangular_solve": triangular_solve,
    "lu": lu,
    "lu_solve": lu_solve,
    "lu_unpack": lu_unpack,
}

# Tensor methods: same functions with the tensor as first argument.
_METHODS = dict(_TOP)
del _METHODS["lu_unpack"]  # PyTorch has no Tensor.lu_unpack


def install(namespace):
    for name, fn in _TOP.items():
        namespace.setdefault(name, fn)
    for name, fn in _METHODS.items():
        if not hasattr(Tensor, name):
            _method(name, fn)
