"""Autocast op lists and the wrapper that applies them (PyTorch's autocast_mode.cpp lists).

Each listed function is replaced, once at import, by a wrapper that reads one
thread-local flag and, while autocast is off, calls the original straight away.
While autocast is on for the device of the op's first tensor, the wrapper casts
the floating inputs (never float64, never tensors on another device):

- "low":  to the autocast dtype (float16/bfloat16): matmuls, linear, conv, attention;
- "fp32": float16/bfloat16 inputs to float32 (ops that need float32's range), unless the
          call passes an explicit dtype (then the op keeps it, as in PyTorch);
- "ban":  raises, as PyTorch does for binary_cross_entropy under CUDA autocast;
- None:   no cast.

and then runs the original with autocast off (PyTorch runs an autocast op with
the autocast dispatch key excluded), so the ops ember composes a function from
are not cast a second time. That is also why ember composites that PyTorch has
as one kernel (gelu, batch_norm, ...) are listed with None: their inner exp/sum/
matmul calls must not change the dtype PyTorch would give.

The lists differ per device type exactly as PyTorch's CPU and CUDA lists do:
on the CPU only matmul-like ops go to bfloat16 and mostly losses go to float32;
on "gpu" (CUDA's list) softmax, norms, reductions, exp/log/pow also run in float32.
Mixed-dtype elementwise ops need no entry: ember's type promotion already gives
the widest input dtype (PyTorch's "promote" list).
"""

import functools

from .. import _dtype
from .._tensor import Tensor
from .autocast_mode import _state

LOW, F32, BAN = "low", "fp32", "ban"
_BOTH_LOW = (LOW, LOW)
_BOTH_F32 = (F32, F32)
_GPU_F32 = (None, F32)
_KEEP = (None, None)

# name -> (policy on "cpu", policy on "gpu")
_MATMUL = {n: _BOTH_LOW for n in "matmul mm bmm addmm baddbmm addbmm".split()}
_MATMUL.update({n: (None, LOW) for n in "mv addmv".split()})  # CUDA-only in PyTorch

_GPU_F32_NAMES = (
    "acos asin cosh erfinv exp expm1 log log10 log1p log2 reciprocal rsqrt sinh tan pow "
    "softmax log_softmax cumprod cumsum sum norm logsumexp renorm dist"
).split()

TENSOR_OPS = dict(_MATMUL)
TENSOR_OPS.update({"__matmul__": _BOTH_LOW, "__rmatmul__": _BOTH_LOW})
TENSOR_OPS.update({n: _GPU_F32 for n in _GPU_F32_NAMES})
TENSOR_OPS.update({n: _GPU_F32 for n in "__pow__ __rpow__ __rtruediv__ __rdiv__".split()})
TENSOR_OPS.update({"prod": _BOTH_F32, "trace": (F32, None)})

TORCH_OPS = dict(_MATMUL)
TORCH_OPS.update({n: _GPU_F32 for n in _GPU_F32_NAMES})
TORCH_OPS.update(
    # einsum: CUDA lists it; on the CPU PyTorch's einsum reaches its (listed) bmm
    {"prod": _BOTH_F32, "trace": (F32, None), "cdist": _BOTH_F32, "einsum": _BOTH_LOW}
)

_LOSSES = (
    "cross_entropy nll_loss mse_loss l1_loss smooth_l1_loss huber_loss "
    "binary_cross_entropy_with_logits kl_div soft_margin_loss margin_ranking_loss "
    "hinge_embedding_loss cosine_embedding_loss triplet_margin_loss poisson_nll_loss "
    "multi_margin_loss multilabel_margin_loss"
).split()

FUNCTIONAL_OPS = {
    n: _BOTH_LOW
    for n in (
        "linear conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d prelu "
        "scaled_dot_product_attention"
    ).split()
}
FUNCTIONAL_OPS.update({n: _BOTH_F32 for n in _LOSSES})
FUNCTIONAL_OPS["binary_cross_entropy"] = (F32, BAN)
FUNCTIONAL_OPS.update(
    {
        n: _GPU_F32
        for n in (
            "softmax log_softmax softmin softplus layer_norm group_norm normalize "
            "cosine_similarity pdist"
        ).split()
    }
)
# One kernel in PyTorch, composed in ember: run them whole, untouched by autocast.
FUNCTIONAL_OPS.update(
    {
        n: _KEEP
        for n in (
            "batch_norm instance_norm rms_norm local_response_norm gelu silu mish elu selu celu "
            "logsigmoid glu hardswish hardsigmoid softsign tanhshrink gaussian_nll_loss "
            "multilabel_soft_margin_loss embedding dropout bilinear"
        ).split()
    }
)

LINALG_OPS = {
    "vector_norm": _GPU_F32,
    "matrix_norm": _GPU_F32,
    "norm": _GPU_F32,
    "vecdot": _BOTH_LOW,
    "multi_dot": _BOTH_LOW,
}

