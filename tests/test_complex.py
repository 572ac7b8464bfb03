"""Complex tensors (complex64/complex128): values against numpy's complex arithmetic,
gradients against hand-derived formulas and numpy central differences, the LLaMA rotary
embedding, the views' stride rules and the NotImplementedError guard of ops without a
complex rule. Both devices; complex128 only on cpu (the gpu has no float64)."""

import numpy as np
import pytest

import ember as torch

RNG = np.random.default_rng(7)


def _c(shape, dtype=np.complex64):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)


def _np(t):
    return t.detach().cpu().numpy()


def test_dtypes_and_promotion():
    assert torch.complex64 is torch.cfloat or torch.complex64 == torch.cfloat
    assert torch.complex128 == torch.cdouble
    assert torch.complex64.is_complex and not torch.float32.is_complex
    assert torch.complex64.itemsize == 8 and torch.complex128.itemsize == 16
    assert not torch.complex64.is_floating_point
    assert torch.promote_types(torch.complex64, torch.float64) == torch.complex128
    assert torch.promote_types(torch.complex64, torch.int64) == torch.complex64
    assert torch.promote_types(torch.float32, torch.complex128) == torch.complex128
    assert torch.finfo(torch.complex64).eps == np.finfo(np.float32).eps
    assert torch.finfo(torch.complex128).eps == np.finfo(np.float64).eps
    # PyTorch's result types (checked by hand with PyTorch 2.15)
    c = torch.ones(2, dtype=torch.complex64)
    assert (c + torch.tensor(1.0, dtype=torch.float64)).dtype == torch.complex64
    assert (c + torch.ones(2, dtype=torch.float64)).dtype == torch.complex128
    assert (torch.ones(2) * (1 + 2j)).dtype == torch.complex64
    assert (torch.ones(2, dtype=torch.float64) * 1j).dtype == torch.complex128
    assert (torch.arange(3) * 1j).dtype == torch.complex64
    assert torch.is_complex(c) and c.is_complex() and not torch.ones(1).is_complex()


def test_creation_numpy_item_repr(device):
    z = torch.tensor([1 + 2j, 3j], device=device)
    assert z.dtype == torch.complex64 and z.shape == (2,)
    np.testing.assert_array_equal(_np(z), np.array([1 + 2j, 3j], np.complex64))
    a = _c((3, 4), np.complex128)
    if device == "cpu":
        t = torch.from_numpy(a) if hasattr(torch, "from_numpy") else torch.tensor(a)
        t = torch.tensor(a)
        assert t.dtype == torch.complex128
        np.testing.assert_array_equal(t.numpy(), a)
    t = torch.tensor(a, dtype=torch.complex64, device=device)
    np.testing.assert_allclose(_np(t), a.astype(np.complex64))
    assert torch.tensor(1 + 2j).item() == 1 + 2j
    assert complex(torch.tensor([2.5 - 1j], device=device)) == 2.5 - 1j
    assert z.tolist() == [1 + 2j, 3j]
    # PyTorch's print format (pasted from PyTorch 2.15)
    assert repr(torch.tensor([1 + 2j, 2.25 - 1j])) == "tensor([1.0000+2.j, 2.2500-1.j])"
    assert (
        repr(torch.tensor([1.5 + 2.25j, -3 - 3j])) == "tensor([ 1.5000+2.2500j, -3.0000-3.0000j])"
    )
    assert repr(torch.tensor([[0.5j, 2], [3 + 1j, -1e3]])) == (
        "tensor([[    0.+0.5000j,     2.+0.0000j],\n        [    3.+1.0000j, -1000.+0.0000j]])"
    )
    assert (
        repr(torch.tensor([[1e-5 + 1j, 100 + 0j]])) == "tensor([[1.0000e-05+1.j, 1.0000e+02+0.j]])"
    )
    assert repr(torch.tensor(1 + 2j, dtype=torch.complex128)) == (
        f"tensor(1.+2.j, dtype={torch.complex128!r})"
    )
    for f, v in ((torch.zeros, 0), (torch.ones, 1)):
        t = f(2, 3, dtype=torch.complex64, device=device)
        assert t.dtype == torch.complex64 and t.shape == (2, 3)
        np.testing.assert_array_equal(_np(t), np.full((2, 3), v, np.complex64))
    f = torch.full((2,), 1 - 2j, device=device)
    assert f.dtype == torch.complex64
    np.testing.assert_array_equal(_np(f), np.full(2, 1 - 2j, np.complex64))
    r = torch.randn(20000, dtype=torch.complex64, device=device)
    parts = _np(torch.view_as_real(r))
    # re and im each N(0, 1/2): E|z|^2 = 1
    assert abs(parts.var(0) - 0.5).max() < 0.03 and abs(parts.mean()) < 0.02
    x = torch.arange(3, device=device).to(torch.complex64)
    np.testing.assert_array_equal(_np(x), np.arange(3).astype(np.complex64))


