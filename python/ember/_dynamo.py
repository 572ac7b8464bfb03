"""ember._dynamo: the torch._dynamo names that programs call as guards and settings.

Nothing is traced or compiled (see ember.compiler); `config` takes any
setting so that `torch._dynamo.config.suppress_errors = True` works.
"""

import types

from .compiler import allow_in_graph, disable, is_compiling, reset  # noqa: F401

config = types.SimpleNamespace(
    suppress_errors=False,
    cache_size_limit=8,
    recompile_limit=8,
    verbose=False,
    optimize_ddp=True,
    capture_scalar_outputs=False,
)


def mark_dynamic(t, index, *, min=None, max=None):  # noqa: A002 - PyTorch's names
    """No-op: there are no compiled shapes to generalise."""


def mark_static(t, index=None):
    """No-op: there are no compiled shapes to specialise."""


def mark_static_address(t, guard=True):
    """No-op."""
