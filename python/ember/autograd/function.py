"""autograd.Function: Python-defined forward/backward run by the Rust engine."""

from .. import _C
from .grad_mode import no_grad


class FunctionCtx:
    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()
        self._non_differentiable = set()
        self.materialize_grads = True
        self._outputs = ()

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class _FunctionMeta(type):
    pass


class Function(metaclass=_FunctionMeta):
    """Subclass with static forward(ctx, *args) and backward(ctx, *grads); call with .apply."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom autograd.Function to use it with backward mode AD."
        )

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _C.Tensor
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        uses_setup = cls.setup_context is not Function.setup_context
        with no_grad():
            if uses_setup:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        is_tuple = isinstance(out, tuple)
        outs = list(out) if is_tuple else [out]
        input_ids = {id(args[i]) for i in tensor_pos}
        # Outputs must be fresh tensors so the new node can own their history.
        for k, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) in input_ids:
                outs[k] = o.detach()
        out_ids = {id(o): k for k, o in enumerate(outs) if isinstance(o, Tensor)}
        saved = getattr(ctx, "_to_save", ())
        # Saved outputs are kept without history (avoids a reference cycle through the node).
        ctx.saved_tensors = tuple(
            s.detach() if isinstance(s, Tensor) and id(s) in out_ids else s for s in saved
        )
        diff_outs = [
            o
            for o in outs
            if isinstance(o, Tensor)
            and id(o) not in ctx._non_differentiable
            and o.is_floating_point()
        ]
        n_out = len(outs)
        tensor_inputs = [args[i] for i in tensor_pos]
        if _C.is_grad_enabled() and any(t.requires_grad for t in tensor_inputs) and diff_outs:
            diff_pos = [
                k
                for k, o in enumerate(outs)
                if isinstance(o, Tensor) and any(o is d for d in diff_outs)
            ]

            def backward_fn(grads):
                full = [None] * n_out
                for k, g in zip(diff_pos, grads):
                    if g is None and ctx.materialize_grads:
                        g = _C.zeros(list(outs[k].shape), outs[k].dtype)
                    full[k] = g
                r = cls.backward(ctx, *full)
                if not isinstance(r, tuple):
                    r = (r,)
                if len(r) < len(args):
                    r = r + (None,) * (len(args) - len(r))
                if len(r) != len(args):
                    raise RuntimeError(
                        f"function {cls.__name__}Backward returned an incorrect number of gradients (expected {len(args)}, got {len(r)})"
                    )
                res = []
                for i in tensor_pos:
                    g = r[i]
                    if g is not None and tuple(g.shape) != tuple(args[i].shape):
                        try:
                            g = (
                                g.expand(args[i].shape)
                                if g.numel() == 1
                                else g.reshape(args[i].shape)
                            )
                        except RuntimeError:
                            raise RuntimeError(
                                f"Function {cls.__name__}Backward returned an invalid gradient at index {i} - got {list(g.shape)} but expected shape compatible with {list(args[i].shape)}"
                            ) from None
                    res.append(g)
                return tuple(res)

            _C._record_function(cls.__name__ + "Backward", backward_fn, tensor_inputs, diff_outs)
        return tuple(outs) if is_tuple else outs[0]


class InplaceFunction(Function):
    pass


def once_differentiable(fn):
    return fn
