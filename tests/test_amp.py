"""ember.autocast and ember.amp.GradScaler: op lists, state, loss scaling, mixed-precision training.

Expected dtypes come from PyTorch 2.15 run by hand (CPU autocast, and the CUDA
op lists of PyTorch's amp docs for "gpu"); the GradScaler sequence and weights
were computed by hand with PyTorch and pasted as constants (see each test).
"""

import importlib.util
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

LOW = {"cpu": ember.bfloat16, "gpu": ember.float16}


def _x(device, *shape, seed=0):
    g = np.random.default_rng(seed)
    return ember.tensor(g.standard_normal(shape).astype(np.float32), device=device)


# ------------------------------------------------------------------ op lists


def test_low_precision_ops(device):
    x, w = _x(device, 4, 8), _x(device, 8, 8, seed=1)
    b3 = _x(device, 2, 4, 8)
    img, k = _x(device, 2, 3, 6, 6), _x(device, 4, 3, 3, 3)
    with ember.autocast(device):
        low = LOW[device]
        assert (x @ w).dtype == low
        assert x.matmul(w).dtype == low
        assert ember.matmul(x, w).dtype == low
        assert ember.mm(x, w).dtype == low
        assert x.mm(w).dtype == low
        assert ember.bmm(b3, b3.transpose(1, 2)).dtype == low
        assert ember.addmm(x, x, w).dtype == low
        assert (
            ember.baddbmm(ember.zeros(2, 4, 4, device=device), b3, b3.transpose(1, 2)).dtype == low
        )
        assert F.linear(x, w).dtype == low
        assert ember.einsum("ij,jk->ik", x, w).dtype == low
        assert ember.tensordot(x, w, 1).dtype == low
        assert ember.linalg.vecdot(x, x).dtype == low
        assert ember.dot(x[0], x[0]).dtype == ember.float32  # not on PyTorch's lists
        assert nn.Linear(8, 3).to(device)(x).dtype == low
        assert F.conv2d(img, k).dtype == low
        assert nn.Conv1d(3, 2, 3).to(device)(img[:, :, 0]).dtype == low
        assert F.conv_transpose2d(img, k.transpose(0, 1)).dtype == low
        assert F.scaled_dot_product_attention(b3, b3, b3).dtype == low
        mha = nn.MultiheadAttention(8, 2, batch_first=True).to(device)
        assert mha(b3, b3, b3)[0].dtype == low
    # the values are the float32 product rounded to the low dtype, within its precision
    with ember.autocast(device):
        y = (x @ w).float().cpu().numpy()
    ref = x.cpu().numpy() @ w.cpu().numpy()
    tol = 2e-2 if device == "cpu" else 4e-3  # bfloat16 keeps 8 bits, float16 11
    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol * np.abs(ref).max())


def test_float32_ops(device):
    x = _x(device, 4, 8)
    t = ember.tensor([0, 1, 2, 3], device=device)
    with ember.autocast(device):
        y = x @ x.t()  # low precision, as PyTorch
        # losses: float32 on both devices (PyTorch's CPU and CUDA lists)
        assert F.cross_entropy(y, t).dtype == ember.float32
        assert nn.CrossEntropyLoss()(y, t).dtype == ember.float32
        assert F.nll_loss(F.log_softmax(y.float(), -1), t).dtype == ember.float32
        assert F.mse_loss(y, y).dtype == ember.float32
        assert F.binary_cross_entropy_with_logits(y, y.sigmoid()).dtype == ember.float32
        assert y.prod().dtype == ember.float32
        if device == "gpu":
            # CUDA's float32 list: softmax, norms, reductions, exp/log/pow
            for r in (
                y.softmax(-1),
                ember.softmax(y, -1),
                F.softmax(y, dim=-1),
                F.log_softmax(y, dim=-1),
                y.sum(),
                y.cumsum(0),
                y.exp(),
                y.log(),
                y.pow(2),
                y**2,
                1 / y,
                y.norm(),
                F.layer_norm(y, (4,)),
            ):
                assert r.dtype == ember.float32
            assert F.softmax(y, -1).sum(-1).cpu().numpy() == pytest.approx(np.ones(4), abs=1e-5)
            # an explicit dtype= is kept (PyTorch: such calls are not autocast)
            assert y.sum(dtype=ember.float16).dtype == ember.float16
        else:
            # PyTorch's CPU list keeps these in bfloat16 (checked with PyTorch 2.15)
            for r in (y.softmax(-1), F.layer_norm(y, (4,)), y.sum(), y.exp(), y.cumsum(0)):
                assert r.dtype == ember.bfloat16
        # mixed dtypes promote to the widest; relu keeps its input dtype
        assert (y + x[:, :4]).dtype == ember.float32
        assert F.relu(y).dtype == LOW[device]


