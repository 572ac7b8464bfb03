"""`ember.fx`: the parts of torch.fx that model code touches at import and run time.

Model libraries mark functions as tracing leaves with `@torch.fx.wrap` (timm does so in its
layers). With no tracer running, PyTorch's `wrap` returns its argument unchanged, and so does
ember's. ember has no graph tracer: `symbolic_trace` raises NotImplementedError.
"""

__all__ = ["wrap", "symbolic_trace", "is_tracing"]

_wrapped = []


def wrap(fn_or_name):
    """Marks a function as a leaf for symbolic tracing; returns it unchanged."""
    if not (callable(fn_or_name) or isinstance(fn_or_name, str)):
        raise RuntimeError(
            f"Unsupported type for global function! Expected a callable or a name, got "
            f"{type(fn_or_name).__name__}"
        )
    _wrapped.append(fn_or_name)
    return fn_or_name


def symbolic_trace(root, concrete_args=None):
    """Not available: ember runs eagerly and has no FX graph tracer."""
    raise NotImplementedError(
        f"ember.fx.symbolic_trace({type(root).__name__}): ember has no FX graph tracer; the "
        "module runs eagerly as it is"
    )


def is_tracing():
    """Always False: ember never traces."""
    return False