_BCE_MESSAGE = (
    "ember.nn.functional.binary_cross_entropy and ember.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using ember.nn.functional."
    "binary_cross_entropy_with_logits\nor ember.nn.BCEWithLogitsLoss.  "
    "binary_cross_entropy_with_logits and BCEWithLogits are\nsafe to autocast."
)
_LOW_FROM = (_dtype.float32, _dtype.float16, _dtype.bfloat16)
_HALF = (_dtype.float16, _dtype.bfloat16)


def _first_device(args, kwargs):
    for a in args:
        if isinstance(a, Tensor):
            return a._device
        if isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, Tensor):
                    return b._device
    for a in kwargs.values():
        if isinstance(a, Tensor):
            return a._device
    return None


def _to_low(t, dev, dtype):
    if not isinstance(t, Tensor) or t._device != dev:
        return t
    src = t.dtype
    if src == dtype or src not in _LOW_FROM:
        return t
    cacheable = (
        _state.cache_enabled
        and src == _dtype.float32
        and t.requires_grad
        and t.is_leaf
        and _C_grad_enabled()
    )
    if cacheable:
        # The version check drops a cast made before an in-place update (an optimizer step
        # inside one long autocast region), where PyTorch's cache would hand back stale values.
        hit = _state.cache.get(id(t))
        if hit is not None and hit[0] is t and hit[1].dtype == dtype and hit[2] == t._version:
            return hit[1]
        out = t.to(dtype)
        _state.cache[id(t)] = (t, out, t._version)
        return out
    return t.to(dtype)


def _to_f32(t, dev, _dtype_unused=None):
    if isinstance(t, Tensor) and t._device == dev and t.dtype in _HALF:
        return t.to(_dtype.float32)
    return t


def _C_grad_enabled():
    from .. import _C

    return _C.is_grad_enabled()


def _has_explicit_dtype(args, kwargs):
    if kwargs.get("dtype") is not None:
        return True
    return any(isinstance(a, _dtype.dtype) for a in args)


def _cast_seq(cast, seq, dev, dtype):
    # Only sequences that hold tensors (cat/einsum operands) are rebuilt; shapes such as a
    # normalized_shape Size pass through as they are.
    if not any(isinstance(b, Tensor) for b in seq):
        return seq
    out = [cast(b, dev, dtype) for b in seq]
    return out if isinstance(seq, list) else tuple(out)


def _cast_all(cast, args, kwargs, dev, dtype):
    args = tuple(
        _cast_seq(cast, a, dev, dtype) if isinstance(a, (list, tuple)) else cast(a, dev, dtype)
        for a in args
    )
    kwargs = {k: cast(v, dev, dtype) for k, v in kwargs.items()}
    return args, kwargs


def _autocast_call(fn, name, policies, args, kwargs):
    dev = _first_device(args, kwargs)
    if dev is None or not _state.enabled.get(dev, False):
        return fn(*args, **kwargs)
    policy = policies[0] if dev == "cpu" else policies[1]
    if policy == BAN:
        raise RuntimeError(_BCE_MESSAGE)
    if policy == LOW:
        args, kwargs = _cast_all(_to_low, args, kwargs, dev, _state.dtype[dev])
    elif policy == F32 and not _has_explicit_dtype(args, kwargs):
        args, kwargs = _cast_all(_to_f32, args, kwargs, dev, None)
    _state.active = False
    try:
        return fn(*args, **kwargs)
    finally:
        _state.active = True


# True while any thread has autocast on: the off path of every wrapped op is this one global
# read (the thread's own flag, a slower thread-local read, is checked only when it is True).
_ANY_THREAD_ON = False


def _wrap(fn, name, policies):
    if getattr(fn, "_ember_autocast", False):
        return fn
    if name.startswith("__"):
        # binary operators: a fixed signature avoids packing *args/**kwargs on every `a @ b`

        def autocast_wrapper(a, b):
            if _ANY_THREAD_ON and _state.active:
                return _autocast_call(fn, name, policies, (a, b), {})
            return fn(a, b)

    else:

        def autocast_wrapper(*args, **kwargs):
            if _ANY_THREAD_ON and _state.active:
                return _autocast_call(fn, name, policies, args, kwargs)
            return fn(*args, **kwargs)

    functools.update_wrapper(autocast_wrapper, fn)
    autocast_wrapper._ember_autocast = True
    return autocast_wrapper


def _patch(owner, table):
    for name, policies in table.items():
        fn = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if fn is None:
            continue
        setattr(owner, name, _wrap(fn, name, policies))


def install():
    """Wrap the listed ops of Tensor, ember, ember.nn.functional and ember.linalg (once)."""
    import ember
    from ember import _ops, linalg
    from ember.nn import functional

    _patch(Tensor, TENSOR_OPS)
    _patch(ember, TORCH_OPS)
    # ember.* functions are imported from _ops; keep _ops' names (used inside ember) in step.
    for name in TORCH_OPS:
        if name in _ops.__dict__ and name in ember.__dict__:
            setattr(_ops, name, ember.__dict__[name])
    _patch(functional, FUNCTIONAL_OPS)
    _patch(linalg, LINALG_OPS)
