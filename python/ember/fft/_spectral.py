"""Window functions and the short-time Fourier transform (torch.stft / torch.istft).

stft frames the signal with `unfold`, multiplies each frame by the window and runs rfft
(or fft) on the frames; istft runs the inverse transform per frame and overlap-adds with
`index_add`, dividing by the summed squared window as PyTorch does. Everything is made of
differentiable ops, so both have gradients on both devices.
"""

import math
import warnings

import numpy as np

from .. import _C


def _ember():
    import ember

    return ember


def _window(name, n, periodic, values, dtype, layout, device, requires_grad):
    torch = _ember()
    if n < 0:
        raise RuntimeError(f"{name} requires non-negative window length, got window_length={n}")
    dtype = dtype or torch.get_default_dtype()
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if n == 0:
        arr = np.zeros(0)
    elif n == 1:
        arr = np.ones(1)
    else:
        m = n if periodic else n - 1
        arr = values(np.arange(n, dtype=np.float64), m)
    t = torch.tensor(arr, dtype=dtype)
    if device is not None:
        t = t.to(device)
    return t.requires_grad_(requires_grad)


def hann_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    return _window(
        "hann_window",
        window_length,
        periodic,
        lambda k, m: 0.5 - 0.5 * np.cos(2 * math.pi * k / m),
        dtype,
        layout,
        device,
        requires_grad,
    )


def hamming_window(
    window_length,
    periodic=True,
    alpha=0.54,
    beta=0.46,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
):
    return _window(
        "hamming_window",
        window_length,
        periodic,
        lambda k, m: alpha - beta * np.cos(2 * math.pi * k / m),
        dtype,
        layout,
        device,
        requires_grad,
    )


def blackman_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    return _window(
        "blackman_window",
        window_length,
        periodic,
        lambda k, m: 0.42 - 0.5 * np.cos(2 * math.pi * k / m) + 0.08 * np.cos(4 * math.pi * k / m),
        dtype,
        layout,
        device,
        requires_grad,
    )


def bartlett_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    return _window(
        "bartlett_window",
        window_length,
        periodic,
        lambda k, m: 1.0 - np.abs(2.0 * k / m - 1.0),
        dtype,
        layout,
        device,
        requires_grad,
    )


def kaiser_window(
    window_length,
    periodic=True,
    beta=12.0,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad=False,
):
    return _window(
        "kaiser_window",
        window_length,
        periodic,
        lambda k, m: (
            np.i0(beta * np.sqrt(np.clip(1.0 - (2.0 * k / m - 1.0) ** 2, 0.0, None))) / np.i0(beta)
        ),
        dtype,
        layout,
        device,
        requires_grad,
    )


def _full_window(fn, window, win_length, n_fft, like):
    torch = _ember()
    if window is None:
        dt = like.dtype
        if dt.is_complex:
            dt = torch.float64 if dt == torch.complex128 else torch.float32
        window = torch.ones(win_length, dtype=dt, device=like.device)
    if window.dim() != 1 or window.shape[0] != win_length:
        raise RuntimeError(
            f"{fn}: expected a 1D window tensor of size equal to win_length={win_length}, but "
            f"got window with size {list(window.shape)}"
        )
    if win_length < n_fft:  # centred in n_fft, zeros around (PyTorch's padding)
        left = (n_fft - win_length) // 2
        window = torch.nn.functional.pad(window, (left, n_fft - win_length - left))
    return window


