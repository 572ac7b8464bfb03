"""PyTorch conformance: every case of ../shared/conformance (PyTorch 2.13's own
outputs and gradients) evaluated on ember, on each device."""

import json
import os
import warnings

import numpy as np
import pytest

import ember

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.environ.get("EMBER_CONFORMANCE", os.path.join(HERE, "..", "..", "shared", "conformance"))
if not os.path.isdir(CONF):
    CONF = os.path.join(HERE, "..", "shared", "conformance")

_cases = []
_data = None
if os.path.exists(os.path.join(CONF, "cases.json")):
    with open(os.path.join(CONF, "cases.json")) as f:
        _cases = json.load(f)["cases"]


def data():
    global _data
    if _data is None:
        _data = np.load(os.path.join(CONF, "cases.npz"))
    return _data


def to_tensor(arr, device, requires_grad=False):
    t = ember.tensor(arr)
    if device != "cpu":
        t = t.to(device)
    return t.requires_grad_(requires_grad)


def to_numpy(t):
    return t.detach().cpu().numpy()


def compare(actual, expected, atol, rtol):
    actual = np.asarray(actual)
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        return (
            f"got {actual.dtype}{list(actual.shape)}, want {expected.dtype}{list(expected.shape)}"
        )
    if expected.dtype.kind != "f":
        return None if np.array_equal(actual, expected) else "values differ"
    if np.allclose(actual, expected, atol=atol, rtol=rtol, equal_nan=True):
        return None
    return f"max abs diff {np.nanmax(np.abs(actual.astype('f8') - expected)):.3g}"


def run_case(c, device):
    d = data()
    grads = c["grads"] or {}
    atol, rtol = c["atol"], c["rtol"]
    if device != "cpu":  # WGSL transcendental accuracy (see the conformance README)
        atol, rtol = atol * 100, rtol * 100
    env = {n: to_tensor(d[m["key"]], device, n in grads) for n, m in c["inputs"].items()}
    if c.get("raises"):
        try:
            eval(c["call"], {"torch": ember, **env})
            if device == "gpu":  # index errors surface at the next sync (as on CUDA)
                ember.gpu.synchronize()
        except Exception as e:  # noqa: BLE001
            names = [k.__name__ for k in type(e).__mro__]
            return None if c["raises"] in names else f"raised {type(e).__name__}: {e}"
        return f"expected {c['raises']}"
    out = eval(c["call"], {"torch": ember, **env})
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if len(outs) != len(c["outputs"]):
        return f"{len(outs)} outputs, want {len(c['outputs'])}"
    for i, (o, key) in enumerate(zip(outs, c["outputs"])):
        if err := compare(to_numpy(o), d[key], atol, rtol):
            return f"output {i}: {err}"
    if grads:
        sum(
            (o * to_tensor(d[s], device)).sum() for o, s in zip(outs, c["grad_seed"]) if s
        ).backward()
        for name, key in grads.items():
            g = env[name].grad
            if g is None:
                return f"grad {name}: None"
            if err := compare(to_numpy(g), d[key], atol, rtol):
                return f"grad {name}: {err}"
    return None


def _uses_f64(c):
    return (
        any(m["dtype"] == "float64" for m in c["inputs"].values())
        or "float64" in c["call"]
        or "double" in c["call"]
    )


@pytest.mark.parametrize("case", _cases, ids=[c["id"] for c in _cases])
def test_conformance(case, device):
    if device == "gpu" and _uses_f64(case):
        pytest.skip("float64 is not available in WGSL (PyTorch's MPS behaves the same)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        err = run_case(case, device)
    assert err is None, f"{case['id']}: {case['call']}\n{err}"


def test_conformance_cases_present():
    assert len(_cases) >= 600, f"conformance fixtures not found under {CONF}"
