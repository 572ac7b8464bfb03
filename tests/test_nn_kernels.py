"""The Rust NN kernels (conv, pooling) and fused optimizer steps from Python:
PyTorch's conformance cases for those ops, the raw ember._C entry points, and
the fused steps against the optimizers' tensor-op reference paths."""

import json
import os

import numpy as np
import pytest

import ember
import ember.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.environ.get("EMBER_CONFORMANCE", os.path.join(HERE, "..", "..", "shared", "conformance"))
if not os.path.isdir(CONF):
    CONF = os.path.join(HERE, "..", "shared", "conformance")

OPS = {
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
}

_cases = []
if os.path.exists(os.path.join(CONF, "cases.json")):
    with open(os.path.join(CONF, "cases.json")) as f:
        _cases = [c for c in json.load(f)["cases"] if c["op"] in OPS]
_data = None


def data():
    global _data
    if _data is None:
        _data = np.load(os.path.join(CONF, "cases.npz"))
    return _data


def close(actual, expected, atol, rtol):
    actual = np.asarray(actual)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, (
        f"got {actual.dtype}{list(actual.shape)}, want {expected.dtype}{list(expected.shape)}"
    )
    if expected.dtype.kind != "f":
        assert np.array_equal(actual, expected)
    else:
        assert np.allclose(actual, expected, atol=atol, rtol=rtol, equal_nan=True), (
            f"max abs diff {np.nanmax(np.abs(actual.astype('f8') - expected)):.3g}"
        )


@pytest.mark.skipif(not _cases, reason="conformance fixtures not found")
@pytest.mark.parametrize("case", _cases, ids=[c["id"] for c in _cases])
def test_conformance(case):
    d = data()
    grads = case["grads"] or {}
    env = {
        n: ember.tensor(d[m["key"]]).requires_grad_(n in grads) for n, m in case["inputs"].items()
    }
    out = eval(case["call"], {"torch": ember, **env})
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    assert len(outs) == len(case["outputs"])
    for o, key in zip(outs, case["outputs"]):
        close(o.detach().numpy(), d[key], case["atol"], case["rtol"])
    if grads:
        seeds = [(o, s) for o, s in zip(outs, case["grad_seed"]) if s]
        sum((o * ember.tensor(d[s])).sum() for o, s in seeds).backward()
        for name, key in grads.items():
            close(env[name].grad.numpy(), d[key], case["atol"], case["rtol"])


