"""ember.jit: PyTorch's TorchScript entry points, behaving as PyTorch does with scripting off.

ember has no TorchScript compiler. Code uses these names as decorators and
guards (`@torch.jit.ignore`, `if torch.jit.is_scripting(): ...`,
`attr: torch.jit.Final[int]`), and PyTorch itself runs such code eagerly
when scripting is disabled (PYTORCH_JIT=0): `script` and `trace` return
the function or module unchanged, `is_scripting()` is False. ember does the
same, so those programs run unchanged; nothing is compiled.
"""

import typing

Final = typing.Final


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Return `obj` unchanged (ember does not compile TorchScript)."""
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None,
          check_tolerance=1e-05, strict=True, _force_outplace=False, _module_class=None,
          _compilation_unit=None, example_kwarg_inputs=None, _store_inputs=True):  # fmt: skip
    """Return `func` unchanged: the traced program is the eager one."""
    return func


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None,
                 check_tolerance=1e-05, strict=True, _force_outplace=False, _module_class=None,
                 _compilation_unit=None, example_inputs_is_kwarg=False, _store_inputs=True):  # fmt: skip
    """Return `mod` unchanged."""
    return mod


def _mark(fn, modifier):
    # PyTorch records how the scripter should treat the function on this attribute.
    try:
        fn._torchscript_modifier = modifier
    except (AttributeError, TypeError):
        pass
    return fn


def ignore(drop=False, **kwargs):
    """`@ignore` or `@ignore(drop=True)`: leave the function to Python (it always is here)."""
    if callable(drop):
        return _mark(drop, "ignore")
    if not isinstance(drop, bool):
        raise RuntimeError(
            "Argument to @torch.jit.ignore must be a bool or a function "
            f"but got {type(drop).__name__}"
        )
    return lambda fn: _mark(fn, "unused" if drop else "ignore")


def unused(fn):
    """Mark `fn` as not to be compiled; it runs eagerly."""
    if isinstance(fn, property):
        return fn
    return _mark(fn, "unused")


def export(fn):
    """Mark a method as a TorchScript entry point; it runs eagerly."""
    return _mark(fn, "export")


def script_method(fn):
    return fn


def annotate(the_type, the_value):
    """Return `the_value` (the type is a hint for the scripter)."""
    return the_value


def is_scripting():
    """False: ember code always runs in Python."""
    return False


def is_tracing():
    """False: ember never traces."""
    return False


def _script_module_base():
    from ..nn import Module

    return Module


def script_if_tracing(fn):
    return fn


_script_if_tracing = script_if_tracing


def interface(obj):
    """`@interface` class decorator: the class is used as is."""
    return obj


def Attribute(value, type):  # noqa: N802, A002 - PyTorch's names
    """In eager mode an attribute annotation is its value."""
    return value


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """Return `mod`: there is no graph to freeze, the module runs eagerly as it is."""
    return mod


def optimize_for_inference(mod, other_methods=None):
    """Return `mod`: there is no graph to optimize."""
    return mod


class Future:
    """The result of `fork`: already computed (ember runs the call at once)."""

    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value

    def value(self):
        return self._value

    def done(self):
        return True


def fork(func, *args, **kwargs):
    """Run func(*args, **kwargs) now and return a completed Future (no parallelism)."""
    return Future(func(*args, **kwargs))


def wait(future):
    return future.wait()


def save(m, f, _extra_files=None):
    raise RuntimeError(
        "ember.jit.save: ember does not compile TorchScript, so there is no scripted program to "
        "save; save the weights with ember.save(model.state_dict(), f) instead"
    )


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    raise RuntimeError(
        f"ember.jit.load({f!r}): ember cannot run TorchScript archives; rebuild the model in "
        "Python and load its weights with model.load_state_dict(ember.load(f))"
    )


class ScriptModule(_script_module_base()):
    """Base class of scripted modules; ember never creates one, it is here for isinstance checks."""


class ScriptFunction:
    """Type of scripted functions; ember never creates one, it is here for isinstance checks."""


RecursiveScriptModule = ScriptModule
