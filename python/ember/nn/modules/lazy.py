"""Lazy modules (LazyLinear, LazyConv1d/2d/3d): the input feature/channel count is taken from
the first forward call, after which the module becomes the plain class (PyTorch's behaviour).
"""

from ..parameter import UninitializedParameter
from .conv import Conv1d, Conv2d
from .conv3d import Conv3d
from .linear import Linear

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d"]


def _infer_parameters(module, args, kwargs=None):
    module.initialize_parameters(*args, **(kwargs or {}))
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._initialize_hook.remove()
    del module._initialize_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


class LazyModuleMixin:
    """Registers a forward pre-hook that calls `initialize_parameters` on the first input."""

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters)

    def has_uninitialized_params(self):
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(isinstance(t, UninitializedParameter) for t in tensors)

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(
            f"initialize_parameters is not implemented for {self.__class__.__name__}"
        )


class LazyLinear(LazyModuleMixin, Linear):
    r"""A Linear whose in_features is inferred from the last dimension of the first input."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False, device, dtype)
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.in_features = int(input.shape[-1])
            self.weight.materialize((self.out_features, self.in_features))
            if isinstance(self.bias, UninitializedParameter):
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def _lazy_init(self, out_channels, bias, device, dtype):
        self.out_channels = out_channels
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            nd = len(self.kernel_size)
            batched = input.dim() == nd + 2
            self.in_channels = int(input.shape[1 if batched else 0])
            if self.in_channels % self.groups != 0:
                raise ValueError("in_channels must be divisible by groups")
            self.weight.materialize(
                (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
            )
            if isinstance(self.bias, UninitializedParameter):
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()


def _lazy_conv(name, base, nd):
    def __init__(
        self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
        padding_mode="zeros", device=None, dtype=None,
    ):  # fmt: skip
        base.__init__(
            self, 0, 0, kernel_size, stride, padding, dilation, 1, False, padding_mode,
            device, dtype,
        )  # fmt: skip
        self.groups = groups
        self._lazy_init(out_channels, bias, device, dtype)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters)

    cls = type(name, (_LazyConvMixin, base), {"cls_to_become": base, "__init__": __init__})
    cls.__doc__ = f"A {base.__name__} whose in_channels is inferred from the first input."
    cls.__module__ = __name__
    return cls


LazyConv1d = _lazy_conv("LazyConv1d", Conv1d, 1)
LazyConv2d = _lazy_conv("LazyConv2d", Conv2d, 2)
LazyConv3d = _lazy_conv("LazyConv3d", Conv3d, 3)
