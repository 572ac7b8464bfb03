"""Random gradient-call specs: the forward generator's differentiable families, recast for
autograd (gradworker.py replays them with requires_grad inputs).

`generate(seed, n, device)` draws calls from generator.Gen's families that have gradients
(elementwise, reductions, matmul, views and indexing, cat/stack, gather/scatter, sorting
with indices, softmax and activations, conv/pool, losses) plus a norms family and the
nn.functional compositions of gradnnf.py, then makes
every non-index tensor floating: float32, or float64 on "cpu" for a third of the calls
(the gpu stores no float64). Ops without a gradient (comparisons, bitwise, argmax, ...) are
redrawn. Each spec carries `wseed` (the seed of the weights that reduce its outputs),
`second` (also compare create_graph=True second derivatives: elementwise, matmul, softmax
and losses) and `nograd` (seeds of tensors that stay constants: running stats, class
weights). The same seed and device give the same calls.
"""

import random

from fuzz import generator
from fuzz.gradnnf import NNF

FAMILIES = [
    ("unary", 9),
    ("binary", 10),
    ("operator", 4),
    ("ternary", 6),
    ("reduction", 10),
    ("matmul", 8),
    ("view", 9),
    ("catstack", 4),
    ("index", 6),
    ("gather_scatter", 7),
    ("sorting", 5),
    ("softmax", 7),
    ("conv", 7),
    ("loss", 9),
    ("norms", 5),
    ("nnf", 14),
]
# Families whose second derivatives are compared (the brief's subset).
SECOND = {"unary", "binary", "operator", "ternary", "matmul", "softmax", "loss"}
# Ops without a gradient (or whose outputs are not floating): redrawn.
NO_GRAD_OPS = set(
    (
        "isnan isinf isfinite logical_not bitwise_not signbit eq ne lt le gt ge logical_and "
        "logical_or logical_xor bitwise_and bitwise_or bitwise_xor bitwise_left_shift "
        "bitwise_right_shift argmax argmin all any count_nonzero argsort unique & | ^ << >> "
        "== < floor_divide // %"
    ).split()
)


class GradGen(NNF, generator.Gen):
    """generator.Gen plus a norms family and gradnnf's nn.functional family; dtypes are
    fixed up afterwards by `recast`."""

    def norms(self):
        name = self.pick(
            ["batch_norm", "group_norm", "instance_norm", "layer_norm", "vector_norm", "norm"]
        )
        dt = "float32"
        N, C = self.pick([1, 2, 3]), self.pick([1, 2, 4])
        sp = [self.pick([1, 2, 3]) for _ in range(self.pick([0, 1, 2]))]
        x = self.tensor([N, C] + sp, dt)
        nograd = []
        if name == "batch_norm":
            training = self.chance(0.6)
            rm, rv = self.tensor([C], dt), self.tensor([C], dt, "pos")
            nograd += [rm["T"][3], rv["T"][3]]
            args = [x, rm, rv]
            kw = {"training": training}
            if self.chance(0.7):
                kw["weight"], kw["bias"] = self.tensor([C], dt), self.tensor([C], dt)
            return {"op": "F:batch_norm", "args": args, "kwargs": kw, "nograd": nograd}
        if name == "group_norm":
            g = self.pick([1, C, 2 if C % 2 == 0 else 1])
            args = [x, g]
            if self.chance(0.7):
                args += [self.tensor([C], dt), self.tensor([C], dt)]
            return {"op": "F:group_norm", "args": args}
        if name == "instance_norm":
            x = self.tensor([N, C] + (sp or [3]), dt)
            kw = {}
            if self.chance(0.5):
                kw["weight"], kw["bias"] = self.tensor([C], dt), self.tensor([C], dt)
            return {"op": "F:instance_norm", "args": [x], "kwargs": kw}
        if name == "layer_norm":
            s = x["T"][0]
            ns = s[-self.pick([1, 2]) :]
            args = [x, ns]
            if self.chance(0.7):
                args += [self.tensor(ns, dt), self.tensor(ns, dt)]
            return {"op": "F:layer_norm", "args": args, "kwargs": {"eps": 1e-5}}
        rank = len(x["T"][0])
        ord_ = self.pick([2, 2, 1, 3, {"F": "inf"}, 0.5])
        kw = {"dim": self.dim(rank, oob=0), "keepdim": self.chance(0.5)}
        if name == "vector_norm":
            kw["ord"] = ord_
            return {"op": "linalg:vector_norm", "args": [x], "kwargs": kw}
        return {"op": "fn:norm", "args": [x], "kwargs": dict(kw, p=ord_)}


def _op_name(spec):
    return spec["op"].split(":", 1)[1]


def recast(x, fdt, r, protect_bool=False):
    """Every tensor that is not an index or a mask becomes `fdt`; dtype arguments too.
    Most NaN/Inf inputs become normal ones (they are a small, deliberate share)."""
    if isinstance(x, list):
        return [recast(v, fdt, r) for v in x]
    if not isinstance(x, dict):
        return x
    if "T" in x:
        shape, dtype, kind, seed, perm = x["T"]
        if kind.startswith("idx") or kind == "bool" or (dtype == "bool" and protect_bool):
            return x
        if kind == "special" and r.random() < 0.6:
            kind = "normal"
        return {"T": [shape, fdt, kind, seed, perm]}
    if "D" in x:
        return {"D": fdt}
    return {k: recast(v, fdt, r) if k != "op" else v for k, v in x.items()}


def generate(seed, n, device="cpu"):
    """n gradient-call specs from `seed` (tagged with family, wseed, second, fdtype)."""
    g = GradGen(seed)
    r = random.Random(seed * 7919 + 1)
    names = [f for f, _ in FAMILIES]
    weights = [w for _, w in FAMILIES]
    out = []
    while len(out) < n:
        fam = g.r.choices(names, weights)[0]
        spec = getattr(g, fam)()
        op = _op_name(spec)
        if op in NO_GRAD_OPS:
            continue
        fdt = "float64" if device == "cpu" and r.random() < 0.33 else "float32"
        args = spec.get("args", [])
        if spec["op"] == "fn:where" and args:  # the condition stays a mask
            args = [args[0]] + [recast(a, fdt, r) for a in args[1:]]
        else:
            args = recast(args, fdt, r)
        spec["args"] = args
        if "kwargs" in spec:
            spec["kwargs"] = recast(spec["kwargs"], fdt, r)
        if spec["op"] == "setitem:":  # a leaf cannot be written in place: write a clone
            spec["op"] = "setitem_clone:"
        if fam == "loss" and isinstance(spec.get("kwargs", {}).get("weight"), dict):
            spec.setdefault("nograd", []).append(spec["kwargs"]["weight"]["T"][3])
        second = fam in SECOND or bool(spec.pop("loss", False))
        spec.update(family=fam, wseed=seed * 1000003 + len(out), second=second)
        spec["fdtype"] = fdt
        out.append(spec)
    return out
