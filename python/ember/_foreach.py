"""`ember._foreach_*`: PyTorch's multi-tensor ops, composed as a loop over existing tensor ops.

Optimizers written for PyTorch (timm's Lamb, Lion, Adan, MARS, ...) call these directly. PyTorch
fuses them into few kernels; here each element of the list is one ordinary op, which keeps the
semantics (in-place ops mutate the given tensors, out-of-place ops return a new list) exact.
"""

from numbers import Number

__all__ = []


def _check_lists(name, *lists):
    n = None
    for lst in lists:
        if not isinstance(lst, (list, tuple)):
            raise TypeError(f"{name}(): expected a list of tensors, got {type(lst).__name__}")
        if n is None:
            n = len(lst)
        elif len(lst) != n:
            raise RuntimeError(
                f"{name}(): tensor lists must have the same number of tensors, got {n} and "
                f"{len(lst)}"
            )


def _per_item(name, other, n):
    """Broadcast `other` (a number, a tensor, or a list of numbers/tensors) to one per element."""
    if isinstance(other, (list, tuple)):
        if len(other) != n:
            raise RuntimeError(
                f"{name}(): tensor list and scalar/tensor list must have the same length, got "
                f"{n} and {len(other)}"
            )
        return list(other)
    return [other] * n


def _scalars(name, scalars, n):
    # PyTorch accepts a list of numbers or a 1-D CPU tensor of them as `scalars`.
    if hasattr(scalars, "tolist") and not isinstance(scalars, Number):
        scalars = scalars.tolist()
    return _per_item(name, scalars, n)


def _binary(opname, method, inplace):
    name = f"_foreach_{opname}{'_' if inplace else ''}"

    def fn(self, other, *, alpha=None):
        _check_lists(name, self)
        others = _per_item(name, other, len(self))
        kw = {} if alpha is None else {"alpha": alpha}
        out = [getattr(t, method)(o, **kw) for t, o in zip(self, others)]
        return None if inplace else out

    fn.__name__ = name
    fn.__doc__ = f"{name}(self, other) applies Tensor.{method} to each tensor of the list."
    return fn


# Tensor.maximum/minimum take tensors only; with a number they are clamp_min/clamp_max.
_SCALAR_METHOD = {"maximum": "clamp_min", "minimum": "clamp_max"}


def _binary_noalpha(opname, method, inplace):
    name = f"_foreach_{opname}{'_' if inplace else ''}"
    scalar_method = _SCALAR_METHOD.get(opname, opname) + ("_" if inplace else "")

    def fn(self, other):
        _check_lists(name, self)
        others = _per_item(name, other, len(self))
        out = [
            getattr(t, scalar_method if isinstance(o, Number) else method)(o)
            for t, o in zip(self, others)
        ]
        return None if inplace else out

    fn.__name__ = name
    fn.__doc__ = f"{name}(self, other) applies Tensor.{method} to each tensor of the list."
    return fn


def _unary(opname, inplace):
    name = f"_foreach_{opname}{'_' if inplace else ''}"
    method = opname + ("_" if inplace else "")

    def fn(self):
        _check_lists(name, self)
        out = [getattr(t, method)() for t in self]
        return None if inplace else out

    fn.__name__ = name
    fn.__doc__ = f"{name}(self) applies Tensor.{method} to each tensor of the list."
    return fn


def _pointwise3(opname, inplace):
    # addcmul/addcdiv: self + value * t1 (*|/) t2, value a number or one per element.
    name = f"_foreach_{opname}{'_' if inplace else ''}"
    method = opname + ("_" if inplace else "")

    def fn(self, tensor1, tensor2, value=1):
        _check_lists(name, self, tensor1, tensor2)
        values = _scalars(name, value, len(self))
        out = [
            getattr(t, method)(a, b, value=v) for t, a, b, v in zip(self, tensor1, tensor2, values)
        ]
        return None if inplace else out

    fn.__name__ = name
    fn.__doc__ = f"{name}(self, tensor1, tensor2, value=1) applies Tensor.{method} elementwise."
    return fn


def _lerp(inplace):
    name = f"_foreach_lerp{'_' if inplace else ''}"
    method = "lerp_" if inplace else "lerp"

    def fn(self, tensors1, weight):
        _check_lists(name, self, tensors1)
        weights = _per_item(name, weight, len(self))
        out = [getattr(t, method)(e, w) for t, e, w in zip(self, tensors1, weights)]
        return None if inplace else out

    fn.__name__ = name
    fn.__doc__ = f"{name}(self, tensors1, weight) applies Tensor.{method} to each pair."
    return fn


def _foreach_norm(self, ord=2, dtype=None):
    """Returns a list with the `ord`-norm of each tensor (each a 0-d tensor), like torch."""
    _check_lists("_foreach_norm", self)
    from . import linalg

    return [linalg.vector_norm(t, ord, dtype=dtype) for t in self]


def _foreach_zero_(self):
    """Fills each tensor of the list with zeros, in place."""
    _check_lists("_foreach_zero_", self)
    for t in self:
        t.zero_()


def _foreach_copy_(self, src, non_blocking=False):
    """Copies src[i] into self[i], in place."""
    _check_lists("_foreach_copy_", self, src)
    for t, s in zip(self, src):
        t.copy_(s)


_ALPHA_OPS = {"add": "add", "sub": "sub"}
_PLAIN_OPS = {
    "mul": "mul",
    "div": "div",
    "maximum": "maximum",
    "minimum": "minimum",
    "clamp_min": "clamp_min",
    "clamp_max": "clamp_max",
    "pow": "pow",
}
_UNARY_OPS = ["sqrt", "neg", "abs", "exp", "log", "reciprocal", "sign", "sigmoid", "tanh"]


def _install(ns):
    """Adds every _foreach_* function to the namespace `ns` (the ember module's globals)."""
    fns = {}
    for op, method in _ALPHA_OPS.items():
        fns[f"_foreach_{op}"] = _binary(op, method, False)
        fns[f"_foreach_{op}_"] = _binary(op, method + "_", True)
    for op, method in _PLAIN_OPS.items():
        fns[f"_foreach_{op}"] = _binary_noalpha(op, method, False)
        fns[f"_foreach_{op}_"] = _binary_noalpha(op, method + "_", True)
    for op in _UNARY_OPS:
        fns[f"_foreach_{op}"] = _unary(op, False)
        fns[f"_foreach_{op}_"] = _unary(op, True)
    for op in ("addcmul", "addcdiv"):
        fns[f"_foreach_{op}"] = _pointwise3(op, False)
        fns[f"_foreach_{op}_"] = _pointwise3(op, True)
    fns["_foreach_lerp"] = _lerp(False)
    fns["_foreach_lerp_"] = _lerp(True)
    fns["_foreach_norm"] = _foreach_norm
    fns["_foreach_zero_"] = _foreach_zero_
    fns["_foreach_copy_"] = _foreach_copy_
    ns.update(fns)
    __all__.extend(sorted(fns))
    globals().update(fns)


_install(globals())