def test_views_real_imag(device):
    a = _c((3, 4))
    z = torch.tensor(a, device=device)
    r = torch.view_as_real(z)
    assert r.shape == (3, 4, 2) and r.dtype == torch.float32 and r.stride() == (8, 2, 1)
    np.testing.assert_array_equal(_np(r), np.stack([a.real, a.imag], -1))
    np.testing.assert_array_equal(_np(z.real), a.real)
    np.testing.assert_array_equal(_np(torch.imag(z)), a.imag)
    # views share memory: writes through the real view and .imag show in z
    r[0, 0, 0] = 10.0
    z.imag[1] = 0.0
    a[0, 0] = 10.0 + 1j * a[0, 0].imag
    a[1] = a[1].real
    np.testing.assert_array_equal(_np(z), a)
    back = torch.view_as_complex(r)
    np.testing.assert_array_equal(_np(back), a)
    # a transposed complex tensor has a strided real view, still a view
    zt = z.t()
    rt = torch.view_as_real(zt)
    assert rt.stride() == (2, 8, 1)
    np.testing.assert_array_equal(_np(rt), np.stack([a.T.real, a.T.imag], -1))
    # shape ops are layout ops
    np.testing.assert_array_equal(_np(z.reshape(4, 3)), a.reshape(4, 3))
    np.testing.assert_array_equal(_np(z.t().contiguous()), a.T)
    np.testing.assert_array_equal(_np(z[1:, ::2]), a[1:, ::2])
    np.testing.assert_array_equal(
        _np(z.unsqueeze(0).expand(2, 3, 4)), np.broadcast_to(a, (2, 3, 4))
    )
    np.testing.assert_array_equal(_np(torch.cat([z, z], 0)), np.concatenate([a, a], 0))
    np.testing.assert_array_equal(_np(torch.stack([z, z], 1)), np.stack([a, a], 1))
    np.testing.assert_array_equal(_np(z.flatten()), a.reshape(-1))
    np.testing.assert_array_equal(_np(z.clone()), a)
    np.testing.assert_array_equal(_np(z.permute(1, 0)[2]), a.T[2])


def test_view_as_complex_errors():
    # PyTorch 2.15's messages (checked by hand)
    cases = [
        (torch.zeros(3, 2, dtype=torch.int32), NotImplementedError, "half, float and double"),
        (torch.zeros(3, 3), RuntimeError, "last dimension of size 2"),
        (torch.zeros(2, 3).t()[:2], RuntimeError, "last dimension with stride 1"),
        (torch.zeros(2, 3)[:, :2], RuntimeError, "stride divisible by 2"),
        (torch.zeros(5)[1:].view(2, 2), RuntimeError, "storage_offset divisible by 2"),
        (torch.tensor(1.0), RuntimeError, "one or more dimensions"),
    ]
    for x, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            torch.view_as_complex(x)
    with pytest.raises(TypeError, match="only supported for complex tensors"):
        torch.view_as_real(torch.zeros(2))
    with pytest.raises(TypeError, match="non-complex dtypes"):
        torch.imag(torch.zeros(2))
    with pytest.raises(RuntimeError, match="scalar type Float but got scalar type Double"):
        torch.complex(torch.zeros(2), torch.zeros(2, dtype=torch.float64))


