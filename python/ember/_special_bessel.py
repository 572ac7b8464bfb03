"""Bessel functions of torch.special beyond I0/I1/J0/J1 (special.py): Y0/Y1 (second
kind), K0/K1 and their exp(x)-scaled forms (modified, second kind), spherical j0,
and the Airy function Ai (through K_{1/3} and J_{+-1/3}).

Each is piecewise, computed everywhere and selected with `where`:
- small x: the power series (with the log term of the second-kind functions);
- K, middle x: the trapezoid rule on K_nu(x) = int_0^inf exp(-x cosh t) cosh(nu t) dt,
  which converges geometrically for this integrand (exponentially decaying,
  analytic in a strip), so ~90 nodes give double precision;
- large x: Hankel's asymptotic expansions.
"""

import math

import ember

__all__ = [
    "airy_ai",
    "bessel_y0",
    "bessel_y1",
    "modified_bessel_k0",
    "modified_bessel_k1",
    "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1",
    "spherical_bessel_j0",
]

_EULER = 0.57721566490153286060


def _float(x, name):
    if not isinstance(x, ember.Tensor):
        raise TypeError(
            f"special.{name}(): argument 'input' must be Tensor, not {type(x).__name__}"
        )
    return x if x.is_floating_point() else x.to(ember.get_default_dtype())


def _asym_terms(xa, nu, n_terms):
    """Terms a_k(nu) / x^k of Hankel's expansions, a_k = prod_j (4nu^2 - (2j-1)^2) / (k! 8^k)."""
    mu = 4.0 * nu * nu
    terms = [ember.ones_like(xa)]
    for k in range(1, n_terms):
        terms.append(terms[-1] * ((mu - (2 * k - 1) ** 2) / (8.0 * k)) / xa)
    return terms


# ----- K0, K1 -----
_K_SERIES = 1.0  # series below
_K_ASYM = 25.0  # Hankel above (error ~ exp(-2x))


def _k_series(x, nu):
    """K_nu(x), nu in {0, 1}, for 0 < x <= 1 by the series with the logarithmic term."""
    q = x * x * 0.25
    log_half = ember.log(x * 0.5)
    if nu == 0:
        i0 = ember.ones_like(x)
        term = ember.ones_like(x)
        tail = ember.zeros_like(x)
        h = 0.0
        for k in range(1, 25):
            term = term * q / (k * k)
            h += 1.0 / k
            i0 = i0 + term
            tail = tail + term * h
        return -(log_half + _EULER) * i0 + tail
    # K1 = 1/x + I1 ln(x/2) - (x/4) sum_k (psi(k+1) + psi(k+2)) q^k / (k! (k+1)!)
    term = ember.ones_like(x)  # q^k / (k! (k+1)!)
    i1 = x * 0.5
    psi1, psi2 = -_EULER, 1.0 - _EULER
    tail = term * (psi1 + psi2)
    for k in range(1, 25):
        term = term * q / (k * (k + 1))
        psi1 += 1.0 / k
        psi2 += 1.0 / (k + 1)
        i1 = i1 + term * x * 0.5
        tail = tail + term * (psi1 + psi2)
    return 1.0 / x + i1 * log_half - x * 0.25 * tail


def _k_scaled_quadrature(x, nu):
    """exp(x) K_nu(x) = int_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt by the trapezoid rule (x >= 1)."""
    h = 0.05
    t_max = math.acosh(1.0 + 45.0 / _K_SERIES)  # integrand below 1e-19 past this for x >= 1
    total = ember.ones_like(x) * 0.5
    for j in range(1, int(t_max / h) + 1):
        t = j * h
        total = total + ember.exp(-x * (math.cosh(t) - 1.0)) * math.cosh(nu * t)
    return total * h


def _k_scaled_asym(x, nu):
    terms = _asym_terms(x, nu, 30)
    s = terms[0]
    for t in terms[1:]:
        s = s + t
    return s * ember.sqrt(math.pi / (2.0 * x))