def test_float64_and_other_devices_untouched(device):
    x = _x(device, 3, 3)
    other = "gpu" if device == "cpu" else "cpu"
    with ember.autocast(other):
        # autocast on another device type leaves this device's ops alone
        if ember.gpu.is_available() or other == "cpu":
            assert (x @ x).dtype == ember.float32
    if device == "cpu":
        with ember.autocast("cpu"):
            xd = x.double()
            assert (xd @ xd).dtype == ember.float64


def test_gradients_reach_float32_params(device):
    lin = nn.Linear(8, 4).to(device)
    x = _x(device, 5, 8)
    with ember.autocast(device):
        out = lin(x)
        assert out.dtype == LOW[device]
        loss = F.mse_loss(out, ember.zeros(5, 4, device=device))
    loss.backward()
    assert lin.weight.grad.dtype == ember.float32 and lin.bias.grad.dtype == ember.float32
    # dL/dW = 2/N (W x + b)^T x: compare with float32 math (loose: the forward ran in low precision)
    W, b, xn = (t.detach().cpu().numpy() for t in (lin.weight, lin.bias, x))
    ref = 2.0 / 20 * (xn @ W.T + b).T @ xn
    np.testing.assert_allclose(lin.weight.grad.cpu().numpy(), ref, rtol=3e-2, atol=3e-3)


def test_cast_cache_reuses_weight_cast(device):
    w = nn.Parameter(_x(device, 4, 4))
    x = _x(device, 2, 4, seed=3)
    with ember.autocast(device):
        a = F.linear(x, w)
        b = F.linear(x * 2, w)
        (a.float().sum() + b.float().sum()).backward()
        state = ember.amp.autocast_mode._state
        assert len(state.cache) == 1  # the weight was cast once for both uses
    assert len(ember.amp.autocast_mode._state.cache) == 0  # dropped on leaving the region
    # d/dW of sum(x W^T) + sum(2x W^T) = 3 * column sums of x, per output row
    expect = np.tile(3 * x.cpu().numpy().sum(0), (4, 1))
    np.testing.assert_allclose(w.grad.cpu().numpy(), expect, rtol=2e-2, atol=1e-2)


def test_bce_banned_on_gpu_only(device):
    p = ember.tensor([0.2, 0.7], device=device)
    with ember.autocast(device):
        if device == "gpu":
            with pytest.raises(RuntimeError, match="unsafe to autocast"):
                F.binary_cross_entropy(p, p)
        else:
            r = F.binary_cross_entropy(p.to(ember.bfloat16), p)
            assert r.dtype == ember.float32
            expect = -np.mean(
                [0.2 * np.log(0.2) + 0.8 * np.log(0.8)] + [0.7 * np.log(0.7) + 0.3 * np.log(0.3)]
            )
            assert r.item() == pytest.approx(expect, rel=2e-2)


# ------------------------------------------------------------------ state


def test_state_nesting_decorator_threads(device):
    assert ember.get_autocast_dtype("cpu") == ember.bfloat16
    assert ember.get_autocast_dtype("cuda") == ember.float16
    assert ember.get_autocast_dtype("gpu") == ember.float16
    assert not ember.is_autocast_enabled(device)
    x = _x(device, 2, 2)
    with ember.autocast(device, dtype=ember.float16):
        assert ember.is_autocast_enabled(device)
        assert ember.get_autocast_dtype(device) == ember.float16
        assert (x @ x).dtype == ember.float16
        with ember.autocast(device, enabled=False):
            assert not ember.is_autocast_enabled(device)
            assert (x @ x).dtype == ember.float32
        assert ember.is_autocast_enabled(device)
        seen = []
        th = threading.Thread(
            target=lambda: seen.append((ember.is_autocast_enabled(device), (x @ x).dtype))
        )
        th.start()
        th.join()
        assert seen == [(False, ember.float32)]  # autocast state is per thread
    assert not ember.is_autocast_enabled(device)
    assert ember.get_autocast_dtype(device) == LOW[device]
    # with no thread in an autocast region the wrapped ops take the one-global-read path
    assert ember.amp._policy._ANY_THREAD_ON is False

    @ember.autocast(device)
    def f(a):
        return a @ a

    assert f(x).dtype == LOW[device]
    assert (x @ x).dtype == ember.float32

    ember.set_autocast_enabled(device, True)
    try:
        assert ember.is_autocast_enabled(device) and (x @ x).dtype == LOW[device]
    finally:
        ember.set_autocast_enabled(device, False)
    assert (x @ x).dtype == ember.float32


