"""Child-process side of the gradient fuzzer: replays gradgen.py's specs with autograd and
prints one JSON line per call (the same protocol as worker.py, whose tensor building and
call dispatch it reuses: `gradworker.py ember|torch DEVICE`).

Per call: every floating input tensor (but the spec's `nograd` constants) becomes a leaf
that requires grad; the call runs; its floating outputs that require grad are reduced to
one scalar, sum_j sum(out_j * w_j) with seeded normal weights w_j (so every output element
matters and both libraries see the same weights); `backward()` runs and every leaf's `.grad`
is reported. For `second` specs the forward runs again and `autograd.grad(create_graph=True)`
gives g; its entries that require grad are reduced with seeded weights v (sum(g * v)) and
differentiated again: the second derivatives (a Hessian-vector product) are reported too.
For `fd` specs (ember only, float64, few elements) central differences of the same scalar
are reported next to the analytic gradient (`fd`), and those of sum(g * v) next to the second
derivatives (`fd2`).

Outcome record: status ok|raised|panic, phase (forward|backward) of an exception,
outs (the outputs' values), out_rg (which outputs require grad), fwd_finite (inputs and outputs finite), grads,
and for second-order specs double = {status, g_rg, grads_cg, grads2}; fd for fd specs.
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import worker  # noqa: E402 - reads the same argv: library and device

lib = worker.lib
DEVICE = worker.DEVICE
# Central differences only for small inputs: two forward calls per input element.
FD_MAX_NUMEL = 40
FD_EPS = 1e-6
# Second-derivative weights use seeds offset from the first-order ones.
V_OFFSET = 5000


def is_float(t):
    return t.dtype in (lib.float32, lib.float64, lib.float16, lib.bfloat16)


class Inputs:
    """worker.on_tensor hook: floating inputs become leaves that require grad, in build
    order; with `override`, the k-th such input is replaced by override[k] instead."""

    def __init__(self, spec, override=None):
        self.nograd = set(spec.get("nograd", []))
        self.override = override
        self.leaves = []

    def __call__(self, t, x):
        if not is_float(t) or x["T"][3] in self.nograd:
            return t
        if self.override is not None:
            t = self.override[len(self.leaves)]
        else:
            t = t.detach().requires_grad_(True)
        self.leaves.append(t)
        return t


def call(spec):
    if spec["op"] == "setitem_clone:":  # x = a.clone(); x[idx] = v: differentiable in a and v
        a, idx, v = worker.build(spec["args"])
        a = a.clone()
        a[idx] = v
        return a
    return worker.call(spec)


def forward(spec, hook):
    worker.on_tensor = hook
    try:
        return call(spec)
    finally:
        worker.on_tensor = None


def outputs(out):
    if isinstance(out, lib.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [o for o in out if isinstance(o, lib.Tensor)]
    return []


def summarize(g):
    """worker.summarize for a gradient; PyTorch may return its lazy ZeroTensor, which has no
    numpy view: it is read as the zeros it stands for."""
    if g is not None and getattr(g, "_is_zerotensor", lambda: False)():
        g = lib.zeros(g.shape, dtype=g.dtype)
    return worker.summarize(g)


def weight(t, seed):
    a = worker.make_array(list(t.shape), "float64", "normal", seed)
    w = lib.from_numpy(np.array(a, order="C")).to(t.dtype)
    return w.to(DEVICE) if DEVICE != "cpu" else w


def reduce(ts, seed, which):
    """sum_j sum(ts[j] * w_j) over the indices in `which`; None when empty."""
    total = None
    for j in which:
        term = (ts[j] * weight(ts[j], seed + j)).sum()
        total = term if total is None else total + term
    return total


def _finite(ts):
    return all(bool(lib.isfinite(t.detach()).all()) for t in ts if is_float(t))


def first_order(spec, rec):
    hook = Inputs(spec)
    outs = outputs(forward(spec, hook))
    rec["phase"] = "backward"
    rec["n_leaves"] = len(hook.leaves)
    rec["out_rg"] = [bool(o.requires_grad) for o in outs]
    rec["outs"] = [worker.summarize(o) for o in outs]
    rg = [j for j, o in enumerate(outs) if o.requires_grad and is_float(o)]
    rec["fwd_finite"] = _finite(outs + hook.leaves)
    loss = reduce(outs, spec["wseed"], rg)
    if loss is not None:
        loss.backward()
    rec["grads"] = [summarize(leaf.grad) for leaf in hook.leaves]
    return hook.leaves, rg


def second_order(spec):
    """create_graph=True: first derivatives again, then a Hessian-vector product."""
    d = {"status": "ok"}
    try:
        hook = Inputs(spec)
        outs = outputs(forward(spec, hook))
        rg = [j for j, o in enumerate(outs) if o.requires_grad and is_float(o)]
        loss = reduce(outs, spec["wseed"], rg)
        if loss is None or not hook.leaves:
            return d
        gs = lib.autograd.grad(loss, hook.leaves, create_graph=True, allow_unused=True)
        d["grads_cg"] = [summarize(g) for g in gs]
        d["g_rg"] = [g is not None and bool(g.requires_grad) for g in gs]
        which = [k for k, g in enumerate(gs) if g is not None and g.requires_grad]
        s = reduce(list(gs), spec["wseed"] + V_OFFSET, which)
        if s is not None:
            g2 = lib.autograd.grad(s, hook.leaves, allow_unused=True)
            d["grads2"] = [summarize(g) for g in g2]
    except BaseException as e:  # noqa: BLE001 - a panic is a BaseException; we classify it
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        d = _exc(e)
    return d


def _tensors(arrays, grad):
    ts = [lib.from_numpy(a.copy()) for a in arrays]
    ts = [t.to(DEVICE) for t in ts] if DEVICE != "cpu" else ts
    return [t.requires_grad_(True) for t in ts] if grad else ts


def first_objective(spec, rg):
    """The scalar sum_j sum(out_j * w_j) at given input values."""

    def f(arrays):
        with lib.no_grad():
            outs = outputs(forward(spec, Inputs(spec, override=_tensors(arrays, False))))
            return float(reduce(outs, spec["wseed"], rg).double())

    return f


def second_objective(spec, rg, which):
    """sum_k sum(g_k * v_k) at given input values, g = the first derivatives: its central
    differences check the create_graph pass's second derivatives."""

    def f(arrays):
        hook = Inputs(spec, override=_tensors(arrays, True))
        outs = outputs(forward(spec, hook))
        gs = lib.autograd.grad(reduce(outs, spec["wseed"], rg), hook.leaves, allow_unused=True)
        return float(reduce(list(gs), spec["wseed"] + V_OFFSET, which).double())

    return f


