"""torch.nn.functional for ember.

Everything is composed from differentiable tensor ops (autograd comes for
free), except convolution and pooling, which call the Rust kernels in
`ember._C` with arguments normalised here (tuples of ints, explicit padding).
"""

import math
import numbers
import warnings

import ember

__all__ = [
    # activations
    "relu", "relu_", "relu6", "elu", "elu_", "selu", "celu", "leaky_relu", "leaky_relu_",
    "gelu", "silu", "mish", "hardswish", "hardsigmoid", "hardtanh", "hardtanh_", "sigmoid",
    "tanh", "softplus", "softsign", "logsigmoid", "softmax", "log_softmax", "softmin",
    "tanhshrink", "threshold", "glu", "prelu", "hardshrink", "softshrink",
    # linear / embedding / dropout
    "linear", "bilinear", "embedding", "one_hot", "dropout", "dropout1d", "dropout2d",
    "alpha_dropout",
    # conv / pool
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "pad", "interpolate", "upsample",
    # normalisation
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "normalize",
    "local_response_norm",
    # distances / attention
    "cosine_similarity", "pairwise_distance", "scaled_dot_product_attention",
    # losses
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div",
    "soft_margin_loss", "cosine_embedding_loss", "margin_ranking_loss", "hinge_embedding_loss",
]  # fmt: skip


# ---------------------------------------------------------------------------- helpers
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


# ---------------------------------------------------------------------------- activations
def relu(input, inplace=False):
    if inplace:
        return relu_(input)
    return input.relu()


def relu_(input):
    if hasattr(input, "relu_"):
        return input.relu_()
    return input.clamp_(min=0)


def threshold(input, threshold, value, inplace=False):
    out = ember.where(input > threshold, input, _scalar_like(value, input))
    if inplace:
        return input.copy_(out)
    return out


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return input.clamp_(min_val, max_val)
    # PyTorch's hardtanh has zero gradient exactly at the bounds (clamp passes it):
    # the same values, with the clamped ones detached.
    inside = (input > min_val) & (input < max_val)
    return ember.where(inside, input, input.clamp(min_val, max_val).detach())


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def _neg_part_exp(input, scale=1.0):
    # exp of the non-positive part only: the unused branch never overflows, so its
    # zero gradient stays zero (no inf * 0 = nan leaking through `where`).
    return (input.clamp(max=0) * scale).exp() - 1


def elu(input, alpha=1.0, inplace=False):
    out = ember.where(input > 0, input, _neg_part_exp(input) * alpha)
    if inplace:
        return input.copy_(out)
    return out


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    out = ember.where(input > 0, input, _neg_part_exp(input) * alpha) * scale
    if inplace:
        return input.copy_(out)
    return out


def celu(input, alpha=1.0, inplace=False):
    out = ember.where(input > 0, input, _neg_part_exp(input, 1.0 / alpha) * alpha)
    if inplace:
        return input.copy_(out)
    return out


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = ember.where(input > 0, input, input * negative_slope)
    if inplace:
        return input.copy_(out)
    return out


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input, weight):
    w = weight
    if input.dim() >= 2 and weight.numel() > 1:
        w = weight.reshape((1, -1) + (1,) * (input.dim() - 2))
    return ember.where(input > 0, input, input * w)


def gelu(input, approximate="none"):
    if approximate == "none":
        return input * 0.5 * (1.0 + (input * 0.7071067811865476).erf())
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (1.0 + inner.tanh())
    raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate}")


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def silu(input, inplace=False):
    out = input * input.sigmoid()
    if inplace:
        return input.copy_(out)
    return out


def _log1p_exp_neg_abs(x):
    return (-x.abs()).exp().log1p()


def softplus(input, beta=1.0, threshold=20.0):
    z = input * beta if beta != 1 else input
    # log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}): finite for every z.
    sp = z.relu() + _log1p_exp_neg_abs(z)
    if beta != 1:
        sp = sp / beta
    return ember.where(z > threshold, input, sp)


def logsigmoid(input):
    return input.clamp(max=0) - _log1p_exp_neg_abs(input)


def softsign(input):
    return input / (input.abs() + 1)


def mish(input, inplace=False):
    out = input * softplus(input).tanh()
    if inplace:
        return input.copy_(out)
    return out


def hardsigmoid(input, inplace=False):
    out = (input / 6 + 0.5).clamp(0.0, 1.0)
    if inplace:
        return input.copy_(out)
    return out