def test_aliases_and_errors():
    with ember.amp.autocast("cpu"):
        assert ember.is_autocast_enabled("cpu") and not ember.is_autocast_enabled()
    with pytest.warns(FutureWarning, match="ember.amp.autocast"):
        a = ember.cpu.amp.autocast()
    with a:
        assert ember.get_autocast_dtype("cpu") == ember.bfloat16 and ember.is_autocast_enabled(
            "cpu"
        )
    with pytest.warns(FutureWarning):
        assert ember.cuda.amp.autocast(enabled=False).fast_dtype == ember.float16
    import ember.cuda.amp as cuda_amp  # noqa: F401 - the import path PyTorch scripts use

    assert cuda_amp.GradScaler is ember.cuda.amp.GradScaler
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        ember.autocast("tpu")
    with pytest.warns(UserWarning, match="CPU Autocast only supports"):
        a = ember.autocast("cpu", dtype=ember.float64)
    with a:
        assert not ember.is_autocast_enabled("cpu")
    assert ember.amp.is_autocast_available("cuda") and not ember.amp.is_autocast_available("tpu")


# ------------------------------------------------------------------ GradScaler

# PyTorch 2.15 (torch.amp.GradScaler("cpu"), by hand with /tmp/tv) on the same model, data and
# sequence: init_scale 1024, growth_interval 2, loss made inf at steps 2 and 5.
TORCH_SCALES = [1024.0, 2048.0, 1024.0, 1024.0, 2048.0, 1024.0, 1024.0]
TORCH_TRACKERS = [1, 0, 0, 1, 0, 0, 1]
TORCH_WEIGHT = [
    [-0.04577565938234329, -0.24388030171394348, 0.3580150604248047],
    [0.07808414846658707, 0.43581685423851013, -0.4064505398273468],
]
TORCH_BIAS = [0.10236116498708725, 0.09180296212434769]


def test_grad_scaler_overflow_sequence_matches_torch(device):
    lin = nn.Linear(3, 2).to(device)
    with ember.no_grad():
        lin.weight.copy_(ember.tensor([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], device=device))
        lin.bias.copy_(ember.tensor([0.05, -0.05], device=device))
    opt = ember.optim.SGD(lin.parameters(), lr=0.1)
    sc = ember.amp.GradScaler(device, init_scale=1024.0, growth_interval=2)
    x = ember.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], device=device)
    y = ember.tensor([[0.5, -0.5], [1.0, 0.0]], device=device)
    scales, trackers = [], []
    for step in range(7):
        opt.zero_grad()
        loss = ((lin(x) - y) ** 2).mean()
        if step in (2, 5):
            loss = loss * float("inf")
        before = lin.weight.detach().clone()
        sc.scale(loss).backward()
        sc.step(opt)
        if step in (2, 5):  # the overflowing step was skipped
            np.testing.assert_array_equal(lin.weight.detach().cpu().numpy(), before.cpu().numpy())
        sc.update()
        scales.append(sc.get_scale())
        trackers.append(sc._get_growth_tracker())
    assert scales == TORCH_SCALES
    assert trackers == TORCH_TRACKERS
    np.testing.assert_allclose(
        lin.weight.detach().cpu().numpy(), TORCH_WEIGHT, rtol=1e-6, atol=1e-7
    )
    np.testing.assert_allclose(lin.bias.detach().cpu().numpy(), TORCH_BIAS, rtol=1e-6, atol=1e-7)
    assert sc.state_dict() == {
        "scale": 1024.0,
        "growth_factor": 2.0,
        "backoff_factor": 0.5,
        "growth_interval": 2,
        "_growth_tracker": 1,
    }


