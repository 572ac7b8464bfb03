"""ember.testing.assert_close (PyTorch's default tolerances)."""

import numpy as np

from . import _C

_TOL = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
}


def assert_close(
    actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True, msg=None, **kw
):
    if isinstance(actual, (list, tuple)):
        for a, e in zip(actual, expected):
            assert_close(
                a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype, msg=msg
            )
        return
    if isinstance(actual, _C.Tensor) and isinstance(expected, _C.Tensor):
        if check_dtype and actual.dtype != expected.dtype:
            raise AssertionError(
                msg
                or f"The values for attribute 'dtype' do not match: {actual.dtype} != {expected.dtype}."
            )
        if tuple(actual.shape) != tuple(expected.shape):
            raise AssertionError(
                msg
                or f"The values for attribute 'shape' do not match: {tuple(actual.shape)} != {tuple(expected.shape)}."
            )
    dt = actual.dtype.name if isinstance(actual, _C.Tensor) else "float64"
    r, a = _TOL.get(dt, (0.0, 0.0))
    rtol = r if rtol is None else rtol
    atol = a if atol is None else atol
    x = np.asarray(
        actual.detach().cpu().float().numpy()
        if isinstance(actual, _C.Tensor) and dt == "bfloat16"
        else actual,
        dtype=np.float64,
    )
    y = np.asarray(
        expected.detach().cpu().float().numpy()
        if isinstance(expected, _C.Tensor) and expected.dtype.name == "bfloat16"
        else expected,
        dtype=np.float64,
    )
    if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan):
        diff = np.nanmax(np.abs(x - y)) if x.size else 0
        raise AssertionError(
            msg
            or f"Tensor-likes are not close!\nGreatest absolute difference: {diff} (up to {atol} allowed)"
        )


assert_allclose = assert_close
