"""embedding_bag of ember.nn.functional: embedding lookups reduced per bag, composed of
index_select, index_add and scatter_reduce (so the weight gets its gradient from autograd).
"""

import ember

from ._utils import _fmt
from .linear import embedding

__all__ = ["embedding_bag"]


def _bag_ids(name, input, offsets, include_last_offset):
    """Flat indices, the bag of each, and the number of bags."""
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                f"{name}: if input is 2D, then offsets has to be None, as input is treated as a "
                "mini-batch of fixed length sequences. However, found offsets of type Tensor"
            )
        b, n = (int(s) for s in input.shape)
        bags = ember.arange(b, device=input.device).repeat_interleave(n)
        return input.reshape(-1), bags, b
    if input.dim() != 1:
        raise ValueError(f"{name}: input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")  # fmt: skip
    if offsets is None:
        raise ValueError(f"{name}: offsets has to be a 1D Tensor but got None")
    if offsets.dim() != 1:
        raise ValueError(f"{name}: offsets has to be a 1D Tensor, got shape {_fmt(offsets)}")
    offsets = offsets.to(ember.int64)
    nb = int(offsets.shape[0]) - (1 if include_last_offset else 0)
    n = int(input.shape[0])
    if nb > 0 and int(offsets[0].item()) != 0:
        raise RuntimeError(
            f"{name}: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has "
            f"to start from position 0. However, got {int(offsets[0].item())}"
        )
    # With include_last_offset the last offset is meant to equal len(input); like PyTorch's
    # CPU kernel, the last bag runs to the end of input whatever its value.
    positions = ember.arange(n, device=input.device)
    starts = offsets[:nb].to(input.device)
    # .to(): ember's searchsorted returns a CPU tensor for GPU inputs (reported as a bug).
    bags = ember.searchsorted(starts, positions, right=True).to(input.device) - 1
    return input[:n], bags, nb


def embedding_bag(
    input,
    weight,
    offsets=None,
    max_norm=None,
    norm_type=2,
    scale_grad_by_freq=False,
    mode="mean",
    sparse=False,
    per_sample_weights=None,
    include_last_offset=False,
    padding_idx=None,
):
    """Sums, averages or takes the max of the embeddings of each bag (PyTorch's semantics)."""
    name = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{name}: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                f"{name}: embedding_bag: per_sample_weights was not None. per_sample_weights is "
                f"only supported for mode='sum' (got mode='{mode}'). Please open a feature "
                "request on GitHub."
            )
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(
                f"{name}: embedding_bag: If per_sample_weights ({_fmt(per_sample_weights)}) is "
                f"not None, then it must have the same shape as the input ({_fmt(input)})"
            )
    num = int(weight.shape[0])
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    flat, bags, nb = _bag_ids(name, input, offsets, include_last_offset)
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)[: flat.shape[0]]
    if padding_idx is not None:
        keep = flat != padding_idx
        flat, bags = flat[keep], bags[keep]
        if psw is not None:
            psw = psw[keep]
    d = int(weight.shape[1])
    rows = embedding(flat, weight, None, max_norm, norm_type)
    if psw is not None:
        rows = rows * psw.unsqueeze(1).to(rows.dtype)
    zeros = ember.zeros(nb, d, dtype=weight.dtype, device=weight.device)
    if mode == "max":
        idx = bags.view(-1, 1).expand(int(bags.shape[0]), d)
        return zeros.scatter_reduce(0, idx, rows, reduce="amax", include_self=False)
    total = zeros.index_add(0, bags, rows)
    if mode == "sum":
        return total
    ones = ember.ones(int(bags.shape[0]), dtype=weight.dtype, device=weight.device)
    counts = ember.zeros(nb, dtype=weight.dtype, device=weight.device).index_add(0, bags, ones)
    return total / counts.clamp(min=1).unsqueeze(1)
