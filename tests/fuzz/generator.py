"""Random call specs over the public API, as plain data (worker.py replays them).

`generate(seed, n)` is deterministic: the same seed gives the same calls, so a finding is
replayed by its seed and index, or by the spec that `reproducer()` prints. Each family
mixes valid calls (to compare values) with invalid ones (wrong shapes, dims out of range,
bad dtypes) to compare the exceptions; sizes include 0-d, empty and huge tensors.
"""

import random

FLOATS = ["float32", "float64", "float16", "bfloat16"]
INTS = ["int64", "int32", "int16", "int8", "uint8"]
DTYPES = FLOATS + INTS + ["bool"]
# Huge shapes: each needs >= 2**36 bytes, far beyond the child's address-space limit, so
# the allocation fails at once instead of eating the machine's memory.
HUGE = [[2**18, 2**18], [2**36], [2**20, 2**20], [1 << 40]]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.seed = seed
        self.k = 0

    # ---- building blocks -------------------------------------------------------------
    def pick(self, xs):
        return self.r.choice(xs)

    def chance(self, p):
        return self.r.random() < p

    def dtype(self, float_bias=0.6):
        if self.chance(float_bias):
            return self.pick(["float32"] * 4 + ["float64", "float16", "bfloat16"])
        return self.pick(INTS + ["bool", "bool"])

    def shape(self, rank=None, lo=0, allow_empty=True):
        if rank is None:
            rank = self.pick([0, 1, 1, 2, 2, 2, 3, 3, 4])
        dims = [1, 2, 3, 3, 4, 5] + ([0] if allow_empty else [])
        return [max(lo, self.pick(dims)) for _ in range(rank)]

    def tensor(self, shape=None, dtype=None, kind=None):
        self.k += 1
        shape = self.shape() if shape is None else shape
        dtype = dtype or self.dtype()
        if kind is None:
            kind = "special" if self.chance(0.1) else "normal"
        perm = len(shape) >= 2 and self.chance(0.2)
        return {"T": [list(shape), dtype, kind, self.seed * 100003 + self.k, perm]}

    def index_tensor(self, n, shape=None, neg=False, oob=False):
        hi = n + (2 if oob else 0)
        kind = f"idx{max(hi, 1)}" + ("neg" if neg else "")
        return self.tensor(shape or [self.pick([0, 1, 2, 3, 4])], "int64", kind)

    def dim(self, rank, oob=0.08):
        if self.chance(oob) or rank == 0:
            return self.pick([rank, -rank - 1, 5, 0, -1])
        return self.r.randrange(-rank, rank)

    def bshape(self, shape):
        """A shape that broadcasts with `shape` (sometimes one that does not)."""
        if self.chance(0.08):
            return self.shape()
        s = [1 if self.chance(0.3) else d for d in shape]
        drop = self.r.randrange(0, len(s) + 1) if s and self.chance(0.3) else 0
        s = s[drop:]
        if self.chance(0.1):
            s = [self.pick([1, 2])] + s
        return s

    def scalar(self):
        return self.pick(
            [0, 1, 2, -3, 0.5, -1.5, True, False, 2**40, {"F": "nan"}, {"F": "inf"}, 1e38]
        )

    def fdt(self):
        return self.pick(["float32", "float32", "float64", "float16", "bfloat16"])

    # ---- families --------------------------------------------------------------------
    def unary(self):
        name = self.pick(
            "abs neg exp log sqrt sin cos tanh sigmoid relu floor ceil round trunc sign "
            "reciprocal rsqrt expm1 log1p erf square frac isnan isinf isfinite logical_not "
            "bitwise_not nan_to_num signbit exp2 log2 sinc atan asin".split()
        )
        t = self.tensor()
        if self.chance(0.5):
            return {"op": "fn:" + name, "args": [t]}
        return {"op": "m:" + name, "args": [t]}

    def binary(self):
        name = self.pick(
            "add sub mul div remainder fmod pow maximum minimum atan2 eq ne lt le gt ge "
            "logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor "
            "floor_divide hypot copysign fmax fmin bitwise_left_shift bitwise_right_shift "
            "xlogy true_divide".split()
        )
        s = self.shape()
        a = self.tensor(s)
        b = self.tensor(self.bshape(s)) if self.chance(0.75) else self.scalar()
        if self.chance(0.3):
            a, b = b, a
            if not isinstance(a, dict) or "T" not in a:
                a, b = b, a
        kw = {}
        if name == "div" and self.chance(0.4):
            kw["rounding_mode"] = self.pick(["floor", "trunc", "bogus"])
        if name in ("add", "sub") and self.chance(0.3):
            kw["alpha"] = self.pick([2, 0.5, True])
        return {"op": "fn:" + name, "args": [a, b], "kwargs": kw}

    def operator(self):
        name = self.pick(
            ["+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "<<", ">>", "==", "<"]
        )
        s = self.shape()
        a = self.tensor(s)
        b = self.tensor(self.bshape(s)) if self.chance(0.7) else self.scalar()
        return {"op": "binop:" + name, "args": [a, b]}

    def ternary(self):
        s = self.shape()
        name = self.pick(["where", "lerp", "addcmul", "addcdiv", "clamp"])
        if name == "where":
            return {
                "op": "fn:where",
                "args": [
                    self.tensor(self.bshape(s), "bool"),
                    self.tensor(s),
                    self.tensor(self.bshape(s)),
                ],
            }
        if name == "clamp":
            t = self.tensor(s)
            kw = {}
            if self.chance(0.7):
                kw["min"] = self.scalar() if self.chance(0.7) else self.tensor(self.bshape(s))
            if self.chance(0.7):
                kw["max"] = self.scalar() if self.chance(0.7) else self.tensor(self.bshape(s))
            return {"op": "fn:clamp", "args": [t], "kwargs": kw}
        args = [self.tensor(s), self.tensor(self.bshape(s)), self.tensor(self.bshape(s))]
        if name == "lerp" and self.chance(0.5):
            args[2] = self.pick([0.5, 2])
        return {"op": "fn:" + name, "args": args}

    def reduction(self):
        name = self.pick(
            "sum mean prod amax amin max min argmax argmin std var all any norm logsumexp "
            "nansum cumsum cumprod count_nonzero median nanmean aminmax".split()
        )
        t = self.tensor()
        rank = len(t["T"][0])
        kw = {}
        args = [t]
        if name in ("cumsum", "cumprod", "logsumexp"):
            args.append(self.dim(rank))
        elif self.chance(0.75):
            if (
                name
                in ("sum", "mean", "amax", "amin", "std", "var", "nansum", "logsumexp", "nanmean")
                and self.chance(0.3)
                and rank >= 2
            ):
                kw["dim"] = {"U": [self.dim(rank), self.dim(rank)]}
            else:
                kw["dim"] = self.dim(rank)
            if name != "count_nonzero" and self.chance(0.5):
                kw["keepdim"] = self.chance(0.5)
        if name in ("sum", "prod", "cumsum", "mean") and self.chance(0.2):
            kw["dtype"] = {"D": self.dtype()}
        if name in ("std", "var") and self.chance(0.3):
            kw["correction"] = self.pick([0, 1, 2])
        if name == "aminmax":
            kw.pop("dim", None) if self.chance(0.3) else None
        return {"op": ("fn:" if self.chance(0.6) else "m:") + name, "args": args, "kwargs": kw}

    def matmul(self):
        name = self.pick(
            [
                "matmul",
                "mm",
                "bmm",
                "mv",
                "dot",
                "outer",
                "addmm",
                "baddbmm",
                "linear",
                "einsum",
                "@",
                "inner",
                "tensordot",
            ]
        )
        dt = self.fdt() if self.chance(0.85) else self.dtype()
        dt2 = dt if self.chance(0.9) else self.dtype()
        n, k, m, b = (self.pick([0, 1, 2, 3, 5]) for _ in range(4))
        k2 = k if self.chance(0.85) else k + 1
        if name in ("matmul", "@"):
            ra, rb = self.pick([0, 1, 2, 3]), self.pick([0, 1, 2, 3])
            sa = ([b] * max(ra - 2, 0) + [n, k])[-ra:] if ra else []
            sb = ([b] * max(rb - 2, 0) + [k2, m])[-rb:] if rb else []
            if rb == 1:
                sb = [k2]
            args = [self.tensor(sa, dt), self.tensor(sb, dt2)]
            return {"op": "binop:@" if name == "@" else "fn:matmul", "args": args}
        if name == "mm":
            return {"op": "fn:mm", "args": [self.tensor([n, k], dt), self.tensor([k2, m], dt2)]}
        if name == "bmm":
            return {
                "op": "fn:bmm",
                "args": [self.tensor([b, n, k], dt), self.tensor([b, k2, m], dt2)],
            }
        if name == "mv":
            return {"op": "fn:mv", "args": [self.tensor([n, k], dt), self.tensor([k2], dt2)]}
        if name in ("dot", "inner"):
            return {"op": "fn:" + name, "args": [self.tensor([k], dt), self.tensor([k2], dt2)]}
        if name == "outer":
            return {"op": "fn:outer", "args": [self.tensor([n], dt), self.tensor([m], dt2)]}
        if name == "addmm":
            return {
                "op": "fn:addmm",
                "args": [
                    self.tensor(self.bshape([n, m]), dt),
                    self.tensor([n, k], dt),
                    self.tensor([k2, m], dt2),
                ],
                "kwargs": {"beta": self.pick([1, 0.5]), "alpha": self.pick([1, 2])},
            }
        if name == "baddbmm":
            return {
                "op": "fn:baddbmm",
                "args": [
                    self.tensor([b, n, m], dt),
                    self.tensor([b, n, k], dt),
                    self.tensor([b, k2, m], dt2),
                ],
            }
        if name == "linear":
            args = [self.tensor([b, k], dt), self.tensor([m, k2], dt2)]
            if self.chance(0.5):
                args.append(self.tensor([self.pick([m, m, m + 1])], dt))
            return {"op": "F:linear", "args": args}
        if name == "tensordot":
            return {
                "op": "fn:tensordot",
                "args": [self.tensor([n, k], dt), self.tensor([k2, m], dt2)],
                "kwargs": {"dims": self.pick([1, 1, 2, 0])},
            }
        eq = self.pick(["ij,jk->ik", "bij,bjk->bik", "ii->i", "ij->ji", "i,i->", "ij,j->i"])
        shapes = {
            "ij,jk->ik": [[n, k], [k2, m]],
            "bij,bjk->bik": [[b, n, k], [b, k2, m]],
            "ii->i": [[n, n if self.chance(0.9) else n + 1]],
            "ij->ji": [[n, k]],
            "i,i->": [[k], [k2]],
            "ij,j->i": [[n, k], [k2]],
        }[eq]
        return {"op": "fn:einsum", "args": [eq] + [self.tensor(s, dt) for s in shapes]}

    def view(self):
        t = self.tensor()
        s = t["T"][0]
        rank = len(s)
        numel = 1
        for d in s:
            numel *= d
        name = self.pick(
            "reshape view permute transpose squeeze unsqueeze flatten unflatten "
            "expand narrow select split chunk unbind flip roll movedim t diagonal "
            "tril triu repeat contiguous T mT expand_sum".split()
        )
        if name in ("reshape", "view"):
            shp = self.pick(
                [
                    [numel],
                    [-1],
                    [numel, 1],
                    [-1, 1],
                    [1, -1, 1],
                    [numel + 1],
                    [-1, -1],
                    [2, -1],
                    [0, -1],
                    [-2, numel],
                ]
            )
            return {"op": "m:" + name, "args": [t] + shp}
        if name == "permute":
            p = list(range(rank))
            self.r.shuffle(p)
            if self.chance(0.15):
                p = p + [0] if self.chance(0.5) else p[:-1] + [p[0]] if p else [0]
            return {"op": "m:permute", "args": [t] + p}
        if name in ("transpose", "movedim"):
            return {"op": "fn:" + name, "args": [t, self.dim(rank), self.dim(rank)]}
        if name == "squeeze":
            return {"op": "m:squeeze", "args": [t] + ([self.dim(rank)] if self.chance(0.6) else [])}
        if name == "unsqueeze":
            return {"op": "m:unsqueeze", "args": [t, self.dim(rank + 1)]}
        if name == "flatten":
            return {
                "op": "fn:flatten",
                "args": [t],
                "kwargs": {"start_dim": self.dim(rank), "end_dim": self.dim(rank)},
            }
        if name == "unflatten":
            d = s[0] if s else 1
            return {
                "op": "m:unflatten",
                "args": [t, self.dim(rank), {"U": self.pick([[d, 1], [-1, 1], [d + 1]])}],
            }
        if name in ("expand", "expand_sum"):
            shp = [self.pick([d, d, -1, 3]) if d != 1 else self.pick([1, 4, 7]) for d in s]
            if self.chance(0.3):
                shp = [2] + shp
            if name == "expand_sum":
                shp = [1000] + shp
                return {"op": "fn:sum", "args": [{"op": "m:expand", "args": [t] + shp}]}
            return {"op": "m:expand", "args": [t] + shp}
        if name == "narrow":
            d = self.dim(rank)
            return {
                "op": "fn:narrow",
                "args": [t, d, self.pick([0, 1, -1, 3]), self.pick([0, 1, 2, 9])],
            }
        if name == "select":
            return {"op": "fn:select", "args": [t, self.dim(rank), self.pick([0, 1, -1, 4, -9])]}
        if name in ("split", "chunk"):
            return {
                "op": "fn:" + name,
                "args": [t, self.pick([1, 2, 3, 0, -1])],
                "kwargs": {"dim": self.dim(rank)},
            }
        if name == "unbind":
            return {"op": "fn:unbind", "args": [t, self.dim(rank)]}
        if name == "flip":
            return {"op": "fn:flip", "args": [t, {"U": [self.dim(rank)]}]}
        if name == "roll":
            return {
                "op": "fn:roll",
                "args": [t, self.pick([1, -2, 7])],
                "kwargs": {"dims": self.dim(rank)} if self.chance(0.6) else {},
            }
        if name in ("t", "T", "mT"):
            return {"op": ("fn:t" if name == "t" else "attr:" + name), "args": [t]}
        if name == "diagonal":
            return {
                "op": "fn:diagonal",
                "args": [t],
                "kwargs": {
                    "offset": self.pick([0, 1, -1]),
                    "dim1": self.dim(rank),
                    "dim2": self.dim(rank),
                },
            }
        if name in ("tril", "triu"):
            return {"op": "fn:" + name, "args": [t, self.pick([0, 1, -2])]}
        if name == "repeat":
            reps = [self.pick([1, 2, 0]) for _ in range(rank + self.pick([0, 0, 1, -1]))]
            return {"op": "m:repeat", "args": [t] + reps}
        return {"op": "m:contiguous", "args": [t]}

    def catstack(self):
        s = self.shape()
        n = self.pick([1, 2, 3, 0])
        ts = []
        name = self.pick(["cat", "stack", "hstack", "vstack", "cat"])
        d = self.dim(len(s) + (1 if name == "stack" else 0))
        for _ in range(n):
            s2 = list(s)
            if s2 and self.chance(0.5) and name == "cat":
                s2[d % len(s2) if -len(s2) <= d < len(s2) else 0] = self.pick([0, 1, 2])
            if self.chance(0.07):
                s2 = self.shape()
            ts.append(self.tensor(s2, self.dtype(0.8) if self.chance(0.2) else "float32"))
        if name in ("hstack", "vstack"):
            return {"op": "fn:" + name, "args": [ts]}
        return {"op": "fn:" + name, "args": [ts], "kwargs": {"dim": d}}

    def idx_elem(self, n):
        c = self.r.random()
        if c < 0.3:
            return self.pick([0, 1, -1, n - 1, n, -n - 1, 5])
        if c < 0.6:
            return {
                "S": [
                    self.pick([None, 0, 1, -2, 9]),
                    self.pick([None, 2, -1, 0]),
                    self.pick([None, None, 1, 2, 3, -1, 0]),
                ]
            }
        if c < 0.7:
            return None
        if c < 0.75:
            return {"E": 1}
        if c < 0.85:
            return self.index_tensor(n, neg=self.chance(0.3), oob=self.chance(0.15))
        if c < 0.92:
            return {"L": [self.pick([0, 1, -1, n]) for _ in range(self.pick([1, 2, 3]))]}
        return self.tensor([n] if self.chance(0.8) else [n + 1], "bool", "bool")

    def index(self):
        s = self.shape(self.pick([1, 2, 3]))
        t = self.tensor(s)
        if self.chance(0.15):
            idx = self.tensor(s, "bool", "bool")  # a full-shape mask
        else:
            k = self.pick([1, 1, 2, 2, 3])
            items = [self.idx_elem(s[min(i, len(s) - 1)]) for i in range(k)]
            idx = items[0] if k == 1 and self.chance(0.5) else {"U": items}
        if self.chance(0.5):
            return {"op": "getitem:", "args": [t, idx]}
        val = self.scalar() if self.chance(0.6) else self.tensor(self.pick([[], [1], [2], [3]]))
        return {"op": "setitem:", "args": [t, idx, val]}

    def gather_scatter(self):
        s = self.shape(self.pick([1, 2, 3]), lo=1)
        rank = len(s)
        d = self.dim(rank)
        dd = d if -rank <= d < rank else 0
        n = s[dd]
        t = self.tensor(s, self.fdt() if self.chance(0.8) else self.dtype())
        neg, oob = self.chance(0.15), self.chance(0.15)
        name = self.pick(
            [
                "gather",
                "scatter",
                "scatter_add",
                "index_select",
                "index_add",
                "take",
                "masked_fill",
                "masked_select",
                "index_fill",
                "scatter_reduce",
                "take_along_dim",
                "index_copy",
                "embedding",
            ]
        )
        if name in ("gather", "scatter", "scatter_add", "scatter_reduce", "take_along_dim"):
            ishape = [self.pick([1, x]) for x in s]
            if self.chance(0.1):
                ishape = ishape + [1]
            idx = self.index_tensor(n, ishape, neg, oob)
            if name in ("gather", "take_along_dim"):
                return {
                    "op": "fn:" + name,
                    "args": [t, d if name == "gather" else idx, idx if name == "gather" else d],
                }
            src = self.tensor(ishape, t["T"][1]) if self.chance(0.8) else self.scalar()
            if name == "scatter_reduce":
                return {
                    "op": "fn:scatter_reduce",
                    "args": [t, d, idx, self.tensor(ishape, t["T"][1])],
                    "kwargs": {
                        "reduce": self.pick(["sum", "prod", "mean", "amax", "amin", "bogus"]),
                        "include_self": self.chance(0.5),
                    },
                }
            if name == "scatter_add" and not isinstance(src, dict):
                src = self.tensor(ishape, t["T"][1])
            return {"op": "fn:" + name, "args": [t, d, idx, src]}
        if name in ("index_select", "index_add", "index_fill", "index_copy"):
            idx = self.index_tensor(n, None, neg, oob)
            if name == "index_select":
                return {"op": "fn:index_select", "args": [t, d, idx]}
            if name == "index_fill":
                return {"op": "m:index_fill", "args": [t, d, idx, self.scalar()]}
            k = idx["T"][0][0]
            ss = list(s)
            ss[dd] = k if self.chance(0.9) else k + 1
            return {"op": "m:" + name, "args": [t, d, idx, self.tensor(ss, t["T"][1])]}
        if name == "take":
            numel = 1
            for x in s:
                numel *= x
            return {"op": "fn:take", "args": [t, self.index_tensor(numel, None, neg, oob)]}
        if name == "embedding":
            w = self.tensor([n, self.pick([1, 3])], self.fdt())
            kw = {"padding_idx": self.pick([0, -1, n])} if self.chance(0.3) else {}
            return {
                "op": "F:embedding",
                "args": [self.index_tensor(n, [2, 2], neg, oob), w],
                "kwargs": kw,
            }
        mask = self.tensor(self.bshape(s), "bool", "bool")
        if name == "masked_fill":
            return {"op": "m:masked_fill", "args": [t, mask, self.scalar()]}
        return {"op": "fn:masked_select", "args": [t, mask]}

    def sorting(self):
        t = self.tensor(kind="normal")
        rank = len(t["T"][0])
        name = self.pick(
            [
                "sort",
                "argsort",
                "topk",
                "kthvalue",
                "unique",
                "msort",
                "max",
                "min",
                "mode",
                "cummax",
            ]
        )
        loose = t["T"][1] not in FLOATS  # ties: the index of an equal value may differ
        if name in ("sort", "argsort"):
            kw = {"dim": self.dim(rank), "descending": self.chance(0.5)}
            if self.chance(0.3):
                kw["stable"] = True
                loose = False
            return {"op": "fn:" + name, "args": [t], "kwargs": kw, "loose": loose}
        if name == "topk":
            n = t["T"][0][0] if rank else 1
            return {
                "op": "fn:topk",
                "args": [t, self.pick([0, 1, n, n + 1, -1])],
                "kwargs": {"dim": self.dim(rank), "largest": self.chance(0.5), "sorted": True},
                "loose": loose,
            }
        if name == "kthvalue":
            return {
                "op": "fn:kthvalue",
                "args": [t, self.pick([1, 2, 0, 6])],
                "kwargs": {"dim": self.dim(rank)},
                "loose": loose,
            }
        if name == "unique":
            return {
                "op": "fn:unique",
                "args": [t],
                "kwargs": {
                    "sorted": True,
                    "return_counts": self.chance(0.5),
                    "return_inverse": self.chance(0.5),
                },
            }
        if name in ("max", "min", "mode", "cummax"):
            return {"op": "fn:" + name, "args": [t, self.dim(rank)], "loose": True}
        return {"op": "fn:msort", "args": [t]}

    def softmax(self):
        t = self.tensor(dtype=self.fdt() if self.chance(0.85) else self.dtype())
        rank = len(t["T"][0])
        name = self.pick(
            [
                "fn:softmax",
                "fn:log_softmax",
                "F:softmax",
                "F:log_softmax",
                "F:softmin",
                "F:normalize",
                "F:layer_norm",
                "F:gelu",
                "F:silu",
                "F:leaky_relu",
                "F:elu",
                "F:softplus",
                "F:hardtanh",
                "F:glu",
            ]
        )
        if name in ("F:normalize",):
            return {"op": name, "args": [t], "kwargs": {"dim": self.dim(rank)}}
        if name == "F:layer_norm":
            s = t["T"][0]
            ns = s[-self.pick([1, 2]) :] if s and self.chance(0.85) else [3]
            return {"op": name, "args": [t, ns]}
        if name == "F:glu":
            return {"op": name, "args": [t], "kwargs": {"dim": self.dim(rank)}}
        if name.split(":")[1] in ("gelu", "silu", "leaky_relu", "elu", "softplus", "hardtanh"):
            return {"op": name, "args": [t]}
        kw = {"dim": self.dim(rank)}
        if self.chance(0.2):
            kw["dtype"] = {"D": self.fdt()}
        return {"op": name, "args": [t], "kwargs": kw}

    def conv(self):
        nd = self.pick([1, 2])
        name = self.pick(
            [
                "conv",
                "conv",
                "max_pool",
                "avg_pool",
                "adaptive_avg_pool",
                "adaptive_max_pool",
                "conv_transpose",
                "interpolate",
                "pad",
            ]
        )
        N, C = self.pick([1, 2, 0]), self.pick([1, 2, 3, 4])
        sp = [self.pick([1, 3, 4, 5, 7]) for _ in range(nd)]
        dt = self.fdt() if self.chance(0.9) else self.dtype()
        rank = nd + 2 if self.chance(0.85) else self.pick([nd + 1, nd + 3])
        xs = ([N, C] + sp)[-rank:] if rank <= nd + 2 else [1, N, C] + sp
        x = self.tensor(xs, dt)
        k = self.pick([1, 2, 3, 5, 0])
        stride, pad, dil = (
            self.pick([1, 1, 2, 3, 0]),
            self.pick([0, 0, 1, 2, -1]),
            self.pick([1, 1, 2]),
        )
        if name in ("conv", "conv_transpose"):
            g = self.pick([1, 1, 1, 2, C])
            out = self.pick([1, 2, 4, 3])
            if name == "conv":
                w = self.tensor([out, max(C // g, 1) if self.chance(0.9) else C + 1] + [k] * nd, dt)
            else:
                w = self.tensor([C, max(out // g, 1)] + [k] * nd, dt)
            args = [x, w]
            if self.chance(0.4):
                args.append(self.tensor([self.pick([out, out, out + 1])], dt))
            kw = {"stride": stride, "padding": pad, "groups": g}
            if name == "conv":
                kw["dilation"] = dil
                if self.chance(0.1):
                    kw["padding"] = self.pick(["same", "valid"])
            return {"op": f"F:{name}{nd}d", "args": args, "kwargs": kw}
        if name in ("max_pool", "avg_pool"):
            kw = {"kernel_size": k, "stride": self.pick([None, 1, 2, 0]), "padding": pad}
            if name == "max_pool":
                kw["dilation"] = dil
            kw["ceil_mode"] = self.chance(0.3)
            return {"op": f"F:{name}{nd}d", "args": [x], "kwargs": kw}
        if name.startswith("adaptive"):
            return {"op": f"F:{name}{nd}d", "args": [x, self.pick([1, 2, 3, 0])]}
        if name == "pad":
            p = [self.pick([0, 1, 2, -1]) for _ in range(self.pick([2, 4, 2, 3]))]
            mode = self.pick(["constant", "constant", "reflect", "replicate", "circular"])
            return {"op": "F:pad", "args": [x, {"U": p}], "kwargs": {"mode": mode}}
        kw = (
            {"scale_factor": self.pick([2, 0.5, 3])}
            if self.chance(0.6)
            else {"size": self.pick([2, 4, 0])}
        )
        kw["mode"] = self.pick(["nearest", "nearest"] + (["linear"] if nd == 1 else ["bilinear"]))
        return {"op": "F:interpolate", "args": [x], "kwargs": kw}

    def loss(self):
        name = self.pick(
            [
                "mse_loss",
                "l1_loss",
                "cross_entropy",
                "cross_entropy",
                "nll_loss",
                "binary_cross_entropy",
                "binary_cross_entropy_with_logits",
                "smooth_l1_loss",
                "huber_loss",
                "kl_div",
                "cosine_similarity",
                "margin_ranking_loss",
                "soft_margin_loss",
            ]
        )
        dt = self.fdt()
        red = self.pick(["mean", "mean", "sum", "none", "bogus"])
        if name in ("cross_entropy", "nll_loss"):
            N, C = self.pick([1, 3, 4, 0]), self.pick([1, 2, 5])
            rank = self.pick([2, 2, 2, 1, 3])
            xs = [N, C] if rank == 2 else [C] if rank == 1 else [N, C, 2]
            x = self.tensor(xs, dt, "special" if self.chance(0.2) else "normal")
            ts = [N] if rank == 2 else [] if rank == 1 else [N, 2]
            if self.chance(0.08):
                ts = [N + 1]
            ign = self.pick([None, -100, 0, 1])
            kind = f"idx{C + (1 if self.chance(0.1) else 0)}" + ("neg" if self.chance(0.08) else "")
            tgt = {"T": [ts, "int64", kind, self.seed * 7 + self.k, False]}
            self.k += 1
            if name == "cross_entropy" and self.chance(0.15):
                tgt = self.tensor(xs, dt, "unit")  # class probabilities
            kw = {"reduction": red}
            if ign is not None:
                kw["ignore_index"] = ign
            if self.chance(0.2):
                kw["weight"] = self.tensor([C if self.chance(0.9) else C + 1], dt, "pos")
            if name == "cross_entropy" and self.chance(0.2):
                kw["label_smoothing"] = self.pick([0.1, 0.0, 1.5])
            return {"op": "F:" + name, "args": [x, tgt], "kwargs": kw}
        s = self.shape()
        s2 = s if self.chance(0.85) else self.bshape(s)
        if name == "binary_cross_entropy":
            a = self.tensor(s, dt, "unit" if self.chance(0.85) else "normal")
            b = self.tensor(s2, dt, "unit")
        elif name == "cosine_similarity":
            return {
                "op": "F:cosine_similarity",
                "args": [self.tensor(s, dt), self.tensor(s2, dt)],
                "kwargs": {"dim": self.dim(len(s)) if s else 0},
            }
        elif name == "margin_ranking_loss":
            return {
                "op": "F:" + name,
                "args": [self.tensor(s, dt), self.tensor(s2, dt), self.tensor(s, dt)],
                "kwargs": {"reduction": red},
            }
        else:
            a, b = self.tensor(s, dt), self.tensor(s2, dt)
        return {"op": "F:" + name, "args": [a, b], "kwargs": {"reduction": red}}

    def inplace(self):
        s = self.shape()
        t = self.tensor(s)
        name = self.pick(
            [
                "add_",
                "mul_",
                "sub_",
                "div_",
                "clamp_",
                "fill_",
                "zero_",
                "copy_",
                "masked_fill_",
                "relu_",
                "exp_",
                "abs_",
                "pow_",
                "floor_",
                "unsqueeze_",
                "t_",
                "+=",
                "*=",
                "/=",
                "-=",
                "sigmoid_",
            ]
        )
        if name in ("+=", "*=", "/=", "-="):
            other = self.tensor(self.bshape(s)) if self.chance(0.7) else self.scalar()
            return {"op": "ibinop:" + name, "args": [t, other]}
        if name in ("add_", "mul_", "sub_", "div_", "pow_", "copy_"):
            other = self.tensor(self.bshape(s)) if self.chance(0.7) else self.scalar()
            if name == "copy_" and not isinstance(other, dict):
                other = self.tensor(self.bshape(s))
            return {"op": "mi:" + name, "args": [t, other]}
        if name == "clamp_":
            return {"op": "mi:clamp_", "args": [t], "kwargs": {"min": self.scalar()}}
        if name == "fill_":
            return {"op": "mi:fill_", "args": [t, self.scalar()]}
        if name == "masked_fill_":
            return {
                "op": "mi:masked_fill_",
                "args": [t, self.tensor(self.bshape(s), "bool", "bool"), self.scalar()],
            }
        if name == "unsqueeze_":
            return {"op": "mi:unsqueeze_", "args": [t, self.dim(len(s) + 1)]}
        return {"op": "mi:" + name, "args": [t]}

    def factory(self):
        name = self.pick(
            [
                "zeros",
                "ones",
                "full",
                "arange",
                "linspace",
                "eye",
                "empty",
                "tensor",
                "huge_mul",
                "huge_factory",
                "randn",
                "rand",
                "randint",
                "zeros_like",
                "full",
            ]
        )
        if name == "huge_mul":
            n = self.pick([2**18, 2**17 * 3])
            a = self.pick(["ones", "zeros"])
            return {
                "tag": "huge_broadcast",
                "op": "binop:" + self.pick(["*", "+", "==", "<"]),
                "args": [{"op": f"fn:{a}", "args": [n, 1]}, {"op": f"fn:{a}", "args": [1, n]}],
            }
        if name == "huge_factory":
            return {"op": "fn:" + self.pick(["zeros", "ones", "empty"]), "args": self.pick(HUGE)}
        dt = {"D": self.dtype()} if self.chance(0.5) else None
        kw = {"dtype": dt} if dt else {}
        if name in ("zeros", "ones", "empty", "randn", "rand"):
            shp = self.pick([[2, 3], [0], [], [-1], [3, -2], [1, 0, 2]])
            if name in ("randn", "rand") and dt and dt["D"] not in FLOATS:
                pass  # PyTorch raises for an integer dtype: compare the exception
            return {
                "op": "fn:" + name,
                "args": shp,
                "kwargs": kw,
                "random": name != "zeros" and name != "ones",
            }
        if name == "full":
            return {
                "op": "fn:full",
                "args": [{"U": self.pick([[2], [], [2, 0]])}, self.scalar()],
                "kwargs": kw,
            }
        if name == "arange":
            args = self.pick(
                [
                    [5],
                    [0, 5, 2],
                    [5, 0, -1],
                    [0, 1, 0.25],
                    [0, 5, 0],
                    [5, 0],
                    [0.0, 1.0, 0.3],
                    [{"F": "inf"}],
                    [0, 3, -1],
                ]
            )
            return {"op": "fn:arange", "args": args, "kwargs": kw}
        if name == "linspace":
            return {"op": "fn:linspace", "args": [0, 1, self.pick([0, 1, 5, -1])], "kwargs": kw}
        if name == "eye":
            return {
                "op": "fn:eye",
                "args": [self.pick([0, 3, -1])] + ([self.pick([2, 4])] if self.chance(0.5) else []),
                "kwargs": kw,
            }
        if name == "randint":
            return {
                "op": "fn:randint",
                "args": [self.pick([0, 5, -2]), self.pick([5, 0, 10]), {"U": [3]}],
                "random": True,
            }
        if name == "zeros_like":
            return {"op": "fn:zeros_like", "args": [self.tensor()], "kwargs": kw}
        data = self.pick(
            [
                [1, 2, 3],
                [[1, 2], [3]],
                [1.5, True],
                [300],
                [-1],
                [{"F": "inf"}],
                [2**40],
                [],
                [[]],
                [True, False],
                5,
                [[1, 2], [3, 4]],
            ]
        )
        return {"op": "fn:tensor", "args": [data], "kwargs": kw}

    def pyproto(self):
        t = self.tensor(self.pick([[], [1], [2], [1, 1], [0], [2, 3]]))
        name = self.pick(
            [
                "float",
                "int",
                "bool",
                "len",
                "item",
                "tolist",
                "size",
                "stride",
                "numel",
                "dim",
                "to",
                "type",
            ]
        )
        if name in ("float", "int", "bool", "len"):
            return {"op": "py:" + name, "args": [t]}
        if name in ("item", "tolist", "numel", "dim"):
            return {"op": "m:" + name, "args": [t]}
        if name == "to":
            return {"op": "m:to", "args": [t, {"D": self.dtype()}]}
        if name == "type":
            return {"op": "m:type", "args": [t, {"D": self.dtype()}]}
        return {
            "op": "m:" + name,
            "args": [t] + ([self.dim(len(t["T"][0]))] if self.chance(0.7) else []),
        }

    FAMILIES = [
        ("unary", 8),
        ("binary", 12),
        ("operator", 6),
        ("ternary", 4),
        ("reduction", 12),
        ("matmul", 8),
        ("view", 10),
        ("catstack", 5),
        ("index", 10),
        ("gather_scatter", 8),
        ("sorting", 5),
        ("softmax", 5),
        ("conv", 8),
        ("loss", 7),
        ("inplace", 7),
        ("factory", 5),
        ("pyproto", 4),
    ]

    def one(self):
        names = [f for f, _ in self.FAMILIES]
        weights = [w for _, w in self.FAMILIES]
        fam = self.r.choices(names, weights)[0]
        spec = getattr(self, fam)()
        spec["family"] = fam
        return spec


def generate(seed, n):
    """n call specs from `seed`, each also tagged with its family."""
    g = Gen(seed)
    return [g.one() for _ in range(n)]


def _fmt(x):
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    if not isinstance(x, dict):
        return repr(x)
    if "T" in x:
        shape, dtype, kind, seed, perm = x["T"]
        s = f"T({shape}, {dtype}" + ("" if kind == "normal" else f", {kind}") + ")"
        return s + (".permute(rev)" if perm else "")
    if "D" in x:
        return "torch." + x["D"]
    if "S" in x:
        a, b, c = x["S"]
        return (
            ("" if a is None else str(a))
            + ":"
            + ("" if b is None else str(b))
            + ("" if c is None else ":" + str(c))
        )
    if "E" in x:
        return "..."
    if "U" in x:
        inner = ", ".join(_fmt(v) for v in x["U"])
        return "(" + inner + ("," if len(x["U"]) == 1 else "") + ")"
    if "L" in x:
        return _fmt(x["L"])
    if "F" in x:
        return f"float('{x['F']}')"
    if "op" in x:
        return reproducer(x)
    return "{" + ", ".join(f"{k!r}: {_fmt(v)}" for k, v in x.items()) + "}"


def reproducer(spec):
    """A one-line, human-readable form of the call (T(shape, dtype) is a tensor)."""
    kind, name = spec["op"].split(":", 1)
    args = [_fmt(a) for a in spec.get("args", [])]
    kw = [f"{k}={_fmt(v)}" for k, v in spec.get("kwargs", {}).items()]
    if kind in ("m", "mi"):
        return f"{args[0]}.{name}({', '.join(args[1:] + kw)})"
    if kind == "attr":
        return f"{args[0]}.{name}"
    if kind == "py":
        return f"{name}({args[0]})"
    if kind == "getitem":
        return f"{args[0]}[{args[1]}]"
    if kind == "setitem":
        return f"{args[0]}[{args[1]}] = {args[2]}"
    if kind in ("binop", "ibinop"):
        return f"{args[0]} {name} {args[1]}"
    prefix = {"fn": "torch.", "F": "F.", "linalg": "torch.linalg."}[kind]
    return f"{prefix}{name}({', '.join(args + kw)})"
