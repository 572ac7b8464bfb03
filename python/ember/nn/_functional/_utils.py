"""Shared helpers of ember.nn.functional (shape formatting, reductions)."""

import warnings

import ember


def _pair(x, n=2, name="argument"):
    if isinstance(x, (list, tuple)):
        if len(x) == 1:
            return tuple(int(x[0]) for _ in range(n))
        if len(x) != n:
            raise ValueError(f"expected {name} to be a single int or a tuple of {n} ints, got {x}")
        return tuple(int(v) for v in x)
    return tuple(int(x) for _ in range(n))


def _shape(t):
    return tuple(int(s) for s in t.shape)


def _fmt(t):
    return "[" + ", ".join(str(s) for s in _shape(t)) + "]"


def _reduce(loss, reduction, name="loss"):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    if reduce:
        return "sum"
    return "none"


def _scalar_like(value, t):
    return ember.full((), value, dtype=t.dtype, device=t.device)


def _finfo_eps(dtype):
    if dtype == ember.float64:
        return 2.220446049250313e-16
    if dtype == ember.float16:
        return 0.0009765625
    if dtype == ember.bfloat16:
        return 0.0078125
    return 1.1920928955078125e-07


def _check_same_size(input, target, name):
    if _shape(input) != _shape(target):
        raise ValueError(
            f"Using a target size ({_size(target)}) that is different to the input size "
            f"({_size(input)}) is deprecated. Please ensure they have the same size."
        )


def _size(t):
    return "torch.Size([" + ", ".join(str(s) for s in _shape(t)) + "])"


def _broadcast_target_warn(input, target, name):
    if _shape(input) != _shape(target):
        warnings.warn(
            f"Using a target size ({_size(target)}) that is different to the input size "
            f"({_size(input)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )
