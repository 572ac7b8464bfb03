"""ember.nn: PyTorch's torch.nn (Module, Parameter, layers, losses, functional, init, utils)."""

from . import functional, init, parallel, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules.module import (  # noqa: F401
    Module,
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from .parameter import Buffer, Parameter  # noqa: F401
