"""PyTorch's tensor print format: tensor([[1., 2.],\n        [3., 4.]])."""

import math

import numpy as np

PRINT_OPTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
):
    if profile == "default":
        PRINT_OPTS.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        PRINT_OPTS.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        PRINT_OPTS.update(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)
    for k, v in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if v is not None:
            PRINT_OPTS[k] = v
    PRINT_OPTS["sci_mode"] = sci_mode


class _Formatter:
    def __init__(self, arr, kind):
        self.kind = kind
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        prec = PRINT_OPTS["precision"]
        vals = arr.reshape(-1)
        if kind == "b":
            self.max_width = max((len(str(bool(v))) for v in vals), default=1)
            return
        if kind in "iu":
            self.max_width = max((len(str(int(v))) for v in vals), default=1)
            return
        finite = vals[np.isfinite(vals)].astype(np.float64)
        nz = np.abs(finite[finite != 0])
        if nz.size == 0:
            self.max_width = max((len(self._fmt_float_int(v)) for v in vals), default=1)
            return
        self.int_mode = bool(np.all(np.ceil(nz) == nz))
        mx, mn = float(nz.max()), float(nz.min())
        if self.int_mode:
            if mx > 1e8:
                self.sci_mode = True
                self.int_mode = False
        else:
            if mx / mn > 1000.0 or mx > 1e8 or mn < 1e-4:
                self.sci_mode = True
        if PRINT_OPTS["sci_mode"] is not None:
            self.sci_mode = PRINT_OPTS["sci_mode"]
            if self.sci_mode:
                self.int_mode = False
        self.prec = prec
        self.max_width = max((len(self._format_raw(v)) for v in vals), default=1)

    def _fmt_float_int(self, v):
        if math.isnan(v) or math.isinf(v):
            return str(float(v)).replace("inf", "inf")
        return f"{v:.0f}."

    def _format_raw(self, v):
        if self.kind == "b":
            return str(bool(v))
        if self.kind in "iu":
            return str(int(v))
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if self.int_mode:
            return f"{v:.0f}."
        if self.sci_mode:
            return f"{v:.{self.prec}e}"
        return f"{v:.{self.prec}f}"

    def format(self, v):
        return self._format_raw(v).rjust(self.max_width)


class _ComplexFormatter:
    """PyTorch's complex format: real and imaginary parts each formatted as a float column."""

    def __init__(self, arr):
        self.re = _Formatter(arr.real, "f")
        self.im = _Formatter(arr.imag, "f")
        self.max_width = self.re.max_width + self.im.max_width + 2

    def format(self, v):
        v = complex(v)
        re = self.re.format(v.real)
        im = (self.im.format(v.imag) + "j").lstrip()
        return re + (im if im[0] in "+-" else "+" + im)


def _rec(arr, fmt, indent, summarize):
    edge = PRINT_OPTS["edgeitems"]
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        n = arr.shape[0]
        if summarize and n > 2 * edge:
            items = (
                [fmt.format(v) for v in arr[:edge]]
                + [" ..."]
                + [fmt.format(v) for v in arr[-edge:]]
            )
        else:
            items = [fmt.format(v) for v in arr]
        per_line = max(1, (PRINT_OPTS["linewidth"] - indent) // (fmt.max_width + 2))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = arr.shape[0]
    if summarize and n > 2 * edge:
        parts = [_rec(arr[i], fmt, indent + 1, summarize) for i in range(edge)]
        parts.append("...")
        parts += [_rec(arr[i], fmt, indent + 1, summarize) for i in range(n - edge, n)]
    else:
        parts = [_rec(arr[i], fmt, indent + 1, summarize) for i in range(n)]
    sep = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def _summarized(arr):
    edge = PRINT_OPTS["edgeitems"]
    if arr.ndim == 0:
        return arr
    if arr.shape[0] > 2 * edge:
        arr = np.concatenate([arr[:edge], arr[-edge:]])
    return np.stack([_summarized(a) for a in arr]) if arr.ndim > 1 else arr


def tensor_str(t, prefix="tensor("):
    from . import _dtype

    dt = t.dtype
    suffixes = []
    indent = len(prefix)
    if t.numel() == 0 and t.dim() != 1:
        body = "[]"
        suffixes.append(f"size={tuple(t.shape)}")
    elif t.numel() == 0:
        body = "[]"
    else:
        if dt == _dtype.bfloat16:
            arr = t.detach().cpu().float().numpy()
        else:
            arr = t.detach().cpu().numpy()
        summarize = arr.size > PRINT_OPTS["threshold"]
        kind = arr.dtype.kind
        shown = _summarized(arr) if summarize else arr
        fmt = _ComplexFormatter(shown) if kind == "c" else _Formatter(shown, kind)
        body = _rec(arr, fmt, indent, summarize)
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if dt not in (_dtype.float32, _dtype.int64, _dtype.bool, _dtype.complex64) or (
        t.numel() == 0 and dt != _dtype.float32
    ):
        if not (t.numel() == 0 and dt == _dtype.float32):
            suffixes.append(f"dtype={dt!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffixes) + ")"
