"""Shared math of the weight/spectral normalisations: norm_except_dim and the power method."""

import ember


def norm_except_dim(v, pow=2, dim=0):
    """The `pow`-norm of `v` over every dim but `dim` (kept, size 1 elsewhere); dim=-1: all."""
    if dim == -1:
        return v.norm(pow)
    dim = dim % v.dim()
    others = [d for d in range(v.dim()) if d != dim]
    if not others:
        return v.abs()
    return v.norm(pow, dim=others, keepdim=True)


def normalize(x, eps):
    return x / x.norm().clamp(min=eps)


def reshape_to_matrix(weight, dim):
    """Moves `dim` to the front and flattens the rest: the matrix whose norm is estimated."""
    if dim != 0:
        weight = weight.permute(dim, *[d for d in range(weight.dim()) if d != dim])
    return weight.reshape(int(weight.shape[0]), -1)


def power_iteration(weight_mat, u, v, n, eps):
    """`n` power-method steps updating u and v in place (outside autograd)."""
    with ember.no_grad():
        for _ in range(n):
            v.copy_(normalize(weight_mat.t().mv(u), eps))
            u.copy_(normalize(weight_mat.mv(v), eps))