def _k(x, nu, scaled):
    small = (x > 0) & (x <= _K_SERIES)
    big = x > _K_ASYM
    xs = ember.where(small, x, ember.full_like(x, 0.5))
    xm = ember.where(~small & ~big, x, ember.full_like(x, 2.0))
    xb = ember.where(big, x, ember.full_like(x, 2 * _K_ASYM))
    ks = _k_series(xs, nu)
    if scaled:
        ks = ks * ember.exp(xs)
    km = _k_scaled_quadrature(xm, nu)
    kb = _k_scaled_asym(xb, nu)
    if not scaled:
        km = km * ember.exp(-xm)
        kb = kb * ember.exp(-xb)
    out = ember.where(small, ks, ember.where(big, kb, km))
    out = ember.where(x == 0, ember.full_like(out, math.inf), out)
    return ember.where((x < 0) | ember.isnan(x), ember.full_like(out, math.nan), out)


def modified_bessel_k0(input):
    """Modified Bessel function of the second kind, order 0."""
    return _k(_float(input, "modified_bessel_k0"), 0, False)


def modified_bessel_k1(input):
    """Modified Bessel function of the second kind, order 1."""
    return _k(_float(input, "modified_bessel_k1"), 1, False)


def scaled_modified_bessel_k0(input):
    """exp(x) * K0(x)."""
    return _k(_float(input, "scaled_modified_bessel_k0"), 0, True)


def scaled_modified_bessel_k1(input):
    """exp(x) * K1(x)."""
    return _k(_float(input, "scaled_modified_bessel_k1"), 1, True)


# ----- Y0, Y1 -----
def _y_series(x, nu):
    q = x * x * 0.25
    log_term = ember.log(x * 0.5)
    if nu == 0:
        term = ember.ones_like(x)  # (-q)^k / (k!)^2
        j0 = term
        tail = ember.zeros_like(x)
        h = 0.0
        for k in range(1, 60):
            term = term * (-q) / (k * k)
            h += 1.0 / k
            j0 = j0 + term
            tail = tail - term * h  # (-1)^(k+1) H_k q^k / (k!)^2
        return (2.0 / math.pi) * ((log_term + _EULER) * j0 + tail)
    half = x * 0.5
    term = half  # (-1)^k (x/2)^(2k+1) / (k! (k+1)!)
    j1 = term
    psi1, psi2 = -_EULER, 1.0 - _EULER
    tail = term * (psi1 + psi2)
    for k in range(1, 60):
        term = term * (-q) / (k * (k + 1))
        psi1 += 1.0 / k
        psi2 += 1.0 / (k + 1)
        j1 = j1 + term
        tail = tail + term * (psi1 + psi2)
    return -2.0 / (math.pi * x) + (2.0 / math.pi) * log_term * j1 - tail / math.pi


