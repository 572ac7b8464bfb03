"""ember.distributed.rpc.functions: the `async_execution` decorator.

A function decorated with @async_execution returns an ember.futures.Future; the worker that
serves the RPC replies when that future completes, instead of when the function returns, so
the serving thread is free in between (e.g. to batch requests from several callers).
"""

import functools

__all__ = ["async_execution"]


def async_execution(fn):
    """Mark `fn` as returning a Future whose value is the RPC's result.

    As in PyTorch, put it under @staticmethod / @classmethod when both are used."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    wrapper._wrapped_async_rpc_function = fn
    return wrapper
