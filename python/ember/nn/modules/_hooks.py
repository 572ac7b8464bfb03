"""Hook plumbing for nn.Module: removable handles, global forward hooks, and the
identity autograd Functions that route gradients through full backward hooks."""

import itertools
from collections import OrderedDict

import ember

__all__ = ["RemovableHandle", "register_module_forward_pre_hook", "register_module_forward_hook"]

_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()


def _is_tensor(x):
    return isinstance(x, ember.Tensor)


class RemovableHandle:
    """Handle returned by the register_*_hook methods; `remove()` unregisters the hook."""

    _next_id = itertools.count()

    def __init__(self, hooks_dict, *extra_dicts):
        self.hooks_dict_ref = hooks_dict
        self.id = next(RemovableHandle._next_id)
        self.extra_dicts = extra_dicts

    def remove(self):
        self.hooks_dict_ref.pop(self.id, None)
        for d in self.extra_dicts:
            d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.remove()


def register_module_forward_pre_hook(hook):
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook):
    handle = RemovableHandle(_global_forward_hooks)
    _global_forward_hooks[handle.id] = hook
    return handle


class _BackwardHookState:
    """Routes one forward call's gradients through the module's full backward hooks."""

    def __init__(self, module, n_args):
        self.module = module
        self.n_args = n_args
        self.input_positions = []
        self.grad_output = None

    def hook_inputs(self, args):
        self.input_positions = [i for i, a in enumerate(args) if _is_tensor(a) and a.requires_grad]
        if not self.input_positions:
            return args
        hooked = _InputHookFn.apply(self, *(args[i] for i in self.input_positions))
        args = list(args)
        for i, t in zip(self.input_positions, hooked):
            args[i] = t
        return tuple(args)

    def hook_outputs(self, result):
        single = _is_tensor(result)
        outs = [result] if single else list(result) if isinstance(result, (tuple, list)) else []
        pos = [i for i, o in enumerate(outs) if _is_tensor(o) and o.requires_grad]
        if not pos:
            return result
        hooked = _OutputHookFn.apply(self, *(outs[i] for i in pos))
        for i, t in zip(pos, hooked):
            outs[i] = t
        if single:
            return outs[0]
        if isinstance(result, tuple):
            return type(result)(*outs) if hasattr(result, "_fields") else tuple(outs)
        return outs

    def call_hooks(self, grad_input):
        replaced = None
        for hook in self.module.__dict__.get("_backward_hooks", {}).values():
            r = hook(self.module, grad_input if replaced is None else replaced, self.grad_output)
            if r is not None:
                replaced = tuple(r) if isinstance(r, (tuple, list)) else (r,)
        return replaced


if hasattr(ember, "autograd") and hasattr(ember.autograd, "Function"):

    class _OutputHookFn(ember.autograd.Function):
        @staticmethod
        def forward(ctx, state, *outs):
            ctx.state = state
            return tuple(o.clone() for o in outs)

        @staticmethod
        def backward(ctx, *grads):
            st = ctx.state
            for hook in st.module.__dict__.get("_backward_pre_hooks", {}).values():
                r = hook(st.module, grads)
                if r is not None:
                    grads = tuple(r) if isinstance(r, (tuple, list)) else (r,)
            st.grad_output = tuple(grads)
            if not st.input_positions:  # no input needs a gradient: PyTorch calls the hooks now
                st.call_hooks((None,) * st.n_args)
            return (None,) + tuple(grads)

    class _InputHookFn(ember.autograd.Function):
        @staticmethod
        def forward(ctx, state, *ins):
            ctx.state = state
            return tuple(i.clone() for i in ins)

        @staticmethod
        def backward(ctx, *grads):
            st = ctx.state
            full = [None] * st.n_args
            for pos, g in zip(st.input_positions, grads):
                full[pos] = g
            replaced = st.call_hooks(tuple(full))
            if replaced is not None:
                grads = tuple(replaced[pos] for pos in st.input_positions)
            return (None,) + tuple(grads)
