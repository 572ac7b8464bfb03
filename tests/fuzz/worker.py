"""Child-process side of the fuzzer: replays call specs on one library and prints one JSON
line per call. Standalone (stdlib + numpy + the library under test) because it runs under
both ember's interpreter and PyTorch's (`/tmp/tv/bin/python tests/fuzz/worker.py torch cpu`);
the same spec must mean the same call in both.

Protocol: stdin holds a JSON list of [index, spec]. Before each call the worker prints
`{"start": index}` and after it `{"i": index, ...outcome}`, flushing both, so the parent can
tell which call was running when the process died or hung.

Spec encoding (plain JSON, see generator.py): {"T": [shape, dtype, kind, seed, perm]} a
tensor, {"D": name} a dtype, {"S": [start, stop, step]} a slice, {"E": 1} Ellipsis,
{"U": [...]} a tuple, {"L": [...]} a list (a bare JSON list is also a list),
{"F": x} a float given as a string ("nan", "inf", "-inf").
"""

import json
import math
import os
import sys

import numpy as np

LIB = sys.argv[1] if len(sys.argv) > 1 else "ember"
DEVICE = sys.argv[2] if len(sys.argv) > 2 else "cpu"

if LIB == "torch":
    import torch as lib
    import torch.nn.functional as F
else:
    import ember as lib
    import ember.nn.functional as F

FACTORIES = {
    "zeros",
    "ones",
    "empty",
    "full",
    "arange",
    "linspace",
    "eye",
    "randn",
    "rand",
    "randint",
    "tensor",
}
# Outputs larger than this are compared by shape and dtype only (huge-size calls).
MAX_VALUES = 4096
# gradworker.py's hook: called as on_tensor(tensor, spec) for every input tensor built, it
# may return another tensor (one that requires grad, or a perturbed copy).
on_tensor = None


