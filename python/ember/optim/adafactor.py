"""Adafactor (Shazeer & Stern 2018) as PyTorch implements it: factored
row/column second moments for matrices, relative step size, update clipping."""

import ember

from ._tensor_step import _check, _grads, _next_step
from .optimizer import Optimizer, _use_grad

__all__ = ["Adafactor"]

_EPS = {"float32": 1.1920928955078125e-07, "float64": 2.220446049250313e-16}


class Adafactor(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-2,
        beta2_decay=-0.8,
        eps=(None, 1e-3),
        d=1.0,
        weight_decay=0.0,
        *,
        foreach=None,
        maximize=False,
    ):
        _check("learning rate", lr, 0.0 <= lr)
        _check("beta2_decay value", beta2_decay, 0.0 >= beta2_decay)
        _check("epsilon1 value", eps[0], eps[0] is None or 0.0 <= eps[0])
        _check("epsilon2 value", eps[1], 0.0 <= eps[1])
        _check("d value", d, 1.0 <= d)
        _check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        defaults = dict(
            lr=lr,
            beta2_decay=beta2_decay,
            eps=eps,
            d=d,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    @_use_grad
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with ember.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, _ = self._grouped(group)
            lr, wd, d = float(group["lr"]), float(group["weight_decay"]), float(group["d"])
            eps1, eps2 = group["eps"]
            for p, grad in zip(params, _grads(params, group)):
                state = self.state[p]
                if len(state) == 0:
                    if grad.dim() > 1:
                        row = list(grad.shape)
                        row[-1] = 1
                        col = list(grad.shape)
                        col[-2] = 1
                        state["row_var"] = grad.new_zeros(row)
                        state["col_var"] = grad.new_zeros(col)
                    else:
                        state["variance"] = ember.zeros_like(grad)
                step = _next_step(state)
                e1 = eps1 if eps1 is not None else _EPS.get(str(grad.dtype).split(".")[-1], 1e-3)
                one_minus_beta2 = step ** group["beta2_decay"]
                rho = min(lr, 1 / step**0.5)
                alpha = max(eps2, float(p.norm(2).item()) / p.numel() ** 0.5) * rho
                if wd != 0:
                    p.mul_(1 - lr * wd)
                if grad.dim() > 1:
                    row_mean = (grad * grad).sum(dim=-1, keepdim=True) / grad.size(-1)
                    state["row_var"].lerp_(row_mean, one_minus_beta2)
                    col_mean = (grad * grad).sum(dim=-2, keepdim=True) / grad.size(-2)
                    state["col_var"].lerp_(col_mean, one_minus_beta2)
                    var = state["row_var"] @ state["col_var"]
                    var = var / state["row_var"].mean(dim=-2, keepdim=True).clamp(min=e1)
                else:
                    state["variance"].lerp_(grad * grad, one_minus_beta2)
                    var = state["variance"].clone()
                update = var.clamp(min=e1 * e1).rsqrt() * grad
                denom = max(1.0, float(update.norm(2).item()) / (update.numel() ** 0.5 * d))
                p.add_(update, alpha=-alpha / denom)
        return loss