def hardswish(input, inplace=False):
    out = input * (input + 3).clamp(0.0, 6.0) / 6
    if inplace:
        return input.copy_(out)
    return out


def hardshrink(input, lambd=0.5):
    return ember.where(input.abs() > lambd, input, input * 0)


def softshrink(input, lambd=0.5):
    return ember.where(
        input > lambd, input - lambd, ember.where(input < -lambd, input + lambd, input * 0)
    )


def tanhshrink(input):
    return input - input.tanh()


def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return input.softmax(dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return input.log_softmax(dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return (-input).softmax(dim)


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = int(input.shape[dim])
    if n % 2 != 0:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {dim % input.dim()} is size {n}"
        )
    a, b = input.split(n // 2, dim)
    return a * b.sigmoid()


# ---------------------------------------------------------------------------- linear & co
def linear(input, weight, bias=None):
    if int(input.shape[-1]) != int(weight.shape[-1]):
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied "
            f"({_mat_desc(input)} and {int(weight.shape[-1])}x{int(weight.shape[0]) if weight.dim() > 1 else 1})"
        )
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
):
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


def one_hot(tensor, num_classes=-1):
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


def dropout(input, p=0.5, training=True, inplace=False):
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


# ---------------------------------------------------------------------------- convolution
def _same_padding(kernel, dilation):
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        left = total // 2
        pads.append((left, total - left))
    return pads


def _check_conv_input(name, input, weight, groups, transposed, nd):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
            f"input of size: {_fmt(input)}"
        )
    c_in = int(input.shape[-nd - 1])
    if not transposed:
        expected = int(weight.shape[1]) * groups
        if c_in != expected:
            raise RuntimeError(
                f"Given groups={groups}, weight of size {_fmt(weight)}, expected input"
                f"{_fmt(input)} to have {expected} channels, but got {c_in} channels instead"
            )
    else:
        if c_in != int(weight.shape[0]):
            raise RuntimeError(
                f"Given transposed=1, weight of size {_fmt(weight)}, expected input"
                f"{_fmt(input)} to have {int(weight.shape[0])} channels, but got {c_in} "
                "channels instead"
            )


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    _check_conv_input("conv2d", input, weight, groups, False, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    stride = _pair(stride, 2, "stride")
    dilation = _pair(dilation, 2, "dilation")
    kernel = _shape(weight)[2:]
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            (ht, hb), (wl, wr) = _same_padding(kernel, dilation)
            if ht != hb or wl != wr:
                input = pad(input, (wl, wr, ht, hb))
                padding = (0, 0)
            else:
                padding = (ht, wl)
        else:
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
            )
    padding = _pair(padding, 2, "padding")
    out = ember._C.conv2d(input, weight, bias, stride, padding, dilation, int(groups))
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    _check_conv_input("conv1d", input, weight, groups, False, 1)
    (s,) = _pair(stride, 1, "stride")
    (d,) = _pair(dilation, 1, "dilation")
    if isinstance(padding, str):
        if padding == "same":
            if s != 1:
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            ((left, right),) = _same_padding(_shape(weight)[2:], (d,))
            if left != right:
                input = pad(input, (left, right))
                padding = 0
            else:
                padding = left
        elif padding == "valid":
            padding = 0
        else:
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
            )
    (p,) = _pair(padding, 1, "padding")
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, s), (0, p), (1, d), groups)
    return out.squeeze(-2)


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    _check_conv_input("conv_transpose2d", input, weight, groups, True, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    stride = _pair(stride, 2, "stride")
    padding = _pair(padding, 2, "padding")
    output_padding = _pair(output_padding, 2, "output_padding")
    dilation = _pair(dilation, 2, "dilation")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(
                "output padding must be smaller than either stride or dilation, but got "
                f"output_padding: {output_padding}, stride: {stride}, dilation: {dilation}"
            )
    out = ember._C.conv_transpose2d(
        input, weight, bias, stride, padding, output_padding, int(groups), dilation
    )
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    _check_conv_input("conv_transpose1d", input, weight, groups, True, 1)
    (s,) = _pair(stride, 1)
    (p,) = _pair(padding, 1)
    (op,) = _pair(output_padding, 1)
    (d,) = _pair(dilation, 1)
    out = conv_transpose2d(
        input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, s), (0, p), (0, op), groups, (1, d)
    )
    return out.squeeze(-2)


