"""Rprop (resilient backpropagation, Riedmiller & Braun 1993): per-element step
sizes grown or shrunk by the sign agreement of successive gradients."""

import ember

from ._tensor_step import _check, _grads, _next_step
from .optimizer import Optimizer, _use_grad

__all__ = ["Rprop"]


class Rprop(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-2,
        etas=(0.5, 1.2),
        step_sizes=(1e-6, 50),
        *,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        _check("learning rate", lr, 0.0 <= lr)
        _check("eta values", etas, 0.0 < etas[0] < 1.0 < etas[1])
        defaults = dict(
            lr=lr,
            etas=etas,
            step_sizes=step_sizes,
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
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            for p, grad in zip(params, _grads(params, group)):
                state = self.state[p]
                if len(state) == 0:
                    state["prev"] = ember.zeros_like(p)
                    state["step_size"] = ember.full_like(p, float(group["lr"]))
                _next_step(state)
                prev, step_size = state["prev"], state["step_size"]
                sign = (grad * prev).sign_()
                pos, neg = sign > 0, sign < 0
                # factor = etaplus where the sign agreed, etaminus where it flipped, else 1 (built in
                # the parameter's dtype: scalar where() would round the etas to float32)
                factor = ember.where(
                    pos,
                    ember.full_like(sign, etaplus),
                    ember.where(neg, ember.full_like(sign, etaminus), ember.ones_like(sign)),
                )
                step_size.mul_(factor).clamp_(step_size_min, step_size_max)
                # Where the gradient changed sign, skip the step and forget it.
                grad = grad.masked_fill(neg, 0.0)
                p.addcmul_(grad.sign(), step_size, value=-1)
                prev.copy_(grad)
        return loss
