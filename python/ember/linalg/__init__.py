"""ember.linalg: PyTorch's torch.linalg on ember's Rust core.

The factorizations (LU, Cholesky, QR, SVD, symmetric eigen) run in Rust on the
`faer` crate (rust/core/src/cpu/linalg.rs), batched over leading dims; on the
"gpu" device they take a counted host fallback (`ember.gpu.fallbacks()`).
Gradients are PyTorch's formulas (linalg/_autograd.py). This module adds the
argument handling PyTorch does in Python-visible ways: broadcasting of batch
dims, vector right-hand sides, `left=False`, and LinAlgError for singular or
not positive-definite inputs with PyTorch's wording. Composite functions
(pinv, lstsq, matrix_rank, matrix_exp, ...) live in linalg/_compose.py.
eig/eigvals need complex tensors, which ember does not have yet.
"""

from .. import _C, _dtype, _ops
from .._tensor import _rt, return_types
from . import _autograd as _ag
from ._norms import cross, matmul, matrix_norm, norm, vecdot, vector_norm  # noqa: F401


class _LinAlgError(RuntimeError):
    """PyTorch's torch.linalg.LinAlgError: a singular or not positive-definite input."""


_LinAlgError.__module__ = "ember._C"
LinAlgError = _LinAlgError
_C._LinAlgError = _LinAlgError

for _name, _fields in {
    "linalg_inv_ex": ["inverse", "info"],
    "linalg_slogdet": ["sign", "logabsdet"],
    "slogdet": ["sign", "logabsdet"],
    "linalg_solve_ex": ["result", "info"],
    "linalg_cholesky_ex": ["L", "info"],
    "linalg_qr": ["Q", "R"],
    "qr": ["Q", "R"],
    "linalg_svd": ["U", "S", "Vh"],
    "svd": ["U", "S", "V"],
    "linalg_eigh": ["eigenvalues", "eigenvectors"],
    "linalg_lstsq": ["solution", "residuals", "rank", "singular_values"],
    "linalg_lu_factor": ["LU", "pivots"],
    "linalg_lu_factor_ex": ["LU", "pivots", "info"],
    "linalg_lu": ["P", "L", "U"],
    "lu_unpack": ["P", "L", "U"],
    "triangular_solve": ["solution", "cloned_coefficient"],
}.items():
    if not hasattr(return_types, _name):
        setattr(return_types, _name, _rt(_name, _fields))
del _name, _fields


def _raise_info(info, message, exc=None):
    """Raise LinAlgError(message(prefix, code)) for the first nonzero info entry;
    prefix is "(Batch element i): " for batched inputs, as PyTorch's."""
    if info.numel() == 0:
        return
    codes = info.reshape(-1).tolist()
    for i, c in enumerate(codes):
        if c != 0:
            prefix = f"(Batch element {i}): " if info.dim() > 0 else ""
            raise (exc or _LinAlgError)(message(prefix, c))


def _square(A, fn):
    if A.dim() < 2:
        raise RuntimeError(f"{fn}: The input tensor A must have at least 2 dimensions.")
    m, n = A.shape[-2], A.shape[-1]
    if m != n:
        raise RuntimeError(
            f"{fn}: A must be batches of square matrices, but they are {m} by {n} matrices"
        )
    return n


def _float_check(A, fn):
    # The kernels raise the same errors; checking first gives the right function name.
    if not A.is_floating_point():
        d = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte"}
        name = d.get(A.dtype.name, "Bool") if A.dtype.name != "bool" else "Bool"
        raise NotImplementedError(
            f"{fn}: Expected a floating point or complex tensor as input. Got {name}"
        )


# ------------------------------------------------------------------ inverse


def inv_ex(A, *, check_errors=False, out=None):
    _float_check(A, "linalg.inv")
    X, info = _ag.Inv.apply(A)
    if check_errors:
        _raise_info(info, _inv_message)
    return return_types.linalg_inv_ex(X, info)


def _inv_message(prefix, c):
    return (
        f"linalg.inv: {prefix}The diagonal element {c} is zero, the inversion could not be "
        "completed because the input matrix is singular."
    )


def inv(A, *, out=None):
    _float_check(A, "linalg.inv")
    X, info = _ag.Inv.apply(A)
    _raise_info(info, _inv_message)
    return X


# ------------------------------------------------------------------ determinants


def det(A, *, out=None):
    _square(A, "linalg.det")
    return _ag.SlogdetDet.apply(A, "linalg.det")[2]


def slogdet(A, *, out=None):
    _square(A, "linalg.slogdet")
    s, la, _ = _ag.SlogdetDet.apply(A, "linalg.slogdet")
    return return_types.linalg_slogdet(s, la)


# ------------------------------------------------------------------ solve


