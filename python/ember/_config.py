"""Global settings PyTorch programs set at start-up: matmul precision, determinism.

ember's kernels compute float32 matmuls in float32 whatever the setting and
are deterministic already (no atomics-order-dependent reductions on CPU), so
these record the choice and answer PyTorch's getters; they change no result.
"""

import warnings

_PRECISIONS = ("highest", "high", "medium")
_state = {"precision": "highest", "deterministic": False, "warn_only": False, "debug_mode": 0}


def set_float32_matmul_precision(precision):
    """Record "highest", "high" or "medium" (PyTorch warns and ignores anything else)."""
    if precision not in _PRECISIONS:
        warnings.warn(
            f"set_float32_matmul_precision: {precision!r} is not one of 'highest', 'high', or "
            "'medium'; the call has no effect."
        )
        return
    _state["precision"] = precision


def get_float32_matmul_precision():
    return _state["precision"]


def use_deterministic_algorithms(mode, *, warn_only=False):
    if not isinstance(mode, bool):
        raise TypeError(
            "use_deterministic_algorithms(): argument 'mode' (position 1) must be bool, "
            f"not {type(mode).__name__}"
        )
    if not isinstance(warn_only, bool):
        raise TypeError(
            "use_deterministic_algorithms(): argument 'warn_only' must be bool, "
            f"not {type(warn_only).__name__}"
        )
    _state["deterministic"] = mode
    _state["warn_only"] = warn_only if mode else False
    _state["debug_mode"] = (1 if warn_only else 2) if mode else 0


def are_deterministic_algorithms_enabled():
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    return _state["warn_only"]


def set_deterministic_debug_mode(debug_mode):
    names = {"default": 0, "warn": 1, "error": 2}
    if isinstance(debug_mode, str):
        if debug_mode not in names:
            raise RuntimeError(
                "invalid value of debug_mode, expected one of `default`, `warn`, `error`, "
                f"but got {debug_mode}"
            )
        debug_mode = names[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(
            f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}"
        )
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    return _state["debug_mode"]
