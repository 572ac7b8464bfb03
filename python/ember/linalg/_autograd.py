"""Differentiable wrappers of the factorization kernels (`_C._linalg_*`).

Each class is an `ember.autograd.Function` whose forward calls one Rust kernel
and whose backward is PyTorch's formula for that factorization, written in
ember tensor ops so it runs on both devices. The kernels take operands with
equal batch shapes; broadcasting, vector right-hand sides and `left=False`
are handled by the callers in linalg/__init__.py with differentiable views,
so autograd reduces those for free.

Sign/phase conventions: the SVD and eigh gradients project onto the
gauge-invariant part (the skew-symmetric part of U^T gU, V^T gV) exactly as
PyTorch does, so only losses that do not depend on the sign of singular or
eigen vectors have meaningful gradients, as in PyTorch.
"""

from .. import _C
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad


def _eye(n, ref):
    from .. import _ops

    return _ops.eye(n, dtype=ref.dtype, device=ref.device)


def _diag(v):
    """(*, n) -> (*, n, n) diagonal matrices (a product with the identity, so it
    runs on both devices: ember.diag_embed builds a host index)."""
    return v.unsqueeze(-1) * _eye(v.shape[-1], v)


def _zero_diag(x, fill=None):
    """x with its diagonal replaced by `fill` (a (*, n) tensor) or zeros."""
    n = x.shape[-1]
    i = _eye(n, x)
    out = x * (1 - i)
    if fill is not None:
        out = out + _diag(fill)
    return out


def _solve_tri(A, B, upper, unit=False):
    """A X = B with A triangular (equal batch shapes), no autograd."""
    return _C._linalg_solve_triangular(A, B, upper, unit)


def _lower_halfdiag(x):
    """PyTorch's Phi: the lower triangle with the diagonal halved."""
    t = x.tril()
    return t - 0.5 * _diag(t.diagonal(0, -2, -1))


class Inv(Function):
    """A^{-1} and LAPACK's info. Backward: gA = -X^T gX X^T."""

    @staticmethod
    def forward(ctx, A):
        ctx.set_materialize_grads(False)
        X, info = _C._linalg_inv_ex(A)
        ctx.save_for_backward(X)
        ctx.mark_non_differentiable(info)
        return X, info

    @staticmethod
    def backward(ctx, gX, _ginfo):
        if gX is None:
            return None
        (X,) = ctx.saved_tensors
        Xt = X.mT
        return -(Xt @ gX @ Xt)


class SlogdetDet(Function):
    """(sign, log|det A|, det A). Backward: g_log A^{-T} + g_det det A^{-T};
    a singular A takes the adjugate from the SVD (det is smooth there)."""

    @staticmethod
    def forward(ctx, A, op):
        ctx.set_materialize_grads(False)
        sign, logabs, det = _C._linalg_slogdet_det(A, op)
        ctx.save_for_backward(A, det)
        ctx.mark_non_differentiable(sign)
        return sign, logabs, det

    @staticmethod
    def backward(ctx, _gsign, glog, gdet):
        A, det = ctx.saved_tensors
        g = None
        # The engine may hand zeros for an unused output: skip them, as 0 * inf
        # (A^{-T} of a singular A) would turn the det gradient into NaN.
        if glog is not None and not bool((glog == 0).all()):
            g = glog
        if gdet is not None and bool((det != 0).all()):
            gd = gdet * det
            g = gd if g is None else g + gd
            gdet = None
        gA = None
        if g is not None:
            gA = g[..., None, None] * _C._linalg_inv_ex(A)[0].mT
        if gdet is not None:
            # adj(A)^T = det(U) det(Vh) U diag(prod_{j != i} s_j) Vh.
            from .. import _ops

            U, S, Vh = _C._linalg_svd(A, True, True)
            su = _C._linalg_slogdet_det(U)[0] * _C._linalg_slogdet_det(Vh)[0]
            n = S.shape[-1]
            ones = _ops.ones(list(S.shape[:-1]) + [1], dtype=S.dtype, device=S.device)
            pre = _ops.cat([ones, S[..., : n - 1].cumprod(-1)], -1) if n else S
            suf = _ops.cat([S[..., 1:].flip(-1).cumprod(-1).flip(-1), ones], -1) if n else S
            excl = pre * suf
            adj = (U * excl[..., None, :]) @ Vh
            ga = (gdet * su)[..., None, None] * adj
            gA = ga if gA is None else gA + ga
        return gA, None


