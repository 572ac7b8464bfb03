"""Complex math (sqrt, rsqrt, log*, trig, hyperbolic, sigmoid, pow, sgn, var/std, vector
norms, isinf/isfinite): values against numpy's complex functions, including points on the
branch cut (negative reals with +0.0 and -0.0 imaginary parts), and gradients in PyTorch's
convention (grad = dL/dRe + i dL/dIm) against central differences in complex128 and against
reference gradients computed by hand with PyTorch 2.15. Both devices; complex128 only on cpu
(the gpu has no float64)."""

import math

import numpy as np
import pytest

import ember as torch

RNG = np.random.default_rng(11)

# Branch-cut points (the sign of a zero imaginary part picks the side), zero, and generic ones.
CUT = [complex(-4, 0.0), complex(-4, -0.0), complex(-0.5, 0.0), complex(-0.5, -0.0), 0j]
GENERIC = [3 - 4j, -1e-3 + 2j, 0.7 + 0.2j, -1.5 - 0.8j, 1e-4 - 1e-4j, 2.5 + 0j]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _sgn(z):
    a = np.abs(z)
    return np.where(a == 0, 0, z / np.where(a == 0, 1, a))


NUMPY = {
    "sqrt": np.sqrt,
    "rsqrt": lambda z: 1 / np.sqrt(z),
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "sgn": _sgn,
}


def _dtypes(device):
    return [(torch.complex64, np.complex64)] + (
        [(torch.complex128, np.complex128)] if device == "cpu" else []
    )


def _close(got, want, c64):
    tol = dict(rtol=3e-5, atol=3e-6) if c64 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_unary_values_vs_numpy(device, name):
    pts = GENERIC + CUT
    if name in ("log", "log2", "log10", "rsqrt"):
        pts = GENERIC + CUT[:4]  # log(0) and rsqrt(0): checked separately below
    if name == "log1p":
        pts = GENERIC + [complex(-5, 0.0), complex(-5, -0.0), 0j]
    for _tdt, ndt in _dtypes(device):
        z = np.array(pts, dtype=ndt)
        got = getattr(torch, name)(torch.tensor(z, device=device)).cpu().numpy()
        assert got.dtype == ndt
        with np.errstate(all="ignore"):
            want = NUMPY[name](z.astype(np.complex128))
        _close(got, want, ndt == np.complex64)
    # Tensor methods reach the same ops.
    t = torch.tensor([1 + 2j], device=device)
    assert np.allclose(getattr(t, name)().cpu().numpy(), NUMPY[name](np.array([1 + 2j])))


def test_branch_cut_signs_by_hand(device):
    # The lower side of the negative real axis (-0.0 imaginary part): sqrt(-4 - 0j) = -2j,
    # log(-1 - 0j) = -i pi (principal values, as numpy and PyTorch).
    z = torch.tensor([complex(-4, -0.0), complex(-4, 0.0)], device=device)
    s = torch.sqrt(z).cpu().numpy()
    assert abs(s[0] - (-2j)) < 1e-6 and abs(s[1] - 2j) < 1e-6
    lg = torch.log(torch.tensor([complex(-1, -0.0), complex(-1, 0.0)], device=device)).cpu()
    np.testing.assert_allclose(lg.numpy(), [-1j * math.pi, 1j * math.pi], atol=1e-6)
    # log(0) = -inf + 0j, rsqrt(0) = inf + nan j (PyTorch 2.15, by hand)
    assert torch.log(torch.tensor([0j], device=device)).item() == complex(-math.inf, 0)
    r = torch.rsqrt(torch.tensor([0j], device=device)).item()
    assert r.real == math.inf and math.isnan(r.imag)
    # sgn(0) = 0, and the sign of a real stays sign()
    sg = torch.sgn(torch.tensor([0j, 3 - 4j], device=device)).cpu().numpy()
    assert sg[0] == 0
    np.testing.assert_allclose(sg, [0, 0.6 - 0.8j], rtol=1e-6)


