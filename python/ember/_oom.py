"""Out-of-memory errors in PyTorch's shape for the ops ember computes with numpy.

numpy raises `MemoryError` when a result cannot be allocated; PyTorch raises a
`RuntimeError` ("DefaultCPUAllocator: not enough memory: you tried to allocate
N bytes"), the same as ember's Rust core. `numpy_oom(op)` converts one into the
other so callers catch one exception type whatever computed the op.
"""

import functools
import re


def numpy_oom(op):
    """Decorator: a MemoryError inside the wrapped function becomes PyTorch's RuntimeError."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except MemoryError as e:
                raise RuntimeError(oom_message(op, e)) from None

        return wrapper

    return deco


_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}


def oom_message(op, err):
    """PyTorch's message; numpy states the size as e.g. "2.00 TiB", converted back to bytes."""
    m = re.search(r"allocate ([0-9.]+) ([KMGTP]?i?B)", str(err))
    size = f" {int(float(m.group(1)) * _UNITS[m.group(2)])} bytes" if m else ""
    return f"{op}: DefaultCPUAllocator: not enough memory: you tried to allocate{size}."