def test_raw_entry_points():
    x = ember.randn(2, 3, 8, 8, requires_grad=True)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    b = ember.randn(4, requires_grad=True)
    y = ember._C.conv2d(x, w, b, (1, 1), (1, 1), (1, 1), 1)
    assert tuple(y.shape) == (2, 4, 8, 8)
    wt = ember.randn(4, 2, 3, 3)
    yt = ember._C.conv_transpose2d(y, wt, None, (2, 2), (1, 1), (1, 1), 1, (1, 1))
    assert tuple(yt.shape) == (2, 2, 16, 16)
    out, idx = ember._C.max_pool2d(y, (2, 2), (2, 2), (0, 0), (1, 1), False)
    assert tuple(out.shape) == (2, 4, 4, 4) and idx.dtype == ember.int64
    a = ember._C.avg_pool2d(out, (2, 2), (2, 2), (0, 0), False, True, None)
    g = ember._C.adaptive_avg_pool2d(a, (1, 1))
    m, mi = ember._C.adaptive_max_pool2d(out, (3, 3))
    (g.sum() + m.sum() + yt.sum()).backward()
    assert x.grad is not None and w.grad is not None and b.grad is not None
    with pytest.raises(RuntimeError, match="expected input\\[2, 5, 8, 8\\] to have 3 channels"):
        ember._C.conv2d(ember.randn(2, 5, 8, 8), w, None, (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(RuntimeError, match="non-positive stride"):
        ember._C.conv2d(x, w, None, (0, 1), (0, 0), (1, 1), 1)


def test_conv_double_backward():
    x = ember.randn(2, 2, 5, 5, dtype=ember.float64, requires_grad=True)
    w = ember.randn(3, 2, 3, 3, dtype=ember.float64, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    (gx,) = ember.autograd.grad((y * y).sum(), x, create_graph=True)
    (ggw,) = ember.autograd.grad(gx.sum(), w)
    assert tuple(ggw.shape) == (3, 2, 3, 3)


def _params(dtype=ember.float32):
    shapes = [(4, 3), (7,), (64, 32, 3, 3)]
    ps = [ember.randn(*s, dtype=dtype) for s in shapes]
    gs = [ember.randn(*s, dtype=dtype) for s in shapes]
    return ps, gs


def _clone(ts):
    return [t.clone() for t in ts]


def _assert_all_close(a, b, tol=1e-6):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "nesterov,momentum,wd,maximize",
    [(False, 0.0, 0.0, False), (False, 0.9, 0.01, True), (True, 0.9, 0.0, False)],
)
def test_sgd_step_matches_reference(nesterov, momentum, wd, maximize):
    from ember.optim.sgd import _sgd_reference

    ps, gs = _params()
    ref = _clone(ps)
    bufs, ref_bufs = [None] * 3, [None] * 3
    for _ in range(3):
        args = (0.1, momentum, 0.0, wd, nesterov, maximize)
        bufs = ember._C.sgd_step(ps, gs, bufs, *args)
        ref_bufs = _sgd_reference(ref, gs, ref_bufs, *args)
    _assert_all_close(ps, ref)
    assert all((b is None) == (momentum == 0) for b in bufs)
    # Existing buffers come back as the same objects.
    if momentum:
        again = ember._C.sgd_step(ps, gs, bufs, *args)
        assert all(a is b for a, b in zip(again, bufs))


@pytest.mark.parametrize(
    "amsgrad,decoupled,wd", [(False, False, 0.0), (True, False, 0.01), (False, True, 0.1)]
)
def test_adam_step_matches_reference(amsgrad, decoupled, wd):
    from ember.optim.adam import _adam_reference

    ps, gs = _params()
    ref = _clone(ps)
    state = [[ember.zeros_like(p) for p in ps] for _ in range(3)]
    rstate = [[ember.zeros_like(p) for p in ps] for _ in range(3)]
    for step in range(1, 4):
        args = ([step] * 3, 1e-2, 0.9, 0.999, 1e-8, wd, amsgrad, False, decoupled)
        ember._C.adam_step(ps, gs, state[0], state[1], state[2] if amsgrad else [], *args)
        _adam_reference(ref, gs, rstate[0], rstate[1], rstate[2] if amsgrad else [], *args)
    _assert_all_close(ps, ref, 1e-5)
    _assert_all_close(state[1], rstate[1], 1e-5)


def test_rmsprop_and_adagrad_steps_match_reference():
    from ember.optim.adagrad import _adagrad_reference
    from ember.optim.rmsprop import _rmsprop_reference

    ps, gs = _params(ember.float64)
    ref = _clone(ps)
    sq, buf, ga = ([ember.zeros_like(p) for p in ps] for _ in range(3))
    rsq, rbuf, rga = ([ember.zeros_like(p) for p in ps] for _ in range(3))
    for _ in range(3):
        args = (1e-2, 0.99, 1e-8, 0.01, 0.9, True, False)
        ember._C.rmsprop_step(ps, gs, sq, buf, ga, *args)
        _rmsprop_reference(ref, gs, rsq, rbuf, rga, *args)
    _assert_all_close(ps, ref, 1e-10)

    ps, gs = _params(ember.float64)
    ref = _clone(ps)
    sums = [ember.zeros_like(p) for p in ps]
    rsums = [ember.zeros_like(p) for p in ps]
    for step in range(1, 4):
        args = ([step] * 3, 0.1, 0.01, 0.001, 1e-10, False)
        ember._C.adagrad_step(ps, gs, sums, *args)
        _adagrad_reference(ref, gs, rsums, *args)
    _assert_all_close(ps, ref, 1e-10)