class Solve(Function):
    """X = A^{-1} B (B a matrix with A's batch shape) and info.
    Backward: gB = A^{-T} gX, gA = -gB X^T."""

    @staticmethod
    def forward(ctx, A, B):
        ctx.set_materialize_grads(False)
        X, info = _C._linalg_solve_ex(A, B)
        ctx.save_for_backward(A, X)
        ctx.mark_non_differentiable(info)
        return X, info

    @staticmethod
    def backward(ctx, gX, _ginfo):
        if gX is None:
            return None, None
        A, X = ctx.saved_tensors
        gB = _C._linalg_solve_ex(A.mT, gX)[0]
        gA = -(gB @ X.mT) if ctx.needs_input_grad[0] else None
        return gA, gB


class SolveTriangular(Function):
    """X = A^{-1} B for triangular A (left side). Backward: gB = A^{-T} gX,
    gA = -gB X^T restricted to A's (strict, if unitriangular) triangle."""

    @staticmethod
    def forward(ctx, A, B, upper, unit):
        ctx.set_materialize_grads(False)
        X = _C._linalg_solve_triangular(A, B, upper, unit)
        ctx.save_for_backward(A, X)
        ctx.upper, ctx.unit = upper, unit
        return X

    @staticmethod
    def backward(ctx, gX):
        if gX is None:
            return None, None, None, None
        A, X = ctx.saved_tensors
        gB = _solve_tri(A.mT, gX, not ctx.upper, ctx.unit)
        gA = None
        if ctx.needs_input_grad[0]:
            gA = -(gB @ X.mT)
            off = 1 if ctx.unit else 0
            gA = gA.triu(off) if ctx.upper else gA.tril(-off)
        return gA, gB, None, None


class Cholesky(Function):
    """L (or U = L^T) and info. Backward (PyTorch's):
    gA = sym(L^{-T} Phi(L^T gL) L^{-1}), Phi = tril with the diagonal halved."""

    @staticmethod
    def forward(ctx, A, upper):
        ctx.set_materialize_grads(False)
        L, info = _C._linalg_cholesky_ex(A, upper)
        ctx.save_for_backward(L)
        ctx.upper = upper
        ctx.mark_non_differentiable(info)
        return L, info

    @staticmethod
    def backward(ctx, gL, _ginfo):
        if gL is None:
            return None, None
        (L,) = ctx.saved_tensors
        if ctx.upper:
            L, gL = L.mT, gL.mT
        Lt = L.mT
        phi = _lower_halfdiag(Lt @ gL)
        gA = _solve_tri(Lt, phi, True)  # L^{-T} Phi
        gA = _solve_tri(Lt, gA.mT, True).mT  # ... L^{-1}
        return 0.5 * (gA + gA.mT), None


def _qr_square_backward(gQ, gR, Q, R):
    """A = Q R with m >= n (Q m x n, R n x n):
    gA = (gQ + Q copyltu(M)) R^{-T}, M = R gR^T - gQ^T Q."""
    M = None
    if gR is not None:
        M = R @ gR.mT
    if gQ is not None:
        t = gQ.mT @ Q
        M = -t if M is None else M - t
    low = M.tril(-1)
    b = Q @ (M.tril() + low.mT)
    if gQ is not None:
        b = b + gQ
    # b R^{-T}: solve R Y = b^T.
    return _solve_tri(R, b.mT, True).mT


class QR(Function):
    """Householder QR. Backward as PyTorch (needs Q; complete mode only for
    m <= n); wide matrices split A = [X | Y] with X square."""

    @staticmethod
    def forward(ctx, A, mode):
        ctx.set_materialize_grads(False)
        Q, R = _C._linalg_qr(A, mode)
        ctx.save_for_backward(A, Q, R)
        ctx.mode = mode
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        A, Q, R = ctx.saved_tensors
        m, n = A.shape[-2], A.shape[-1]
        if ctx.mode == "r":
            raise RuntimeError(
                "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                "through linalg.qr."
            )
        if ctx.mode == "complete" and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        if gQ is None and gR is None:
            return None, None
        if m >= n:
            return _qr_square_backward(gQ, gR, Q, R), None
        from .. import _ops

        Y = A[..., m:]
        U = R[..., :m]
        gU = gR[..., :m] if gR is not None else None
        gY = None
        gQ2 = gQ
        if gR is not None:
            gV = gR[..., m:]
            gY = Q @ gV
            t = Y @ gV.mT
            gQ2 = t if gQ2 is None else gQ2 + t
        gX = _qr_square_backward(gQ2, gU, Q, U)
        if gY is None:
            gY = _ops.zeros_like(Y)
        return _ops.cat([gX, gY], -1), None


