"""Compares one gradient call's outcome (gradworker.py) on ember with PyTorch's, and checks
an ember-only outcome for the CI mode.

Categories (worst first): crash, panic (in any phase), bwd_raises (ember raises in backward,
PyTorch does not), bwd_silent (PyTorch raises in backward, ember does not), grad_none (an
output requires grad on one side only, or a `.grad` is None on one side only), grad_value
(a `.grad` differs in shape, dtype or values), grad2_raises / grad2_silent / grad2_none /
grad2_value (the same for the create_graph=True pass: its first derivatives, whether they
require grad, and the second derivatives), fwd_value (the outputs differ), fwd_diff (only
one side raised in the forward: mostly the forward fuzzer's business), match, unsupported
(a dtype the gpu does not store), torch_crash.

Tolerances are relative to the size of the values: |a - b| <= tol * (|b| + max(1, max|b|)).
"""

import numpy as np

from fuzz import generator

ORDER = [
    "crash",
    "panic",
    "bwd_raises",
    "bwd_silent",
    "grad_none",
    "grad_value",
    "grad2_raises",
    "grad2_silent",
    "grad2_none",
    "grad2_value",
    "fwd_value",
    "fwd_diff",
    "match",
    "unsupported",
    "torch_crash",
]
TOL = {"float64": 1e-7, "float32": 2e-4, "float32_2": 1e-3}
# The gpu's transcendental functions are not correctly rounded: a looser float32 bound.
GPU_FACTOR = 5

# CI mode: ops whose gradient may legitimately be infinite or NaN where the forward is
# finite (a kink or a pole at a reachable point: sqrt(0), |x|^p at 0, 0/0 in a norm ...).
NONSMOOTH = set(
    (
        "sqrt rsqrt pow ** norm vector_norm normalize cosine_similarity asin atan2 hypot "
        "xlogy std var layer_norm group_norm instance_norm batch_norm binary_cross_entropy "
        "kl_div reciprocal / div true_divide remainder fmod log log2 log1p cumprod prod "
        "lerp addcdiv copysign"
    ).split()
)


# Ops whose gradient is a convention, not the derivative, at the fuzzer's inputs: written
# rows with duplicate indices (PyTorch gives every source row the gradient, though only one
# lands), embedding's padding row (gradient zero by definition).
NO_FD = {"index_copy", "scatter", "scatter_reduce", "setitem_clone", "embedding", "index_put"}


def _vals(s):
    return np.array([float(v) if isinstance(v, str) else v for v in s["values"]], np.float64)


def value_diff(e, t, dtype, device="cpu"):
    """None when two tensor summaries agree, else a short description."""
    if "none" in e or "none" in t:
        return None if ("none" in e) == ("none" in t) else "none"
    if e["tensor"] != t["tensor"]:
        return f"shape {e['tensor']} vs {t['tensor']}"
    if e["dtype"] != t["dtype"]:
        return f"dtype {e['dtype']} vs {t['dtype']}"
    if "values" not in e or "values" not in t:
        return None
    a, b = _vals(e), _vals(t)
    if a.size == 0:
        return None
    tol = TOL.get(dtype, 1e-3) * (GPU_FACTOR if device != "cpu" else 1)
    fin = np.abs(b[np.isfinite(b)])
    scale = max(1.0, float(fin.max()) if fin.size else 1.0)
    ok = np.isclose(a, b, rtol=tol, atol=tol * scale, equal_nan=True)
    if ok.all():
        return None
    k = int(np.argmax(~ok))
    return f"values differ at {int((~ok).sum())} of {a.size} (flat {k}: {a[k]} vs {b[k]})"


def _grads(kind, eg, tg, dtype, device):
    if kind == "grad2" and dtype == "float32":
        dtype = "float32_2"  # a second derivative's rounding compounds: a looser bound
    if len(eg) != len(tg):
        return f"{kind}_none", f"{len(eg)} input grads vs {len(tg)}"
    for k, (a, b) in enumerate(zip(eg, tg)):
        d = value_diff(a, b, dtype, device)
        if d == "none":
            side = "ember" if "none" in a else "torch"
            return f"{kind}_none", f"input {k}: .grad is None on {side} only"
        if d:
            return f"{kind}_value", f"input {k}: {d}"
    return None


def _second(spec, e, t, device):
    ed, td = e.get("double"), t.get("double")
    if not ed or not td:
        return None
    if ed["status"] == "panic":
        return "panic", f"create_graph pass: {ed['msg']}"
    if ed["status"] == "raised" and td["status"] != "raised":
        return "grad2_raises", f"ember {ed['exc']}: {ed['msg']}"
    if td["status"] == "raised" and ed["status"] != "raised":
        return "grad2_silent", f"torch {td['exc']}: {td['msg']}"
    if ed["status"] == "raised":
        return None
    dt = spec.get("fdtype", "float32")
    if "grads_cg" in ed or "grads_cg" in td:
        r = _grads("grad2", ed.get("grads_cg", []), td.get("grads_cg", []), dt, device)
        if r:
            return r[0], "create_graph first derivative: " + r[1]
    if ed.get("g_rg") != td.get("g_rg"):
        return "grad2_none", f"grads require grad: ember {ed.get('g_rg')} torch {td.get('g_rg')}"
    if ("grads2" in ed) != ("grads2" in td):
        return "grad2_none", "second derivatives on one side only"
    if "grads2" in ed:
        r = _grads("grad2", ed["grads2"], td["grads2"], dt, device)
        if r:
            return r[0], "second derivative: " + r[1]
    return None