def stft(
    input,
    n_fft,
    hop_length=None,
    win_length=None,
    window=None,
    center=True,
    pad_mode="reflect",
    normalized=False,
    onesided=None,
    return_complex=None,
):
    """torch.stft: [(B,) n_fft // 2 + 1 (or n_fft), frames] complex spectrogram."""
    torch = _ember()
    from . import fft, rfft

    if not isinstance(input, _C.Tensor):
        raise TypeError(f"stft(): argument 'input' must be Tensor, not {type(input).__name__}")
    complex_in = input.dtype.is_complex or (window is not None and window.dtype.is_complex)
    if return_complex is None:
        if not complex_in:
            raise RuntimeError(
                "stft requires the return_complex parameter be given for real inputs, and will "
                "further require that return_complex=True in a future PyTorch release."
            )
        return_complex = True
    if input.dim() not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {input.dim()}D")
    hop = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if hop <= 0:
        raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win_length <= n_fft:
        raise RuntimeError(
            f"stft: expected 0 < win_length <= n_fft, but got win_length={win_length}"
        )
    x = input if input.dim() == 2 else input.unsqueeze(0)
    if center:
        p = n_fft // 2
        x = torch.nn.functional.pad(x.unsqueeze(1), (p, p), mode=pad_mode).squeeze(1)
    if not 0 < n_fft <= x.shape[-1]:
        raise RuntimeError(f"stft: expected 0 < n_fft <= {x.shape[-1]}, but got n_fft={n_fft}")
    w = _full_window("stft", window, win_length, n_fft, x)
    frames = x.unfold(-1, n_fft, hop) * w  # [B, frames, n_fft]
    onesided = (not complex_in) if onesided is None else onesided
    if onesided and complex_in:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    norm = "ortho" if normalized else None
    spec = rfft(frames, dim=-1, norm=norm) if onesided else fft(frames, dim=-1, norm=norm)
    spec = spec.transpose(-1, -2)
    if input.dim() == 1:
        spec = spec.squeeze(0)
    if not return_complex:
        warnings.warn(
            "stft with return_complex=False is deprecated. In a future pytorch release, stft "
            "will return complex tensors for all inputs, and return_complex=False will raise "
            "an error.",
            UserWarning,
            stacklevel=2,
        )
        return torch.view_as_real(spec)
    return spec


def istft(
    input,
    n_fft,
    hop_length=None,
    win_length=None,
    window=None,
    center=True,
    normalized=False,
    onesided=None,
    length=None,
    return_complex=False,
):
    """torch.istft: the signal whose stft is `input` (overlap-add, window-normalized)."""
    torch = _ember()
    from . import ifft, irfft

    if not isinstance(input, _C.Tensor) or not input.dtype.is_complex:
        raise RuntimeError("istft requires a complex-valued input tensor")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor of 2 or 3 dimensions, got {input.dim()}")
    hop = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    spec = input if input.dim() == 3 else input.unsqueeze(0)  # [B, freq, frames]
    n_frames = spec.shape[-1]
    onesided = (spec.shape[-2] != n_fft) if onesided is None else onesided
    if onesided and spec.shape[-2] != n_fft // 2 + 1:
        raise RuntimeError(
            f"istft: expected the frequency dimension (3rd to the last) of the input tensor to "
            f"match n_fft / 2 + 1 when onesided=True, but got {spec.shape[-2]}"
        )
    norm = "ortho" if normalized else None
    fr = spec.transpose(-1, -2)  # [B, frames, freq]
    if onesided:
        frames = irfft(fr, n=n_fft, dim=-1, norm=norm)
    else:
        frames = ifft(fr, n=n_fft, dim=-1, norm=norm)
        if not return_complex:
            frames = torch.view_as_real(frames).select(-1, 0)
    w = _full_window("istft", window, win_length, n_fft, frames)
    frames = frames * w
    total = n_fft + hop * (n_frames - 1)
    pos = (torch.arange(n_frames, device=frames.device) * hop).unsqueeze(1) + torch.arange(
        n_fft, device=frames.device
    )
    pos = pos.reshape(-1)
    b = frames.shape[0]
    y = torch.zeros(b, total, dtype=frames.dtype, device=frames.device).index_add(
        1, pos, frames.reshape(b, -1)
    )
    env = torch.zeros(total, dtype=w.dtype, device=w.device).index_add(
        0, pos, (w * w).repeat(n_frames)
    )
    start = n_fft // 2 if center else 0
    end = total - (n_fft // 2 if center else 0) if length is None else start + length
    end = min(end, total)
    y = y[:, start:end]
    env = env[start:end]
    if bool((env.abs() < 1e-11).any()):
        raise RuntimeError(
            "istft: window overlap add min: the window's squared sum is zero somewhere "
            "(NOLA constraint failed)"
        )
    y = y / env
    if length is not None and y.shape[-1] < length:
        y = torch.nn.functional.pad(y, (0, length - y.shape[-1]))
    return y if input.dim() == 3 else y.squeeze(0)


def _install():
    """torch.stft/istft and the window functions at top level, stft/istft as Tensor methods."""
    import ember

    for f in (stft, istft, hann_window, hamming_window, blackman_window, bartlett_window):
        setattr(ember, f.__name__, f)
    ember.kaiser_window = kaiser_window
    _C.Tensor.stft = stft
    _C.Tensor.istft = istft
