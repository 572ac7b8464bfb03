"""Finite-difference gradient checks (ember.autograd.gradcheck, float64) for every
differentiable op of the foundation issue, with inputs away from non-differentiable points;
gradgradcheck for a set of ops whose backward is itself differentiated."""

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

try:
    import ember.nn.functional as F
except ImportError:  # pragma: no cover - the nn package is built separately
    F = None


def _gen(shape, kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "pos":  # (0.5, 2)
        a = rng.uniform(0.5, 2.0, shape)
    elif kind == "unit":  # |x| < 0.8
        a = rng.uniform(-0.8, 0.8, shape)
    elif kind == "gt1":
        a = rng.uniform(1.2, 3.0, shape)
    elif kind == "away0":  # |x| in (0.2, 2), random sign
        a = rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    elif kind == "distinct":  # a permutation of well-separated values
        a = (rng.permutation(int(np.prod(shape))) * 0.37 - 1.5).reshape(shape)
    else:
        a = rng.standard_normal(shape)
    return a


def spec(shape, kind="normal"):
    return (shape, kind)


# name -> (function, [input specs])
OPS = {
    # ---- unary math
    "neg": (lambda x: -x, [spec((3, 4))]),
    "abs": (lambda x: x.abs(), [spec((3, 4), "away0")]),
    "exp": (lambda x: x.exp(), [spec((3, 4))]),
    "exp2": (lambda x: x.exp2(), [spec((3, 4))]),
    "log": (lambda x: x.log(), [spec((3, 4), "pos")]),
    "log2": (lambda x: x.log2(), [spec((3, 4), "pos")]),
    "log10": (lambda x: x.log10(), [spec((3, 4), "pos")]),
    "log1p": (lambda x: x.log1p(), [spec((3, 4), "pos")]),
    "expm1": (lambda x: x.expm1(), [spec((3, 4))]),
    "sqrt": (lambda x: x.sqrt(), [spec((3, 4), "pos")]),
    "rsqrt": (lambda x: x.rsqrt(), [spec((3, 4), "pos")]),
    "sin": (lambda x: x.sin(), [spec((3, 4))]),
    "cos": (lambda x: x.cos(), [spec((3, 4))]),
    "tan": (lambda x: x.tan(), [spec((3, 4), "unit")]),
    "tanh": (lambda x: x.tanh(), [spec((3, 4))]),
    "sigmoid": (lambda x: x.sigmoid(), [spec((3, 4))]),
    "relu": (lambda x: x.relu(), [spec((3, 4), "away0")]),
    "erf": (lambda x: x.erf(), [spec((3, 4))]),
    "erfc": (lambda x: x.erfc(), [spec((3, 4))]),
    "reciprocal": (lambda x: x.reciprocal(), [spec((3, 4), "away0")]),
    "square": (lambda x: x.square(), [spec((3, 4))]),
    "asin": (lambda x: x.asin(), [spec((3, 4), "unit")]),
    "acos": (lambda x: x.acos(), [spec((3, 4), "unit")]),
    "atan": (lambda x: x.atan(), [spec((3, 4))]),
    "sinh": (lambda x: x.sinh(), [spec((3, 4))]),
    "cosh": (lambda x: x.cosh(), [spec((3, 4))]),
    "asinh": (lambda x: x.asinh(), [spec((3, 4))]),
    "acosh": (lambda x: x.acosh(), [spec((3, 4), "gt1")]),
    "atanh": (lambda x: x.atanh(), [spec((3, 4), "unit")]),
    "floor": (lambda x: x.floor() * x, [spec((3, 4), "away0")]),
    "ceil": (lambda x: x.ceil() * x, [spec((3, 4), "away0")]),
    "round": (lambda x: x.round() * x, [spec((3, 4), "away0")]),
    "trunc": (lambda x: x.trunc() * x, [spec((3, 4), "away0")]),
    "sign": (lambda x: x.sign() * x, [spec((3, 4), "away0")]),
    "frac": (lambda x: x.frac(), [spec((3, 4), "away0")]),
    "nan_to_num": (lambda x: x.nan_to_num(), [spec((3, 4))]),
    "pow_scalar": (lambda x: x**3, [spec((3, 4))]),
    "pow_frac": (lambda x: x**2.5, [spec((3, 4), "pos")]),
    "pow_neg": (lambda x: x**-1.5, [spec((3, 4), "pos")]),
    "rpow": (lambda x: 2.0**x, [spec((3, 4))]),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), [spec((3, 4), "distinct")]),
    "clamp_min": (lambda x: x.clamp(min=0.1), [spec((3, 4), "distinct")]),
    "clamp_tensor": (
        lambda x, lo, hi: x.clamp(lo, hi),
        [spec((3, 4)), spec((3, 4), "distinct"), spec((4,), "distinct")],
    ),
    # ---- binary
    "add": (lambda a, b: a + b, [spec((3, 4)), spec((3, 4))]),
    "add_bcast": (lambda a, b: a + b, [spec((3, 1)), spec((4,))]),
    "add_alpha": (lambda a, b: ember.add(a, b, alpha=2.5), [spec((3, 4)), spec((4,))]),
    "sub": (lambda a, b: a - b, [spec((2, 3, 4)), spec((3, 1))]),
    "rsub": (lambda a: 1.5 - a, [spec((3, 4))]),
    "mul": (lambda a, b: a * b, [spec((3, 4)), spec((1, 4))]),
    "div": (lambda a, b: a / b, [spec((3, 4)), spec((3, 4), "away0")]),
    "rdiv": (lambda a: 2.0 / a, [spec((3, 4), "away0")]),
    "pow_tensor": (lambda a, b: a**b, [spec((3, 4), "pos"), spec((3, 4))]),
    "atan2": (lambda a, b: ember.atan2(a, b), [spec((3, 4)), spec((3, 4), "away0")]),
    "maximum": (lambda a, b: ember.maximum(a, b), [spec((3, 4), "distinct"), spec((3, 4))]),
    "minimum": (lambda a, b: ember.minimum(a, b), [spec((3, 4), "distinct"), spec((3, 4))]),
    "fmod": (lambda a: ember.fmod(a, 0.7), [spec((3, 4), "distinct")]),
    "remainder": (lambda a: ember.remainder(a, 0.7), [spec((3, 4), "distinct")]),
    "lerp": (lambda a, b, w: ember.lerp(a, b, w), [spec((3, 4)), spec((3, 4)), spec((3, 4))]),
    "addcmul": (
        lambda a, b, c: ember.addcmul(a, b, c, value=0.5),
        [spec((3, 4)), spec((3, 4)), spec((4,))],
    ),
    "addcdiv": (
        lambda a, b, c: ember.addcdiv(a, b, c, value=2.0),
        [spec((3, 4)), spec((3, 4)), spec((3, 4), "away0")],
    ),
    "where": (lambda a, b: ember.where(a > 0, a, b), [spec((3, 4), "away0"), spec((4,))]),
    "masked_fill": (lambda a: a.masked_fill(a > 0.3, 2.0), [spec((3, 4), "distinct")]),
    # ---- reductions
    "sum": (lambda x: x.sum(), [spec((3, 4))]),
    "sum_dim": (lambda x: x.sum((0, 2), keepdim=True), [spec((2, 3, 4))]),
    "mean": (lambda x: x.mean(), [spec((3, 4))]),
    "mean_dim": (lambda x: x.mean(-1), [spec((2, 3, 4))]),
    "prod": (lambda x: x.prod(), [spec((2, 3), "away0")]),
    "prod_dim": (lambda x: x.prod(1), [spec((3, 4), "away0")]),
    "amax": (lambda x: x.amax(1), [spec((3, 4), "distinct")]),
    "amin": (lambda x: x.amin((0, 1)), [spec((3, 4), "distinct")]),
    "max_all": (lambda x: x.max(), [spec((3, 4), "distinct")]),
    "max_dim": (lambda x: x.max(0).values, [spec((3, 4), "distinct")]),
    "min_dim": (lambda x: x.min(1, keepdim=True).values, [spec((3, 4), "distinct")]),
    "var": (lambda x: x.var(), [spec((3, 4))]),
    "var_dim": (lambda x: x.var(1, correction=0), [spec((3, 4))]),
    "std": (lambda x: x.std(), [spec((3, 4))]),
    "std_dim": (lambda x: x.std(0, keepdim=True), [spec((3, 4))]),
    "std_mean": (lambda x: ember.std_mean(x, 1), [spec((3, 4))]),
    "logsumexp": (lambda x: x.logsumexp(1), [spec((3, 4))]),
    "logsumexp_dims": (lambda x: x.logsumexp((0, 1)), [spec((3, 4))]),
    "norm2": (lambda x: x.norm(), [spec((3, 4))]),
    "norm1": (lambda x: x.norm(p=1), [spec((3, 4), "away0")]),
    "norm3_dim": (lambda x: x.norm(p=3, dim=1), [spec((3, 4), "away0")]),
    "norm_inf": (lambda x: x.norm(p=float("inf")), [spec((3, 4), "distinct")]),
    "softmax": (lambda x: x.softmax(1), [spec((3, 4))]),
    "softmax0": (lambda x: x.softmax(0), [spec((3, 4))]),
    "log_softmax": (lambda x: x.log_softmax(1), [spec((3, 4))]),
    "cumsum": (lambda x: x.cumsum(1), [spec((3, 4))]),
    "cumsum0": (lambda x: x.cumsum(0), [spec((3, 4))]),
    "cumprod": (lambda x: x.cumprod(1), [spec((3, 4), "away0")]),
    "cumprod_zero": (
        lambda x: (x * ember.tensor([1.0, 0.0, 1.0, 1.0], dtype=ember.float64)).cumprod(0),
        [spec((4,), "away0")],
    ),
    # ---- linear algebra
    "matmul_1d_1d": (lambda a, b: a @ b, [spec((4,)), spec((4,))]),
    "matmul_2d_1d": (lambda a, b: a @ b, [spec((3, 4)), spec((4,))]),
    "matmul_1d_2d": (lambda a, b: a @ b, [spec((3,)), spec((3, 4))]),
    "matmul_2d_2d": (lambda a, b: a @ b, [spec((3, 4)), spec((4, 2))]),
    "matmul_3d_2d": (lambda a, b: a @ b, [spec((2, 3, 4)), spec((4, 2))]),
    "matmul_1d_3d": (lambda a, b: a @ b, [spec((3,)), spec((2, 3, 2))]),
    "matmul_bcast": (lambda a, b: a @ b, [spec((2, 1, 2, 3)), spec((3, 3, 2))]),
    "mm": (lambda a, b: ember.mm(a, b), [spec((2, 3)), spec((3, 4))]),
    "bmm": (lambda a, b: ember.bmm(a, b), [spec((2, 2, 3)), spec((2, 3, 2))]),
    "addmm": (
        lambda c, a, b: ember.addmm(c, a, b, beta=0.5, alpha=2.0),
        [spec((4,)), spec((2, 3)), spec((3, 4))],
    ),
    "outer": (lambda a, b: ember.outer(a, b), [spec((3,)), spec((4,))]),
    "dot": (lambda a, b: ember.dot(a, b), [spec((5,)), spec((5,))]),
    "mv": (lambda a, b: ember.mv(a, b), [spec((3, 4)), spec((4,))]),
    # ---- shape / view ops
    "view": (lambda x: x.view(2, 6) * 1, [spec((3, 4))]),
    "reshape_copy": (lambda x: x.t().reshape(12), [spec((3, 4))]),
    "t": (lambda x: x.t(), [spec((3, 4))]),
    "transpose": (lambda x: x.transpose(0, 2), [spec((2, 3, 4))]),
    "permute": (lambda x: x.permute(2, 0, 1), [spec((2, 3, 4))]),
    "expand": (lambda x: x.expand(3, 2, 4), [spec((2, 1))]),
    "squeeze": (lambda x: x.squeeze(1), [spec((3, 1, 2))]),
    "unsqueeze": (lambda x: x.unsqueeze(-1), [spec((3, 2))]),
    "flatten": (lambda x: x.flatten(1), [spec((2, 3, 2))]),
    "unflatten": (lambda x: x.unflatten(1, (2, 2)), [spec((3, 4))]),
    "narrow": (lambda x: x.narrow(1, 1, 2), [spec((3, 4))]),
    "diagonal": (lambda x: x.diagonal(1), [spec((3, 4))]),
    "slice_steps": (lambda x: x[::2, 1::2], [spec((3, 4))]),
    "select": (lambda x: x[1, -1], [spec((3, 4))]),
    "int_index": (lambda x: x[ember.tensor([2, 0, 2])], [spec((3, 4))]),
    "mixed_index": (lambda x: x[:, ember.tensor([1, 3]), 0], [spec((2, 4, 2))]),
    "mask_index": (lambda x: x[x > 0], [spec((3, 4), "away0")]),
    "setitem": (lambda x, v: _setitem(x, v), [spec((3, 4)), spec((4,))]),
    "cat": (lambda a, b: ember.cat([a, b], 1), [spec((2, 3)), spec((2, 2))]),
    "stack": (lambda a, b: ember.stack([a, b], 1), [spec((2, 3)), spec((2, 3))]),
    "split": (lambda x: x.split([1, 3], 1), [spec((2, 4))]),
    "chunk": (lambda x: x.chunk(2, 0), [spec((4, 2))]),
    "unbind": (lambda x: x.unbind(1), [spec((2, 3))]),
    "flip": (lambda x: x.flip((0, 1)), [spec((3, 4))]),
    "roll": (lambda x: x.roll(1, 1), [spec((3, 4))]),
    "repeat": (lambda x: x.repeat(2, 1, 2), [spec((2, 3))]),
    "repeat_interleave": (lambda x: x.repeat_interleave(2, dim=1), [spec((2, 3))]),
    "tril": (lambda x: x.tril(), [spec((3, 4))]),
    "triu": (lambda x: x.triu(1), [spec((3, 4))]),
    "gather": (
        lambda x: x.gather(1, ember.tensor([[0, 3, 3], [1, 1, 2], [2, 0, 0]])),
        [spec((3, 4))],
    ),
    "scatter": (
        lambda x, s: x.scatter(1, ember.tensor([[0, 3], [1, 2], [2, 0]]), s),
        [spec((3, 4)), spec((3, 2))],
    ),
    "scatter_add": (
        lambda x, s: x.scatter_add(0, ember.tensor([[0, 1, 0, 2], [0, 0, 1, 2]]), s),
        [spec((3, 4)), spec((2, 4))],
    ),
    "index_select": (lambda x: x.index_select(1, ember.tensor([3, 0, 3])), [spec((3, 4))]),
    "take_along_dim": (
        lambda x: ember.take_along_dim(x, ember.tensor([[1], [0], [3]]), dim=1),
        [spec((3, 4))],
    ),
    "masked_select": (lambda x: x.masked_select(x > 0), [spec((3, 4), "away0")]),
    "movedim": (lambda x: x.movedim(0, -1), [spec((2, 3, 4))]),
    "contiguous": (lambda x: x.t().contiguous(), [spec((3, 4))]),
    "clone": (lambda x: x.clone(), [spec((3, 4))]),
    "to_float32_and_back": (lambda x: (x * 1).double(), [spec((3, 4))]),
    "sort": (lambda x: ember.sort(x, 1).values, [spec((3, 4), "distinct")]),
    "topk": (lambda x: ember.topk(x, 2).values, [spec((3, 4), "distinct")]),
}