def make_array(shape, dtype, kind, seed):
    """The same numpy array in every process: values that every dtype holds exactly."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape)) if shape else 1
    if dtype == "bool" or kind == "bool":
        return rng.random(n).reshape(shape) < 0.5
    floating = dtype in ("float32", "float64", "float16", "bfloat16")
    if kind.startswith("idx"):
        hi = int(kind[3:].removesuffix("neg"))  # "idx5neg": indices in [-5, 5)
        lo = -hi if "neg" in kind else 0
        return rng.integers(lo, max(hi, lo + 1), n).reshape(shape).astype(np.int64)
    if floating:
        a = rng.standard_normal(n)
        if kind == "special" and n:
            pick = rng.integers(0, 4, n)
            a = np.where(pick == 0, np.nan, a)
            a = np.where(pick == 1, np.inf, a)
            a = np.where(pick == 2, -np.inf, a)
        elif kind == "pos":
            a = np.abs(a) + 0.1
        elif kind == "unit":
            a = rng.random(n)
        elif kind == "sign":  # +-1 targets (hinge, margin and soft-margin losses)
            a = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        elif kind == "big":
            a = a * 1e4
        return a.reshape(shape)
    lo, hi = {"uint8": (0, 10), "int8": (-10, 10)}.get(dtype, (-10, 10))
    if kind == "pos":
        lo = 1
    return rng.integers(lo, hi, n).reshape(shape).astype(np.int64)


def to_dtype(name):
    return getattr(lib, name)


def build(x):
    if isinstance(x, list):
        return [build(v) for v in x]
    if not isinstance(x, dict):
        return x
    if "T" in x:
        shape, dtype, kind, seed, perm = x["T"]
        if perm:  # a non-contiguous tensor: make the reversed shape and permute it back
            a = make_array(shape[::-1], dtype, kind, seed)
            t = lib.from_numpy(np.array(a, order="C")).to(to_dtype(dtype))
            t = t.permute(*range(len(shape) - 1, -1, -1))
        else:
            a = make_array(shape, dtype, kind, seed)
            t = lib.from_numpy(np.array(a, order="C")).to(to_dtype(dtype))
        t = t.to(DEVICE) if DEVICE != "cpu" else t
        return t if on_tensor is None else on_tensor(t, x)
    if "D" in x:
        return to_dtype(x["D"])
    if "S" in x:
        return slice(*x["S"])
    if "E" in x:
        return Ellipsis
    if "U" in x:
        return tuple(build(v) for v in x["U"])
    if "L" in x:
        return [build(v) for v in x["L"]]
    if "F" in x:
        return float(x["F"])
    if "op" in x:  # a nested call, e.g. the operands of a huge broadcast
        return call(x)
    return {k: build(v) for k, v in x.items()}


def resolve(op):
    kind, name = op.split(":", 1)
    if kind == "fn":
        return getattr(lib, name)
    if kind == "F":
        return getattr(F, name)
    if kind == "linalg":
        return getattr(lib.linalg, name)
    raise ValueError(op)


def call(spec):
    op = spec["op"]
    args = build(spec.get("args", []))
    kwargs = build(spec.get("kwargs", {}))
    kind, name = op.split(":", 1)
    if kind == "m":
        return getattr(args[0], name)(*args[1:], **kwargs)
    if kind == "mi":  # in-place method: the result is the mutated tensor
        getattr(args[0], name)(*args[1:], **kwargs)
        return args[0]
    if kind == "attr":
        return getattr(args[0], name)
    if kind == "py":  # Python protocol: float(t), int(t), bool(t), len(t), t.item(), t.tolist()
        f = {"float": float, "int": int, "bool": bool, "len": len}[name]
        return f(args[0])
    if kind == "selftest":  # the runner's own tests: a crash and a hang on demand
        if name == "abort":
            os.abort()
        import time

        time.sleep(float(args[0]))
        return None
    if kind == "getitem":
        return args[0][args[1]]
    if kind == "setitem":
        args[0][args[1]] = args[2]
        return args[0]
    if kind == "binop":
        a, b = args
        return {
            "+": lambda: a + b,
            "-": lambda: a - b,
            "*": lambda: a * b,
            "/": lambda: a / b,
            "//": lambda: a // b,
            "%": lambda: a % b,
            "**": lambda: a**b,
            "@": lambda: a @ b,
            "&": lambda: a & b,
            "|": lambda: a | b,
            "^": lambda: a ^ b,
            "<<": lambda: a << b,
            ">>": lambda: a >> b,
            "==": lambda: a == b,
            "<": lambda: a < b,
        }[name]()
    if kind == "ibinop":
        a, b = args
        if name == "+=":
            a += b
        elif name == "*=":
            a *= b
        elif name == "-=":
            a -= b
        elif name == "/=":
            a /= b
        return a
    if DEVICE != "cpu" and kind == "fn" and name in FACTORIES:
        kwargs["device"] = DEVICE
    return resolve(op)(*args, **kwargs)


def enc_float(v):
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    return v


def summarize(out, depth=0):
    """The outcome as JSON: tensors by shape, dtype and values (float64 list)."""
    if isinstance(out, lib.Tensor):
        t = out.detach()
        if DEVICE != "cpu":
            t = t.cpu()
        shape = list(t.shape)
        dtype = str(t.dtype).split(".")[-1]
        n = int(np.prod(shape)) if shape else 1
        res = {"tensor": shape, "dtype": dtype}
        if n <= MAX_VALUES:
            if dtype in ("bfloat16", "float16"):
                t = t.float()
            a = t.numpy().astype(np.float64).ravel()
            res["values"] = [enc_float(float(v)) for v in a]
        return res
    if isinstance(out, (tuple, list)) and depth < 2:
        if len(out) > 64:
            return {"seq": len(out)}
        return {"seq": [summarize(o, depth + 1) for o in out]}
    if isinstance(out, bool):
        return {"bool": out}
    if isinstance(out, (int, float)):
        return {"num": enc_float(float(out)), "pytype": type(out).__name__}
    if out is None:
        return {"none": 1}
    return {"other": type(out).__name__}


def exc_base(e):
    """PyTorch's documented type for an error: the first builtin class in the MRO (so
    torch.OutOfMemoryError counts as RuntimeError); a Rust panic is its own class."""
    if type(e).__name__ == "PanicException":
        return "PanicException"
    for c in type(e).__mro__:
        if c.__module__ == "builtins":
            return c.__name__
    return type(e).__name__


def main():
    os.environ.setdefault("RUST_BACKTRACE", "0")
    jobs = json.loads(sys.stdin.read())
    out = sys.stdout
    for idx, spec in jobs:
        out.write(json.dumps({"start": idx}) + "\n")
        out.flush()
        try:
            res = summarize(call(spec))
            rec = {"i": idx, "status": "ok", "out": res}
        except BaseException as e:  # noqa: BLE001 - a panic is a BaseException; we classify it
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            msg = str(e).splitlines()[0][:300] if str(e) else ""
            base = exc_base(e)
            status = "panic" if base == "PanicException" else "raised"
            rec = {"i": idx, "status": status, "exc": base, "name": type(e).__name__, "msg": msg}
        if DEVICE != "cpu" and LIB == "ember":
            try:  # a deferred GPU index error belongs to this call, not the next one
                lib.gpu.synchronize()
            except BaseException as e:  # noqa: BLE001
                rec = {
                    "i": idx,
                    "status": "raised",
                    "exc": exc_base(e),
                    "name": type(e).__name__,
                    "msg": str(e)[:300],
                    "deferred": True,
                }
        out.write(json.dumps(rec) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