def _is_vector_rhs(A, B):
    """PyTorch's rule: B is a batch of vectors if it is 1-d or has A's shape minus the last dim."""
    return B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def _broadcast_batch(a, b):
    """Broadcast two batch shapes with PyTorch's error message."""
    nd = max(len(a), len(b))
    a, b = [1] * (nd - len(a)) + a, [1] * (nd - len(b)) + b
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                f"at non-singleton dimension {i}"
            )
        out.append(y if x == 1 else x)
    return out


def _broadcast_system(A, B, fn):
    """Expand A (*, n, n) and B (*, n, k) to a common batch shape."""
    n = A.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(
            f"{fn}: Incompatible shapes of A and B for the equation AX = B "
            f"({A.shape[-2]}x{n} and {B.shape[-2]}x{B.shape[-1]})"
        )
    # (B, A) order: PyTorch names B's size as "tensor a" in this message.
    batch = _broadcast_batch(list(B.shape[:-2]), list(A.shape[:-2]))
    if list(A.shape[:-2]) != batch:
        A = A.expand(batch + list(A.shape[-2:]))
    if list(B.shape[:-2]) != batch:
        B = B.expand(batch + list(B.shape[-2:]))
    return A, B


def _solve_impl(A, B, left, fn):
    _square(A, fn)
    _float_check(A, fn)
    if A.dtype != B.dtype:
        t = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int"}
        raise RuntimeError(
            f"{fn}: Expected A and B to have the same dtype, but found A of type "
            f"{t.get(A.dtype.name, A.dtype.name)} and B of type {t.get(B.dtype.name, B.dtype.name)}"
            " instead"
        )
    vec = _is_vector_rhs(A, B)
    Bm = B.unsqueeze(-1) if vec else B
    if not left:
        # X A = B  <=>  A^T X^T = B^T
        A, Bm = A.mT, Bm.mT if not vec else Bm
    if vec and Bm.shape[-2] != A.shape[-1]:
        raise RuntimeError(
            f"{fn}: Incompatible shapes of A and B for the equation AX = B "
            f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-1]}x1)"
        )
    A2, B2 = _broadcast_system(A, Bm, fn)
    X, info = _ag.Solve.apply(A2, B2)
    if vec:
        X = X.squeeze(-1)
    elif not left:
        X = X.mT
    return X, info


def _solve_message(prefix, c):
    return f"torch.linalg.solve: {prefix}The solver failed because the input matrix is singular."


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    X, info = _solve_impl(A, B, left, "linalg.solve")
    if check_errors:
        _raise_info(info, _solve_message)
    return return_types.linalg_solve_ex(X, info)


def solve(A, B, *, left=True, out=None):
    X, info = _solve_impl(A, B, left, "linalg.solve")
    _raise_info(info, _solve_message)
    return X


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    fn = "linalg.solve_triangular"
    _square(A, fn)
    if B.dim() < 2:
        raise RuntimeError(f"{fn}: The input tensor B must have at least 2 dimensions.")
    _float_check(A, fn)
    if not left:
        # X A = B  <=>  A^T X^T = B^T, and A^T has the other triangle.
        return solve_triangular(
            A.mT, B.mT, upper=not upper, left=True, unitriangular=unitriangular
        ).mT
    A2, B2 = _broadcast_system(A, B, fn)
    return _ag.SolveTriangular.apply(A2, B2, bool(upper), bool(unitriangular))


# ------------------------------------------------------------------ cholesky


def _chol_message(prefix, c):
    return (
        f"linalg.cholesky: {prefix}The factorization could not be completed because the input "
        f"is not positive-definite (the leading minor of order {c} is not positive-definite)."
    )


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    _float_check(A, "linalg.cholesky")
    L, info = _ag.Cholesky.apply(A, bool(upper))
    if check_errors:
        _raise_info(info, _chol_message)
    return return_types.linalg_cholesky_ex(L, info)


def cholesky(A, *, upper=False, out=None):
    _float_check(A, "linalg.cholesky")
    L, info = _ag.Cholesky.apply(A, bool(upper))
    _raise_info(info, _chol_message)
    return L


# ------------------------------------------------------------------ qr / svd / eigh


def qr(A, mode="reduced", *, out=None):
    if A.dim() >= 2:
        _float_check(A, "linalg.qr")
    Q, R = _ag.QR.apply(A, mode)
    return return_types.linalg_qr(Q, R)


def _svd_failed(A, e):
    """PyTorch's LinAlgError for an SVD that did not converge."""
    if "failed to converge" not in str(e):
        return e
    if not bool(_ops.isfinite(A.detach()).all()):
        return _LinAlgError(
            "linalg.svd: The algorithm failed to converge because the input matrix contained "
            "non-finite values."
        )
    return _LinAlgError(str(e))


