"""ember.autograd: backward, grad, Function, functional, gradcheck, grad modes."""

from .. import _C
from . import functional, graph, profiler  # noqa: F401
from .anomaly_mode import (  # noqa: F401
    _run_backward,
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from .function import Function, FunctionCtx, InplaceFunction, once_differentiable  # noqa: F401
from .grad_mode import (  # noqa: F401
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401

Variable = _C.Tensor

# Callbacks queued while a backward pass runs (PyTorch: Variable._execution_engine.queue_callback)
# run once the engine returns; DistributedDataParallel finishes its gradient sync this way.
_queued_callbacks = []


def _queue_callback(callback):
    _queued_callbacks.append(callback)


def _run_queued_callbacks(failed):
    cbs = list(_queued_callbacks)
    _queued_callbacks.clear()
    if not failed:
        for cb in cbs:
            cb()


def _tensors(x):
    if x is None:
        return []
    if isinstance(x, _C.Tensor):
        return [x]
    return list(x)


def _make_grads(outputs, grad_outputs):
    grads = []
    for i, (o, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if not o.requires_grad:
                raise RuntimeError(
                    f"element {i} of tensors does not require grad and does not have a grad_fn"
                )
            if o.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not o.is_floating_point():
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {o.dtype}"
                )
            g = _C.full(list(o.shape), 1.0, o.dtype)
            if o.device.type != "cpu":
                g = g.to(o.device)
        elif not isinstance(g, _C.Tensor):
            g = _C.full(list(o.shape), float(g), o.dtype)
            if o.device.type != "cpu":
                g = g.to(o.device)
        else:
            if tuple(g.shape) != tuple(o.shape):
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and output[{i}] has a shape of {tuple(o.shape)}."
                )
        grads.append(g)
    return grads


def backward(
    tensors,
    grad_tensors=None,
    retain_graph=None,
    create_graph=False,
    grad_variables=None,
    inputs=None,
):
    tensors = _tensors(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    gts = _tensors(grad_tensors) if grad_tensors is not None else [None] * len(tensors)
    if len(gts) != len(tensors):
        raise RuntimeError(f"got {len(gts)} gradients for {len(tensors)} tensors")
    for i, t in enumerate(tensors):
        if not t.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
    grads = _make_grads(tensors, gts)
    if retain_graph is None:
        retain_graph = create_graph
    inp = _tensors(inputs) if inputs is not None else None

    def _call():
        _C._backward(tensors, grads, bool(retain_graph), bool(create_graph), inp, False, True)

    try:
        _run_backward(_call)
    except BaseException:
        _run_queued_callbacks(failed=True)
        raise
    _run_queued_callbacks(failed=False)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    single_input = isinstance(inputs, _C.Tensor)
    outs = _tensors(outputs)
    ins = _tensors(inputs)
    gos = _tensors(grad_outputs) if grad_outputs is not None else [None] * len(outs)
    if len(gos) != len(outs):
        raise RuntimeError(
            f"grad requires one grad_output per output: got {len(gos)} for {len(outs)}"
        )
    for i, o in enumerate(outs):
        if not o.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
    grads = _make_grads(outs, gos)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    res = _run_backward(
        lambda: _C._backward(
            outs, grads, bool(retain_graph), bool(create_graph), ins, bool(allow_unused), False
        )
    )
    if materialize_grads:
        res = [r if r is not None else _C.zeros(list(i.shape), i.dtype) for r, i in zip(res, ins)]
    return tuple(res) if not single_input else (res[0],)
