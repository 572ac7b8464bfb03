"""Shared pieces of the optimizers whose update is written with ember tensor ops.

NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD and Adafactor have no fused Rust
step yet: each transcribes PyTorch's single-tensor algorithm with in-place
ember ops under no_grad (the `step` wrapper), one parameter at a time.
"""

import ember

from .optimizer import _step_tensor


def _check(name, value, ok):
    if not ok:
        raise ValueError(f"Invalid {name}: {value}")


def _grads(params, group):
    """Each parameter's gradient, negated when the group maximizes."""
    out = []
    for p in params:
        if p.grad.is_sparse:
            raise RuntimeError(f"{type(p).__name__} does not support sparse gradients")
        out.append(-p.grad if group.get("maximize", False) else p.grad)
    return out


def _next_step(state):
    """Increment state['step'] (a float32 scalar tensor, as PyTorch keeps it) and return it."""
    if "step" not in state:
        state["step"] = _step_tensor()
    s = state["step"]
    if isinstance(s, ember.Tensor):
        s.add_(1)
        return float(s.item())
    state["step"] = float(s) + 1
    return state["step"]
