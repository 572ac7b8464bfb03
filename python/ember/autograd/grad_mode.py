"""no_grad / enable_grad / set_grad_enabled / inference_mode (context managers and decorators)."""

import functools

from .. import _C


class _GradMode:
    _mode = True

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper

    def __enter__(self):
        self._prev = _C._set_grad_enabled(self._mode)
        return self

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def clone(self):
        return self.__class__()


class _NoParamDecorator(_GradMode):
    """Also usable as a bare decorator (`@no_grad`), as in PyTorch 2."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecorator):  # noqa: N801
    _mode = False


class enable_grad(_NoParamDecorator):  # noqa: N801
    _mode = True


class inference_mode(_GradMode):  # noqa: N801
    def __init__(self, mode=True):
        self._mode = not mode

    def __call__(self, fn):
        if not callable(fn):
            return inference_mode(fn)
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _C._set_grad_enabled(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _C._set_grad_enabled(prev)

        return wrapper


class set_grad_enabled:  # noqa: N801
    def __init__(self, mode):
        self._prev = _C._set_grad_enabled(bool(mode))
        self._mode = bool(mode)

    def __call__(self, fn):
        _C._set_grad_enabled(self._prev)
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _C._set_grad_enabled(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _C._set_grad_enabled(prev)

        return wrapper

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False


def is_grad_enabled():
    return _C.is_grad_enabled()


def is_inference_mode_enabled():
    return False