def test_grad_scaler_api(device):
    p = nn.Parameter(ember.tensor([1.0, -2.0], device=device))
    opt = ember.optim.SGD([p], lr=1.0)
    sc = ember.amp.GradScaler(device, init_scale=8.0, growth_factor=4.0, backoff_factor=0.25)
    assert sc.is_enabled() and sc.get_scale() == 8.0
    assert (sc.get_growth_factor(), sc.get_backoff_factor(), sc.get_growth_interval()) == (
        4.0,
        0.25,
        2000,
    )
    with pytest.raises(AssertionError, match="Attempted unscale_ but _scale is None"):
        sc.unscale_(opt)
    # nested lists/tuples are scaled element by element, keeping their types
    a, (b,) = sc.scale([p * 1.0, (p * 2.0,)])
    np.testing.assert_allclose(a.detach().cpu().numpy(), [8.0, -16.0])
    np.testing.assert_allclose(b.detach().cpu().numpy(), [16.0, -32.0])
    with pytest.raises(ValueError, match="iterable of Tensors"):
        sc.scale(3)
    sc.scale((p * p).sum()).backward()
    sc.unscale_(opt)
    np.testing.assert_allclose(p.grad.cpu().numpy(), [2.0, -4.0])  # d(p^2)/dp, unscaled
    with pytest.raises(RuntimeError, match="already been called on this optimizer"):
        sc.unscale_(opt)
    sc.step(opt)
    np.testing.assert_allclose(p.detach().cpu().numpy(), [-1.0, 2.0])
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        sc.step(opt)
    sc.update(new_scale=2.0)
    assert sc.get_scale() == 2.0
    sc.update(new_scale=ember.tensor([32.0], device=device))
    assert sc.get_scale() == 32.0
    # round trip through state_dict
    sc2 = ember.amp.GradScaler(device)
    sc2.load_state_dict(sc.state_dict())
    assert sc2.state_dict() == sc.state_dict()
    assert sc2.get_scale() == 32.0 and sc2.get_growth_factor() == 4.0


def test_grad_scaler_disabled_is_passthrough():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    opt = ember.optim.SGD([p], lr=0.5)
    sc = ember.amp.GradScaler("cpu", enabled=False)
    loss = (p * p).sum()
    assert sc.scale(loss) is loss
    loss.backward()
    sc.unscale_(opt)
    sc.step(opt)
    sc.update()
    np.testing.assert_allclose(p.detach().numpy(), [0.0, 0.0])  # p - 0.5 * 2p
    assert sc.get_scale() == 1.0 and sc.state_dict() == {} and not sc.is_enabled()
    with pytest.raises(RuntimeError, match="state dict is empty"):
        ember.amp.GradScaler("cpu").load_state_dict({})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not ember.cuda.is_available():
            # as PyTorch without CUDA: a "cuda" scaler turns itself off
            assert not ember.cuda.amp.GradScaler().is_enabled()


# ------------------------------------------------------------------ training


def _train(model, device, xs, ys, amp, steps=50, lr=0.05):
    opt = ember.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    sc = ember.amp.GradScaler(device, init_scale=2.0**10, enabled=amp)
    losses = []
    for i in range(steps):
        j = i % len(xs)
        opt.zero_grad()
        with ember.autocast(device, enabled=amp):
            out = model(xs[j])
            loss = F.cross_entropy(out, ys[j])
        assert loss.dtype == ember.float32
        sc.scale(loss).backward()
        sc.step(opt)
        sc.update()
        losses.append(loss.item())
    return losses


def _compare_training(make_model, device, xs, ys, lr):
    # The float32 reference trains on the CPU: its loss curve does not depend on the device
    # (and float32 conv backward on llvmpipe is ~30x slower than float16, too slow for CI).
    ember.manual_seed(0)
    ref = make_model()
    mixed = make_model()
    mixed.load_state_dict(ref.state_dict())
    mixed = mixed.to(device)
    for p in mixed.parameters():
        assert p.dtype == ember.float32
    l32 = _train(ref, "cpu", [x.cpu() for x in xs], [y.cpu() for y in ys], amp=False, lr=lr)
    lmp = _train(mixed, device, xs, ys, amp=True, lr=lr)
    assert l32[-1] < 0.5 * l32[0]  # it did learn
    for p in mixed.parameters():  # the master weights and their grads stay float32
        assert p.dtype == ember.float32 and p.grad.dtype == ember.float32
    end32, endmp = np.mean(l32[-5:]), np.mean(lmp[-5:])
    assert abs(endmp - end32) <= 0.05 * end32, (end32, endmp)  # within 5%