# ---------------------------------------------------------------------------- pooling
def _check_pool_input(name, input, nd):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{name}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, but got: "
            f"{_fmt(input)}"
        )


def _check_pool_pad(kernel, padding, dilation=(1, 1)):
    for k, p, d in zip(kernel, padding, dilation):
        if p > ((k - 1) * d + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )


def _max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode):
    _check_pool_input("max_pool2d", input, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    kernel = _pair(kernel_size, 2, "kernel_size")
    stride = kernel if (stride is None or stride == [] or stride == ()) else _pair(stride)
    padding = _pair(padding)
    dilation = _pair(dilation)
    _check_pool_pad(kernel, padding, dilation)
    out, idx = ember._C.max_pool2d(input, kernel, stride, padding, dilation, bool(ceil_mode))
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def max_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
):
    out, idx = _max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (out, idx) if return_indices else out


def max_pool1d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
):
    _check_pool_input("max_pool1d", input, 1)
    (k,) = _pair(kernel_size, 1)
    (s,) = (k,) if (stride is None or stride == [] or stride == ()) else _pair(stride, 1)
    (p,) = _pair(padding, 1)
    (d,) = _pair(dilation, 1)
    out, idx = _max_pool2d_impl(input.unsqueeze(-2), (1, k), (1, s), (0, p), (1, d), ceil_mode)
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    _check_pool_input("avg_pool2d", input, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    kernel = _pair(kernel_size)
    stride = kernel if (stride is None or stride == [] or stride == ()) else _pair(stride)
    padding = _pair(padding)
    _check_pool_pad(kernel, padding)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    out = ember._C.avg_pool2d(
        input, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad), divisor_override
    )
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    _check_pool_input("avg_pool1d", input, 1)
    (k,) = _pair(kernel_size, 1)
    (s,) = (k,) if (stride is None or stride == [] or stride == ()) else _pair(stride, 1)
    (p,) = _pair(padding, 1)
    out = avg_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), ceil_mode, count_include_pad)
    return out.squeeze(-2)


def _adaptive_size(output_size, input, nd):
    if isinstance(output_size, (list, tuple)):
        sizes = list(output_size)
        if len(sizes) == 1:
            sizes = sizes * nd
    else:
        sizes = [output_size] * nd
    spatial = _shape(input)[-nd:]
    return tuple(int(spatial[i]) if s is None else int(s) for i, s in enumerate(sizes))


def adaptive_avg_pool2d(input, output_size):
    _check_pool_input("adaptive_avg_pool2d", input, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    out = ember._C.adaptive_avg_pool2d(input, _adaptive_size(output_size, input, 2))
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input, output_size):
    _check_pool_input("adaptive_avg_pool1d", input, 1)
    (o,) = _adaptive_size(output_size, input, 1)
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, o)).squeeze(-2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    _check_pool_input("adaptive_max_pool2d", input, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    out, idx = ember._C.adaptive_max_pool2d(input, _adaptive_size(output_size, input, 2))
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    _check_pool_input("adaptive_max_pool1d", input, 1)
    (o,) = _adaptive_size(output_size, input, 1)
    out, idx = adaptive_max_pool2d(input.unsqueeze(-2), (1, o), return_indices=True)
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


# ---------------------------------------------------------------------------- pad / resize
def pad(input, pad, mode="constant", value=None):
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension"
        )
    pads = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]
    if mode == "constant":
        fill = 0 if value is None else value
        out = input
        for i, (left, right) in enumerate(pads):
            dim = input.dim() - 1 - i
            if left < 0:
                out = out.narrow(dim, -left, int(out.shape[dim]) + left)
            if right < 0:
                out = out.narrow(dim, 0, int(out.shape[dim]) + right)
            parts = []
            if left > 0:
                shp = list(_shape(out))
                shp[dim] = left
                parts.append(ember.full(shp, fill, dtype=out.dtype, device=out.device))
            parts.append(out)
            if right > 0:
                shp = list(_shape(out))
                shp[dim] = right
                parts.append(ember.full(shp, fill, dtype=out.dtype, device=out.device))
            if len(parts) > 1:
                out = ember.cat(parts, dim)
        return out
    if value is not None and value != 0:
        raise NotImplementedError(f'Padding mode "{mode}" doesn\'t take in value argument.')
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    n_spatial = len(pads)
    if input.dim() not in (n_spatial + 1, n_spatial + 2):
        raise NotImplementedError(
            f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now; "
            f"got a {input.dim()}D input with {n_spatial} padded dims"
        )
    out = input
    for i, (left, right) in enumerate(pads):
        dim = input.dim() - 1 - i
        size = int(out.shape[dim])
        if mode == "reflect" and (left >= size or right >= size):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({left}, {right}) at dimension {dim} of input "
                f"{_fmt(input)}"
            )
        idx = ember.arange(-left, size + right, device=out.device)
        if mode == "reflect":
            idx = (size - 1) - ((size - 1) - idx.abs()).abs()
        elif mode == "replicate":
            idx = idx.clamp(0, size - 1)
        else:
            if left > size or right > size:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            idx = idx.remainder(size) if hasattr(idx, "remainder") else idx % size
        out = out.index_select(dim, idx)
    return out


def _interp_scales(input, size, scale_factor, nd, recompute_scale_factor):
    spatial = _shape(input)[2:]
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * nd
        if len(sizes) != nd:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {list(spatial)} and output size of {sizes}. "
                "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                "(o1, o2, ...,oK) format."
            )
        out_sizes = [int(s) for s in sizes]
        scales = [None] * nd
    elif scale_factor is not None:
        sf = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * nd
        out_sizes = [int(math.floor(float(s) * float(f))) for s, f in zip(spatial, sf)]
        scales = [None] * nd if recompute_scale_factor else [float(f) for f in sf]
    else:
        raise ValueError("either size or scale_factor should be defined")
    return spatial, out_sizes, scales


def _arange_f32(n, device):
    return ember.arange(n, dtype=ember.float32, device=device)


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    nd = input.dim() - 2
    if nd < 1:
        raise ValueError(f"interpolate expects a batched input with 3 to 5 dims, got {input.dim()}")
    if mode in ("nearest", "area", "nearest-exact") and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if align_corners is None:
        align_corners = False
    spatial, out_sizes, scales = _interp_scales(
        input, size, scale_factor, nd, recompute_scale_factor
    )
    if mode == "area":
        if nd == 2:
            return adaptive_avg_pool2d(input, out_sizes)
        if nd == 1:
            return adaptive_avg_pool1d(input, out_sizes)
        raise NotImplementedError("area interpolation is supported for 3D and 4D inputs only")
    expected = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
    if mode in expected and expected[mode] != nd:
        raise NotImplementedError(
            f"Got {input.dim()}D input, but {mode} mode needs {expected[mode] + 2}D input"
        )
    out = input
    dev = input.device
    for i in range(nd):
        dim = 2 + i
        in_s, out_s, sc = int(spatial[i]), int(out_sizes[i]), scales[i]
        dst = _arange_f32(out_s, dev)
        if mode in ("nearest", "nearest-exact"):
            ratio = (1.0 / sc) if sc is not None else in_s / out_s
            if mode == "nearest":
                src = (dst * ratio).floor()
            else:
                src = ((dst + 0.5) * ratio).floor()
            idx = src.clamp(max=in_s - 1).to(ember.int64)
            out = out.index_select(dim, idx)
        elif mode in ("linear", "bilinear", "trilinear"):
            if align_corners:
                ratio = (in_s - 1) / (out_s - 1) if out_s > 1 else 0.0
                src = dst * ratio
            else:
                ratio = (1.0 / sc) if sc is not None else in_s / out_s
                src = ((dst + 0.5) * ratio - 0.5).clamp(min=0.0)
            i0 = src.floor().clamp(max=in_s - 1)
            lam = (src - i0).to(input.dtype)
            i0 = i0.to(ember.int64)
            i1 = (i0 + 1).clamp(max=in_s - 1)
            shape = [1] * input.dim()
            shape[dim] = out_s
            lam = lam.reshape(shape)
            out = out.index_select(dim, i0) * (1 - lam) + out.index_select(dim, i1) * lam
        elif mode == "bicubic":
            out = _cubic_along(out, dim, in_s, out_s, sc, align_corners)
        else:
            raise NotImplementedError(
                f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                f"for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                f"nearest-exact (got {mode})"
            )
    return out


