"""RMSprop (alpha, momentum, centered)."""

import ember

from .optimizer import Optimizer, _fused, _incr_steps, _step_tensor, _use_grad

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0,
        momentum=0,
        centered=False,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

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
            momentum = float(group["momentum"])
            centered = bool(group["centered"])
            states = []
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["square_avg"] = ember.zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = ember.zeros_like(p)
                    if centered:
                        state["grad_avg"] = ember.zeros_like(p)
                states.append(state)
            _incr_steps(states)
            square_avgs = [s["square_avg"] for s in states]
            bufs = [s["momentum_buffer"] for s in states] if momentum > 0 else []
            grad_avgs = [s["grad_avg"] for s in states] if centered else []
            args = (
                float(group["lr"]),
                float(group["alpha"]),
                float(group["eps"]),
                float(group["weight_decay"]),
                momentum,
                centered,
                bool(group["maximize"]),
            )
            kernel = _fused("rmsprop_step")
            if kernel is not None:
                kernel(params, grads, square_avgs, bufs, grad_avgs, *args)
            else:
                _rmsprop_reference(params, grads, square_avgs, bufs, grad_avgs, *args)
        return loss


def _rmsprop_reference(
    params,
    grads,
    square_avgs,
    bufs,
    grad_avgs,
    lr,
    alpha,
    eps,
    weight_decay,
    momentum,
    centered,
    maximize,
):
    for i, param in enumerate(params):
        grad = -grads[i] if maximize else grads[i]
        if weight_decay != 0:
            grad = grad + param * weight_decay
        square_avg = square_avgs[i]
        square_avg.mul_(alpha).add_(grad * grad * (1 - alpha))
        if centered:
            grad_avg = grad_avgs[i]
            grad_avg.add_((grad - grad_avg) * (1 - alpha))
            avg = (square_avg - grad_avg * grad_avg).sqrt() + eps
        else:
            avg = square_avg.sqrt() + eps
        if momentum > 0:
            buf = bufs[i]
            buf.mul_(momentum).add_(grad / avg)
            param.add_(buf * -lr)
        else:
            param.add_(grad * -lr / avg)