def test_mlp_trains_like_float32(device):
    g = np.random.default_rng(0)
    centers = g.standard_normal((4, 16)).astype(np.float32) * 0.5  # overlapping classes
    xs, ys = [], []
    for _ in range(5):
        lab = g.integers(0, 4, 32)
        xs.append(
            ember.tensor(
                centers[lab] + g.standard_normal((32, 16)).astype(np.float32), device=device
            )
        )
        ys.append(ember.tensor(lab, device=device))

    def make():
        return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4))

    _compare_training(make, device, xs, ys, lr=0.05)


def _digits_net():
    path = Path(__file__).resolve().parents[1] / "examples" / "train_digits.py"
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("example_train_digits_amp", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_demo_cnn_trains_like_float32(device):
    mod = _digits_net()
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data[:160] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = d.target[:160]
    xs = [ember.tensor(x[i : i + 32], device=device) for i in range(0, 160, 32)]
    ys = [ember.tensor(y[i : i + 32], device=device) for i in range(0, 160, 32)]
    _compare_training(mod.Net, device, xs, ys, lr=0.05)


def test_custom_fwd_bwd(device):
    seen = {}

    class Scale(ember.autograd.Function):
        @staticmethod
        @ember.amp.custom_fwd(device_type=device, cast_inputs=ember.float32)
        def forward(ctx, x):
            seen["fwd"] = (x.dtype, ember.is_autocast_enabled(device))
            return x * 3

        @staticmethod
        @ember.amp.custom_bwd(device_type=device)
        def backward(ctx, g):
            seen["bwd"] = ember.is_autocast_enabled(device)
            return g * 3

    x = _x(device, 4).to(LOW[device]).requires_grad_()
    with ember.autocast(device):
        y = Scale.apply(x)
    # cast_inputs: the forward ran in float32 with autocast off, and so does the backward
    assert seen["fwd"] == (ember.float32, False) and y.dtype == ember.float32
    y.sum().backward()
    assert seen["bwd"] is False
    np.testing.assert_allclose(x.grad.float().cpu().numpy(), np.full(4, 3.0))


def test_aliases_for_gpu_names():
    if not ember.gpu.is_available():
        pytest.skip("no GPU adapter: the cuda/mps names alias the gpu device")
    x = _x("gpu", 2, 2)
    with ember.autocast("cuda"):
        assert ember.is_autocast_enabled("gpu") and ember.is_autocast_enabled()
        assert ember.is_autocast_enabled("mps")
        assert (x @ x).dtype == ember.float16
    # bfloat16 is stored on the gpu too (16-bit, as float16): autocast to it there
    with ember.autocast("gpu", dtype=ember.bfloat16):
        assert (x @ x).dtype == ember.bfloat16


def test_grad_scaler_refuses_fp16_grads(device):
    assert ember.GradScaler is ember.amp.GradScaler
    p = nn.Parameter(ember.ones(3, device=device).half())
    opt = ember.optim.SGD([p], lr=0.1)
    sc = ember.amp.GradScaler(device)
    sc.scale((p.float() * 2).sum()).backward()
    assert p.grad.dtype == ember.float16
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        sc.unscale_(opt)


def test_cast_cache_sees_in_place_updates(device):
    w = nn.Parameter(ember.ones(2, 2, device=device))
    x = ember.ones(1, 2, device=device)
    with ember.autocast(device):
        a = F.linear(x, w)
        with ember.no_grad():
            w.mul_(3.0)  # e.g. an optimizer step inside the region
        b = F.linear(x, w)
    np.testing.assert_array_equal(a.detach().float().cpu().numpy(), [[2.0, 2.0]])
    np.testing.assert_array_equal(b.detach().float().cpu().numpy(), [[6.0, 6.0]])
