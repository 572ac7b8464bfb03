"""ember.compile and ember.compiler: PyTorch's compiler entry points, which do not compile here.

`ember.compile(model)` returns `model` itself (a function or module runs
eagerly, as under PyTorch's `disable=True`), accepting PyTorch's arguments
and rejecting what PyTorch rejects (an unknown `mode`, `mode` with
`options`, a non-callable). `is_compiling()` is always False.
"""

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


def compile(  # noqa: A001 - PyTorch's name
    model=None,
    *,
    fullgraph=False,
    dynamic=None,
    backend="inductor",
    mode=None,
    options=None,
    name=None,
    disable=False,
    recompile_limit=None,
    isolate_recompiles=False,
    dynamic_shapes=None,
):
    """Return `model` unchanged (or a decorator doing so when `model` is omitted)."""
    if mode is not None and options is not None:
        raise RuntimeError(
            "Either mode or options can be specified, but both can't be specified at the same time."
        )
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if model is None:
        return lambda m: compile(
            m,
            fullgraph=fullgraph,
            dynamic=dynamic,
            backend=backend,
            mode=mode,
            options=options,
            disable=disable,
        )
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    return model


def _assert(condition, message):
    """`torch._assert`: Python's assert as a call (PyTorch's traceable form of it)."""
    if type(condition) is not bool and not isinstance(condition, (int, float)):
        condition = bool(condition)  # a one-element tensor
    if not condition:
        raise AssertionError(message)


def disable(fn=None, recursive=True, *, reason=None):
    """`@disable` / `@disable(recursive=False)`: run `fn` eagerly (it always does here)."""
    if fn is None:
        return lambda f: disable(f, recursive, reason=reason)
    return fn


def is_compiling():
    return False


def is_dynamo_compiling():
    return False


def is_exporting():
    return False


def reset():
    """Clear compile caches (there are none)."""


def allow_in_graph(fn):
    return fn


def assume_constant_result(fn):
    return fn


def cudagraph_mark_step_begin():
    """No-op: there are no CUDA graphs."""


def list_backends(exclude_tags=("debug", "experimental")):
    return ["inductor"]
