"""SGD with momentum, dampening, Nesterov, weight decay and maximize."""

import ember

from .optimizer import Optimizer, _fused, _use_grad

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        if isinstance(lr, ember.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

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
            momentum = group["momentum"]
            if momentum != 0:
                bufs = [self.state[p].get("momentum_buffer") for p in params]
            else:
                bufs = [None] * len(params)
            args = (
                float(group["lr"]),
                float(momentum),
                float(group["dampening"]),
                float(group["weight_decay"]),
                bool(group["nesterov"]),
                bool(group["maximize"]),
            )
            kernel = _fused("sgd_step")
            if kernel is not None:
                new_bufs = kernel(params, grads, bufs, *args)
            else:
                new_bufs = _sgd_reference(params, grads, bufs, *args)
            if momentum != 0:
                for p, buf in zip(params, new_bufs):
                    self.state[p]["momentum_buffer"] = buf
        return loss


def _sgd_reference(params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """PyTorch's single-tensor SGD, written with tensor ops (the fallback path)."""
    out = []
    for param, grad, buf in zip(params, grads, bufs):
        g = -grad if maximize else grad
        if weight_decay != 0:
            g = g + param * weight_decay
        if momentum != 0:
            if buf is None:
                buf = g.clone().detach()
            else:
                buf.mul_(momentum).add_(g * (1 - dampening))
            g = g + buf * momentum if nesterov else buf
        param.add_(g * -lr)
        out.append(buf)
    return out
