"""The gradient fuzzer's `nnf` family: nn.functional compositions that ember writes in
Python (activations, pooling modes, interpolation, unfold/fold, distances, attention,
the less common losses and norms), mostly with valid arguments so that the gradients, not
the argument checks, are compared. A mixin for gradgen.GradGen (uses its pick/chance/
tensor/dim); float dtypes are fixed up by gradgen.recast like every other family.
"""

# Losses among these get their second derivatives compared too (gradgen.SECOND's rule).
LOSSES = {
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "hinge_embedding_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "kl_div",
    "huber_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "margin_ranking_loss",
}

ACTIVATIONS = (
    "hardswish hardsigmoid mish celu selu softsign tanhshrink softshrink hardshrink "
    "logsigmoid relu6 silu gelu elu softplus threshold prelu glu"
).split()


class NNF:
    def _f32(self, shape, kind=None):
        return self.tensor(shape, "float32", kind or "normal")

    def nnf(self):
        group = self.pick(
            ["act", "act", "pool", "interp", "unfold", "dist", "attn", "loss", "loss", "norm"]
        )
        return getattr(self, "_nnf_" + group)()

    def _nnf_act(self):
        name = self.pick(ACTIVATIONS)
        x = self._f32(self.shape(lo=1))
        kw = {}
        if name == "threshold":
            return {"op": "F:threshold", "args": [x, self.pick([0.0, 0.5, -1.0]), 2.0]}
        if name == "prelu":
            c = x["T"][0][1] if len(x["T"][0]) >= 2 and self.chance(0.5) else 1
            return {"op": "F:prelu", "args": [x, self._f32([c])]}
        if name == "glu":
            s = list(x["T"][0]) or [2]
            s[-1] = 2 * self.pick([1, 2, 3])
            return {"op": "F:glu", "args": [self._f32(s)], "kwargs": {"dim": -1}}
        if name in ("softshrink", "hardshrink"):
            kw["lambd"] = self.pick([0.5, 0.1, 1.0])
        if name == "gelu" and self.chance(0.5):
            kw["approximate"] = "tanh"
        if name in ("celu", "elu"):
            kw["alpha"] = self.pick([1.0, 0.5, 2.0])
        if name == "softplus":
            kw["beta"], kw["threshold"] = self.pick([1.0, 2.0]), self.pick([20.0, 1.0])
        return {"op": "F:" + name, "args": [x], "kwargs": kw}

    def _nnf_pool(self):
        nd = self.pick([1, 2])
        sp = [self.pick([3, 4, 5, 6]) for _ in range(nd)]
        x = self._f32([self.pick([1, 2]), self.pick([1, 3])] + sp)
        k = self.pick([1, 2, 3])
        kw = {"kernel_size": k, "stride": self.pick([None, 1, 2]), "padding": self.pick([0, 0, 1])}
        if kw["padding"] * 2 > k:
            kw["padding"] = 0
        kw["ceil_mode"] = self.chance(0.4)
        name = self.pick(["avg", "max", "adaptive_avg", "adaptive_max"])
        if name == "avg":
            kw["count_include_pad"] = self.chance(0.5)
            if nd == 2 and self.chance(0.2):
                kw["divisor_override"] = self.pick([1, 3])
        elif name == "max":
            kw["dilation"] = self.pick([1, 1, 2])
            if self.chance(0.3):
                kw["return_indices"] = True
        else:
            return {"op": f"F:{name}_pool{nd}d", "args": [x, self.pick([1, 2, 3, 4])]}
        return {"op": f"F:{name}_pool{nd}d", "args": [x], "kwargs": kw}

    def _nnf_interp(self):
        nd = self.pick([1, 2, 2])
        x = self._f32([1, self.pick([1, 2])] + [self.pick([2, 3, 4]) for _ in range(nd)])
        mode = self.pick(
            ["nearest", "linear" if nd == 1 else "bilinear", "area", "nearest-exact"]
            + (["bicubic"] if nd == 2 else [])
        )
        kw = {"mode": mode}
        if self.chance(0.5):
            kw["scale_factor"] = self.pick([2, 0.5, 1.5, 3])
        else:
            kw["size"] = self.pick([1, 3, 5])
        if mode in ("linear", "bilinear", "bicubic"):
            kw["align_corners"] = self.chance(0.5)
        return {"op": "F:interpolate", "args": [x], "kwargs": kw}

    def _nnf_unfold(self):
        name = self.pick(["unfold", "fold", "pixel_shuffle", "pixel_unshuffle", "pad"])
        if name == "unfold":
            x = self._f32([1, self.pick([1, 2]), self.pick([3, 4]), self.pick([3, 5])])
            kw = {"kernel_size": self.pick([1, 2, 3]), "stride": self.pick([1, 2])}
            kw["padding"], kw["dilation"] = self.pick([0, 1]), self.pick([1, 2])
            return {"op": "F:unfold", "args": [x], "kwargs": kw}
        if name == "fold":
            c, k = self.pick([1, 2]), self.pick([1, 2])
            out = [self.pick([2, 3, 4]), self.pick([2, 3])]
            n_blocks = (out[0] - k + 1) * (out[1] - k + 1)
            x = self._f32([1, c * k * k, n_blocks])
            return {"op": "F:fold", "args": [x, out, k]}
        if name == "pixel_shuffle":
            r = self.pick([1, 2])
            x = self._f32([1, self.pick([1, 2]) * r * r, self.pick([1, 2]), 2])
            return {"op": "F:pixel_shuffle", "args": [x, r]}
        if name == "pixel_unshuffle":
            r = self.pick([1, 2])
            return {"op": "F:pixel_unshuffle", "args": [self._f32([1, 2, 2 * r, 2 * r]), r]}
        x = self._f32([1, 2, self.pick([3, 4]), self.pick([3, 5])])
        p = [self.pick([0, 1, 2]) for _ in range(4)]
        mode = self.pick(["constant", "reflect", "replicate", "circular"])
        kw = {"mode": mode}
        if mode == "constant":
            kw["value"] = self.pick([0.0, 1.5])
        return {"op": "F:pad", "args": [x, {"U": p}], "kwargs": kw}

    def _nnf_dist(self):
        name = self.pick(["pairwise_distance", "pdist", "cdist", "cosine_similarity", "normalize"])
        n, m, d = self.pick([1, 2, 3]), self.pick([1, 2, 4]), self.pick([1, 2, 3])
        p = self.pick([2.0, 1.0, 3.0, {"F": "inf"}])
        if name == "pdist":
            return {
                "op": "F:pdist",
                "args": [self._f32([self.pick([2, 3, 4]), d])],
                "kwargs": {"p": p},
            }
        if name == "cdist":
            return {
                "op": "fn:cdist",
                "args": [self._f32([n, d]), self._f32([m, d])],
                "kwargs": {"p": p},
            }
        if name == "normalize":
            return {"op": "F:normalize", "args": [self._f32([n, d])], "kwargs": {"p": p, "dim": -1}}
        a, b = self._f32([n, d]), self._f32([n if self.chance(0.7) else 1, d])
        if name == "cosine_similarity":
            return {"op": "F:cosine_similarity", "args": [a, b], "kwargs": {"dim": -1}}
        return {
            "op": "F:pairwise_distance",
            "args": [a, b],
            "kwargs": {"p": p, "keepdim": self.chance(0.3)},
        }

    def _nnf_attn(self):
        b, h, L, S, e = (
            1,
            self.pick([1, 2]),
            self.pick([1, 2, 3]),
            self.pick([1, 2, 4]),
            self.pick([2, 4]),
        )
        q, k, v = self._f32([b, h, L, e]), self._f32([b, h, S, e]), self._f32([b, h, S, e])
        kw = {}
        c = self.pick(["none", "causal", "bool", "float", "scale"])
        if c == "causal":
            kw["is_causal"] = True
        elif c == "bool":
            kw["attn_mask"] = self.tensor([L, S], "bool", "bool")
        elif c == "float":
            kw["attn_mask"] = self._f32([L, S])
        elif c == "scale":
            kw["scale"] = 0.3
        return {"op": "F:scaled_dot_product_attention", "args": [q, k, v], "kwargs": kw}

    def _nnf_norm(self):
        name = self.pick(["rms_norm", "local_response_norm", "batch_norm_eval", "layer_norm"])
        x = self._f32([self.pick([1, 2]), self.pick([2, 3]), self.pick([2, 3])])
        if name == "rms_norm":
            ns = x["T"][0][-self.pick([1, 2]) :]
            args = [x, ns] + ([self._f32(ns)] if self.chance(0.6) else [])
            return {"op": "F:rms_norm", "args": args, "kwargs": {"eps": self.pick([None, 1e-6])}}
        if name == "local_response_norm":
            return {"op": "F:local_response_norm", "args": [x, self.pick([1, 2, 3])]}
        if name == "layer_norm":
            ns = x["T"][0][-1:]
            return {"op": "F:layer_norm", "args": [x, ns, self._f32(ns), self._f32(ns)]}
        c = x["T"][0][1]
        rm, rv = self._f32([c]), self._f32([c], "pos")
        return {
            "op": "F:batch_norm",
            "args": [x, rm, rv, self._f32([c]), self._f32([c])],
            "kwargs": {"training": False},
            "nograd": [rm["T"][3], rv["T"][3]],
        }

    def _nnf_loss(self):
        name = self.pick(sorted(LOSSES))
        red = self.pick(["mean", "sum", "none"])
        n, c = self.pick([1, 3, 4]), self.pick([2, 3, 4])
        kw = {"reduction": red}
        nograd = []
        if name == "poisson_nll_loss":
            log_input = self.chance(0.5)
            x = self._f32([n, c], "normal" if log_input else "pos")
            kw.update(log_input=log_input, full=self.chance(0.5))
            args = [x, self._f32([n, c], "pos")]
        elif name == "gaussian_nll_loss":
            var = self._f32(self.pick([[n, c], [n, 1]]), "pos")
            args = [self._f32([n, c]), self._f32([n, c]), var]
            kw["full"] = self.chance(0.5)
        elif name == "multi_margin_loss":
            tgt = self.tensor([n], "int64", f"idx{c}")
            args = [self._f32([n, c]), tgt]
            kw["p"], kw["margin"] = self.pick([1, 2]), self.pick([1.0, 0.5])
        elif name == "multilabel_soft_margin_loss":
            args = [self._f32([n, c]), self.tensor([n, c], "float32", "unit")]
            nograd.append(args[1]["T"][3])
        elif name == "hinge_embedding_loss":
            tgt = self.tensor([n, c], "float32", "sign")
            nograd.append(tgt["T"][3])
            args = [self._f32([n, c]), tgt]
        elif name == "cosine_embedding_loss":
            tgt = self.tensor([n], "float32", "sign")
            nograd.append(tgt["T"][3])
            args = [self._f32([n, c]), self._f32([n, c]), tgt]
            kw["margin"] = self.pick([0.0, 0.5])
        elif name == "triplet_margin_loss":
            args = [self._f32([n, c]), self._f32([n, c]), self._f32([n, c])]
            kw.update(p=self.pick([1.0, 2.0]), swap=self.chance(0.3), margin=self.pick([1.0, 0.2]))
        elif name == "kl_div":
            log_target = self.chance(0.5)
            tgt = self._f32([n, c], "normal" if log_target else "unit")
            args = [self._f32([n, c]), tgt]
            kw["log_target"] = log_target
            kw["reduction"] = self.pick(["batchmean", "sum", "none", "mean"])
        elif name == "margin_ranking_loss":
            tgt = self.tensor([n], "float32", "sign")
            nograd.append(tgt["T"][3])
            args = [self._f32([n]), self._f32([n]), tgt]
        elif name == "soft_margin_loss":
            tgt = self.tensor([n, c], "float32", "sign")
            nograd.append(tgt["T"][3])
            args = [self._f32([n, c]), tgt]
        else:  # huber_loss, smooth_l1_loss
            args = [self._f32([n, c]), self._f32([n, c])]
            key = "delta" if name == "huber_loss" else "beta"
            kw[key] = self.pick([1.0, 0.5, 2.0])
        spec = {"op": "F:" + name, "args": args, "kwargs": kw, "loss": True}
        if nograd:
            spec["nograd"] = nograd
        return spec