def test_arithmetic_values(device):
    a, b = _c((3, 4)), _c((4,))
    w = RNG.standard_normal((3, 1)).astype(np.float32)
    za, zb, zw = (torch.tensor(x, device=device) for x in (a, b, w))
    tol = dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(za + zb), a + b, **tol)
    np.testing.assert_allclose(_np(za - zb), a - b, **tol)
    np.testing.assert_allclose(_np(za * zb), a * b, **tol)
    np.testing.assert_allclose(_np(za / zb), a / b, **tol)
    np.testing.assert_allclose(_np(za * zw), a * w, **tol)
    np.testing.assert_allclose(_np(zw - za), w - a, **tol)
    np.testing.assert_allclose(_np(zw / za), w / a, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(za * (2 - 1j)), a * (2 - 1j), **tol)
    np.testing.assert_allclose(_np(1j + za), a + 1j, **tol)
    np.testing.assert_allclose(_np(za * 3), a * 3, **tol)
    np.testing.assert_allclose(_np(-za), -a, **tol)
    np.testing.assert_allclose(_np(za.exp()), np.exp(a), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(za.abs()), np.abs(a), **tol)
    np.testing.assert_allclose(_np(torch.angle(za)), np.angle(a), **tol)
    np.testing.assert_allclose(_np(za.reciprocal()), 1 / a, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(za.square()), a * a, **tol)
    np.testing.assert_allclose(_np(za.conj()), a.conj(), **tol)
    assert not za.conj().is_conj() and za.resolve_conj() is za
    np.testing.assert_allclose(_np(torch.conj_physical(za)), a.conj(), **tol)
    np.testing.assert_allclose(_np(za.sum()), a.sum(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(za.sum(0)), a.sum(0), **tol)
    np.testing.assert_allclose(_np(za.mean(1, keepdim=True)), a.mean(1, keepdims=True), **tol)
    np.testing.assert_array_equal(_np(za == za.clone()), np.ones((3, 4), bool))
    np.testing.assert_array_equal(_np(za != zb), a != b)
    m1, m2 = _c((2, 3, 4)), _c((2, 4, 5))
    z1, z2 = torch.tensor(m1, device=device), torch.tensor(m2, device=device)
    np.testing.assert_allclose(_np(z1 @ z2), m1 @ m2, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(torch.bmm(z1, z2)), m1 @ m2, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(z1[0].mm(z2[0])), m1[0] @ m2[0], rtol=1e-4, atol=1e-4)
    real = RNG.standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_allclose(
        _np(z1 @ torch.tensor(real, device=device)), m1 @ real, rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(_np(torch.cumsum(za, 1)), np.cumsum(a, 1), rtol=1e-5, atol=1e-5)
    wh = torch.where(za.real > 0, za, zb * 1j)
    np.testing.assert_allclose(_np(wh), np.where(a.real > 0, a, b * 1j), **tol)
    # in place
    zc = za.clone()
    zc += zb
    zc.mul_(1j)
    np.testing.assert_allclose(_np(zc), (a + b) * 1j, **tol)
    p = torch.polar(
        torch.tensor([2.0, 1.0], device=device), torch.tensor([0.5, -2.0], device=device)
    )
    np.testing.assert_allclose(_np(p), [2 * np.exp(0.5j), np.exp(-2j)], **tol)
    c = torch.complex(torch.tensor([1.0, 2.0], device=device), torch.tensor([3.0], device=device))
    np.testing.assert_array_equal(_np(c), [1 + 3j, 2 + 3j])


def test_float_discards_imag_with_warning(device):
    b = torch.tensor([1j, 0, 2 + 0j], device=device)
    np.testing.assert_array_equal(_np(b.bool()), [True, False, True])
    assert b.any().item() and not b.all().item()
    z = torch.tensor([1 + 2j, -3 + 1j], device=device)
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        f = z.float()
    np.testing.assert_array_equal(_np(f), [1.0, -3.0])
    assert z.to(torch.complex64) is z or _np(z.to(torch.complex64)).tolist() == [1 + 2j, -3 + 1j]


def test_gradients_hand_derived(device):
    # L = sum(w * view_as_real(z * c)) for constant c: dL/dz = conj(c) * w_c (w_c from w's pairs)
    z0, c0 = _c((5,)), _c((5,))
    w = RNG.standard_normal((5, 2)).astype(np.float32)
    z = torch.tensor(z0, device=device, requires_grad=True)
    out = torch.view_as_real(z * torch.tensor(c0, device=device))
    (out * torch.tensor(w, device=device)).sum().backward()
    assert z.grad.dtype == torch.complex64
    wc = w[:, 0] + 1j * w[:, 1]
    np.testing.assert_allclose(_np(z.grad), wc * c0.conj(), rtol=1e-5, atol=1e-5)
    # |z| : d|z|/dz = z / |z|  (PyTorch's convention: dL/da + i dL/db)
    z2 = torch.tensor(z0, device=device, requires_grad=True)
    z2.abs().sum().backward()
    np.testing.assert_allclose(_np(z2.grad), z0 / np.abs(z0), rtol=1e-5, atol=1e-5)
    # view_as_complex's gradient is view_as_real of the incoming gradient
    r = torch.tensor(np.stack([z0.real, z0.imag], -1), device=device, requires_grad=True)
    torch.view_as_complex(r).real.sum().backward()
    np.testing.assert_array_equal(_np(r.grad), np.stack([np.ones(5), np.zeros(5)], -1))


def _loss_np(zr, wr):
    z = zr[..., 0] + 1j * zr[..., 1]
    w = wr[..., 0] + 1j * wr[..., 1]
    y = (z @ w) / (1.5 + z[:, :1]) + np.exp(z[:, :2].sum(1, keepdims=True)) * (2 - 1j)
    return np.abs(y).sum() + np.angle(y).sum() + (y * y).real.mean() + (1 / z).imag.sum()


def _loss_t(z, w):
    y = (z @ w) / (1.5 + z[:, :1]) + (z[:, :2].sum(1, keepdim=True)).exp() * (2 - 1j)
    return y.abs().sum() + y.angle().sum() + y.square().real.mean() + z.reciprocal().imag.sum()


def test_gradients_finite_differences():
    # complex128 on cpu against float64 central differences on the real views
    z0, w0 = _c((3, 4), np.complex128), _c((4, 2), np.complex128)
    z = torch.tensor(z0, requires_grad=True)
    w = torch.tensor(w0, requires_grad=True)
    loss = _loss_t(z, w)
    zr = np.stack([z0.real, z0.imag], -1)
    wr = np.stack([w0.real, w0.imag], -1)
    np.testing.assert_allclose(loss.item(), _loss_np(zr, wr), rtol=1e-10)
    loss.backward()
    for t, arr, other in ((z, zr, wr), (w, wr, None)):
        num = np.zeros_like(arr)
        h = 1e-6
        for idx in np.ndindex(arr.shape):
            p, m = arr.copy(), arr.copy()
            p[idx] += h
            m[idx] -= h
            if other is not None:
                num[idx] = (_loss_np(p, other) - _loss_np(m, other)) / (2 * h)
            else:
                num[idx] = (_loss_np(zr, p) - _loss_np(zr, m)) / (2 * h)
        g = t.grad.numpy()
        np.testing.assert_allclose(np.stack([g.real, g.imag], -1), num, rtol=1e-5, atol=1e-6)


def test_rotary_embedding(device):
    xq0 = RNG.standard_normal((2, 16, 3, 8)).astype(np.float32)
    xq = torch.tensor(xq0, device=device, requires_grad=True)
    freqs = 1.0 / (10000 ** (torch.arange(0, 8, 2, device=device).float() / 8))
    t = torch.arange(16, device=device).float()
    freqs = torch.outer(t, freqs)
    freqs_cis = torch.polar(torch.ones_like(freqs), freqs)
    assert freqs_cis.dtype == torch.complex64 and freqs_cis.shape == (16, 4)
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    out = torch.view_as_real(xq_ * freqs_cis.view(1, 16, 1, 4)).flatten(3).type_as(xq)
    assert out.shape == (2, 16, 3, 8) and out.dtype == torch.float32
    # numpy reference
    f_np = np.outer(np.arange(16), 1.0 / (10000 ** (np.arange(0, 8, 2) / 8)))
    cis = np.exp(1j * f_np).astype(np.complex64)[None, :, None, :]
    xc = xq0.reshape(2, 16, 3, 4, 2)
    xc = xc[..., 0] + 1j * xc[..., 1]
    ref = xc * cis
    ref_r = np.stack([ref.real, ref.imag], -1).reshape(2, 16, 3, 8)
    np.testing.assert_allclose(_np(out), ref_r, rtol=1e-5, atol=1e-5)
    w = RNG.standard_normal((2, 16, 3, 8)).astype(np.float32)
    (out * torch.tensor(w, device=device)).sum().backward()
    wc = w.reshape(2, 16, 3, 4, 2)
    wc = wc[..., 0] + 1j * wc[..., 1]
    g = wc * cis.conj()  # hand-derived: d/dx of Re(conj(w) x cis) = w conj(cis)
    np.testing.assert_allclose(
        _np(xq.grad), np.stack([g.real, g.imag], -1).reshape(2, 16, 3, 8), rtol=1e-5, atol=1e-5
    )


_UNIMPLEMENTED = [
    ("erf", lambda z: torch.erf(z)),
    ("floor", lambda z: torch.floor(z)),
    ("acos", lambda z: torch.acos(z)),
    ("asinh", lambda z: torch.asinh(z)),
    # sin/log/sqrt/tanh/sigmoid/log1p/pow/scatter have complex rules now
    # (tests/test_complex_math.py, tests/test_complex_index.py)
    ("asin", lambda z: torch.asin(z)),
    ("atanh", lambda z: torch.atanh(z)),
    ("gelu", lambda z: torch.nn.functional.gelu(z)),
    ("cumprod", lambda z: torch.cumprod(z, 0)),
    ("max", lambda z: z.max()),
    ("amin", lambda z: torch.amin(z, 0)),
    ("prod", lambda z: z.prod()),
    ("sort", lambda z: torch.sort(z)),
    ("softmax", lambda z: torch.softmax(z, 0)),
    ("maximum", lambda z: torch.maximum(z, z)),
    ("remainder", lambda z: z % 2),
    ("floor_divide", lambda z: z // 2),
    ("fmod", lambda z: torch.fmod(z, z)),
    ("atan2", lambda z: torch.atan2(z, z)),
    ("lt", lambda z: z < z),
    ("clamp", lambda z: torch.clamp(z, min=0)),
    ("cummax", lambda z: torch.cummax(z, 0)),
    ("unique", lambda z: torch.unique(z)),
    ("logsumexp", lambda z: torch.logsumexp(z, 0)),
    (
        "scatter_reduce_amax",
        lambda z: z.clone().scatter_reduce_(0, torch.tensor([1, 0], device=z.device), z, "amax"),
    ),
    ("sum_to_float", lambda z: z.sum(dtype=torch.float32)),
]


@pytest.mark.parametrize("name,fn", _UNIMPLEMENTED, ids=[n for n, _ in _UNIMPLEMENTED])
def test_guard_unimplemented(device, name, fn):
    z = torch.tensor([1 + 2j, -1j, 3.0], device=device)
    before = _np(z).copy()
    with pytest.raises((NotImplementedError, RuntimeError, TypeError), match="omplex"):
        fn(z)
    np.testing.assert_array_equal(_np(z), before)


def test_complex128_gpu_refused():
    if not torch.gpu.is_available():
        pytest.skip("no GPU adapter")
    z = torch.tensor([1 + 2j], dtype=torch.complex128)
    with pytest.raises((RuntimeError, TypeError), match="float64"):
        z.to("gpu")


def test_save_load_round_trip(tmp_path):
    from ember.utils import safetensors

    z = torch.tensor(_c((3, 2)))
    w = torch.tensor(_c((2, 3), np.complex128)).t()  # a strided view of a complex128 storage
    path = tmp_path / "c.pt"
    torch.save({"z": z, "w": w}, str(path))
    back = torch.load(str(path))
    assert back["z"].dtype == torch.complex64 and back["w"].dtype == torch.complex128
    np.testing.assert_array_equal(back["z"].numpy(), z.numpy())
    np.testing.assert_array_equal(back["w"].numpy(), w.numpy())
    st = safetensors.load(safetensors.save({"z": z}))
    np.testing.assert_array_equal(st["z"].numpy(), z.numpy())


def test_from_numpy_shares_memory():
    a = _c((2, 3))[:, ::2]  # strided complex array
    t = torch.from_numpy(a)
    a[0, 0] = 7 - 7j
    assert t.dtype == torch.complex64 and t[0, 0].item() == 7 - 7j
    np.testing.assert_array_equal(t.numpy(), a)


# ------------------------------------------------------------------ index ops (stop 20)
_ZN = np.array([[1 + 2j, 3 - 1j, 0.5j], [2, -1j, 4 + 4j]], np.complex64)


def test_complex_index_ops_match_numpy(device):
    # Each complex element is gathered as its (re, im) pair; on the gpu these ran the
    # real kernels on the pair storage and returned wrong values before.
    z = torch.tensor(_ZN, device=device)
    i = torch.tensor([2, 0], device=device)
    cases = [
        (z.flip(0), np.flip(_ZN, 0)),
        (z.flip(-1), np.flip(_ZN, -1)),
        (z.index_select(1, i), _ZN[:, [2, 0]]),
        (z.index_select(-2, torch.tensor([1], device=device)), _ZN[[1]]),
        (z.gather(1, torch.tensor([[0], [2]], device=device)), _ZN[[0, 1], [0, 2]][:, None]),
        (z[torch.tensor([1, 0], device=device)], _ZN[[1, 0]]),
        (z[:, [0, 2]], _ZN[:, [0, 2]]),
        (z[[1, 0], [2, 1]], _ZN[[1, 0], [2, 1]]),
        (z.t()[torch.tensor([2], device=device)], _ZN.T[[2]]),
        (z[z.real > 0.6], _ZN[_ZN.real > 0.6]),
        (z.masked_select(z.real > 0.6), _ZN[_ZN.real > 0.6]),
    ]
    for got, want in cases:
        assert got.dtype == torch.complex64
        np.testing.assert_array_equal(got.cpu().numpy(), want)


def test_complex_index_select_gradient(device):
    x = torch.tensor(_ZN, device=device, requires_grad=True)
    y = x.index_select(1, torch.tensor([2, 0, 2], device=device))
    (torch.view_as_real(y) * torch.tensor([1.0, 3.0], device=device)).sum().backward()
    # d/dRe = 1, d/dIm = 3 per pick: column 2 picked twice, column 1 never.
    want = np.array([[1 + 3j, 0, 2 + 6j]] * 2, np.complex64)
    np.testing.assert_array_equal(x.grad.cpu().numpy(), want)


def test_complex_index_add_and_scatter_add(device):
    # These refused complex before; they run on the (re, im) view now (more cases in
    # tests/test_complex_index.py).
    z = torch.tensor(_ZN, device=device)
    got = z.index_add(0, torch.tensor([0], device=device), z[:1])
    want = _ZN.copy()
    want[0] *= 2
    np.testing.assert_array_equal(_np(got), want)
    got = z.scatter_add(1, torch.tensor([[0], [1]], device=device), z[:, :1])
    want = _ZN.copy()
    want[0, 0] += _ZN[0, 0]
    want[1, 1] += _ZN[1, 0]
    np.testing.assert_array_equal(_np(got), want)
