"""nn.Parameter and nn.Buffer: tensors that a Module registers automatically.

`Parameter` is a real subclass of `ember.Tensor` (as in PyTorch), so
`isinstance(p, ember.Tensor)` holds and every tensor method works on it.
"""

import ember

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "is_lazy"]


def _make_subclass(cls, data, requires_grad):
    """Wrap `data`'s storage (no copy, detached) in an instance of the Tensor subclass `cls`."""
    make = getattr(ember.Tensor, "_make_subclass", None)
    if make is not None:
        return make(cls, data, requires_grad)
    # ember.Tensor(other) is a detached alias of `other`; called on a subclass it
    # builds an instance of that subclass.
    t = ember.Tensor.__new__(cls, data)
    t.requires_grad_(requires_grad)
    return t


class Parameter(ember.Tensor):
    r"""A kind of Tensor that is to be considered a module parameter.

    Assigning a Parameter as a Module attribute adds it to the module's
    parameter list. It shares storage with `data` and requires grad by default.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = ember.empty(0)
        return _make_subclass(cls, data, requires_grad)

    def __init__(self, data=None, requires_grad=True):  # noqa: D107 - state set in __new__
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.data, self.requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


class Buffer:
    r"""Marks a tensor as a buffer when assigned to a Module attribute (PyTorch 2.5+)."""

    def __init__(self, data=None, *, persistent=True):
        if data is None:
            data = ember.empty(0)
        self.data = data
        self.persistent = persistent


class UninitializedParameter(Parameter):
    r"""A parameter whose shape is not known yet (lazy modules); `materialize` gives it one."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        kw = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
        return _make_subclass(cls, ember.empty(0, **kw), requires_grad)

    def __init__(self, requires_grad=True, device=None, dtype=None):  # noqa: D107
        pass

    def materialize(self, shape, device=None, dtype=None):
        """Gives the parameter uninitialised storage of `shape`; it becomes a plain Parameter."""
        self.data = ember.empty(
            tuple(shape), device=device or self.device, dtype=dtype or self.dtype
        )
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return "<UninitializedParameter>"


def is_lazy(param):
    return isinstance(param, UninitializedParameter)
