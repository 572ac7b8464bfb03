"""ember.fft beside numpy.fft (and PyTorch, run in its own process).

    PYTHONPATH=python .venv/bin/python benchmarks/bench_fft.py [--torch /path/to/python-with-torch]

Rows: rfft and irfft of 2**20 float32 points, fft of 2**20 complex64 points, a batch of
1024 rffts of 1024 points, fft of a prime length (2**16 + 1, Bluestein), float32 stft of
1 s of 16 kHz audio (n_fft 512, hop 128, Hann window). Best of several repeats, in ms. With
--torch the same rows run under that interpreter in a subprocess (PyTorch is never imported
here), so each library has the cores alone.
"""

import argparse
import json
import subprocess
import sys
import time

import numpy as np


def best(fn, reps=7):
    fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t) * 1e3


def data():
    rng = np.random.default_rng(0)
    r = rng.standard_normal(2**20).astype(np.float32)
    c = (rng.standard_normal(2**20) + 1j * rng.standard_normal(2**20)).astype(np.complex64)
    h = np.fft.rfft(r).astype(np.complex64)
    batch = rng.standard_normal((1024, 1024)).astype(np.float32)
    prime = rng.standard_normal(2**16 + 1).astype(np.float32)
    audio = rng.standard_normal(16000).astype(np.float32)
    return r, c, h, batch, prime, audio


def run_lib(lib):
    r, c, h, batch, prime, audio = data()
    if lib == "numpy":
        win = np.hanning(513)[:512].astype(np.float32)

        def stft():
            x = np.pad(audio, 256, mode="reflect")
            idx = np.arange(512)[None, :] + 128 * np.arange(1 + (len(x) - 512) // 128)[:, None]
            return np.fft.rfft(x[idx] * win, axis=-1)

        rows = {
            "rfft 2^20": lambda: np.fft.rfft(r),
            "irfft 2^20": lambda: np.fft.irfft(h),
            "fft 2^20 complex": lambda: np.fft.fft(c),
            "rfft 1024 x 1024": lambda: np.fft.rfft(batch, axis=-1),
            "fft prime 65537": lambda: np.fft.fft(prime),
            "stft 16k n_fft 512": stft,
        }
    else:
        if lib == "ember":
            import ember as torch
        else:
            import torch
        tr, tc, th = torch.from_numpy(r), torch.from_numpy(c), torch.from_numpy(h)
        tb, tp, ta = torch.from_numpy(batch), torch.from_numpy(prime), torch.from_numpy(audio)
        win = torch.hann_window(512)
        rows = {
            "rfft 2^20": lambda: torch.fft.rfft(tr),
            "irfft 2^20": lambda: torch.fft.irfft(th),
            "fft 2^20 complex": lambda: torch.fft.fft(tc),
            "rfft 1024 x 1024": lambda: torch.fft.rfft(tb, dim=-1),
            "fft prime 65537": lambda: torch.fft.fft(tp),
            "stft 16k n_fft 512": lambda: torch.stft(
                ta, 512, hop_length=128, window=win, return_complex=True
            ),
        }
    return {k: best(f) for k, f in rows.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch", help="a Python with PyTorch: add its column")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(run_lib(a.child)))
        return
    cols = {"numpy": run_lib("numpy"), "ember": run_lib("ember")}
    if a.torch:
        out = subprocess.run(
            [a.torch, __file__, "--child", "torch"], capture_output=True, text=True, check=True
        )
        cols["torch"] = json.loads(out.stdout.strip().splitlines()[-1])
    names = list(cols)
    print("| op | " + " | ".join(f"{n} ms" for n in names) + " | ember / numpy |")
    print("|---|" + "---|" * (len(names) + 1))
    for row in cols["numpy"]:
        vals = " | ".join(f"{cols[n][row]:.2f}" for n in names)
        print(f"| {row} | {vals} | {cols['ember'][row] / cols['numpy'][row]:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
