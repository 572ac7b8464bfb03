"""Distances and scaled_dot_product_attention of ember.nn.functional."""

import math

import ember

from .linear import dropout

__all__ = [
    "cosine_similarity",
    "pairwise_distance",
    "scaled_dot_product_attention",
]


def _broadcast_pair(x1, x2):
    a, b = list(x1.shape), list(x2.shape)
    n = max(len(a), len(b))
    a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
    for i, (p, q) in enumerate(zip(a, b)):
        if p != q and p != 1 and q != 1:
            raise RuntimeError(
                f"The size of tensor a ({p}) must match the size of tensor b ({q}) at "
                f"non-singleton dimension {i}"
            )
    shape = [q if p == 1 else p for p, q in zip(a, b)]
    return x1.expand(*shape), x2.expand(*shape)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    # PyTorch broadcasts first: a norm over a broadcast dimension counts every copy.
    x1, x2 = _broadcast_pair(x1, x2)
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
) -> "ember.Tensor":
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
    if attn_mask is not None or is_causal:
        # PyTorch's safe softmax: a query whose keys are all masked attends to nothing
        # (zeros, zero gradient) instead of NaN. The dead rows are zeroed before the softmax
        # too, so its backward sees finite values there.
        dead = (scores == float("-inf")).all(-1, keepdim=True)
        attn = scores.masked_fill(dead, 0.0).softmax(-1).masked_fill(dead, 0.0)
    else:
        attn = scores.softmax(-1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return attn.matmul(value)
