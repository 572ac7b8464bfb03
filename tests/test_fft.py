"""ember.fft against numpy.fft (values) and central differences (gradients), both devices.

numpy's pocketfft is the independent reference for every transform, size (including
primes, which rustfft runs through Bluestein's algorithm), norm mode, `n`/`s` resizing
and dim choice. Gradients of a real loss are checked against float64 central
differences of the real and imaginary parts, which is PyTorch's convention for complex
gradients (grad = dL/dRe + i dL/dIm).
"""

import numpy as np
import pytest

import ember
import ember.fft as efft

RNG = np.random.default_rng(0)
NORMS = [None, "backward", "forward", "ortho"]


def _c(shape, dtype=np.complex64):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)


def _r(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _np(t):
    return t.cpu().numpy()


def _close(a, b, dtype=np.float32):
    tol = 2e-5 if dtype in (np.float32, np.complex64) else 1e-11
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("n", [1, 5, 8, 12, 17])
@pytest.mark.parametrize("norm", NORMS)
def test_fft_ifft_match_numpy(device, n, norm):
    x = _c((3, n))
    t = ember.tensor(x, device=device)
    y = efft.fft(t, norm=norm)
    assert y.dtype == ember.complex64 and y.device.type == device
    _close(_np(y), np.fft.fft(x, norm=norm))
    _close(_np(efft.ifft(t, norm=norm)), np.fft.ifft(x, norm=norm))
    _close(_np(efft.ifft(efft.fft(t, norm=norm), norm=norm)), x)


def test_fft_of_real_and_int_inputs_and_dims(device):
    x = _r((4, 6, 5))
    t = ember.tensor(x, device=device)
    for dim in (0, 1, -1):
        _close(_np(efft.fft(t, dim=dim)), np.fft.fft(x, axis=dim))
    ti = ember.arange(6, device=device)
    y = efft.fft(ti)
    assert y.dtype == ember.complex64
    _close(_np(y), np.fft.fft(np.arange(6)))


@pytest.mark.parametrize("n", [3, 8, 11])
def test_fft_n_pads_or_truncates(device, n):
    x = _c((2, 7))
    t = ember.tensor(x, device=device)
    _close(_np(efft.fft(t, n=n)), np.fft.fft(x, n=n))
    _close(_np(efft.ifft(t, n=n, dim=1)), np.fft.ifft(x, n=n, axis=1))


@pytest.mark.parametrize("n", [None, 6, 7, 9])
@pytest.mark.parametrize("norm", NORMS)
def test_rfft_irfft_match_numpy(device, n, norm):
    x = _r((3, 8))
    t = ember.tensor(x, device=device)
    y = efft.rfft(t, n=n, norm=norm)
    _close(_np(y), np.fft.rfft(x, n=n, norm=norm))
    h = _c((3, 5))
    th = ember.tensor(h, device=device)
    r = efft.irfft(th, n=n, norm=norm)
    assert r.dtype == ember.float32
    _close(_np(r), np.fft.irfft(h, n=n, norm=norm))


def test_round_trip_rfft_irfft(device):
    x = _r((2, 9))
    t = ember.tensor(x, device=device)
    _close(_np(efft.irfft(efft.rfft(t), n=9)), x)


def test_nd_transforms_match_numpy(device):
    x = _c((3, 4, 5))
    r = _r((3, 4, 6))
    t, tr = ember.tensor(x, device=device), ember.tensor(r, device=device)
    _close(_np(efft.fft2(t)), np.fft.fft2(x))
    _close(_np(efft.ifft2(t, norm="ortho")), np.fft.ifft2(x, norm="ortho"))
    _close(_np(efft.fftn(t)), np.fft.fftn(x))
    _close(_np(efft.fftn(t, s=(3, 7), dim=(0, 2))), np.fft.fftn(x, s=(3, 7), axes=(0, 2)))
    _close(_np(efft.ifftn(t, s=(6, 2))), np.fft.ifftn(x, s=(6, 2), axes=(1, 2)))
    _close(_np(efft.rfftn(tr)), np.fft.rfftn(r))
    _close(_np(efft.rfft2(tr, norm="forward")), np.fft.rfft2(r, norm="forward"))
    h = np.fft.rfftn(r)
    th = ember.tensor(h.astype(np.complex64), device=device)
    _close(_np(efft.irfftn(th, s=r.shape)), r)
    _close(_np(efft.irfft2(th, s=(4, 6))), np.fft.irfft2(h, s=(4, 6)))


def test_hermitian_transforms_match_numpy(device):
    h = _c((2, 5))
    r = _r((2, 8))
    th, tr = ember.tensor(h, device=device), ember.tensor(r, device=device)
    for norm in NORMS:
        _close(_np(efft.hfft(th, norm=norm)), np.fft.hfft(h, norm=norm))
        _close(_np(efft.hfft(th, n=7, norm=norm)), np.fft.hfft(h, n=7, norm=norm))
        _close(_np(efft.ihfft(tr, norm=norm)), np.fft.ihfft(r, norm=norm))
    # hfftn/ihfftn: conj-symmetric counterparts of irfftn/rfftn.
    _close(_np(efft.ihfft2(tr.reshape(4, 4))), np.conj(np.fft.rfft2(r.reshape(4, 4))) / 16)
    _close(_np(efft.hfft2(efft.ihfft2(tr.reshape(4, 4)), s=(4, 4))), r.reshape(4, 4))


def test_freqs_and_shifts_match_numpy(device):
    for n in (1, 4, 5):
        _close(_np(efft.fftfreq(n)), np.fft.fftfreq(n))
        _close(_np(efft.rfftfreq(n, d=0.5)), np.fft.rfftfreq(n, d=0.5))
    f = efft.fftfreq(6, device=device)
    assert f.dtype == ember.float32 and f.device.type == device
    x = _r((4, 5))
    t = ember.tensor(x, device=device)
    _close(_np(efft.fftshift(t)), np.fft.fftshift(x))
    _close(_np(efft.ifftshift(t, dim=1)), np.fft.ifftshift(x, axes=1))
    c = _c((5,))
    _close(_np(efft.fftshift(ember.tensor(c, device=device))), np.fft.fftshift(c))


def test_complex128_on_cpu():
    x = _c((2, 13), np.complex128)
    y = efft.fft(ember.tensor(x))
    assert y.dtype == ember.complex128
    _close(_np(y), np.fft.fft(x), np.complex128)
    r = _r((3, 10), np.float64)
    _close(_np(efft.irfft(efft.rfft(ember.tensor(r)), n=10)), r, np.float64)


def _num_grad(f, x, eps=1e-6):
    """Central differences of a real scalar f over every real number in x (complex: re, im)."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        for unit in (1.0, 1j) if np.iscomplexobj(x) else (1.0,):
            old = flat[i]
            flat[i] = old + eps * unit
            hi = f(x)
            flat[i] = old - eps * unit
            lo = f(x)
            flat[i] = old
            gflat[i] += unit * (hi - lo) / (2 * eps)
    return g


@pytest.mark.parametrize(
    "name,make,fn",
    [
        ("fft", lambda: _c((2, 5), np.complex128), lambda t: efft.fft(t, norm="ortho")),
        ("ifft", lambda: _c((7,), np.complex128), lambda t: efft.ifft(t, n=9)),
        ("rfft", lambda: _r((2, 6), np.float64), lambda t: efft.rfft(t)),
        ("irfft_even", lambda: _c((4,), np.complex128), lambda t: efft.irfft(t)),
        ("irfft_odd", lambda: _c((4,), np.complex128), lambda t: efft.irfft(t, n=7)),
        ("fft2", lambda: _c((3, 4), np.complex128), lambda t: efft.fft2(t)),
        ("hfft", lambda: _c((4,), np.complex128), lambda t: efft.hfft(t)),
    ],
)
def test_gradients_match_central_differences(name, make, fn):
    _check_grad(make, fn)


def _check_grad(make, fn):
    """Autograd of a real loss of fn(x) against float64 central differences."""
    x = make()
    w = None

    def loss_np(arr):
        y = fn(ember.tensor(arr))
        yr = ember.view_as_real(y) if y.dtype.is_complex else y
        nonlocal w
        if w is None:
            w = np.random.default_rng(1).standard_normal(tuple(yr.shape))
        return float((yr.numpy() * w).sum() + (yr.numpy() ** 2).sum())

    loss_np(x)
    t = ember.tensor(x, requires_grad=True)
    y = fn(t)
    yr = ember.view_as_real(y) if y.dtype.is_complex else y
    ((yr * ember.tensor(w)).sum() + (yr**2).sum()).backward()
    np.testing.assert_allclose(t.grad.numpy(), _num_grad(loss_np, x.copy()), rtol=1e-6, atol=1e-6)


def test_gradient_on_both_devices_agrees(device):
    x = _r((3, 8))
    t = ember.tensor(x, device=device, requires_grad=True)
    y = efft.rfft(t)
    (ember.view_as_real(y) ** 2).sum().backward()
    t2 = ember.tensor(x.astype(np.float64), requires_grad=True)
    (ember.view_as_real(efft.rfft(t2)) ** 2).sum().backward()
    _close(_np(t.grad), t2.grad.numpy().astype(np.float32))


def test_errors_match_pytorch(device):
    t = ember.ones(4, device=device)
    with pytest.raises(RuntimeError, match='Invalid normalization mode: "foo"'):
        efft.fft(t, norm="foo")
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\) specified"):
        efft.fft(t, n=0)
    with pytest.raises(TypeError, match="rfft expects a real input tensor, but got ComplexFloat"):
        efft.rfft(efft.fft(t))
    with pytest.raises(NotImplementedError, match="Unsupported dtype Half"):
        efft.fft(ember.ones(4, dtype=ember.float16, device=device))
    with pytest.raises(IndexError, match=r"range of \[-1, 0\], but got 3"):
        efft.fft(t, dim=3)
    with pytest.raises(IndexError, match="tensor has no dimensions"):
        efft.fft(ember.tensor(1.0, device=device))
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\)"):
        efft.irfft(ember.ones(1, dtype=ember.complex64, device=device))


# ------------------------------------------------------------------ windows and stft


@pytest.mark.parametrize("n", [0, 1, 2, 7, 16])
def test_windows_match_numpy(device, n):
    sym = {
        "hann_window": np.hanning,
        "hamming_window": np.hamming,
        "blackman_window": np.blackman,
        "bartlett_window": np.bartlett,
        "kaiser_window": lambda m: np.kaiser(m, 12.0),
    }
    for name, ref in sym.items():
        f = getattr(ember, name)
        per = f(n, device=device)
        assert per.dtype == ember.float32 and per.device.type == device
        want_per = ref(n + 1)[:n] if n > 1 else np.ones(n)
        want_sym = ref(n) if n > 1 else np.ones(n)
        np.testing.assert_allclose(_np(per), want_per, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(_np(f(n, periodic=False)), want_sym, atol=1e-6, err_msg=name)
    assert ember.hann_window(4, dtype=ember.float64).dtype == ember.float64


def _np_stft(x, n_fft, hop, window, center=True):
    if center:
        x = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    n_frames = 1 + (len(x) - n_fft) // hop
    frames = np.stack([x[i * hop : i * hop + n_fft] * window for i in range(n_frames)])
    return np.fft.rfft(frames, axis=-1).T


@pytest.mark.parametrize("center", [True, False])
def test_stft_matches_numpy_and_istft_inverts(device, center):
    x = _r((64,))
    # Without centring the first sample sees only the window's first value: a Hann
    # window (0 there) fails the overlap-add check, in PyTorch too; Hamming does not.
    if center:
        w, win = np.hanning(17)[:16], ember.hann_window(16, device=device)
    else:
        w, win = np.hamming(17)[:16], ember.hamming_window(16, device=device)
    w = w.astype(np.float32)
    t = ember.tensor(x, device=device)
    s = ember.stft(t, 16, hop_length=4, window=win, center=center, return_complex=True)
    assert s.dtype == ember.complex64 and s.shape == _np_stft(x, 16, 4, w, center).shape
    _close(_np(s), _np_stft(x, 16, 4, w, center))
    back = ember.istft(s, 16, hop_length=4, window=win, center=center, length=64)
    assert tuple(back.shape) == (64,)
    _close(_np(back), x)
    # Batched input and the Tensor method.
    xb = ember.tensor(np.stack([x, 2 * x]), device=device)
    sb = xb.stft(16, hop_length=4, window=win, center=center, return_complex=True)
    _close(_np(sb[1]), 2 * _np(s))
    if not center:
        hann = ember.hann_window(16, device=device)
        sh = ember.stft(t, 16, hop_length=4, window=hann, center=False, return_complex=True)
        with pytest.raises(RuntimeError, match="window overlap add min"):
            ember.istft(sh, 16, hop_length=4, window=hann, center=False)


def test_stft_argument_errors_match_pytorch(device):
    t = ember.ones(100, device=device)
    with pytest.raises(RuntimeError, match="stft requires the return_complex parameter"):
        ember.stft(t, 16)
    with pytest.raises(RuntimeError, match="expected a 1D window tensor of size equal to"):
        ember.stft(t, 16, window=ember.ones(8, device=device), return_complex=True)


def test_stft_gradient_matches_central_differences():
    x = _r((24,), np.float64)
    win = ember.hann_window(8, dtype=ember.float64)

    def loss(arr):
        s = ember.stft(ember.tensor(arr), 8, hop_length=2, window=win, return_complex=True)
        return float((ember.view_as_real(s) ** 2).sum())

    t = ember.tensor(x, requires_grad=True)
    s = ember.stft(t, 8, hop_length=2, window=win, return_complex=True)
    (ember.view_as_real(s) ** 2).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), _num_grad(loss, x.copy()), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ realfft r2c / c2r primitives
@pytest.mark.parametrize("n", [1, 2, 7, 10])
def test_r2c_c2r_primitives_any_dim(device, n):
    # The core primitives (realfft) along a middle dim, odd and even n, against numpy.
    x = _r((3, n, 2))
    t = ember.tensor(x, device=device)
    y = ember._C._fft_r2c(t, 1)
    assert y.dtype == ember.complex64 and y.shape == (3, n // 2 + 1, 2)
    _close(_np(y), np.fft.rfft(x, axis=1))
    h = _c((2, n // 2 + 1, 3))
    r = ember._C._fft_c2r(ember.tensor(h, device=device), -2, n)
    assert r.dtype == ember.float32 and r.shape == (2, n, 3)
    _close(_np(r), np.fft.irfft(h, n=n, axis=1) * n)
    with pytest.raises(RuntimeError, match="bins"):
        ember._C._fft_c2r(ember.tensor(h, device=device), 1, n + 2)


def test_rfft_irfft_dims_resizing_norms(device):
    x = _r((4, 9, 3))
    t = ember.tensor(x, device=device)
    for norm in NORMS:
        for n in (None, 4, 9, 12):
            _close(_np(efft.rfft(t, n=n, dim=1, norm=norm)), np.fft.rfft(x, n=n, axis=1, norm=norm))
            h = np.fft.rfft(x, axis=1).astype(np.complex64)
            got = efft.irfft(ember.tensor(h, device=device), n=n, dim=1, norm=norm)
            _close(_np(got), np.fft.irfft(h, n=n, axis=1, norm=norm))
    _close(_np(efft.rfftn(t, s=(5, 4), dim=(0, 2))), np.fft.rfftn(x, s=(5, 4), axes=(0, 2)))
    # irfft ignores the imaginary parts of the DC and Nyquist bins, as numpy's and PyTorch's c2r
    h = _c((6,))
    got = efft.irfft(ember.tensor(h, device=device))
    h2 = h.copy()
    h2[0], h2[-1] = h2[0].real, h2[-1].real
    _close(_np(got), np.fft.irfft(h2))


def test_r2c_c2r_large_and_float64():
    x = _r((1 << 16,), np.float64)
    y = efft.rfft(ember.tensor(x))
    assert y.dtype == ember.complex128
    _close(_np(y), np.fft.rfft(x), np.complex128)
    _close(_np(efft.irfft(y, n=x.size)), x, np.float64)
    xo = _r((3, 1001), np.float64)
    _close(_np(efft.irfft(efft.rfft(ember.tensor(xo)), n=1001)), xo, np.float64)


# Gradients computed by hand with PyTorch 2.15 (complex128/float64, z.grad after backward of
# sum(w * out) or sum(wr * Re out + wi * Im out)), pasted as constants.
_H = [1 + 0.5j, 2 - 1j, -0.5 + 0.25j, 0.75 - 2j]
_W7 = [0.3, -0.7, 1.1, 0.5, 0.2, -0.4, 0.9]
_X5 = [0.3, -1.2, 2.0, 0.7, -0.1]
_WR, _WI = [0.3, -0.7, 1.1, 0.5], [0.5, 0.2, -0.4, 0.8]
TORCH_FFT_GRADS = {
    "irfft even n=6": [0.16666666666666663, -0.4666666666666667 - 0.17320508075688779j,
                       0.23333333333333328 + 0.34641016151377546j, 0.3666666666666667],
    "irfft odd n=7 ortho": [0.7181324987175316, -0.2734534416870863 - 0.2582454493213062j,
                            0.04630856023539673 + 1.848442597519679j,
                            0.30273777605353525 + 1.1901971481983726j],
    "rfft n=6 forward of 5": [0.2, -0.15446581987385205, 0.013397459621556102,
                              0.26666666666666666, 0.18660254037844384],
    "rfft odd 5": [0.7000000000000002, -0.7613277922169468, 0.7082509328983492,
                   1.7042102468514613, -0.8511333875328639],
}  # fmt: skip


def _fft_grad(name, device, dt):
    real = ember.float64 if dt == ember.complex128 else ember.float32
    if name.startswith("irfft"):
        h = ember.tensor(_H, dtype=dt, device=device, requires_grad=True)
        out = efft.irfft(h) if "even" in name else efft.irfft(h, n=7, norm="ortho")
        w = ember.tensor(_W7[: out.shape[0]], dtype=real, device=device)
        (out * w).sum().backward()
        return h.grad
    x = ember.tensor(_X5, dtype=real, device=device, requires_grad=True)
    y = efft.rfft(x, n=6, norm="forward") if "n=6" in name else efft.rfft(x)
    m = y.shape[0]
    wr = ember.tensor(_WR[:m], dtype=real, device=device)
    wi = ember.tensor(_WI[:m], dtype=real, device=device)
    ((y.real * wr).sum() + (y.imag * wi).sum()).backward()
    return x.grad


@pytest.mark.parametrize("name", sorted(TORCH_FFT_GRADS))
def test_r2c_c2r_gradients_vs_pytorch(device, name):
    want = TORCH_FFT_GRADS[name]
    if device == "cpu":
        got = _fft_grad(name, device, ember.complex128)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-14)
    got = _fft_grad(name, device, ember.complex64)
    np.testing.assert_allclose(_np(got), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name,make,fn",
    [
        ("rfft_odd_dim0", lambda: _r((5, 2), np.float64), lambda t: efft.rfft(t, dim=0)),
        ("rfft_pad", lambda: _r((2, 5), np.float64), lambda t: efft.rfft(t, n=8, norm="ortho")),
        ("rfft_cut", lambda: _r((7,), np.float64), lambda t: efft.rfft(t, n=4, norm="forward")),
        ("irfft_dim0", lambda: _c((3, 2), np.complex128), lambda t: efft.irfft(t, n=5, dim=0)),
        ("irfft_pad", lambda: _c((3,), np.complex128), lambda t: efft.irfft(t, n=10)),
        ("rfft2", lambda: _r((3, 4), np.float64), lambda t: efft.rfft2(t)),
        ("irfft2", lambda: _c((3, 3), np.complex128), lambda t: efft.irfft2(t, s=(3, 5))),
    ],
)
def test_r2c_c2r_gradients_match_central_differences(name, make, fn):
    _check_grad(make, fn)


def test_r2c_c2r_double_backward():
    # d/dx of the gradient of sum(|rfft x|^2) = 2 * sum over the spectrum: create_graph works
    # through the primitives' backward (each the other primitive).
    x = ember.tensor(_r((6,), np.float64), requires_grad=True)
    y = efft.irfft(efft.rfft(x) * 2.0, n=6)
    (g,) = ember.autograd.grad((y * y).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 8 * x.detach().numpy(), rtol=1e-12)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(6, 8.0), rtol=1e-12)
