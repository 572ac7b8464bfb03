"""ember.linalg norms and the small products: vector/matrix norms, matmul, vecdot, cross."""

import math

from .. import _C


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    if isinstance(dim, int):
        dim = [dim]
    return _C.vector_norm(x, float(ord), list(dim) if dim is not None else None, keepdim, dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    if ord == "fro":
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if ord in (1, -1):
        s = A.abs().sum(dim[0], keepdim=True)
        r = s.amax(dim[1], keepdim=True) if ord == 1 else s.amin(dim[1], keepdim=True)
    elif ord in (math.inf, -math.inf):
        s = A.abs().sum(dim[1], keepdim=True)
        r = s.amax(dim[0], keepdim=True) if ord > 0 else s.amin(dim[0], keepdim=True)
    elif ord in (2, -2, "nuc"):
        # Spectral and nuclear norms from the singular values of the (d0, d1) matrices.
        from . import svdvals

        nd = A.dim()
        d0, d1 = dim[0] % nd, dim[1] % nd
        rest = [i for i in range(nd) if i not in (d0, d1)]
        S = svdvals(A.permute(*rest, d0, d1))
        r = S.sum(-1) if ord == "nuc" else (S.amax(-1) if ord == 2 else S.amin(-1))
        if keepdim:
            r = r.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return r
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    return r if keepdim else r.squeeze(list(dim))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    if ord is None or (isinstance(dim, (tuple, list)) and len(dim) == 2) or isinstance(ord, str):
        if ord is None:
            return vector_norm(A, 2, dim, keepdim, dtype=dtype)
        return matrix_norm(A, ord, dim if dim is not None else (-2, -1), keepdim, dtype=dtype)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


def matmul(a, b):
    return a @ b


def vecdot(x, y, *, dim=-1):
    return (x * y).sum(dim)


def cross(a, b, dim=-1):
    a0, a1, a2 = a.unbind(dim)
    b0, b1, b2 = b.unbind(dim)
    from .. import _ops

    return _ops.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)
