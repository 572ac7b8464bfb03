"""ASGD (averaged SGD, Polyak & Juditsky 1992) with PyTorch's eta/mu schedules."""

import ember

from ._tensor_step import _check, _grads, _next_step
from .optimizer import Optimizer, _use_grad

__all__ = ["ASGD"]


class ASGD(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-2,
        lambd=1e-4,
        alpha=0.75,
        t0=1e6,
        weight_decay=0,
        foreach=None,
        maximize=False,
        differentiable=False,
        capturable=False,
    ):
        _check("learning rate", lr, 0.0 <= lr)
        _check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
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
            lr, wd = float(group["lr"]), float(group["weight_decay"])
            lambd, alpha, t0 = float(group["lambd"]), float(group["alpha"]), float(group["t0"])
            for p, grad in zip(params, _grads(params, group)):
                state = self.state[p]
                if len(state) == 0:
                    state["eta"] = ember.tensor(lr, dtype=ember.float32)
                    state["mu"] = ember.ones((), dtype=ember.float32)
                    state["ax"] = ember.zeros_like(p)
                step = _next_step(state)
                if wd != 0:
                    grad = grad + p * wd
                eta = float(state["eta"].item())
                p.mul_(1 - lambd * eta)
                p.add_(grad, alpha=-eta)
                mu = float(state["mu"].item())
                ax = state["ax"]
                if mu != 1:
                    ax.add_((p - ax) * mu)
                else:
                    ax.copy_(p)
                state["eta"].fill_(lr / ((1 + lambd * lr * step) ** alpha))
                state["mu"].fill_(1 / max(1, step - t0))
        return loss