def _cubic_along(x, dim, in_s, out_s, sc, align_corners):
    A = -0.75
    dst = _arange_f32(out_s, x.device)
    if align_corners:
        src = dst * ((in_s - 1) / (out_s - 1) if out_s > 1 else 0.0)
    else:
        ratio = (1.0 / sc) if sc is not None else in_s / out_s
        src = (dst + 0.5) * ratio - 0.5
    fl = src.floor()
    t = src - fl
    fl = fl.to(ember.int64)

    def c1(v):  # |v| <= 1
        return ((A + 2) * v - (A + 3)) * v * v + 1

    def c2(v):  # 1 < |v| < 2
        return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A

    coeffs = [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]
    shape = [1] * x.dim()
    shape[dim] = out_s
    out = None
    for k, w in enumerate(coeffs):
        idx = (fl + (k - 1)).clamp(0, in_s - 1)
        term = x.index_select(dim, idx) * w.to(x.dtype).reshape(shape)
        out = term if out is None else out + term
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


# ---------------------------------------------------------------------------- normalisation
def _bshape(input, t):
    return t.reshape((1, -1) + (1,) * (input.dim() - 2))


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    if input.dim() < 2:
        raise ValueError(f"expected 2D or higher input (got {input.dim()}D input)")
    dims = [0] + list(range(2, input.dim()))
    if training:
        n = input.numel() // int(input.shape[1])
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{_size(input)}"
            )
        mean = input.mean(dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dims, keepdim=True)
        if running_mean is not None or running_var is not None:
            with ember.no_grad():
                m = 0.0 if momentum is None else momentum
                if running_mean is not None:
                    running_mean.mul_(1 - m).add_(mean.detach().reshape(-1) * m)
                if running_var is not None:
                    unbiased = var.detach().reshape(-1) * (n / (n - 1))
                    running_var.mul_(1 - m).add_(unbiased * m)
        out = centered * (var + eps).rsqrt()
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        out = (input - _bshape(input, running_mean)) * _bshape(input, running_var + eps).rsqrt()
    if weight is not None:
        out = out * _bshape(input, weight)
    if bias is not None:
        out = out + _bshape(input, bias)
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if _shape(input)[input.dim() - k :] != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
            f"{_fmt(input)}"
        )
    dims = list(range(input.dim() - k, input.dim()))
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(input, normalized_shape, weight=None, eps=None):
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    k = len(normalized_shape)
    if eps is None:
        eps = _finfo_eps(input.dtype)
    dims = list(range(input.dim() - k, input.dim()))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.dim() < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.dim()}"
        )
    n, c = int(input.shape[0]), int(input.shape[1])
    if c % num_groups != 0:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {_fmt(input)} and num_groups={num_groups}"
        )
    x = input.reshape(n, num_groups, -1)
    mean = x.mean(-1, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(-1, keepdim=True)
    out = (centered * (var + eps).rsqrt()).reshape(_shape(input))
    if weight is not None:
        out = out * _bshape(input, weight)
    if bias is not None:
        out = out + _bshape(input, bias)
    return out


def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    dims = list(range(2, input.dim()))
    if use_input_stats:
        mean = input.mean(dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dims, keepdim=True)
        if running_mean is not None or running_var is not None:
            n = 1
            for s in _shape(input)[2:]:
                n *= s
            with ember.no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(
                        mean.detach().reshape(int(input.shape[0]), -1).mean(0) * momentum
                    )
                if running_var is not None:
                    uv = var.detach().reshape(int(input.shape[0]), -1).mean(0) * (n / max(n - 1, 1))
                    running_var.mul_(1 - momentum).add_(uv * momentum)
        out = centered * (var + eps).rsqrt()
    else:
        out = (input - _bshape(input, running_mean)) * _bshape(input, running_var + eps).rsqrt()
    if weight is not None:
        out = out * _bshape(input, weight)
    if bias is not None:
        out = out + _bshape(input, bias)
    return out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    sq = (input * input).unsqueeze(1)
    if input.dim() == 3:
        sq = pad(sq, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(sq, (size, 1), stride=1).squeeze(1)
    else:
        shp = _shape(input)
        sq = sq.reshape(shp[0], 1, shp[1], shp[2], -1)
        sq = pad(sq, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        s5 = _shape(sq)
        sq2 = sq.reshape(s5[0], 1, s5[2], -1)
        div = avg_pool2d(sq2, (size, 1), stride=1).reshape(shp)
    div = (div * alpha + k) ** beta
    return input / div


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps).expand_as(input)
    return input / denom


# ---------------------------------------------------------------------------- distances
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    x1n = x1.norm(2, dim, keepdim=True)
    x2n = x2.norm(2, dim, keepdim=True)
    # PyTorch clamps the norms under no_grad: the clamp changes values, not gradients.
    x1n = x1n + (x1n.clamp(min=eps) - x1n).detach()
    x2n = x2n + (x2n.clamp(min=eps) - x2n).detach()
    return ((x1 / x1n) * (x2 / x2n)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
):
    L, S = int(query.shape[-2]), int(key.shape[-2])
    scale_factor = 1.0 / math.sqrt(int(query.shape[-1])) if scale is None else scale
    if enable_gqa and query.dim() >= 3 and int(key.shape[-3]) != int(query.shape[-3]):
        rep = int(query.shape[-3]) // int(key.shape[-3])
        key = key.repeat_interleave(rep, -3)
        value = value.repeat_interleave(rep, -3)
    scores = query.matmul(key.transpose(-2, -1)) * scale_factor
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
            )
        rows = ember.arange(L, device=query.device).unsqueeze(1)
        cols = ember.arange(S, device=query.device).unsqueeze(0)
        scores = scores.masked_fill(cols > rows, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == ember.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    attn = scores.softmax(-1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return attn.matmul(value)


# ---------------------------------------------------------------------------- losses
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _broadcast_target_warn(input, target, "mse_loss")
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _broadcast_target_warn(input, target, "l1_loss")
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _broadcast_target_warn(input, target, "smooth_l1_loss")
    d = (input - target).abs()
    if beta == 0.0:
        loss = d
    else:
        loss = ember.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _broadcast_target_warn(input, target, "huber_loss")
    d = (input - target).abs()
    loss = ember.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _bce_forward(input, target):
    log_p = input.log().clamp(min=-100)
    log_1mp = (1 - input).log().clamp(min=-100)
    return -(target * log_p + (1 - target) * log_1mp)


_Function = getattr(getattr(ember, "autograd", None), "Function", None)

if _Function is not None:

    class _BCEFunction(_Function):
        """BCE with PyTorch's clamped log and its exact backward (p - t) / max(p(1-p), 1e-12)."""

        @staticmethod
        def forward(ctx, input, target):
            ctx.save_for_backward(input, target)
            return _bce_forward(input, target)

        @staticmethod
        def backward(ctx, grad_output):
            input, target = ctx.saved_tensors
            denom = (input * (1 - input)).clamp(min=1e-12)
            grad_input = grad_output * (input - target) / denom
            grad_target = None
            if ctx.needs_input_grad[1]:
                grad_target = grad_output * (
                    (1 - input).log().clamp(min=-100) - input.log().clamp(min=-100)
                )
            return grad_input, grad_target

    _bce = _BCEFunction.apply
else:  # pragma: no cover - only without autograd.Function
    _bce = _bce_forward


def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "binary_cross_entropy")
    loss = _bce(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
    pos_weight=None,
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "binary_cross_entropy_with_logits")
    log_sig = logsigmoid(input)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input - log_weight * log_sig
    else:
        loss = (1 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _nll_core(logp, target, weight, ignore_index, reduction, cdim):
    """Per-element -logp[target] * w[target] and the matching weights (0 where ignored)."""
    ignore = target == ignore_index
    safe_t = target.masked_fill(ignore, 0)
    n_classes = int(logp.shape[cdim])
    if target.numel() > 0 and str(target.device) == "cpu":
        hi, lo = int(safe_t.max().item()), int(safe_t.min().item())
        if hi >= n_classes or lo < 0:
            raise IndexError(f"Target {hi if hi >= n_classes else lo} is out of bounds.")
    picked = -logp.gather(cdim, safe_t.unsqueeze(cdim)).squeeze(cdim)
    if weight is not None:
        w = weight.index_select(0, safe_t.reshape(-1)).reshape(_shape(target))
        w = w.masked_fill(ignore, 0.0)
    else:
        w = (~ignore).to(logp.dtype)
    return picked * w, w


def _weighted_mean(loss, w):
    total = w.sum()
    zero = total == 0
    safe_total = ember.where(zero, ember.ones_like(total), total)
    nan = ember.full((), float("nan"), dtype=loss.dtype, device=loss.device)
    # 0/0 gives nan like PyTorch, but with a zero (not nan) gradient.
    return ember.where(zero, nan, loss.sum() / safe_total)


def _check_nll_shapes(input, target):
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if input.dim() == 1:
        if target.dim() != 0:
            raise RuntimeError(
                f"0D target tensor expected for 1D input, but got target of size {_fmt(target)}"
            )
        return 0
    if target.dim() == 0 or (input.dim() == 2 and target.dim() != 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if int(input.shape[0]) != int(target.shape[0]):
        raise ValueError(
            f"Expected input batch_size ({int(input.shape[0])}) to match target batch_size "
            f"({int(target.shape[0])})."
        )
    if input.dim() > 2:
        exp = _shape(input)[:1] + _shape(input)[2:]
        if _shape(target) != exp:
            raise RuntimeError(f"Expected target size {list(exp)}, got {list(_shape(target))}")
    return 1


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    cdim = _check_nll_shapes(input, target)
    if target.is_floating_point():
        raise RuntimeError(
            f"expected scalar type Long but found {str(target.dtype).replace('torch.', '')}"
        )
    loss, w = _nll_core(input, target, weight, ignore_index, reduction, cdim)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return _weighted_mean(loss, w)
    raise ValueError(f"{reduction} is not a valid value for reduction")


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    cdim = 1 if input.dim() >= 2 else 0
    n_classes = int(input.shape[cdim]) if input.dim() > 0 else 0
    logp = input.log_softmax(cdim)
    w_b = None
    if weight is not None:
        if weight.dim() != 1 or int(weight.shape[0]) != n_classes:
            raise RuntimeError(
                f"weight tensor should be defined either for all {n_classes} classes or no "
                f"classes but got weight tensor of shape: {_fmt(weight)}"
            )
        shp = [1] * input.dim()
        shp[cdim] = n_classes
        w_b = weight.reshape(shp)

    if target.is_floating_point():
        # class probabilities
        if _shape(target) != _shape(input):
            raise RuntimeError(
                f"Expected target size {list(_shape(input))}, got {list(_shape(target))}"
            )
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target
        if w_b is not None:
            prod = prod * w_b
        loss = -prod.sum(cdim)
        if reduction == "none":
            return loss
        if reduction == "sum":
            return loss.sum()
        batch = input.numel() // n_classes if n_classes else 0
        return loss.sum() / batch

    cdim2 = _check_nll_shapes(input, target)
    assert cdim2 == cdim
    nll, w = _nll_core(logp, target, weight, ignore_index, reduction, cdim)
    if reduction == "none":
        nll_red = nll
    elif reduction == "sum":
        nll_red = nll.sum()
    else:
        nll_red = _weighted_mean(nll, w)
    if label_smoothing <= 0:
        return nll_red
    ignore = target == ignore_index
    smooth = -(logp * w_b).sum(cdim) if w_b is not None else -logp.sum(cdim)
    smooth = smooth.masked_fill(ignore, 0.0)
    if reduction == "none":
        ret = smooth
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        if weight is not None:
            ret = _weighted_mean(smooth, w)
        else:
            ret = _weighted_mean(smooth, (~ignore).to(logp.dtype))
    return nll_red * (1 - label_smoothing) + ret * (label_smoothing / n_classes)


def _xlogy_self(t):
    """xlogy(t, t): t * log(t) with 0 where t == 0 (PyTorch's kl_div uses xlogy)."""
    xlogy = getattr(ember, "xlogy", None)
    if xlogy is not None:
        try:
            return xlogy(t, t)
        except AttributeError:  # the core exposes ember.xlogy without its Tensor method
            pass
    pos = t > 0
    safe = ember.where(pos, t, ember.ones_like(t))
    return ember.where(pos, t * safe.log(), t * 0)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogy_self(target) - target * input
    if reduction == "batchmean":
        if input.dim() == 0:
            return loss.sum()
        return loss.sum() / int(input.shape[0])
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(softplus(-target * input), reduction)


def margin_ranking_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(
    input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    margin_clamp = (margin - input).clamp(min=0)
    out_margin = ember.where(target != 1, margin_clamp, margin_clamp * 0)
    out_self = ember.where(target != -1, input, input * 0)
    return _reduce(out_margin + out_self, reduction)


def cosine_embedding_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    cos = cosine_similarity(input1, input2, dim=-1, eps=1e-8)
    pos = 1 - cos
    neg = (cos - margin).clamp(min=0)
    loss = ember.where(target == 1, pos, ember.where(target == -1, neg, cos * 0))
    return _reduce(loss, reduction)