def test_large_arguments_do_not_overflow(device):
    # tanh/tan of a large part: PyTorch 2.15 (by hand) gives 1 + 1.59e-26j, -1 + 0j, -1j.
    t = torch.tanh(torch.tensor([30 + 1j, -400 + 1j], device=device)).cpu().numpy()
    np.testing.assert_allclose(t, [1, -1], atol=1e-7)
    t = torch.tan(torch.tensor([1 + 30j, 1 - 400j], device=device)).cpu().numpy()
    np.testing.assert_allclose(t, [1j, -1j], atol=1e-7)


def test_pow_values(device):
    for _tdt, ndt in _dtypes(device):
        z = np.array(GENERIC + CUT[:4], dtype=ndt)
        w = np.array([0.5 - 1j, 2, -1.5 + 0.5j, 1j, 3, 0.25, -2 + 1j, 1.5, 0.5j, -0.5], ndt)
        zt, wt = torch.tensor(z, device=device), torch.tensor(w, device=device)
        zz = z.astype(np.complex128)
        c64 = ndt == np.complex64
        for e in (2, 3, -1, -2, 0.5, -0.5, 1, 0, 2.5, -1.5, 1 + 1j, 0.5j):
            got = (zt**e).cpu().numpy()
            assert got.dtype == ndt
            _close(got, zz ** complex(e), c64)
        _close(torch.pow(zt, wt).cpu().numpy(), zz ** w.astype(np.complex128), c64)
        _close((2**zt).cpu().numpy(), 2**zz, c64)
        # a real tensor base is promoted: (-2) ** 0.5j uses log(-2) = log 2 + i pi
    b = torch.tensor([-2.0, 3.0], device=device)
    got = torch.pow(b, 0.5j).cpu().numpy()
    assert got.dtype == np.complex64
    _close(got, np.array([-2.0, 3.0]) ** 0.5j, True)
    # 0 ** w (PyTorch 2.15, by hand): 1 for w = 0, 0 for 2, 2.5, 1+1j; inf+nan j for -1
    z0 = torch.tensor([0j], device=device)
    assert (z0**0).item() == 1 and (z0**2).item() == 0 and (z0**2.5).item() == 0
    assert (z0 ** (1 + 1j)).item() == 0
    # PyTorch gives inf + nan j for 0 ** -1; ember's reciprocal gives nan + nan j (not finite)
    assert not math.isfinite((z0**-1).item().real)


def _loss(out, wr, wi):
    if out.dtype.is_complex:
        return (out.real * wr).sum() + (out.imag * wi).sum()
    return (out * wr).sum()


WR = [0.3, -0.7, 1.1]
WI = [0.5, 0.2, -0.4]
ZS = [1 + 2j, -0.5 + 0.25j, 2 - 1j]


def _op(name):
    return lambda z: getattr(torch, name)(z)


# f(z) for the gradient checks (z is a complex tensor of ZS).
FUNCS = {
    **{n: _op(n) for n in NUMPY},
    "pow2.5": lambda z: z**2.5,
    "pow(1+1j)": lambda z: z ** (1 + 1j),
    "pow_zz": lambda z: z ** z.flip(0),
    "2**z": lambda z: 2**z,
    "pow2": lambda z: z**2,
    "abs": lambda z: z.abs(),
    "var": lambda z: z.var().reshape(1),
    "std0": lambda z: z.std(correction=0).reshape(1),
    "norm": lambda z: torch.linalg.vector_norm(z).reshape(1),
    "norm3": lambda z: torch.linalg.vector_norm(z, 3).reshape(1),
    "norm1": lambda z: torch.linalg.vector_norm(z, 1).reshape(1),
}


def _grad(f, zs, device, dt):
    z = torch.tensor(zs, dtype=dt, device=device, requires_grad=True)
    n = f(z).numel()
    wr = torch.tensor(WR[:n], dtype=torch.float64 if dt == torch.complex128 else torch.float32)
    wi = torch.tensor(WI[:n], dtype=wr.dtype)
    _loss(f(z), wr.to(device), wi.to(device)).backward()
    return z.grad.cpu().numpy()