class SVD(Function):
    """U, S, Vh. Backward (PyTorch's, gauge-invariant part only):
    gA = U [(skew(U^T gU)/E) S + S (skew(V^T gV)/E) + diag(gS)] V^T
         + (I - UU^T) gU S^{-1} V^T + U S^{-1} gV^T (I - VV^T),
    E_ij = s_j^2 - s_i^2. Full matrices use their first min(m, n) vectors."""

    @staticmethod
    def forward(ctx, A, full_matrices):
        ctx.set_materialize_grads(False)
        U, S, Vh = _C._linalg_svd(A, full_matrices, True)
        ctx.save_for_backward(U, S, Vh)
        ctx.full = full_matrices
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        m, n = U.shape[-2], Vh.shape[-1]
        k = S.shape[-1]
        if ctx.full and m != n:
            U = U[..., :k]
            Vh = Vh[..., :k, :]
            gU = gU[..., :k] if gU is not None else None
            gVh = gVh[..., :k, :] if gVh is not None else None
        if gU is None and gVh is None:
            if gS is None:
                return None, None
            return (U * gS[..., None, :]) @ Vh, None
        V = Vh.mT
        S2 = S * S
        E = S2[..., None, :] - S2[..., :, None] + _eye(k, S)
        inner = None
        if gU is not None:
            UhgU = U.mT @ gU
            inner = ((UhgU - UhgU.mT) / E) * S[..., None, :]
        if gVh is not None:
            gV = gVh.mT
            VhgV = V.mT @ gV
            t = S[..., :, None] * ((VhgV - VhgV.mT) / E)
            inner = t if inner is None else inner + t
        if gS is not None:
            inner = inner + _diag(gS)
        gA = U @ inner @ Vh
        if gU is not None and m > k:
            gA = gA + ((gU - U @ UhgU) / S[..., None, :]) @ Vh
        if gVh is not None and n > k:
            gA = gA + U @ ((gV - V @ VhgV) / S[..., None, :]).mT
        return gA, None