def central_differences(leaves, objective):
    """d(objective)/d(input) by central differences in float64, one element at a time."""
    base = [leaf.detach().cpu().numpy().astype(np.float64) for leaf in leaves]
    fd = []
    for k, a in enumerate(base):
        g = np.zeros(a.size)
        big = 0.0  # the objective's size: its rounding error, over 2 eps, bounds the accuracy
        for i in range(a.size):
            arrays = [b.copy() for b in base]
            arrays[k].flat[i] += FD_EPS
            hi = objective(arrays)
            arrays[k].flat[i] -= 2 * FD_EPS
            lo = objective(arrays)
            g[i] = (hi - lo) / (2 * FD_EPS)
            big = max(big, abs(hi), abs(lo))
        fd.append(
            {"tensor": list(a.shape), "dtype": "float64", "values": g.tolist(), "fscale": big}
        )
    return fd


def _exc(e):
    base = worker.exc_base(e)
    msg = str(e).splitlines()[0][:300] if str(e) else ""
    status = "panic" if base == "PanicException" else "raised"
    return {"status": status, "exc": base, "name": type(e).__name__, "msg": msg}


def run(spec):
    rec = {"status": "ok", "phase": "forward"}
    try:
        leaves, rg = first_order(spec, rec)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        rec.update(_exc(e))
        if "found by a GPU kernel" in rec["msg"]:  # a forward index error, seen at a read
            rec["phase"] = "forward"
        return rec
    rec.pop("phase")
    if spec.get("second"):
        rec["double"] = second_order(spec)
    small = sum(leaf.numel() for leaf in leaves) <= FD_MAX_NUMEL
    if spec.get("fd") and worker.LIB == "ember" and rg and small:
        try:
            rec["fd"] = central_differences(leaves, first_objective(spec, rg))
            d = rec.get("double", {})
            if "grads2" in d:
                which = [k for k, r in enumerate(d["g_rg"]) if r]
                rec["fd2"] = central_differences(leaves, second_objective(spec, rg, which))
        except BaseException as e:  # noqa: BLE001
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            rec["fd_error"] = _exc(e)
    return rec


def main():
    jobs = json.loads(sys.stdin.read())
    out = sys.stdout
    for idx, spec in jobs:
        out.write(json.dumps({"start": idx}) + "\n")
        out.flush()
        rec = run(spec)
        if DEVICE != "cpu" and worker.LIB == "ember":
            try:  # a deferred GPU error belongs to this call, not the next one
                lib.gpu.synchronize()
            except BaseException as e:  # noqa: BLE001
                # The gpu checks indices without a host wait: the error is the forward's
                # (gather, scatter, embedding, a target out of range), seen at the sync.
                rec = dict(_exc(e), deferred=True, phase="forward")
        rec["i"] = idx
        out.write(json.dumps(rec) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
