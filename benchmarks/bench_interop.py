"""numpy <-> ember hand-off of a 64 MB float32 array: the copying path ember used before
issue 14 (bytes in, bytes out) beside today's zero-copy views, and DLPack both ways.

    .venv/bin/python benchmarks/bench_interop.py

"copy" rows run the old implementation, which is still in the tree: from_numpy was
`_from_numpy_array` (ndarray.tobytes() -> _C._from_bytes) and numpy() was
`np.frombuffer(t._to_bytes())`. Each "view" row returns an object sharing the memory.
"""

import time

import numpy as np

import ember
from ember import _ops

N = 16 * 2**20  # float32 elements: 64 MiB


def best_time(fn, number, repeat=5):
    """Best-of-`repeat` seconds per call of fn, each measured over `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def main():
    a = np.random.default_rng(0).random(N, dtype=np.float32)
    t = ember.from_numpy(a.copy())
    rows = [
        ("from_numpy, copy (before)", lambda: _ops._from_numpy_array(a, None), 3),
        ("from_numpy, view (now)", lambda: ember.from_numpy(a), 2000),
        (
            "numpy(), copy (before)",
            lambda: np.frombuffer(t._to_bytes(), dtype=np.float32).reshape(N),
            3,
        ),
        ("numpy(), view (now)", lambda: t.numpy(), 2000),
        ("ember.from_dlpack(ndarray), view", lambda: ember.from_dlpack(a), 2000),
        ("np.from_dlpack(tensor), view", lambda: np.from_dlpack(t), 2000),
    ]
    print(f"| {'64 MiB float32 array':<36} | {'time':>12} |")
    print(f"|{'-' * 38}|{'-' * 13}:|")
    for label, fn, number in rows:
        s = best_time(fn, number)
        cell = f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.2f} us"
        print(f"| {label:<36} | {cell:>12} |")


if __name__ == "__main__":
    main()
