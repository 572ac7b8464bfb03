"""Losses of ember.nn.functional with PyTorch's reduction and weighting rules."""

import math
import warnings

import ember

from ._utils import (
    _broadcast_target_warn,
    _check_same_size,
    _fmt,
    _legacy_reduction,
    _reduce,
    _shape,
)
from .activation import logsigmoid, softplus
from .attention import cosine_similarity

__all__ = [
    "triplet_margin_loss",
    "multilabel_soft_margin_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "multi_margin_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "nll_loss",
    "cross_entropy",
    "kl_div",
    "soft_margin_loss",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "cosine_embedding_loss",
]


def mse_loss(
    input, target, size_average=None, reduce=None, reduction="mean", weight=None
) -> "ember.Tensor":
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _broadcast_target_warn(input, target, "mse_loss")
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(
    input, target, size_average=None, reduce=None, reduction="mean", weight=None
) -> "ember.Tensor":
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
        # The square runs on d clamped to beta: where() routes a zero gradient into the
        # branch it did not pick, and 0 * d at d = inf would make that gradient NaN.
        q = d.clamp(max=beta)
        loss = ember.where(d < beta, q * q * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _broadcast_target_warn(input, target, "huber_loss")
    d = (input - target).abs()
    q = d.clamp(max=delta)  # as in smooth_l1_loss: no 0 * inf in the unpicked branch
    loss = ember.where(d < delta, q * q * 0.5, (d - 0.5 * delta) * delta)
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
) -> "ember.Tensor":
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "binary_cross_entropy")
    if input.numel() > 0 and str(input.device) == "cpu":
        # As PyTorch on the CPU (a NaN fails too); on the GPU it would cost a host wait.
        if not bool(((input >= 0) & (input <= 1)).all().item()):
            raise RuntimeError("all elements of input should be between 0 and 1")
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
) -> "ember.Tensor":
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
    # On the GPU the gather kernel checks the targets without a host wait and
    # the IndexError surfaces at the next read to the host (as on CUDA).
    picked = -ember._C.nll_gather(logp, cdim, safe_t.unsqueeze(cdim)).squeeze(cdim)
    # An ignored row contributes 0 even when its logits are NaN/inf (0 * nan would be nan).
    picked = picked.masked_fill(ignore, 0.0)
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


def _check_class_weight(weight, n_classes):
    if weight.dim() != 1 or int(weight.shape[0]) != n_classes:
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no "
            f"classes but got weight tensor of shape: {_fmt(weight)}"
        )


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
) -> "ember.Tensor":
    reduction = _legacy_reduction(size_average, reduce, reduction)
    cdim = _check_nll_shapes(input, target)
    if target.is_floating_point():
        raise RuntimeError(
            f"expected scalar type Long but found {str(target.dtype).replace('torch.', '')}"
        )
    if weight is not None:  # a longer weight would index fine and be silently wrong
        _check_class_weight(weight, int(input.shape[cdim]))
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
) -> "ember.Tensor":
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    cdim = 1 if input.dim() >= 2 else 0
    n_classes = int(input.shape[cdim]) if input.dim() > 0 else 0
    if not target.is_floating_point():
        _check_nll_shapes(input, target)  # PyTorch reports the batch sizes before the weight
    logp = input.log_softmax(cdim)
    w_b = None
    if weight is not None:
        _check_class_weight(weight, n_classes)
        shp = [1] * input.dim()
        shp[cdim] = n_classes
        w_b = weight.reshape(shp)

    if target.is_floating_point():
        # class probabilities
        if ignore_index != -100:
            raise RuntimeError("ignore_index is not supported for floating point target")
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


def _xlogy_forward(t):
    pos = t > 0
    safe = ember.where(pos, t, ember.ones_like(t))
    return ember.where(pos, t * safe.log(), t * 0)


if _Function is not None:

    class _XLogYSelf(_Function):
        """xlogy(t, t) with PyTorch's xlogy gradients summed over both arguments:
        xlogy(t != 0, t) + t / t, i.e. log(t) + 1, and nan at t == 0 (0/0)."""

        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return _xlogy_forward(t)

        @staticmethod
        def backward(ctx, grad):
            (t,) = ctx.saved_tensors
            return grad * (ember.where(t != 0, t.log(), t * 0) + t / t)

    _xlogy_fn = _XLogYSelf.apply
else:  # pragma: no cover
    _xlogy_fn = _xlogy_forward


def _xlogy_self(t):
    """xlogy(t, t): t * log(t) with 0 where t == 0 (PyTorch's kl_div uses xlogy)."""
    xlogy = getattr(ember, "xlogy", None)
    if xlogy is not None:
        try:
            return xlogy(t, t)
        except AttributeError:  # the core exposes ember.xlogy without its Tensor method
            pass
    return _xlogy_fn(t)


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
    if reduction not in ("none", "mean", "sum"):  # PyTorch checks it before the shapes here
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if ember.is_grad_enabled() and getattr(target, "requires_grad", False):
        # PyTorch has no derivative for the target here and refuses it up front.
        raise RuntimeError(
            "The function 'soft_margin_loss' is not differentiable with respect to argument "
            "'target'. This input cannot have requires_grad True."
        )
    return _reduce(softplus(-target * input), reduction)


def margin_ranking_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not input1.dim() == input2.dim() == target.dim():
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {_fmt(input1)}, input2: {_fmt(input2)}, target: {_fmt(target)} "
        )
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


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    from .attention import pairwise_distance

    reduction = _legacy_reduction(size_average, reduce, reduction)
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_pn = pairwise_distance(positive, negative, p, eps)
        d_an = ember.minimum(d_an, d_pn)
    return _reduce((d_ap - d_an + margin).clamp(min=0), reduction)


def multilabel_soft_margin_loss(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(input.dim() - 1) / int(input.shape[-1])
    return _reduce(loss, reduction)


def poisson_nll_loss(
    input,
    target,
    log_input=True,
    full=False,
    size_average=None,
    eps=1e-8,
    reduce=None,
    reduction="mean",
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = target > 1
        safe = ember.where(big, target, ember.ones_like(target))
        stirling = safe * safe.log() - safe + 0.5 * (safe * (2 * math.pi)).log()
        loss = loss + ember.where(big, stirling, stirling * 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    in_shape, var_shape = _shape(input), _shape(var)
    if var_shape != in_shape:
        if in_shape[:-1] == var_shape:
            var = var.unsqueeze(-1)
        elif not (in_shape[:-1] == var_shape[:-1] and var_shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if bool((var < 0).any().item()):
        raise ValueError("var has negative entry/entries")
    # PyTorch clamps var under no_grad: the clamp changes values, not gradients
    var = var + (var.clamp(min=eps) - var).detach()
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def multi_margin_loss(
    input,
    target,
    p=1,
    margin=1.0,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input if input.dim() == 2 else input.unsqueeze(0)
    t = target.reshape(-1)
    n_classes = int(x.shape[1])
    x_y = x.gather(1, t.unsqueeze(1))
    m = (x - x_y + margin).clamp(min=0)
    if p == 2:
        m = m * m
    if weight is not None:
        m = m * weight.index_select(0, t).unsqueeze(1)
    not_target = ember.arange(n_classes, device=x.device).unsqueeze(0) != t.unsqueeze(1)
    loss = (m * not_target.to(m.dtype)).sum(1) / n_classes
    if input.dim() == 1:
        loss = loss.squeeze(0)
    return _reduce(loss, reduction)
