"""Adagrad (lr_decay, initial_accumulator_value)."""

import ember

from .optimizer import Optimizer, _fused, _incr_steps, _use_grad

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        fused=None,
    ):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = ember.zeros((), dtype=ember.float32)
                state["sum"] = ember.full_like(p, float(group["initial_accumulator_value"]))

    @_use_grad
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with ember.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads = self._grouped(group)
            if not params:
                continue
            states = [self.state[p] for p in params]
            steps = _incr_steps(states)
            sums = [s["sum"] for s in states]
            args = (
                float(group["lr"]),
                float(group["lr_decay"]),
                float(group["weight_decay"]),
                float(group["eps"]),
                bool(group["maximize"]),
            )
            kernel = _fused("adagrad_step")
            if kernel is not None:
                kernel(params, grads, sums, steps, *args)
            else:
                _adagrad_reference(params, grads, sums, steps, *args)
        return loss


def _adagrad_reference(params, grads, sums, steps, lr, lr_decay, weight_decay, eps, maximize):
    for param, grad, state_sum, step in zip(params, grads, sums, steps):
        if maximize:
            grad = -grad
        if weight_decay != 0:
            grad = grad + param * weight_decay
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum.add_(grad * grad)
        std = state_sum.sqrt() + eps
        param.add_(grad * -clr / std)