if F is not None:
    OPS.update(
        {
            "gelu": (lambda x: F.gelu(x), [spec((3, 4))]),
            "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [spec((3, 4))]),
            "silu": (lambda x: F.silu(x), [spec((3, 4))]),
            "softplus": (lambda x: F.softplus(x), [spec((3, 4))]),
            "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=3.0), [spec((3, 4))]),
            "hardtanh": (lambda x: F.hardtanh(x), [spec((3, 4), "distinct")]),
            "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), [spec((3, 4), "away0")]),
            "elu": (lambda x: F.elu(x), [spec((3, 4), "away0")]),
        }
    )


def _setitem(x, v):
    y = x * 1
    y[1] = v * 2
    y[0, ::2] = 0.0
    return y


def _make_inputs(specs, seed):
    return tuple(
        ember.tensor(_gen(shape, kind, seed + i), dtype=ember.float64, requires_grad=True)
        for i, (shape, kind) in enumerate(specs)
    )


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradcheck(name):
    fn, specs = OPS[name]
    inputs = _make_inputs(specs, seed=len(name))
    try:
        assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
    except AttributeError as e:
        if name in ("sort", "topk"):
            pytest.skip(f"{name} not implemented in ember yet: {e}")
        raise


def test_gradcheck_detects_a_wrong_gradient():
    class Wrong(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 x g

    x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    assert not gradcheck(Wrong.apply, (x,), raise_exception=False)
    with pytest.raises(RuntimeError):
        gradcheck(Wrong.apply, (x,))


GRADGRAD = [
    "exp", "log", "sqrt", "sin", "tanh", "sigmoid", "pow_scalar", "pow_tensor", "div", "mul",
    "softmax", "log_softmax", "logsumexp", "matmul_2d_2d", "matmul_bcast", "norm2", "var",
    "std", "cumsum", "cumprod", "atan2", "clamp", "maximum", "where", "gather", "mean_dim",
    "prod_dim", "reciprocal", "erf", "abs",
]  # fmt: skip


@pytest.mark.parametrize("name", GRADGRAD)
def test_gradgradcheck(name):
    fn, specs = OPS[name]
    inputs = _make_inputs(specs, seed=7 + len(name))
    assert gradgradcheck(fn, inputs, eps=1e-6, atol=1e-4, rtol=1e-3)