def _y_asym(x, nu, n_terms):
    terms = _asym_terms(x, nu, n_terms)
    p = ember.zeros_like(x)
    q = ember.zeros_like(x)
    for k, t in enumerate(terms):
        sign = -1.0 if (k // 2) % 2 else 1.0
        if k % 2:
            q = q + t * sign
        else:
            p = p + t * sign
    w = x - (nu * 0.5 + 0.25) * math.pi
    return ember.sqrt(2.0 / (math.pi * x)) * (p * ember.sin(w) + q * ember.cos(w))


def _y(x, nu):
    # the same switch as J: alternating-series cancellation vs. the expansion's exp(-2x) error
    switch = 14.0 if x.dtype == ember.float64 else 7.0
    small = (x > 0) & (x <= switch)
    xs = ember.where(small, x, ember.ones_like(x))
    xb = ember.where(x > switch, x, ember.full_like(x, 2 * switch))
    out = ember.where(small, _y_series(xs, nu), _y_asym(xb, nu, 2 * int(switch)))
    out = ember.where(x == 0, ember.full_like(out, -math.inf), out)
    return ember.where((x < 0) | ember.isnan(x), ember.full_like(out, math.nan), out)


def bessel_y0(input):
    """Bessel function of the second kind, order 0 (nan for x < 0, -inf at 0)."""
    return _y(_float(input, "bessel_y0"), 0)


def bessel_y1(input):
    """Bessel function of the second kind, order 1 (nan for x < 0, -inf at 0)."""
    return _y(_float(input, "bessel_y1"), 1)


def spherical_bessel_j0(input):
    """sin(x) / x, 1 at 0."""
    x = _float(input, "spherical_bessel_j0")
    safe = ember.where(x == 0, ember.ones_like(x), x)
    return ember.where(x == 0, ember.ones_like(x), ember.sin(safe) / safe)


# ----- Airy Ai -----
_AI0 = 0.355028053887817239260  # Ai(0)
_AIP0 = 0.258819403792806798405  # -Ai'(0)


def _airy_maclaurin(x):
    """Ai(x) = Ai(0) f(x) + Ai'(0) g(x) from the two Maclaurin series (|x| <= 1)."""
    x3 = x * x * x
    t = ember.ones_like(x)
    u = x
    f, g = t, u
    for k in range(1, 20):
        t = t * x3 / ((3 * k - 1) * (3 * k))
        u = u * x3 / ((3 * k) * (3 * k + 1))
        f = f + t
        g = g + u
    return _AI0 * f - _AIP0 * g


def _j_frac(z, nu, switch):
    """J_nu(z) for nu = +-1/3: series up to `switch`, Hankel's expansion above."""
    zs = ember.where(z <= switch, z, ember.ones_like(z))
    half = zs * 0.5
    q = half * half
    term = ember.exp(nu * ember.log(half)) / math.gamma(nu + 1)
    total = term
    for k in range(1, 60):
        term = term * (-q) / (k * (k + nu))
        total = total + term
    zb = ember.where(z > switch, z, ember.full_like(z, 2 * switch))
    terms = _asym_terms(zb, nu, 2 * int(switch))
    p = ember.zeros_like(zb)
    qs = ember.zeros_like(zb)
    for k, t in enumerate(terms):
        sign = -1.0 if (k // 2) % 2 else 1.0
        if k % 2:
            qs = qs + t * sign
        else:
            p = p + t * sign
    w = zb - (nu * 0.5 + 0.25) * math.pi
    asym = ember.sqrt(2.0 / (math.pi * zb)) * (p * ember.cos(w) - qs * ember.sin(w))
    return ember.where(z <= switch, total, asym)


def _k_third_scaled(z):
    """exp(z) K_{1/3}(z) for z >= 2/3: trapezoid quadrature, Hankel above 25."""
    nu = 1.0 / 3.0
    zm = ember.where(z <= _K_ASYM, z, ember.full_like(z, 2.0))
    h = 0.05
    t_max = math.acosh(1.0 + 45.0 / (2.0 / 3.0))
    total = ember.ones_like(zm) * 0.5
    for j in range(1, int(t_max / h) + 1):
        t = j * h
        total = total + ember.exp(-zm * (math.cosh(t) - 1.0)) * math.cosh(nu * t)
    quad = total * h
    zb = ember.where(z > _K_ASYM, z, ember.full_like(z, 2 * _K_ASYM))
    asym = _k_scaled_asym(zb, nu)
    return ember.where(z <= _K_ASYM, quad, asym)


def airy_ai(input):
    """Airy function Ai(x), with zeta = 2/3 |x|^(3/2).

    |x| <= 1: Maclaurin series; x > 1: sqrt(x/3) K_{1/3}(zeta) / pi;
    x < -1: sqrt(|x|)/3 (J_{1/3}(zeta) + J_{-1/3}(zeta)).
    """
    x = _float(input, "airy_ai")
    switch = 14.0 if x.dtype == ember.float64 else 7.0
    mid = x.abs() <= 1.0
    xm = ember.where(mid, x, ember.zeros_like(x))
    xp = ember.where(x > 1.0, x, ember.full_like(x, 2.0))
    xn = ember.where(x < -1.0, -x, ember.full_like(x, 2.0))
    zp = (2.0 / 3.0) * xp * ember.sqrt(xp)
    zn = (2.0 / 3.0) * xn * ember.sqrt(xn)
    pos = ember.sqrt(xp / 3.0) / math.pi * _k_third_scaled(zp) * ember.exp(-zp)
    neg = ember.sqrt(xn) / 3.0 * (_j_frac(zn, 1.0 / 3.0, switch) + _j_frac(zn, -1.0 / 3.0, switch))
    out = ember.where(mid, _airy_maclaurin(xm), ember.where(x > 0, pos, neg))
    return ember.where(ember.isnan(x), x, out)
