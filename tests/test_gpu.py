"""The GPU backend itself: adapter info, device rules, NaN/Inf, the dispatch
grid, memory errors and the steady-state behaviour of a training step
(buffer pool and submit counters). Op results on "gpu" are covered by every
other test through the `device` fixture."""

import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

pytestmark = pytest.mark.skipif(
    not ember.gpu.is_available(), reason="no GPU adapter (CI sets EMBER_REQUIRE_GPU=1)"
)


def test_software_adapter_counts_as_cuda_only_when_asked(monkeypatch):
    monkeypatch.setenv("EMBER_SOFTWARE_GPU_AS_CUDA", "1")
    assert ember.cuda.is_available() and ember.cuda.device_count() == 1
    assert ember.cuda.get_device_name() == ember.gpu.info()["name"]


def test_info_and_aliases():
    info = ember.gpu.info()
    assert info["available"] is True
    assert info["backend"] in ("Vulkan", "Metal", "Dx12")
    assert info["max_storage_buffer_binding_size"] >= 128 << 20
    if info["device_type"] == "Cpu":
        # A software adapter runs the kernels but is not offered as "cuda".
        assert not ember.cuda.is_available() and ember.cuda.device_count() == 0
    else:
        assert ember.cuda.is_available() and ember.cuda.device_count() == 1
        assert ember.cuda.get_device_name() == info["name"]
    for name in ("gpu", "cuda", "mps", "cuda:0"):
        t = ember.ones(3, device=name)
        assert t.device.type == "gpu" and t.is_cuda
        assert t.cpu().tolist() == [1.0, 1.0, 1.0]


def test_mixed_devices_is_a_runtime_error_naming_both():
    a = ember.ones(3, device="gpu")
    b = ember.ones(3)
    with pytest.raises(RuntimeError, match="cpu") as e:
        a + b
    assert "gpu" in str(e.value)
    with pytest.raises(RuntimeError, match="same device"):
        a @ ember.ones(3, 2)
    # 0-dim CPU tensors and Python numbers join GPU operands, as in PyTorch.
    assert (a * ember.tensor(2.0)).cpu().tolist() == [2.0, 2.0, 2.0]
    assert (2 - a).cpu().tolist() == [1.0, 1.0, 1.0]


def test_float64_is_a_clear_error():
    with pytest.raises(RuntimeError, match="float64 is not supported on the gpu"):
        ember.ones(2, dtype=ember.float64).to("gpu")
    with pytest.raises(RuntimeError, match="float64"):
        ember.ones(2, device="gpu").double()


def test_int64_labels_and_out_of_range():
    y = ember.tensor([0, 3, 1], device="gpu")
    assert y.dtype == ember.int64
    logits = ember.randn(3, 4, device="gpu", requires_grad=True)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    ref = F.cross_entropy(logits.detach().cpu(), y.cpu())
    assert math.isclose(loss.item(), ref.item(), rel_tol=1e-5)
    with pytest.raises(RuntimeError, match="does not fit"):
        ember.tensor([2**40]).to("gpu")


def test_nan_and_inf_as_on_cpu():
    vals = [float("nan"), float("inf"), -float("inf"), 0.0, -1.5, 2.0]
    x = ember.tensor(vals)
    g = x.to("gpu")
    for f in (
        lambda t: t.relu(),
        lambda t: t.clamp(-1, 1),
        lambda t: t.maximum(ember.zeros_like(t)),
        lambda t: t.minimum(ember.zeros_like(t)),
        lambda t: t != t,
        lambda t: t == t,
        lambda t: t > 0,
        lambda t: t.bool(),
        lambda t: t.sigmoid(),
        lambda t: t.tanh(),
        lambda t: t.exp(),
        lambda t: t.sign(),
        lambda t: t * 0,
        lambda t: t.reshape(2, 3).amax(1),
        lambda t: t.reshape(2, 3).argmax(1),
        lambda t: t.sum(),
        lambda t: t.softmax(0),
    ):
        # Same NaN/Inf positions; finite values within float32 rounding.
        np.testing.assert_allclose(f(g).cpu().numpy(), f(x).numpy(), rtol=1e-6, atol=0)