def _numeric_grad(f, zs, h=1e-6):
    """dL/dRe + i dL/dIm by central differences in complex128 on the cpu."""
    wr = torch.tensor(WR, dtype=torch.float64)
    wi = torch.tensor(WI, dtype=torch.float64)

    def loss(v):
        out = f(torch.tensor(v, dtype=torch.complex128))
        n = out.numel()
        return _loss(out, wr[:n], wi[:n]).item()

    g = np.zeros(len(zs), np.complex128)
    for k in range(len(zs)):
        for step, part in ((h, 1.0), (1j * h, 1j)):
            up, dn = list(zs), list(zs)
            up[k] += step
            dn[k] -= step
            g[k] += part * (loss(up) - loss(dn)) / (2 * h)
    return g


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_gradients_vs_central_differences(device, name):
    f = FUNCS[name]
    want = _numeric_grad(f, ZS)
    if device == "cpu":
        np.testing.assert_allclose(
            _grad(f, ZS, device, torch.complex128), want, rtol=1e-6, atol=1e-7
        )
    np.testing.assert_allclose(_grad(f, ZS, device, torch.complex64), want, rtol=2e-4, atol=2e-5)


# Gradients of L = sum(WR * Re f(z)) + sum(WI * Im f(z)) at ZS, computed by hand with
# PyTorch 2.15 in complex128 (z.grad after L.backward()), pasted as constants.
TORCH_GRADS = {
    "sqrt": [-0.0025647239126682614 + 0.1949527578895672j, -0.23772169191617504 - 0.42486657059303784j,
             0.32723894668784126 - 0.21467493619276518j],
    "log": [-0.14 + 0.22j, 0.96 - 0.88j, 0.36 - 0.38j],
    "tan": [0.025714207200420027 - 0.03491921211207923j, -0.8728865725057345 + 0.01071981151673033j,
            -0.5594429664163891 - 0.5041126836869038j],
    "tanh": [0.19345103097525176 - 0.3214317053856045j, -0.5240082820978996 + 0.2953203748882941j,
             -0.05897948582070142 - 0.06402357764368154j],
    "sigmoid": [-0.16809249758167835 + 0.19665988769656725j, -0.16369288207782326 + 0.05787305098928897j,
                0.05713306440359867 - 0.12344163072117742j],
    "sgn": [0.01788854381999832 - 0.008944271909999142j, -0.1073312629199899 - 0.21466252583997975j,
            0.0268328157299975 + 0.05366563145999495j],
    "pow2.5": [3.937526016481369 - 2.872996890090142j, 0.3082191270698837 - 0.6954645248261917j,
               9.202082924172924 + 3.3246548908653475j],
    "pow(1+1j)": [0.23094617180868215 - 0.14470805490125366j, -0.06267238056669974 + 0.03279717752398503j,
                  -0.9469763502117515 - 2.45540888872392j],
    "pow_zz": [6.729320105250945 + 3.120170982206248j, -1.3215625037790455 + 0.2813141914188941j,
               -3.6172436167875865 - 12.204454556609576j],
    "2**z": [0.7576805175566934 - 0.28166705920958374j, -0.3210503215241189 + 0.1557136466003647j,
             3.0546921443549038 + 1.0956212704686852j],
    "var": [0.05 + 0.475j, -0.4 - 0.05j, 0.35 - 0.425j],
    "norm": [0.09341987329938276 + 0.1868397465987655j, -0.04670993664969138 + 0.02335496832484569j,
             0.1868397465987655 - 0.09341987329938276j],
    "norm3": [0.08408072123032904 + 0.1681614424606581j, -0.01051009015379113 + 0.005255045076895565j,
              0.1681614424606581 - 0.08408072123032904j],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TORCH_GRADS))
def test_gradients_vs_pytorch(device, name):
    dt = torch.complex128 if device == "cpu" else torch.complex64
    tol = dict(rtol=1e-9, atol=1e-12) if device == "cpu" else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_grad(FUNCS[name], ZS, device, dt), TORCH_GRADS[name], **tol)