def classify(spec, e, t, device="cpu"):
    """(category, detail) for ember's gradient outcome `e` and PyTorch's `t`."""
    es, ts = e["status"], t["status"]
    if es in ("crashed", "hang"):
        return "crash", f"{es} ({e.get('how')}): {e.get('stderr', '')}"
    if es == "panic":
        return "panic", f"{e.get('phase')}: {e['msg']}"
    if ts in ("crashed", "hang"):
        return "torch_crash", t.get("how", "")
    if es == "raised" and "is not supported on the gpu device" in e["msg"]:
        return "unsupported", e["msg"]
    ep = e.get("phase") if es == "raised" else None
    tp = t.get("phase") if ts == "raised" else None
    if ep == "forward" or tp == "forward":
        if ep == tp:
            return "match", ""
        side = "ember" if ep == "forward" else "torch"
        r, other = (e, t) if side == "ember" else (t, e)
        also = f" (the other raises in {other.get('phase')})" if other["status"] == "raised" else ""
        return "fwd_diff", f"only {side} raises in forward{also}: {r['exc']}: {r['msg']}"
    if ep == "backward" and tp != "backward":
        return "bwd_raises", f"ember {e['exc']}: {e['msg']}"
    if tp == "backward" and ep != "backward":
        return "bwd_silent", f"torch {t['exc']}: {t['msg']}"
    if ep == "backward":
        return "match", ""
    if e.get("out_rg") != t.get("out_rg"):
        return "grad_none", f"outputs require grad: ember {e['out_rg']} torch {t['out_rg']}"
    r = _grads("grad", e["grads"], t["grads"], spec.get("fdtype", "float32"), device)
    if r:
        return r
    r = _second(spec, e, t, device)
    if r:
        return r
    return _outputs(spec, e.get("outs", []), t.get("outs", []), device)


def _outputs(spec, eo, to, device):
    """The forward values (for the families the forward fuzzer does not draw)."""
    if len(eo) != len(to):
        return "fwd_value", f"{len(eo)} outputs vs {len(to)}"
    for k, (a, b) in enumerate(zip(eo, to)):
        if spec.get("loose") and a.get("dtype") == "int64":
            continue  # the index of one of equal values
        d = value_diff(a, b, a.get("dtype", "float32"), device)
        if d:
            return "fwd_value", f"output {k}: {d}"
    return "match", ""


def _nonfinite(s):
    if "values" not in s:
        return False
    v = _vals(s)
    return bool(v.size) and not np.isfinite(v).all()


def ci_findings(spec, r):
    """CI mode (no PyTorch): [(category, detail)] that fail a run: a crash or panic in any
    phase, a non-finite gradient of a smooth op at finite inputs and outputs, and a gradient
    or a second derivative that disagrees with float64 central differences."""
    if r["status"] in ("crashed", "hang"):
        return [("crash", f"{r['status']} ({r.get('how')}): {r.get('stderr', '')}")]
    out = []
    if r["status"] == "panic":
        out.append(("panic", f"{r.get('phase')}: {r['msg']}"))
    for sub in ("double", "fd_error"):
        if r.get(sub, {}).get("status") == "panic":
            out.append(("panic", f"{sub}: {r[sub]['msg']}"))
    if r["status"] != "ok":
        return out
    kind, name = spec["op"].split(":", 1)
    name = name or kind  # "setitem_clone:"
    if r.get("fwd_finite") and name not in NONSMOOTH:
        bad = [k for k, g in enumerate(r["grads"]) if _nonfinite(g)]
        if bad:
            out.append(("nonfinite", f"non-finite .grad of inputs {bad}"))
    if not r.get("fwd_finite") or name in NO_FD:
        return out
    second = r.get("double", {}).get("grads2")
    for key, grads, what in (("fd", r["grads"], ""), ("fd2", second, "second-order ")):
        for k, (g, fd) in enumerate(zip(grads or [], r.get(key, []))):
            if "none" in g:  # an unused input: its gradient is zero
                g = dict(fd, values=[0.0] * len(fd["values"]))
            d = _fd_diff(g, fd)
            if d:
                out.append((key, f"input {k}: {what}analytic vs central differences: {d}"))
    return out


def _fd_diff(g, fd):
    a, b = _vals(g), _vals(fd)
    if a.shape != b.shape:
        return f"{a.size} values vs {b.size}"
    keep = np.isfinite(b)  # a step that leaves the domain (sqrt(-eps)) says nothing
    a, b = a[keep], b[keep]
    scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    # Rounding the objective f costs ~1e-16 |f| / eps in a difference quotient.
    noise = 1e-15 * fd.get("fscale", 0.0) / 1e-6
    ok = np.isclose(a, b, rtol=1e-5, atol=1e-5 * scale + noise)
    if ok.all():
        return None
    k = int(np.argmax(~ok))
    return f"differ at {int((~ok).sum())} of {a.size} (flat {k}: {a[k]} vs {b[k]})"


def reproducer(spec):
    """generator.reproducer's line for the forward call plus the gradient setting."""
    if spec["op"] == "setitem_clone:":
        line = "x = " + generator._fmt(spec["args"][0]) + ".clone(); "
        line += generator.reproducer(dict(spec, op="setitem:")).replace(
            generator._fmt(spec["args"][0]), "x", 1
        )
    else:
        line = generator.reproducer(spec)
    extra = ", second order" if spec.get("second") else ""
    return f"{line}   [grad {spec.get('fdtype')}, wseed {spec.get('wseed')}{extra}]"
