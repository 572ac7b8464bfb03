"""linear, bilinear, embedding, one_hot and dropout of ember.nn.functional."""

import warnings

import ember

from ._utils import _shape

__all__ = [
    "linear",
    "bilinear",
    "embedding",
    "one_hot",
    "dropout",
    "dropout1d",
    "dropout2d",
    "alpha_dropout",
]


def linear(input, weight, bias=None) -> "ember.Tensor":
    if int(input.shape[-1]) != int(weight.shape[-1]):
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied "
            f"({_mat_desc(input)} and {int(weight.shape[-1])}x{int(weight.shape[0]) if weight.dim() > 1 else 1})"
        )
    if bias is not None and weight.dim() == 2 and bias.dim() == 1:
        n_out, n_bias = int(weight.shape[0]), int(bias.shape[0])
        if n_bias not in (1, n_out):
            # A broadcasting add would spread a wrong-sized bias over an empty or size-1 dim.
            raise RuntimeError(
                f"linear: the expanded size of the bias ({n_bias}) must match the output "
                f"features ({n_out})"
            )
    if weight.dim() == 2 and bias is not None and input.dim() >= 2:
        # One fused GEMM (bias written first, product accumulated onto it), as
        # PyTorch's addmm path; leading dims fold into the rows.
        if input.dim() == 2:
            return ember.addmm(bias, input, weight.t())
        lead = _shape(input)[:-1]
        out = ember.addmm(bias, input.reshape(-1, int(input.shape[-1])), weight.t())
        return out.reshape(lead + (int(weight.shape[0]),))
    out = input.matmul(weight.t()) if weight.dim() == 2 else input.matmul(weight)
    if bias is not None:
        out = out + bias
    return out


def _mat_desc(t):
    if t.dim() == 1:
        return f"1x{int(t.shape[0])}"
    rows = 1
    for s in _shape(t)[:-1]:
        rows *= s
    return f"{rows}x{int(t.shape[-1])}"


def bilinear(input1, input2, weight, bias=None):
    lead = _shape(input1)[:-1]
    x1 = input1.reshape(-1, int(input1.shape[-1]))
    x2 = input2.reshape(-1, int(input2.shape[-1]))
    # (k, N, j) = x1 (1, N, i) @ W (k, i, j)
    t = x1.unsqueeze(0).matmul(weight)
    out = (t * x2.unsqueeze(0)).sum(-1).t()
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (int(weight.shape[0]),))


def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
) -> "ember.Tensor":
    num = int(weight.shape[0])
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    if input.is_floating_point():
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.dtype} instead (while checking arguments for "
            "embedding)"
        )
    if max_norm is not None:
        # PyTorch renormalises the looked-up rows of `weight` in place, outside autograd.
        with ember.no_grad():
            flat = input.reshape(-1)
            rows = weight.index_select(0, flat)
            norms = rows.norm(norm_type, -1, keepdim=True)
            scale = (max_norm / (norms + 1e-7)).clamp(max=1.0)
            weight[flat] = rows * scale
    out = weight.index_select(0, input.reshape(-1)).reshape(_shape(input) + (int(weight.shape[1]),))
    if padding_idx is not None:
        keep = (input != padding_idx).unsqueeze(-1)
        # Same forward values, but the padding row receives no gradient (as in PyTorch).
        out = ember.where(keep, out, out.detach())
    return out


def one_hot(tensor, num_classes=-1) -> "ember.Tensor":
    if tensor.is_floating_point() or tensor.dtype == ember.bool:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max().item()) + 1
    if tensor.numel() > 0:
        if int(tensor.min().item()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(tensor.max().item()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    classes = ember.arange(num_classes, device=tensor.device)
    return (tensor.to(ember.int64).unsqueeze(-1) == classes).to(ember.int64)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_mask(input, shape, p):
    keep = ember.rand(shape, device=input.device) >= p
    return keep.to(input.dtype) / (1.0 - p)


def dropout(input, p=0.5, training=True, inplace=False) -> "ember.Tensor":
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        out = input * _dropout_mask(input, _shape(input), p)
    if inplace:
        with ember.no_grad():
            input.copy_(out)
        return input
    return out


def _feature_dropout(input, p, training, inplace, batched_dim):
    _check_p(p)
    if not training or p == 0.0:
        return input
    shape = _shape(input)
    is_batched = input.dim() == batched_dim
    if not is_batched:
        input = input.unsqueeze(0)
        shape = (1,) + shape
    mask_shape = shape[:2] + (1,) * (len(shape) - 2)
    out = input * 0.0 if p == 1.0 else input * _dropout_mask(input, mask_shape, p)
    if not is_batched:
        out = out.squeeze(0)
    return out


def dropout1d(input, p=0.5, training=True, inplace=False):
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input."
        )
    return _feature_dropout(input, p, training, inplace, 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    if input.dim() not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.dim()}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release.",
            stacklevel=2,
        )
    if input.dim() == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L).",
            stacklevel=2,
        )
    return _feature_dropout(input, p, training, inplace, input.dim() if input.dim() >= 3 else 4)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    alpha_p = -1.7580993408473766
    keep = (ember.rand(_shape(input), device=input.device) >= p).to(input.dtype)
    a = ((1 - p) * (1 + p * alpha_p**2)) ** -0.5
    b = -a * alpha_p * p
    return (input * keep + alpha_p * (1 - keep)) * a + b
