"""Orthogonal polynomials of torch.special (Chebyshev T/U/V/W and their shifted forms,
Hermite H/He, Laguerre L, Legendre P), by their three-term recurrences.

n may be a number or a tensor (broadcast with x, truncated to an integer as
PyTorch does); n < 0 gives 0. The recurrence runs to max(n) once and each
element keeps the term of its own degree.
"""

import ember

__all__ = [
    "chebyshev_polynomial_t",
    "chebyshev_polynomial_u",
    "chebyshev_polynomial_v",
    "chebyshev_polynomial_w",
    "hermite_polynomial_h",
    "hermite_polynomial_he",
    "laguerre_polynomial_l",
    "legendre_polynomial_p",
    "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u",
    "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w",
]


def _prep(name, input, n):
    if not isinstance(input, ember.Tensor) and not isinstance(n, ember.Tensor):
        raise TypeError(f"special.{name}(): expected at least one Tensor argument")
    like = input if isinstance(input, ember.Tensor) else n
    dtype = like.dtype if like.is_floating_point() else ember.get_default_dtype()
    x = (
        input
        if isinstance(input, ember.Tensor)
        else ember.tensor(float(input), dtype=dtype, device=like.device)
    )
    if not x.is_floating_point():
        x = x.to(dtype)
    if isinstance(n, ember.Tensor):
        nt = n.to(x.dtype).trunc()
        x, nt = ember.broadcast_tensors(x, nt)
        n_max = int(nt.max().item()) if nt.numel() else -1
        return x, nt, n_max
    n = int(n)
    return x, None, n


def _run(name, input, n, first, step):
    """P_0 = 1, P_1 = first(x), P_{k+1} = step(k, x, P_k, P_{k-1}); pick degree n per element."""
    x, nt, n_max = _prep(name, input, n)
    if nt is None:
        if n_max < 0:
            return ember.zeros_like(x)
        p_prev, p = ember.ones_like(x), first(x)
        if n_max == 0:
            return p_prev
        for k in range(1, n_max):
            p_prev, p = p, step(k, x, p, p_prev)
        return p
    out = ember.zeros_like(x)
    if n_max < 0:
        return out
    p_prev, p = ember.ones_like(x), first(x)
    out = ember.where(nt == 0, p_prev, out)
    out = ember.where(nt == 1, p, out)
    for k in range(1, n_max):
        p_prev, p = p, step(k, x, p, p_prev)
        out = ember.where(nt == k + 1, p, out)
    return out


def _cheb_step(k, x, p, q):
    return 2 * x * p - q


def chebyshev_polynomial_t(input, n):
    return _run("chebyshev_polynomial_t", input, n, lambda x: x, _cheb_step)


def chebyshev_polynomial_u(input, n):
    return _run("chebyshev_polynomial_u", input, n, lambda x: 2 * x, _cheb_step)


def chebyshev_polynomial_v(input, n):
    return _run("chebyshev_polynomial_v", input, n, lambda x: 2 * x - 1, _cheb_step)


def chebyshev_polynomial_w(input, n):
    return _run("chebyshev_polynomial_w", input, n, lambda x: 2 * x + 1, _cheb_step)


def _shifted(fn, name):
    def shifted(input, n):
        x = input if isinstance(input, ember.Tensor) else ember.tensor(float(input))
        if not x.is_floating_point():
            x = x.to(ember.get_default_dtype())
        return fn(2 * x - 1, n)

    shifted.__name__ = name
    shifted.__doc__ = f"{fn.__name__} evaluated at 2x - 1 (the polynomial on [0, 1])."
    return shifted


shifted_chebyshev_polynomial_t = _shifted(chebyshev_polynomial_t, "shifted_chebyshev_polynomial_t")
shifted_chebyshev_polynomial_u = _shifted(chebyshev_polynomial_u, "shifted_chebyshev_polynomial_u")
shifted_chebyshev_polynomial_v = _shifted(chebyshev_polynomial_v, "shifted_chebyshev_polynomial_v")
shifted_chebyshev_polynomial_w = _shifted(chebyshev_polynomial_w, "shifted_chebyshev_polynomial_w")


def hermite_polynomial_h(input, n):
    """Physicists' Hermite polynomials: H_{k+1} = 2x H_k - 2k H_{k-1}."""
    return _run(
        "hermite_polynomial_h", input, n, lambda x: 2 * x, lambda k, x, p, q: 2 * x * p - 2 * k * q
    )


def hermite_polynomial_he(input, n):
    """Probabilists' Hermite polynomials: He_{k+1} = x He_k - k He_{k-1}."""
    return _run("hermite_polynomial_he", input, n, lambda x: x, lambda k, x, p, q: x * p - k * q)


def laguerre_polynomial_l(input, n):
    """Laguerre polynomials: L_{k+1} = ((2k + 1 - x) L_k - k L_{k-1}) / (k + 1)."""
    return _run(
        "laguerre_polynomial_l",
        input,
        n,
        lambda x: 1 - x,
        lambda k, x, p, q: ((2 * k + 1 - x) * p - k * q) / (k + 1),
    )


def legendre_polynomial_p(input, n):
    """Legendre polynomials: P_{k+1} = ((2k + 1) x P_k - k P_{k-1}) / (k + 1)."""
    return _run(
        "legendre_polynomial_p",
        input,
        n,
        lambda x: x,
        lambda k, x, p, q: ((2 * k + 1) * x * p - k * q) / (k + 1),
    )
