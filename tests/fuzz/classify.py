"""Compares one call's outcome on ember with its outcome on PyTorch.

Categories (worst first): crash (ember's process died or hung), panic (a Rust panic reached
Python), silent (PyTorch raises, ember returns), ember_raises (ember raises, PyTorch
returns), exc_type (both raise, different builtin exception types), value (both return,
different dtype, shape or values), match. A GPU case that only fails because the GPU does
not store a dtype (float64, int8, ...) is `unsupported`, not a finding.
"""

import math

import numpy as np

ORDER = [
    "crash",
    "panic",
    "silent",
    "ember_raises",
    "exc_type",
    "value",
    "match",
    "unsupported",
    "torch_crash",
]

# (rtol, atol) per dtype; the kernels sum in different orders than PyTorch's.
TOL = {
    "float64": (1e-6, 1e-8),
    "float32": (1e-4, 1e-5),
    "float16": (1e-2, 1e-2),
    "bfloat16": (2e-2, 2e-2),
}


def _num(v):
    return float(v) if isinstance(v, str) else v


def _values(res):
    return np.array([_num(v) for v in res["values"]], dtype=np.float64)


def diff(spec, e, t):
    """None when the returned values agree, else a short description."""
    if _kind(e) != _kind(t):
        return f"ember returns {_brief(e)}, torch {_brief(t)}"
    if "seq" in e:
        if isinstance(e["seq"], int) or isinstance(t["seq"], int):
            return None if e["seq"] == t["seq"] else f"sequence lengths {e['seq']} vs {t['seq']}"
        if len(e["seq"]) != len(t["seq"]):
            return f"sequence lengths {len(e['seq'])} vs {len(t['seq'])}"
        for k, (a, b) in enumerate(zip(e["seq"], t["seq"])):
            if spec.get("loose") and a.get("dtype") == "int64" and b.get("dtype") == "int64":
                if a["tensor"] != b["tensor"]:
                    return f"[{k}] shape {a['tensor']} vs {b['tensor']}"
                continue  # indices of tied values may differ
            d = diff(spec, a, b)
            if d:
                return f"[{k}] {d}"
        return None
    if "tensor" in e:
        if e["tensor"] != t["tensor"]:
            return f"shape {e['tensor']} vs {t['tensor']}"
        if e["dtype"] != t["dtype"]:
            return f"dtype {e['dtype']} vs {t['dtype']}"
        if spec.get("random") or "values" not in e or "values" not in t:
            return None
        if spec.get("loose") and e["dtype"] == "int64":
            return None
        a, b = _values(e), _values(t)
        rtol, atol = TOL.get(e["dtype"], (0, 0))
        if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            bad = ~np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
            k = int(np.argmax(bad))
            return f"values differ at {int(bad.sum())} of {a.size} (flat {k}: {a[k]} vs {b[k]})"
        return None
    if "num" in e or "bool" in e:
        x, y = _num(e.get("num", e.get("bool"))), _num(t.get("num", t.get("bool")))
        if e.get("pytype") != t.get("pytype") and ("bool" in e) == ("bool" in t):
            return f"python type {e.get('pytype')} vs {t.get('pytype')}"
        if ("bool" in e) != ("bool" in t):
            return f"python type {'bool' if 'bool' in e else e.get('pytype')} vs " + (
                "bool" if "bool" in t else t.get("pytype")
            )
        if not (x == y or (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-4)):
            return f"{x} vs {y}"
        return None
    return None if e == t else f"{e} vs {t}"


def _kind(r):
    for k in ("tensor", "seq", "none", "other"):
        if k in r:
            return k
    return "scalar"


def _brief(r):
    if "tensor" in r:
        return f"tensor{r['tensor']} {r['dtype']}"
    if "seq" in r:
        return "a sequence"
    return str(r)


def classify(spec, e, t):
    """(category, detail) for ember's result `e` and PyTorch's `t`."""
    es, ts = e["status"], t["status"]
    if es in ("crashed", "hang"):
        return "crash", f"{es} ({e.get('how')}): {e.get('stderr', '')}"
    if es == "panic":
        return "panic", e["msg"]
    if ts in ("crashed", "hang"):
        return "torch_crash", t.get("how", "")
    if es == "raised" and "is not supported on the gpu device" in e["msg"]:
        return "unsupported", e["msg"]
    if es == "ok" and ts == "raised":
        return "silent", f"torch {t['exc']}: {t['msg']}"
    if es == "raised" and ts == "ok":
        return "ember_raises", f"ember {e['exc']}: {e['msg']}"
    if es == "raised":
        if e["exc"] != t["exc"]:
            return "exc_type", f"ember {e['exc']} ({e['msg']}) vs torch {t['exc']} ({t['msg']})"
        return "match", ""
    d = diff(spec, e["out"], t["out"])
    return ("value", d) if d else ("match", "")


def crash_or_panic(res):
    """CI mode (no PyTorch): the findings that fail a run."""
    return [(i, r) for i, r in sorted(res.items()) if r["status"] in ("crashed", "hang", "panic")]