def test_dispatch_grid_beyond_65535_workgroups():
    n = 65535 * 256 + 1000
    x = ember.ones(n, device="gpu")
    x[-1] = 5.0
    y = x * 2
    assert y[-1].item() == 10.0 and y[n // 2].item() == 2.0
    assert y.sum().item() == pytest.approx(2.0 * n + 8.0, rel=1e-5)
    # Long reductions run in two passes (chunk partials); arg ops keep the index.
    assert y.argmax().item() == n - 1
    assert y.reshape(4, -1).sum(1).cpu().tolist()[0] == pytest.approx(2.0 * (n // 4), rel=1e-5)


def test_strided_views_need_no_copy_and_match_cpu():
    a = ember.randn(6, 8, 5)
    g = a.to("gpu")
    for f in (
        lambda t: t.transpose(0, 2) * 3,
        lambda t: t[::2, 1:7:3] + t[1::2, 0:6:3],
        lambda t: t.permute(2, 0, 1).exp().sum(1),
        lambda t: t.transpose(1, 2) @ t,
        lambda t: t.expand(2, 6, 8, 5).contiguous(),
    ):
        np.testing.assert_allclose(f(g).cpu().numpy(), f(a).numpy(), rtol=1e-5, atol=1e-5)


def test_out_of_memory_is_a_runtime_error():
    limit = ember.gpu.info()["max_storage_buffer_binding_size"]
    with pytest.raises(RuntimeError, match="out of memory"):
        ember.empty(limit // 4 + 1024, device="gpu")


def _steady_state(model, opt, x, y):
    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    # Warm up exactly as measured (the last loss stays alive in both).
    for _ in range(3):
        loss = step()
    ember.gpu.synchronize()
    s0 = ember.gpu.stats()
    steps = 4
    for _ in range(steps):
        loss = step()
    s1 = ember.gpu.stats()
    d = {k: s1[k] - s0[k] for k in s0}
    return d, steps, loss


def _model(kind):
    if kind == "dwcnn":  # depthwise-separable convs and adaptive pooling
        return nn.Sequential(
            nn.Conv2d(1, 8, 3),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=8),
            nn.Conv2d(8, 16, 1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, 5),
        )
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 8, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 2 * 2, 5),
        )
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))


@pytest.mark.parametrize(
    "kind,opt_name",
    [
        ("mlp", "sgd"),
        ("mlp", "sgd0"),
        ("mlp", "adam"),
        ("mlp", "rmsprop"),
        ("mlp", "adagrad"),
        ("mlp", "amsgrad"),
        ("cnn", "adam"),
        ("dwcnn", "sgd"),
    ],
)
def test_training_step_allocates_nothing_and_never_waits(kind, opt_name):
    ember.manual_seed(0)
    model = _model(kind).to("gpu")
    if opt_name == "sgd":
        opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    elif opt_name == "sgd0":  # plain SGD: no momentum buffer
        opt = ember.optim.SGD(model.parameters(), lr=0.1)
    elif opt_name == "rmsprop":
        opt = ember.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9, centered=True)
    elif opt_name == "adagrad":
        opt = ember.optim.Adagrad(model.parameters(), lr=1e-2)
    elif opt_name == "amsgrad":
        opt = ember.optim.AdamW(model.parameters(), lr=1e-3, amsgrad=True)
    else:
        opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    shape = (16, 1, 10, 10) if kind in ("cnn", "dwcnn") else (16, 20)
    x = ember.randn(*shape, device="gpu")
    y = ember.randint(0, 5, (16,), device="gpu")
    d, steps, loss = _steady_state(model, opt, x, y)
    assert d["buffers_created"] == 0, d
    assert d["host_reads"] == 0, d
    assert d["uploads"] == 0, d
    assert d["host_fallbacks"] == 0, (d, ember.gpu.fallbacks())
    # Dispatches are batched: at most one submit per step.
    assert d["submits"] <= steps, d
    assert math.isfinite(loss.item())


@pytest.mark.parametrize("kind", ["mlp", "cnn", "dwcnn"])
def test_gpu_training_matches_cpu(kind):
    ember.manual_seed(1)
    cpu_model, gpu_model = _model(kind), _model(kind)
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to("gpu")
    x = ember.randn(*((32, 1, 10, 10) if kind in ("cnn", "dwcnn") else (32, 20)))
    y = ember.randint(0, 5, (32,))
    oc = ember.optim.Adam(cpu_model.parameters(), lr=1e-2)
    og = ember.optim.Adam(gpu_model.parameters(), lr=1e-2)
    xg, yg = x.to("gpu"), y.to("gpu")
    for _ in range(5):
        for m, o, a, b in ((cpu_model, oc, x, y), (gpu_model, og, xg, yg)):
            o.zero_grad()
            F.cross_entropy(m(a), b).backward()
            o.step()
    for pc, pg in zip(cpu_model.parameters(), gpu_model.parameters()):
        np.testing.assert_allclose(pg.detach().cpu().numpy(), pc.detach().numpy(), atol=1e-4)


