"""CI mode of the gradient fuzzer (tests/fuzz/gradgen.py, gradworker.py, gradclassify.py):
seeded random differentiable calls run with autograd in a child process on each device. A
crash, a Rust panic in the forward, backward or create_graph pass, a non-finite gradient of
a smooth op whose inputs and outputs are finite, or (cpu, float64, a subset) a gradient
that disagrees with central differences fails. PyTorch is not needed; `tools/fuzz.py --grad
--torch PYTHON` compares every gradient with PyTorch's.

Findings that need a Rust fix are listed in KNOWN_RUST with how to recognise them; the
random run tolerates those (and only those) until they are fixed.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz import gradclassify, gradgen, gradnnf, runner  # noqa: E402

SEED = 17
N_CALLS = 400
N_FD = 100  # cpu calls (float64, at most gradworker.FD_MAX_NUMEL inputs) checked numerically
WORKER = os.path.join(os.path.dirname(runner.WORKER), "gradworker.py")

T = lambda shape, seed: {"T": [shape, "float64", "normal", seed, False]}  # noqa: E731

# Findings that need a Rust fix (reported to the lead with their reproducers):
# name -> (what, how to recognise it: f(spec, category, detail) -> bool, reproducer spec,
# the category the reproducer gives while the bug is there). The random run tolerates them;
# test_known_rust_findings_still_reproduce fails once one is fixed, so it moves out of here.
KNOWN_RUST = {
    # (empty: the three found so far, conv dilation and empty-select panics and the
    # hypot/copysign second derivatives, are fixed in the engine; tests/test_grad_fixes_rust.py)
}


def _known(spec, cat, detail):
    return any(match(spec, cat, detail) for _, match, _, _ in KNOWN_RUST.values())


def _specs(device):
    specs = gradgen.generate(SEED, N_CALLS, device)
    if device == "cpu":
        k = 0
        for s in specs:
            if s["fdtype"] == "float64" and k < N_FD:
                s["fd"] = True
                k += 1
    return specs


def test_random_gradient_calls(device):
    specs = _specs(device)
    res = runner.run_batch(specs, device=device, call_timeout=60, worker=WORKER)
    assert len(res) == N_CALLS
    # The run must reach backward often, and second derivatives, or the generator broke.
    ok = [r for r in res.values() if r["status"] == "ok"]
    assert len(ok) > N_CALLS // 2, len(ok)
    assert sum("grads2" in r.get("double", {}) for r in ok) > 10
    if device == "cpu":
        assert sum("fd" in r for r in ok) >= 15
    bad = []
    for i, r in sorted(res.items()):
        for cat, detail in gradclassify.ci_findings(specs[i], r):
            if not _known(specs[i], cat, detail):
                bad.append(f"#{i} {gradclassify.reproducer(specs[i])}: {cat}: {detail}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", sorted(KNOWN_RUST))
def test_known_rust_findings_still_reproduce(name):
    spec = dict(KNOWN_RUST[name][2], wseed=7, fd=True, fdtype="float64")
    r = runner.run_batch([spec], worker=WORKER)[0]
    found = [c for c, _ in gradclassify.ci_findings(spec, r)]
    assert KNOWN_RUST[name][3] in found, (
        f"{name} no longer reproduces ({found}): move it out of KNOWN_RUST"
    )


def test_central_differences_catch_a_wrong_gradient():
    # A record whose analytic gradient is off by 1% must be flagged, an exact one not.
    spec = {"op": "fn:sin", "args": [], "fdtype": "float64"}
    g = {"tensor": [2], "dtype": "float64", "values": [0.5, -1.0]}
    exact = {"status": "ok", "fwd_finite": True, "grads": [g], "fd": [dict(g)]}
    assert gradclassify.ci_findings(spec, exact) == []
    off = dict(exact, fd=[dict(g, values=[0.505, -1.0])])
    assert [c for c, _ in gradclassify.ci_findings(spec, off)] == ["fd"]
    nan = dict(exact, grads=[dict(g, values=["nan", 1.0])], fd=[dict(g, values=["nan", 1.0])])
    # A NaN difference quotient (a step out of the domain) is skipped; the NaN gradient is
    # still a finding of its own.
    assert [c for c, _ in gradclassify.ci_findings(spec, nan)] == ["nonfinite"]
    # A second derivative is checked against its own central differences.
    d2 = {"status": "ok", "grads2": [dict(g, values=[1.0, 2.0])]}
    two = dict(exact, double=d2, fd2=[dict(g, values=[1.0, 2.5])])
    assert [c for c, _ in gradclassify.ci_findings(spec, two)] == ["fd2"]
    # Outside the finite forward no difference quotient is trusted.
    assert gradclassify.ci_findings(spec, dict(off, fwd_finite=False)) == []
    # sqrt may have an infinite gradient at a finite point: not flagged as non-finite.
    sq = {"status": "ok", "fwd_finite": True, "grads": nan["grads"]}
    assert gradclassify.ci_findings(dict(spec, op="fn:sqrt"), sq) == []
    assert [c for c, _ in gradclassify.ci_findings(spec, sq)] == ["nonfinite"]


def test_grad_classifier_categories():
    g = {"tensor": [2], "dtype": "float32", "values": [1.0, 2.0]}
    ok = {"status": "ok", "out_rg": [True], "grads": [g]}
    spec = {"op": "fn:mul", "fdtype": "float32"}
    assert gradclassify.classify(spec, ok, ok) == ("match", "")
    near = dict(ok, grads=[dict(g, values=[1.0001, 2.0])])
    assert gradclassify.classify(spec, near, ok)[0] == "match"
    far = dict(ok, grads=[dict(g, values=[1.01, 2.0])])
    assert gradclassify.classify(spec, far, ok)[0] == "grad_value"
    assert gradclassify.classify(spec, dict(ok, grads=[{"none": 1}]), ok)[0] == "grad_none"
    assert gradclassify.classify(spec, dict(ok, out_rg=[False]), ok)[0] == "grad_none"
    bwd = {"status": "raised", "phase": "backward", "exc": "RuntimeError", "msg": "x"}
    fwd = dict(bwd, phase="forward")
    assert gradclassify.classify(spec, bwd, ok)[0] == "bwd_raises"
    assert gradclassify.classify(spec, ok, bwd)[0] == "bwd_silent"
    assert gradclassify.classify(spec, fwd, fwd)[0] == "match"
    assert gradclassify.classify(spec, fwd, ok)[0] == "fwd_diff"
    panic = {"status": "panic", "phase": "backward", "msg": "boom"}
    assert gradclassify.classify(spec, panic, ok)[0] == "panic"
    d_ok = {"status": "ok", "g_rg": [True], "grads_cg": [g], "grads2": [g]}
    two = dict(ok, double=d_ok)
    assert gradclassify.classify(spec, two, two)[0] == "match"
    wrong2 = dict(ok, double=dict(d_ok, grads2=[dict(g, values=[0.0, 2.0])]))
    assert gradclassify.classify(spec, wrong2, two)[0] == "grad2_value"
    norg = dict(ok, double=dict(d_ok, g_rg=[False]))
    assert gradclassify.classify(spec, norg, two)[0] == "grad2_none"


def test_grad_generator_is_deterministic_and_covers_the_families():
    a, b = gradgen.generate(3, 300, "cpu"), gradgen.generate(3, 300, "cpu")
    assert a == b and a != gradgen.generate(4, 300, "cpu")
    assert {s["family"] for s in a} == {f for f, _ in gradgen.FAMILIES}
    assert {s["fdtype"] for s in a} == {"float32", "float64"}
    assert {s["fdtype"] for s in gradgen.generate(3, 300, "gpu")} == {"float32"}
    assert not [s for s in a if s["op"].split(":", 1)[1] in gradgen.NO_GRAD_OPS]
    # Second derivatives: the brief's families, and the losses of the nn.functional family.
    assert all(s["second"] for s in a if s["family"] in gradgen.SECOND)
    extra = {s["op"] for s in a if s["second"] and s["family"] not in gradgen.SECOND}
    assert extra and all(op.split(":")[1] in gradnnf.LOSSES for op in extra), extra


def _normal(seed, n):
    # gradworker's seeded values (worker.make_array for a float tensor of kind "normal").
    return np.random.default_rng(seed).standard_normal(n)


def test_worker_reports_gradients_and_second_derivatives(device):
    # sum(a * b * w): d/da = b*w, d/db = a*w; the create_graph pass reduces (g_a, g_b) with
    # weights (v_a, v_b), whose gradient is (w*v_b, w*v_a). Checked against numpy.
    t = lambda seed: {"T": [[3], "float32", "normal", seed, False]}  # noqa: E731
    spec = {"op": "fn:mul", "args": [t(5), t(6)], "wseed": 11, "second": True}
    r = runner.run_batch([spec], device=device, worker=WORKER)[0]
    assert r["status"] == "ok", r
    a, b, w = _normal(5, 3), _normal(6, 3), _normal(11, 3)
    va, vb = _normal(11 + 5000, 3), _normal(11 + 5000 + 1, 3)
    got = [np.array(g["values"]) for g in r["grads"]]
    np.testing.assert_allclose(got[0], b * w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], a * w, rtol=1e-5, atol=1e-6)
    assert r["double"]["grads_cg"] == r["grads"]
    assert r["double"]["g_rg"] == [True, True]
    got2 = [np.array(g["values"]) for g in r["double"]["grads2"]]
    np.testing.assert_allclose(got2[0], w * vb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got2[1], w * va, rtol=1e-5, atol=1e-6)


def test_worker_central_differences():
    # softmax over 4 float64 values: the worker's central differences match the analytic
    # gradient p * (w - sum(p * w)) computed here with numpy.
    spec = {
        "op": "fn:softmax",
        "args": [{"T": [[4], "float64", "normal", 7, False]}, 0],
        "wseed": 3,
        "fd": True,
    }
    r = runner.run_batch([spec], worker=WORKER)[0]
    x, w = _normal(7, 4), _normal(3, 4)
    p = np.exp(x - x.max())
    p /= p.sum()
    want = p * (w - (p * w).sum())
    np.testing.assert_allclose(r["grads"][0]["values"], want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r["fd"][0]["values"], want, rtol=1e-6, atol=1e-8)