def test_gradients_at_zero(device):
    # PyTorch 2.15 (by hand): abs, sgn and the 2-norm have gradient 0 at z = 0.
    z0 = [0j, 1j, 1 + 0j]
    np.testing.assert_allclose(_grad(FUNCS["abs"], z0, device, torch.complex64), [0, -0.7j, 1.1])
    np.testing.assert_allclose(_grad(FUNCS["sgn"], z0, device, torch.complex64), [0, -0.7, -0.4j])
    g = _grad(FUNCS["norm"], z0, device, torch.complex64)
    np.testing.assert_allclose(g, [0, 0.21213203435596423j, 0.21213203435596423], rtol=1e-6)


def test_var_std_norm_values(device):
    a0 = RNG.standard_normal((3, 5)) + 1j * RNG.standard_normal((3, 5))
    for _tdt, ndt in _dtypes(device):
        a = a0.astype(ndt)
        x = torch.tensor(a, device=device)
        c64 = ndt == np.complex64
        v = torch.var(x)
        assert v.dtype == (torch.float32 if c64 else torch.float64) and v.shape == ()
        _close(v.cpu().numpy(), np.var(a.astype(np.complex128), ddof=1), c64)
        _close(torch.var(x, 1, correction=0).cpu().numpy(), np.var(a, axis=1), c64)
        _close(x.std(0, keepdim=True).cpu().numpy(), np.std(a, 0, ddof=1, keepdims=True), c64)
        _close(torch.std(x, unbiased=False).cpu().numpy(), np.std(a), c64)
        for ord_ in (2, 1, 3, math.inf, -math.inf, 0):
            got = torch.linalg.vector_norm(x, ord_, dim=1).cpu().numpy()
            want = [np.linalg.norm(r, ord_) for r in a.astype(np.complex128)]
            _close(got, want, c64)
        _close(torch.linalg.vector_norm(x).cpu().numpy(), np.linalg.norm(a.ravel()), c64)
        n = torch.linalg.vector_norm(x, dim=(0, -1), keepdim=True)
        assert n.shape == (1, 1) and n.dtype == v.dtype
        _close(n.cpu().numpy()[0, 0], np.linalg.norm(a.ravel()), c64)
        _close(x.norm().cpu().numpy(), np.linalg.norm(a.ravel()), c64)
        _close(torch.linalg.norm(x, dim=0).cpu().numpy(), np.linalg.norm(a, axis=0), c64)
        _close(torch.linalg.vector_norm(x, keepdim=True).cpu().numpy().shape, (1, 1), c64)


def test_isinf_isfinite_isnan_isreal_sign(device):
    inf, nan = math.inf, math.nan
    z = torch.tensor(
        [complex(inf, 0), complex(0, -inf), complex(nan, 1), 1j, 2 + 0j], device=device
    )
    assert torch.isinf(z).tolist() == [True, True, False, False, False]
    assert torch.isfinite(z).tolist() == [False, False, False, True, True]
    assert torch.isnan(z).tolist() == [False, False, True, False, False]
    assert torch.isreal(z).tolist() == [True, False, False, False, True]
    # PyTorch 2.15's errors (by hand)
    with pytest.raises(NotImplementedError, match="Please use torch.sgn"):
        torch.sign(z)
    with pytest.raises(RuntimeError, match="isposinf does not support complex"):
        torch.isposinf(z)
    # real tensors keep their behaviour
    assert torch.sign(torch.tensor([-2.0, 0.0], device=device)).tolist() == [-1.0, 0.0]
    assert torch.isinf(torch.tensor([inf, 1.0], device=device)).tolist() == [True, False]


def test_unsupported_ops_still_refuse(device):
    z = torch.tensor([1 + 1j], device=device)
    with pytest.raises(NotImplementedError, match="not implemented for 'ComplexFloat'"):
        torch.asin(z)
    with pytest.raises(NotImplementedError, match="not implemented for 'ComplexFloat'"):
        torch.fmod(z, z)
