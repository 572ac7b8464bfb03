"""The deprecated per-device spellings: torch.cuda.amp and torch.cpu.amp.

They behave as ember.amp with device_type fixed ("cuda" -> ember's "gpu") and
warn with FutureWarning as PyTorch 2.4+ does. ember.cuda.amp and ember.cpu.amp
are built from make_module().
"""

import types
import warnings

from .. import _dtype
from . import autocast_mode
from .grad_scaler import GradScaler as _GradScaler


def make_module(name, device_type, default_dtype):
    """A module object `name` with autocast, GradScaler, custom_fwd and custom_bwd."""

    class autocast(autocast_mode.autocast):
        def __init__(self, enabled=True, dtype=default_dtype, cache_enabled=True):
            warnings.warn(
                f"`ember.{device_type}.amp.autocast(args...)` is deprecated. Please use "
                f"`ember.amp.autocast('{device_type}', args...)` instead.",
                FutureWarning,
                stacklevel=2,
            )
            super().__init__(device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    class GradScaler(_GradScaler):
        def __init__(
            self,
            init_scale=2.0**16,
            growth_factor=2.0,
            backoff_factor=0.5,
            growth_interval=2000,
            enabled=True,
        ):
            warnings.warn(
                f"`ember.{device_type}.amp.GradScaler(args...)` is deprecated. Please use "
                f"`ember.amp.GradScaler('{device_type}', args...)` instead.",
                FutureWarning,
                stacklevel=2,
            )
            super().__init__(
                device_type, init_scale, growth_factor, backoff_factor, growth_interval, enabled
            )

    def custom_fwd(fwd=None, *, cast_inputs=None):
        return autocast_mode.custom_fwd(fwd, device_type=device_type, cast_inputs=cast_inputs)

    def custom_bwd(bwd=None):
        return autocast_mode.custom_bwd(bwd, device_type=device_type)

    mod = types.ModuleType(name, f"{name}: deprecated alias of ember.amp for '{device_type}'.")
    for obj in (autocast, GradScaler, custom_fwd, custom_bwd):
        obj.__module__ = name
        setattr(mod, obj.__name__, obj)
    mod.autocast_mode = autocast_mode
    return mod


def cuda_module():
    return make_module("ember.cuda.amp", "cuda", _dtype.float16)


def cpu_module():
    return make_module("ember.cpu.amp", "cpu", _dtype.bfloat16)
