"""Activation checkpointing: run a segment without keeping its activations and
recompute it during backward (PyTorch's torch.utils.checkpoint).

The segment's forward runs under no_grad inside an autograd.Function; its
backward re-runs the segment with grad enabled (restoring the RNG state of the
first run when preserve_rng_state, so dropout masks match) and backpropagates
through the recomputed graph. Gradients of parameters used inside the segment
are accumulated into their .grad by that inner backward, as in PyTorch's
reentrant variant. use_reentrant=False goes through the same mechanism, and
unlike the reentrant variant it also works when no input requires grad (a
private dummy input carries the graph edge); because the inner backward writes
.grad directly, ember.autograd.grad(..., inputs=params) through a checkpoint
is not supported in either variant.
"""

import warnings

import ember

from ..autograd.function import Function

__all__ = ["checkpoint", "checkpoint_sequential"]


def _noop_context_fn():
    import contextlib

    return contextlib.nullcontext(), contextlib.nullcontext()


def _detach_inputs(inputs):
    out = []
    for x in inputs:
        if isinstance(x, ember.Tensor):
            d = x.detach()
            d.requires_grad_(x.requires_grad)
            out.append(d)
        else:
            out.append(x)
    return out


class _CheckpointFunction(Function):
    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, kwargs, _dummy, *args):
        ctx.run_function = run_function
        ctx.kwargs = kwargs
        ctx.preserve_rng_state = preserve_rng_state
        if preserve_rng_state:
            ctx.rng_state = ember.get_rng_state()
        ctx.inputs = list(args)
        ctx.save_for_backward(*[a for a in args if isinstance(a, ember.Tensor)])
        with ember.no_grad():
            outputs = run_function(*args, **kwargs)
        return outputs

    @staticmethod
    def backward(ctx, *grad_outputs):
        saved = iter(ctx.saved_tensors)
        inputs = [next(saved) if isinstance(a, ember.Tensor) else a for a in ctx.inputs]
        detached = _detach_inputs(inputs)
        current_rng = ember.get_rng_state() if ctx.preserve_rng_state else None
        try:
            if ctx.preserve_rng_state:
                ember.set_rng_state(ctx.rng_state)
            with ember.enable_grad():
                outputs = ctx.run_function(*detached, **ctx.kwargs)
        finally:
            if current_rng is not None:
                ember.set_rng_state(current_rng)
        if isinstance(outputs, ember.Tensor):
            outputs = (outputs,)
        outs, grads = [], []
        for o, g in zip(outputs, grad_outputs):
            if isinstance(o, ember.Tensor) and o.requires_grad and g is not None:
                outs.append(o)
                grads.append(g)
        if outs:
            ember.autograd.backward(outs, grads)
        in_grads = tuple(
            d.grad if isinstance(d, ember.Tensor) and d.requires_grad else None for d in detached
        )
        return (None, None, None, None) + in_grads


def checkpoint(
    function,
    *args,
    use_reentrant=None,
    context_fn=_noop_context_fn,
    determinism_check="default",
    debug=False,
    preserve_rng_state=True,
    **kwargs,
):
    """Run function(*args, **kwargs) without storing its intermediate activations."""
    if use_reentrant is None:
        warnings.warn(
            "ember.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
            "use_reentrant=False is recommended.",
            stacklevel=2,
        )
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError(
            f"determinism_check should be one of ['default', 'none'], but got {determinism_check}"
        )
    if use_reentrant:
        if context_fn is not _noop_context_fn or debug:
            raise ValueError(
                "Passing `context_fn` or `debug` is only supported when use_reentrant=False."
            )
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if not any(isinstance(a, ember.Tensor) and a.requires_grad for a in args):
            warnings.warn(
                "None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2
            )
        dummy = None
    else:
        # An edge into the graph even when no input requires grad (parameters inside still do).
        dummy = ember.zeros((), requires_grad=ember.is_grad_enabled())
    if not ember.is_grad_enabled():
        return function(*args, **kwargs)
    forward_ctx, _ = context_fn()
    with forward_ctx:
        return _CheckpointFunction.apply(function, preserve_rng_state, kwargs, dummy, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Split a sequence of modules/functions into `segments` checkpointed chunks; the last runs normally."""
    if use_reentrant is None:
        warnings.warn(
            "ember.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
            "passed explicitly. use_reentrant=False is recommended.",
            stacklevel=2,
        )
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if isinstance(functions, ember.nn.Sequential):
        functions = list(functions.children())
    functions = list(functions)

    def run_function(start, end, fns):
        def forward(x):
            for j in range(start, end + 1):
                x = fns[j](x)
            return x

        return forward

    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(
            run_function(start, end, functions),
            input,
            use_reentrant=use_reentrant,
            preserve_rng_state=preserve,
        )
    return run_function(end + 1, len(functions) - 1, functions)(input)