class Eigh(Function):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix.
    Backward (PyTorch's): gA = V (diag(gL) + skew(V^T gV)/2 / E) V^T,
    E_ij = l_j - l_i."""

    @staticmethod
    def forward(ctx, A, uplo):
        ctx.set_materialize_grads(False)
        L, V = _C._linalg_eigh(A, uplo, True)
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved_tensors
        if gL is None and gV is None:
            return None, None
        if gV is None:
            return (V * gL[..., None, :]) @ V.mT, None
        n = L.shape[-1]
        VhgV = V.mT @ gV
        VhgV = 0.5 * (VhgV - VhgV.mT)
        E = L[..., None, :] - L[..., :, None] + _eye(n, L)
        inner = _zero_diag(VhgV / E, gL)
        return V @ inner @ V.mT, None


class LU(Function):
    """P, L, U of a square A (A = P L U). Backward (PyTorch's, square case):
    gA = P L^{-T} (tril(L^T gL, -1) + triu(gU U^T)) U^{-T}."""

    @staticmethod
    def forward(ctx, A):
        ctx.set_materialize_grads(False)
        from .. import _ops

        LU_, piv, perm, _info = _C._linalg_lu_factor_ex(A)
        m, n = A.shape[-2], A.shape[-1]
        k = min(m, n)
        L = LU_[..., :, :k].tril(-1) + _ops.eye(m, k, dtype=A.dtype, device=A.device)
        U = LU_[..., :k, :].triu()
        P = _perm_matrix(perm, A)
        ctx.save_for_backward(P, L, U)
        ctx.mark_non_differentiable(P)
        return P, L, U

    @staticmethod
    def backward(ctx, _gP, gL, gU):
        P, L, U = ctx.saved_tensors
        if gL is None and gU is None:
            return None
        if L.shape[-2] != U.shape[-1]:
            raise NotImplementedError(
                "linalg.lu: the backward of a non-square LU is not implemented in ember yet"
            )
        inner = None
        if gL is not None:
            inner = (L.mT @ gL).tril(-1)
        if gU is not None:
            t = (gU @ U.mT).triu()
            inner = t if inner is None else inner + t
        x = _solve_tri(L.mT, inner, True, True)  # L^{-T} inner
        x = _solve_tri(U, x.mT, True).mT  # ... U^{-T}
        return P @ x


class LuFactor(Function):
    """Packed LU, pivots and info. Backward: the LU backward with
    gL = tril(gLU, -1), gU = triu(gLU) (L's unit diagonal is not stored)."""

    @staticmethod
    def forward(ctx, A):
        ctx.set_materialize_grads(False)
        from .. import _ops

        LU_, piv, perm, info = _C._linalg_lu_factor_ex(A)
        m, n = A.shape[-2], A.shape[-1]
        k = min(m, n)
        L = LU_[..., :, :k].tril(-1) + _ops.eye(m, k, dtype=A.dtype, device=A.device)
        U = LU_[..., :k, :].triu()
        ctx.save_for_backward(_perm_matrix(perm, A), L, U)
        ctx.mark_non_differentiable(piv, info)
        return LU_, piv, info

    @staticmethod
    def backward(ctx, gLU, _gpiv, _ginfo):
        if gLU is None:
            return None
        # saved_tensors are (P, L, U), as LU's backward expects.
        return LU.backward(ctx, None, gLU.tril(-1), gLU.triu())


def _perm_matrix(perm, ref):
    """P with P[perm[i], i] = 1 (A = P L U) from the kernel's int64 perm."""
    from .. import _ops

    m = perm.shape[-1]
    z = _ops.zeros(list(perm.shape[:-1]) + [m, m], dtype=ref.dtype, device=ref.device)
    if m == 0:
        return z
    ones = _ops.ones(list(perm.shape[:-1]) + [1, m], dtype=ref.dtype, device=ref.device)
    return z.scatter(-2, perm.unsqueeze(-2), ones)


class Pinv(Function):
    """Moore-Penrose inverse from the SVD (or eigh when hermitian), dropping
    singular values <= max(atol, rtol * s_max). Backward (constant rank):
    gA = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)."""

    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        ctx.set_materialize_grads(False)
        P = _pinv_value(A, atol, rtol, hermitian)
        ctx.save_for_backward(A, P)
        return P

    @staticmethod
    def backward(ctx, G):
        if G is None:
            return None, None, None, None
        A, P = ctx.saved_tensors
        m, n = A.shape[-2], A.shape[-1]
        Pt = P.mT
        gA = -(Pt @ G @ Pt)
        gA = gA + (_eye(m, A) - A @ P) @ G.mT @ (P @ Pt)
        gA = gA + (Pt @ P) @ G.mT @ (_eye(n, A) - P @ A)
        return gA, None, None, None


def _tol(s_max, atol, rtol, ref):
    """max(atol, rtol * s_max) with PyTorch's defaults filled in by the caller."""
    t = rtol * s_max if not hasattr(rtol, "shape") else rtol * s_max
    if atol is None:
        return t
    from .. import _ops

    a = atol if hasattr(atol, "shape") else _ops.full_like(t, float(atol))
    return _ops.maximum(a, t)


def _pinv_value(A, atol, rtol, hermitian):
    with no_grad():
        if hermitian:
            L, V = _C._linalg_eigh(A, "L", True)
            absl = L.abs()
            smax = absl.amax(-1, keepdim=True) if L.shape[-1] else absl.sum(-1, keepdim=True)
            tol = _tol(smax, atol, rtol, A)
            keep = absl > tol
            inv = (1 / L.where(keep, 1.0)) * keep.to(L.dtype)
            return (V * inv[..., None, :]) @ V.mT
        U, S, Vh = _C._linalg_svd(A, False, True)
        smax = S[..., :1] if S.shape[-1] else S.sum(-1, keepdim=True)
        tol = _tol(smax, atol, rtol, A)
        keep = S > tol
        inv = (1 / S.where(keep, 1.0)) * keep.to(S.dtype)
        return (Vh.mT * inv[..., None, :]) @ U.mT


def _expm(A):
    """exp(A) by scaling and squaring a degree-18 Taylor polynomial; the
    scaling makes ||A / 2^s||_1 <= 1/2, where the truncation error is below
    float64 rounding."""
    import math

    n = A.shape[-1]
    if A.numel() == 0:
        return A.clone()
    norm = float(A.abs().sum(-2).amax())
    s = max(0, math.ceil(math.log2(norm)) + 1) if norm > 0 else 0
    X = A / (2.0**s) if s else A
    eye = _eye(n, A).expand(A.shape)
    # Horner: I + X (I + X/2 (I + X/3 (...)))
    R = eye
    for k in range(18, 0, -1):
        R = eye + (X @ R) / k
    for _ in range(s):
        R = R @ R
    return R


class MatrixExp(Function):
    """exp(A). Backward by the block-matrix trick: the adjoint of the
    Frechet derivative at A applied to G is the upper-right block of
    exp([[A^T, G], [0, A^T]])."""

    @staticmethod
    def forward(ctx, A):
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(A)
        return _expm(A)

    @staticmethod
    def backward(ctx, G):
        if G is None:
            return None
        from .. import _ops

        (A,) = ctx.saved_tensors
        n = A.shape[-1]
        At = A.mT
        top = _ops.cat([At, G], -1)
        bottom = _ops.cat([_ops.zeros_like(At), At], -1)
        big = _ops.cat([top, bottom], -2)
        return _expm(big)[..., :n, n:]