def svd(A, full_matrices=True, *, driver=None, out=None):
    if A.dim() >= 2:
        _float_check(A, "linalg.svd")
    try:
        U, S, Vh = _ag.SVD.apply(A, bool(full_matrices))
    except RuntimeError as e:
        raise _svd_failed(A, e) from None
    return return_types.linalg_svd(U, S, Vh)


def svdvals(A, *, driver=None, out=None):
    if A.dim() >= 2:
        _float_check(A, "linalg.svdvals")
    try:
        if A.requires_grad and _C.is_grad_enabled():
            # Only S is used, so the loss is gauge-invariant and the SVD backward applies.
            return _ag.SVD.apply(A, False)[1]
        return _C._linalg_svd(A, False, False)[1]
    except RuntimeError as e:
        raise _svd_failed(A, e) from None


def eigh(A, UPLO="L", *, out=None):
    L, V = _ag.Eigh.apply(A, UPLO)
    return return_types.linalg_eigh(L, V)


def eigvalsh(A, UPLO="L", *, out=None):
    if A.requires_grad and _C.is_grad_enabled():
        return _ag.Eigh.apply(A, UPLO)[0]
    return _C._linalg_eigh(A, UPLO, False)[0]


def eig(A, *, out=None):
    raise NotImplementedError(
        "linalg.eig: ember has no complex dtypes yet, and the eigenvalues of a general real "
        "matrix are complex; use linalg.eigh for symmetric matrices"
    )


def eigvals(A, *, out=None):
    raise NotImplementedError(
        "linalg.eigvals: ember has no complex dtypes yet, and the eigenvalues of a general real "
        "matrix are complex; use linalg.eigvalsh for symmetric matrices"
    )


# ------------------------------------------------------------------ LU


def _lu_factor_message(prefix, c):
    return (
        f"torch.linalg.lu_factor: {prefix}U[{c},{c}] is zero and using it on lu_solve would "
        "result in a division by zero. If you still want to perform the factorization, consider "
        "calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)"
    )


def _no_pivot(pivot, fn):
    if not pivot:
        raise RuntimeError(f"{fn}: LU without pivoting is not implemented on the CPU")


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    _no_pivot(pivot, "linalg.lu_factor")
    LU, piv, info = _ag.LuFactor.apply(A)
    if check_errors:
        _raise_info(info, _lu_factor_message)
    return return_types.linalg_lu_factor_ex(LU, piv, info)


def lu_factor(A, *, pivot=True, out=None):
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    # PyTorch raises a plain RuntimeError here, not LinAlgError.
    _raise_info(info, _lu_factor_message, RuntimeError)
    return return_types.linalg_lu_factor(LU, piv)


def lu(A, *, pivot=True, out=None):
    _no_pivot(pivot, "linalg.lu")
    P, L, U = _ag.LU.apply(A)
    return return_types.linalg_lu(P, L, U)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    fn = "linalg.lu_solve"
    if B.dim() < 2:
        raise RuntimeError(f"{fn}: The input tensor B must have at least 2 dimensions.")
    P, L, U = lu_unpack(LU, pivots)
    # A = P L U;  A X = B  ->  X = U^{-1} L^{-1} P^T B (adjoint: A^T = U^T L^T P^T).
    if not left:
        return lu_solve(LU, pivots, B.mT, left=True, adjoint=not adjoint).mT
    if adjoint:
        Y = solve_triangular(U.mT, B, upper=False)
        Y = solve_triangular(L.mT, Y, upper=True, unitriangular=True)
        return P @ Y
    Y = solve_triangular(L, P.mT @ B, upper=False, unitriangular=True)
    return solve_triangular(U, Y, upper=True)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """P, L, U from lu_factor's packed form (pivots are 1-based sequential swaps)."""
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    L = U = P = None
    if unpack_data:
        eye = _ops.eye(m, k, dtype=LU_data.dtype, device=LU_data.device)
        L = LU_data[..., :, :k].tril(-1) + eye
        U = LU_data[..., :k, :].triu()
    if unpack_pivots:
        batch = list(LU_pivots.shape[:-1])
        rows = LU_pivots.reshape(-1, k).tolist() if k else [[] for _ in range(_numel(batch))]
        perms = []
        for piv in rows:
            cur = list(range(m))
            for i, p in enumerate(piv):
                j = int(p) - 1
                cur[i], cur[j] = cur[j], cur[i]
            perms.append(cur)
        perm = _ops.tensor(perms, dtype=_dtype.int64).reshape(batch + [m])
        P = _ag._perm_matrix(perm.to(LU_data.device), LU_data)
    return return_types.lu_unpack(P, L, U)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


from ._compose import (  # noqa: E402,F401
    cond,
    diagonal,
    householder_product,
    lstsq,
    matrix_exp,
    matrix_power,
    matrix_rank,
    multi_dot,
    pinv,
    tensorinv,
    tensorsolve,
    vander,
)