def test_pipeline_cache_and_counters_exist():
    s = ember.gpu.stats()
    for k in ("buffers_created", "buffers_reused", "submits", "dispatches", "host_reads"):
        assert k in s
    assert s["pipelines_compiled"] > 0


def test_index_errors_surface_at_the_next_read_like_cuda():
    x = ember.arange(6.0, device="gpu").reshape(2, 3)
    cases = [
        (lambda: x.gather(1, ember.tensor([[5]], device="gpu")), "gather(): index 5", "size 3"),
        (lambda: x.index_select(0, ember.tensor([2], device="gpu")), "index_select(): index 2", ""),
        (
            lambda: ember.zeros(3, device="gpu").index_add(0, ember.tensor([0, 4]), ember.ones(2)),
            "index_add(): index 4",
            "size 3",
        ),
        (
            lambda: ember.zeros(2, device="gpu").scatter_add(
                0, ember.tensor([-3], device="gpu"), ember.ones(1, device="gpu")
            ),
            "scatter_add(): index -3",
            "size 2",
        ),
        (
            lambda: nn.Embedding(4, 2).to("gpu")(ember.tensor([1, 9], device="gpu")),
            "index 9",
            "size 4",
        ),
        (
            lambda: F.cross_entropy(x, ember.tensor([0, 3], device="gpu")),
            "Target 3 is out of bounds",
            "",
        ),
        (
            lambda: F.nll_loss(x, ember.tensor([-1, 0], device="gpu")),
            "Target -1 is out of bounds",
            "",
        ),
    ]
    for make, want, also in cases:
        y = make()  # recorded, not checked: no host wait inside a step
        # PyTorch raises RuntimeError for gather/index_select/index_add/scatter_add's
        # bad indices (on the CPU, and CUDA's device-side assert is one), IndexError
        # for a loss target out of range.
        exc = IndexError if want.startswith("Target") else RuntimeError
        with pytest.raises(exc) as info:
            y.sum().item()
        assert want in str(info.value) and also in str(info.value), str(info.value)
        # Reported once; later work runs normally.
        assert (x + 1).sum().item() == 21.0
    # synchronize() raises it too; a negative index is out of range for gather
    # (PyTorch 2.15 raises "index -1 is out of bounds"), in-range ones report nothing.
    x.gather(1, ember.tensor([[7]], device="gpu"))
    with pytest.raises(RuntimeError, match="index 7"):
        ember.gpu.synchronize()
    x.gather(1, ember.tensor([[-1], [0]], device="gpu"))
    with pytest.raises(RuntimeError, match="index -1"):
        ember.gpu.synchronize()
    g = x.gather(1, ember.tensor([[2], [0]], device="gpu"))
    assert g.cpu().tolist() == [[2.0], [3.0]]
    ember.gpu.synchronize()


def _no_host_traffic(f):
    """Run f(), returning its result and the host reads/uploads it caused."""
    ember.gpu.synchronize()
    s0 = ember.gpu.stats()
    r = f()
    s1 = ember.gpu.stats()
    return r, s1["host_reads"] - s0["host_reads"], s1["uploads"] - s0["uploads"]


@pytest.mark.parametrize("n", [7, 2048, 5000, 70000])
def test_sort_topk_cumsum_median_run_on_the_gpu(n):
    rng = np.random.default_rng(n)
    a = rng.integers(0, 50, (3, n)).astype(np.float32)  # many ties: stability shows
    a[1, ::11] = np.nan
    c = ember.tensor(a)
    g = c.to("gpu")
    k = min(n, 5)

    def ops(t):
        return [
            *t.sort(1),
            *t.sort(1, descending=True),
            *t.topk(k, 1),
            *t.topk(k, 1, largest=False),
            *t.kthvalue(k, 1),
            *t.median(1),
            *t.nanmedian(1),
            ember.nan_to_num(t).cumsum(1),
            (ember.nan_to_num(t) / 50 + 0.5).cumprod(1),
            t.nan_to_num(0).long().cumsum(1),
            *t.t().sort(0),  # strided lines
        ]

    got, reads, uploads = _no_host_traffic(lambda: ops(g))
    assert reads == 0 and uploads == 0, (reads, uploads)
    for i, (x, y) in enumerate(zip(got, ops(c))):
        assert x.device.type == "gpu" and x.dtype == y.dtype and x.shape == y.shape, i
        np.testing.assert_allclose(
            x.cpu().numpy(), y.numpy(), rtol=1e-4, atol=1e-3, equal_nan=True, err_msg=str(i)
        )


