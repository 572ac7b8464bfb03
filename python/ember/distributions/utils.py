"""Helpers shared by the distributions (PyTorch's torch.distributions.utils names)."""

import numbers

import ember

__all__ = [
    "broadcast_all",
    "clamp_probs",
    "lazy_property",
    "logits_to_probs",
    "probs_to_logits",
    "tril_matrix_to_vec",
    "vec_to_tril_matrix",
]

_TINY = {
    "float16": 6.103515625e-05,
    "float32": 1.1754943508222875e-38,
    "float64": 2.2250738585072014e-308,
}
_EPS = {
    "float16": 0.0009765625,
    "float32": 1.1920928955078125e-07,
    "float64": 2.220446049250313e-16,
}


def _key(dtype):
    return str(dtype).split(".")[-1]


def finfo_eps(dtype):
    return _EPS.get(_key(dtype), _EPS["float32"])


def finfo_tiny(dtype):
    return _TINY.get(_key(dtype), _TINY["float32"])


def broadcast_all(*values):
    """Broadcast tensors and numbers to one shape; numbers take the tensors' dtype/device."""
    tensors = [v for v in values if isinstance(v, ember.Tensor)]
    for v in values:
        if not isinstance(v, (ember.Tensor, numbers.Number)):
            raise ValueError(
                f"Input arguments must all be instances of numbers.Number or Tensor, got {type(v).__name__}"
            )
    if tensors:
        like = tensors[0]
        dtype = like.dtype if like.is_floating_point() else ember.get_default_dtype()
        values = [
            v
            if isinstance(v, ember.Tensor)
            else ember.tensor(float(v), dtype=dtype, device=like.device)
            for v in values
        ]
    else:
        values = [ember.tensor(float(v), dtype=ember.get_default_dtype()) for v in values]
    return tuple(ember.broadcast_tensors(*values))


def logits_to_probs(logits, is_binary=False):
    if is_binary:
        return ember.sigmoid(logits)
    return ember.softmax(logits, -1)


def clamp_probs(probs):
    eps = finfo_eps(probs.dtype)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    ps = clamp_probs(probs)
    if is_binary:
        return ember.log(ps) - ember.log1p(-ps)
    return ember.log(ps)


class lazy_property:
    """Computed on first access, then cached in the instance (like PyTorch's)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with ember.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def _tril_positions(n, diag):
    """Flat indices (row-major) of the entries with col < row + diag + 1, in row order."""
    return [i * n + j for i in range(n) for j in range(n) if j < i + diag + 1]


def tril_matrix_to_vec(mat, diag=0):
    """The lower-triangular entries (offset diag) of a batch of matrices, in row order."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    idx = ember.tensor(_tril_positions(n, diag), dtype=ember.int64, device=mat.device)
    return mat.reshape(tuple(mat.shape[:-2]) + (n * n,)).index_select(-1, idx)


def vec_to_tril_matrix(vec, diag=0):
    """Inverse of tril_matrix_to_vec: a batch of lower-triangular matrices, zeros elsewhere.

    Gathers from the vector with one extra zero slot (no scatter), so it is
    differentiable and stays on the vector's device.
    """
    m = vec.shape[-1]
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * m + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if abs(round(n) - n) > 1e-9:
        raise ValueError(
            f"The size of last dimension is {m} which cannot be expressed as "
            "the lower triangular part of a square D x D matrix."
        )
    n = round(n)
    pos = {p: k for k, p in enumerate(_tril_positions(n, diag))}
    gather = [pos.get(p, m) for p in range(n * n)]
    zero = ember.zeros(tuple(vec.shape[:-1]) + (1,), dtype=vec.dtype, device=vec.device)
    padded = ember.cat([vec, zero], -1)
    idx = ember.tensor(gather, dtype=ember.int64, device=vec.device)
    return padded.index_select(-1, idx).reshape(tuple(vec.shape[:-1]) + (n, n))
