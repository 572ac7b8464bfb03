"""Cholesky factorisation and triangular solves composed from ember tensor ops.

MultivariateNormal needs them and ember.linalg has no factorisations yet (they
are planned in Rust). These loop over the (small) event dimension in Python,
batched over everything else, and are differentiable through ember's autograd.
Switch to ember.linalg.cholesky / solve_triangular once those land.
"""

import ember


def cholesky(a):
    """Lower-triangular L with L @ L.mT == a (a symmetric positive definite, batched)."""
    n = a.shape[-1]
    cols = []
    for j in range(n):
        s = a[..., :, j]
        for k in range(j):
            s = s - cols[k] * cols[k][..., j : j + 1]
        d = ember.sqrt(s[..., j : j + 1])
        mask = ember.tensor(
            [1.0 if i >= j else 0.0 for i in range(n)], dtype=a.dtype, device=a.device
        )
        cols.append(s / d * mask)
    return ember.stack(cols, dim=-1)


def solve_lower(L, b):
    """X with L @ X == b for lower-triangular L (..., n, n) and b (..., n, m), by forward substitution."""
    n = L.shape[-1]
    rows = []
    for i in range(n):
        r = b[..., i, :]
        if i:
            x_prev = ember.stack(rows, dim=-2)  # (..., i, m)
            r = r - (L[..., i, :i].unsqueeze(-1) * x_prev).sum(-2)
        rows.append(r / L[..., i, i].unsqueeze(-1))
    return ember.stack(rows, dim=-2)


def solve_lower_vec(L, b):
    """x with L @ x == b for vectors b (..., n), broadcasting L's and b's batch shapes."""
    shape = ember.broadcast_shapes(tuple(L.shape[:-2]), tuple(b.shape[:-1]))
    n = L.shape[-1]
    L = L.expand(tuple(shape) + (n, n))
    b = b.expand(tuple(shape) + (n,))
    return solve_lower(L, b.unsqueeze(-1)).squeeze(-1)


def inverse_lower(L):
    n = L.shape[-1]
    eye = ember.eye(n, dtype=L.dtype, device=L.device).expand(tuple(L.shape))
    return solve_lower(L, eye)


def diag_embed(v):
    """Batched diagonal matrices from vectors; ember.diag_embed fails on the GPU device
    (its index_put mixes host and device tensors), so build v[..., :, None] * I instead."""
    n = v.shape[-1]
    return v.unsqueeze(-1) * ember.eye(n, dtype=v.dtype, device=v.device)