def test_sort_and_cumsum_gradients_on_the_gpu():
    x = ember.randn(4, 300, requires_grad=True)
    xg = x.detach().to("gpu").requires_grad_()
    w = ember.randn(4, 300)
    for t, ww in ((x, w), (xg, w.to("gpu"))):
        v, _ = t.sort(1, descending=True)
        (v * ww).sum().backward()
        (t.cumsum(1) * ww).sum().backward()
    np.testing.assert_allclose(xg.grad.cpu().numpy(), x.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_indexing_writes_run_on_the_gpu():
    a = ember.randn(6, 5)
    idx = ember.tensor([4, 0, 2])
    mask = a > 0.3

    def ops(t, i, m):
        u = t.clone()
        u[i] = 7.0  # index_put, one index tensor
        v = t.clone()
        v[:, i] = ember.arange(3.0, device=t.device)  # broadcast values on dim 1
        w = t.clone()
        w[m] = -1.0  # boolean mask, one value
        z = ember.zeros(6, 5, device=t.device).index_put((i,), t[:3], accumulate=True)
        s = t.scatter(1, i.reshape(1, 3).expand(6, 3), 0.5)
        return [u, v, w, z, s, t[i], t[:, i], t[i.reshape(3, 1)]]

    g, ig, mg = a.to("gpu"), idx.to("gpu"), mask.to("gpu")
    before = ember.gpu.stats()["host_fallbacks"]
    got, reads, _ = _no_host_traffic(lambda: ops(g, ig, mg))
    assert ember.gpu.stats()["host_fallbacks"] == before, ember.gpu.fallbacks()
    assert reads == 0
    for x, y in zip(got, ops(a, idx, mask)):
        np.testing.assert_allclose(x.cpu().numpy(), y.numpy(), rtol=1e-6)
    # Gradients flow through the GPU paths as on the CPU.
    ta, tg = a.clone().requires_grad_(), g.clone().requires_grad_()
    for t, i, m in ((ta, idx, mask), (tg, ig, mg)):
        u = t * 1.0
        u[i] = 3.0
        u[m] = 0.5
        (u * u * t[i].sum()).sum().backward()
    np.testing.assert_allclose(tg.grad.cpu().numpy(), ta.grad.numpy(), rtol=1e-5)


def test_multi_tensor_indexing_runs_on_the_gpu():
    a = ember.randn(4, 5, 3)
    rows, cols = ember.tensor([3, 0, -1]), ember.tensor([1, 4, 2])

    def ops(t, r, c):
        dev = t.device
        return [
            t[r, c],  # (3, 3): paired
            t[ember.arange(3, device=dev), c],  # the q[range(b), actions] pattern
            t[r.reshape(3, 1), c],  # broadcast to (3, 3, 3)
            t[:, c, ember.tensor([0, 2, 1], device=dev)],  # adjacent dims 1, 2
        ]

    g = a.to("gpu")
    rg, cg = rows.to("gpu"), cols.to("gpu")
    before = ember.gpu.stats()["host_fallbacks"]
    got, reads, _ = _no_host_traffic(lambda: ops(g, rg, cg))
    assert reads == 0 and ember.gpu.stats()["host_fallbacks"] == before, ember.gpu.fallbacks()
    for x, y in zip(got, ops(a, rows, cols)):
        assert x.shape == y.shape
        np.testing.assert_array_equal(x.cpu().numpy(), y.numpy())
    ta, tg = a.clone().requires_grad_(), g.clone().requires_grad_()
    for t, r, c in ((ta, rows, cols), (tg, rg, cg)):
        (t[r, c] * 2).sum().backward()
    np.testing.assert_array_equal(tg.grad.cpu().numpy(), ta.grad.numpy())
    y = g[rg, ember.tensor([1, 5, 0], device="gpu")]  # 5 is out of range for size 5
    with pytest.raises(IndexError, match="out of bounds"):
        y.cpu()
