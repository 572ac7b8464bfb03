"""float16 and bfloat16 stored as real 16-bit values on the "gpu" device (issue 15).

The gpu packs two 16-bit values per 32-bit word, widens them to f32 words for its kernels
and packs results back with round-to-nearest-even. These tests check the memory it takes
(ember.gpu.stats()), bit-exact transfers of the extreme values, reads and writes of views
that share a word with a neighbouring element, and every op family against the same op on
the CPU, which computes in float32 and rounds to the 16-bit dtype the same way. Values
are compared with float32 numpy (bfloat16 has no numpy dtype).
"""

import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

HALF = [ember.float16, ember.bfloat16]
# One unit in the last place at 1.0: results computed through float32 functions whose
# last bit may differ between llvmpipe and the CPU can round to a neighbouring value.
ULP = {ember.float16: 2.0**-10, ember.bfloat16: 2.0**-7}


def _gpu():
    try:
        return ember.gpu.is_available()
    except Exception:  # noqa: BLE001
        return False


needs_gpu = pytest.mark.skipif(not _gpu(), reason="no GPU adapter")


def _np(t):
    return t.detach().cpu().float().numpy()


def _bits(t):
    """The 16-bit patterns of a float16/bfloat16 tensor, as uint16 numpy values (Tensor.view
    (dtype) converts values in ember, so the bits are read through numpy: float16 directly,
    bfloat16 as the top half of its exact float32 value)."""
    t = t.detach().cpu().contiguous()
    if t.dtype == ember.float16:
        return t.numpy().view(np.uint16)
    return (t.float().numpy().view(np.uint32) >> 16).astype(np.uint16)


def _same(a, b, tol=0.0):
    """a (any device) equals b (cpu) as the same dtype, shape and values (NaN == NaN)."""
    assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
    x, y = _np(a), _np(b)
    if tol == 0.0:
        np.testing.assert_array_equal(x, y)
    else:
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


def _size_class(nbytes):
    """The gpu pool's bucket (4 sizes per octave above 1 KiB), re-derived here."""
    b = max(nbytes, 256)
    if b <= 1024:
        return -(-b // 256) * 256
    step = 1 << (b.bit_length() - 1 - 2)
    return -(-b // step) * step


# ------------------------------------------------------------------ memory


@needs_gpu
@pytest.mark.parametrize("n", [3, 1025, 100_003])
def test_stats_half_storage_takes_two_bytes_per_element(n):
    # (one element goes to the gpu as a fill kernel, not an upload: n >= 2 here)
    sizes = {}
    for dt in (ember.float32, ember.float16, ember.bfloat16):
        x = ember.arange(n, dtype=ember.float32).to(dt)
        ember.gpu.empty_cache()  # no pooled buffer to reuse: the upload creates one
        before = dict(ember.gpu.stats())["bytes_created"]
        g = x.to("gpu")
        sizes[dt] = dict(ember.gpu.stats())["bytes_created"] - before
        _same(g, x)
    assert sizes[ember.float32] == _size_class(4 * n)
    assert sizes[ember.float16] == _size_class(2 * math.ceil(n / 2) * 2)
    assert sizes[ember.bfloat16] == sizes[ember.float16]
    if n == 100_003:
        assert sizes[ember.float16] <= 0.55 * sizes[ember.float32]


@needs_gpu
@pytest.mark.parametrize("dt", HALF)
def test_results_of_ops_stay_16_bit(dt):
    # An op's result holds 2 bytes per element too; the f32 temporary it used goes back
    # to the pool (bytes created but not held).
    n = 200_001
    a = ember.ones(n, dtype=dt, device="gpu")
    ember.gpu.synchronize()
    ember.gpu.empty_cache()
    s0 = dict(ember.gpu.stats())
    b = a + a
    ember.gpu.synchronize()
    s1 = dict(ember.gpu.stats())
    held = (s1["bytes_created"] - s0["bytes_created"]) - (s1["pooled_bytes"] - s0["pooled_bytes"])
    assert held == _size_class(2 * math.ceil(n / 2) * 2)
    assert float(b[n - 1]) == 2.0 and float(b[0]) == 2.0


# ------------------------------------------------------------------ transfers


EXTREMES = {
    ember.float16: [65504.0, -65504.0, 2.0**-24, -(2.0**-24), 2.0**-14, 6.1e-5, 1.0, 0.1,
                    math.inf, -math.inf, math.nan, -0.0, 0.0],
    ember.bfloat16: [1e38, -3.3895313892515355e38, 2.0**-133, -(2.0**-133), 2.0**-126,
                     1.0, 0.1, math.inf, -math.inf, math.nan, -0.0, 0.0, 65504.0],
}  # fmt: skip


@pytest.mark.parametrize("dt", HALF)
def test_extremes_round_trip_bit_exact(device, dt):
    x = ember.tensor(EXTREMES[dt], dtype=dt)
    g = x.to(device)
    assert g.device.type == device
    np.testing.assert_array_equal(_bits(g), _bits(x))
    # through a gpu kernel (widen, copy, pack) and back: still the same bits
    np.testing.assert_array_equal(_bits(g.clone()), _bits(x))
    np.testing.assert_array_equal(_bits(g.flip(0).flip(0)), _bits(x))
    # and a cast to float32 gives the exact values (checked against numpy's float16)
    if dt == ember.float16:
        want = np.array(EXTREMES[dt], np.float16).astype(np.float32)
        np.testing.assert_array_equal(_np(g.float()), want)


@pytest.mark.parametrize("dt", HALF)
def test_float32_to_half_rounds_to_nearest_even(device, dt):
    # float16: 65519 -> 65504, 65520 -> inf (the midpoint rounds to even, i.e. up), the
    # smallest subnormal's half 2**-25 -> 0 (even) and a hair above it -> 2**-24;
    # bfloat16: 1 + 2**-8 (a tie) -> 1, 1 + 3 * 2**-8 -> 1 + 2**-6, 3.4e38 -> inf.
    if dt == ember.float16:
        src = [65519.0, 65520.0, 2.0**-25, 2.0**-25 * 1.5, 1 + 2.0**-11, 1 + 3 * 2.0**-11]
        want = [65504.0, math.inf, 0.0, 2.0**-24, 1.0, 1 + 2.0**-9]
    else:
        src = [1 + 2.0**-8, 1 + 3 * 2.0**-8, 3.4e38, 2.0**-133 * 1.4, -1e-45]
        want = [1.0, 1 + 2.0**-6, math.inf, 2.0**-133, -0.0]
    x = ember.tensor(src, dtype=ember.float32, device=device)
    got = x.to(dt)
    np.testing.assert_array_equal(_np(got), np.array(want, np.float32))
    np.testing.assert_array_equal(_bits(got), _bits(ember.tensor(want, dtype=dt)))


@pytest.mark.parametrize("dt", HALF)
@pytest.mark.parametrize("n", [1, 3, 1025])
def test_odd_lengths(device, dt, n):
    x = (ember.arange(n, dtype=ember.float32) * 0.37 - 11).to(dt)
    g = x.to(device)
    _same(g, x)
    _same(g * 2 + 1, x * 2 + 1)
    _same(g[n - 1 :], x[n - 1 :])


@pytest.mark.parametrize("dt", HALF)
def test_views_at_odd_offsets_and_strides_read(device, dt):
    x = (ember.arange(35, dtype=ember.float32) - 17).to(dt)
    g = x.to(device)
    _same(g[1::2], x[1::2])
    _same(g[1::2].contiguous(), x[1::2].contiguous())
    _same(g.narrow(0, 3, 5) + 0.5, x.narrow(0, 3, 5) + 0.5)
    m, mg = x[:35].reshape(5, 7), g[:35].reshape(5, 7)
    _same(mg.t().contiguous(), m.t().contiguous())
    _same(mg.t()[1:, 2:] * 3, m.t()[1:, 2:] * 3)
    _same(mg[:, 1::3].exp(), m[:, 1::3].exp(), ULP[dt])


@pytest.mark.parametrize("dt", HALF)
def test_views_written_keep_neighbours(device, dt):
    # Each write hits one half of a word whose other half belongs to an element that is
    # not written: that neighbour must keep its bits.
    base = (ember.arange(21, dtype=ember.float32) * 0.25 + 1).to(dt)
    for write in (
        lambda t: t[1::2].__setitem__(slice(None), 7.0),
        lambda t: t.__setitem__(4, -3.5),
        lambda t: t.narrow(0, 3, 5).copy_(ember.tensor([9.0, 8.0, 7.0, 6.0, 5.0])),
        lambda t: t[5:12:3].fill_(-2.0),
        lambda t: t[1::4].add_(100.0),
        lambda t: t.narrow(0, 7, 3).mul_(ember.tensor([2.0, 3.0, 4.0], dtype=dt).to(t.device)),
        lambda t: t.view(3, 7).t()[2].zero_(),
    ):
        c = base.clone()
        g = base.to(device)
        write(c)
        write(g)
        np.testing.assert_array_equal(_bits(g), _bits(c))


@pytest.mark.parametrize("dt", HALF)
def test_copy_between_dtypes_into_views(device, dt):
    other = ember.float16 if dt == ember.bfloat16 else ember.bfloat16
    src = ember.tensor([1.0 + 2.0**-9, -70000.0, 3.0], dtype=ember.float32)
    for s in (src, src.to(other), src.to(ember.int32)):
        c = ember.zeros(7, dtype=dt)
        g = c.to(device)
        c[2:5].copy_(s)
        g[2:5].copy_(s.to(device))
        np.testing.assert_array_equal(_bits(g), _bits(c))


# ------------------------------------------------------------------ ops vs cpu


def _rand(shape, dt, device, lo=-2.0, hi=2.0, seed=0):
    g = np.random.default_rng(seed)
    a = g.uniform(lo, hi, shape).astype(np.float32)
    c = ember.tensor(a).to(dt)
    return c, c.to(device)


@pytest.mark.parametrize("dt", HALF)
def test_unary_ops(device, dt):
    c, g = _rand((4, 33), dt, device)
    for f in (lambda t: -t, ember.abs, F.relu, lambda t: t.floor(), lambda t: t.clamp(-1, 0.5)):
        _same(f(g), f(c))
    for f in (ember.exp, ember.sin, ember.tanh, ember.sigmoid, lambda t: t.abs().sqrt()):
        _same(f(g), f(c), 2 * ULP[dt])


@pytest.mark.parametrize("dt", HALF)
def test_binary_ops_with_broadcast(device, dt):
    (a, ga), (b, gb) = _rand((3, 1, 5), dt, device), _rand((4, 1), dt, device, seed=1)
    for f in (ember.add, ember.sub, ember.mul, ember.maximum, lambda x, y: x + 2.5 * y):
        _same(f(ga, gb), f(a, b))
    _same(ga / (gb.abs() + 1), a / (b.abs() + 1), ULP[dt])
    _same(ga > gb, a > b)
    # a float32 operand promotes: the result is float32
    _same(ga + gb.float(), a + b.float())


@pytest.mark.parametrize("dt", HALF)
def test_reductions_accumulate_in_float32(device, dt):
    c, g = _rand((6, 1001), dt, device)
    _same(g.sum(1), c.sum(1), 2 * ULP[dt])
    _same(g.mean(0), c.mean(0), 2 * ULP[dt])
    _same(g.amax(1), c.amax(1))
    _same(g.argmax(1), c.argmax(1))
    # 40000 * 4 overflows float16 but not a float32 accumulator
    big = ember.full((4,), 40000.0, dtype=ember.float16, device=device)
    assert float(big.float().sum()) == 160000.0
    assert float(big.mean()) == 40000.0


@pytest.mark.parametrize("dt", HALF)
def test_matmul_conv_softmax(device, dt):
    (a, ga), (b, gb) = _rand((5, 37), dt, device), _rand((37, 6), dt, device, seed=1)
    _same(ga @ gb, a @ b, 4 * ULP[dt])
    (x, gx), (w, gw) = _rand((2, 3, 9, 8), dt, device), _rand((4, 3, 3, 3), dt, device, seed=2)
    _same(F.conv2d(gx, gw, padding=1), F.conv2d(x, w, padding=1), 8 * ULP[dt])
    _same(ember.softmax(gx, 1), ember.softmax(x, 1), 2 * ULP[dt])
    _same(F.log_softmax(ga, -1), F.log_softmax(a, -1), 4 * ULP[dt])


@pytest.mark.parametrize("dt", HALF)
def test_index_gather_scatter_sort(device, dt):
    c, g = _rand((5, 9), dt, device)
    idx = ember.tensor([[0, 8, 3], [1, 1, 2], [4, 0, 7], [5, 6, 2], [3, 3, 3]])
    _same(g.gather(1, idx.to(device)), c.gather(1, idx))
    _same(g.index_select(1, idx[0].to(device)), c.index_select(1, idx[0]))
    _same(g[idx[:, 0].to(device) % 5], c[idx[:, 0] % 5])
    src = ember.tensor([[1.5, -2.0, 4.0]] * 5).to(dt)
    zc = ember.zeros(5, 9, dtype=dt)
    zg = zc.to(device)
    _same(zg.scatter_add(1, idx.to(device), src.to(device)), zc.scatter_add(1, idx, src))
    _same(zg.scatter(1, idx[:, :1].to(device), 3.0), zc.scatter(1, idx[:, :1], 3.0))
    gm, cm = g.clone(), c.clone()
    gm[g > 0.5] = -1.0
    cm[c > 0.5] = -1.0
    _same(gm, cm)
    vg, ig = g.sort(1)
    vc, ic = c.sort(1)
    _same(vg, vc)
    _same(ig, ic)
    _same(g.topk(3, 1).values, c.topk(3, 1).values)


@pytest.mark.parametrize("dt", HALF)
def test_casts_both_ways(device, dt):
    c, g = _rand((3, 17), dt, device, lo=-300, hi=300)
    for to in (ember.float32, ember.int32, ember.int64, ember.int16, ember.uint8, ember.bool):
        _same(g.to(to), c.to(to))
    f = ember.tensor([1e5, -1e-9, 123.456, 7e-6, 3.0e38], dtype=ember.float32)
    _same(f.to(device).to(dt), f.to(dt))
    i = ember.tensor([-70000, 2049, 255, 0], dtype=ember.int32)
    _same(i.to(device).to(dt), i.to(dt))
    _same(g.to(ember.float16).to(dt), c.to(ember.float16).to(dt))
    _same(g.to(ember.bfloat16).to(dt), c.to(ember.bfloat16).to(dt))


@pytest.mark.parametrize("dt", HALF)
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_optimizer_step_on_half_parameter(device, dt, opt):
    def run(dev):
        p = nn.Parameter(ember.tensor([1.0, -2.0, 0.5, 3.0, 0.25], dtype=dt, device=dev))
        p.grad = ember.tensor([0.5, 0.25, -1.0, 2.0, 0.125], dtype=dt, device=dev)
        o = (
            ember.optim.SGD([p], lr=0.1, momentum=0.9)
            if opt == "sgd"
            else ember.optim.Adam([p], lr=0.1)
        )
        o.step()
        o.step()
        return p

    pg, pc = run(device), run("cpu")
    assert pg.dtype == dt and pg.device.type == device
    _same(pg, pc, ULP[dt])
    # p - 0.1 * g - 0.1 * (0.9 * g + g) for SGD with momentum (two steps)
    if opt == "sgd":
        g = np.array([0.5, 0.25, -1.0, 2.0, 0.125])
        want = np.array([1.0, -2.0, 0.5, 3.0, 0.25]) - 0.1 * g - 0.1 * 1.9 * g
        np.testing.assert_allclose(_np(pg), want, rtol=2 * ULP[dt], atol=2 * ULP[dt])


def test_mlp_trains_under_autocast_bfloat16(device):
    g = np.random.default_rng(0)
    centers = g.standard_normal((3, 8)).astype(np.float32) * 2
    lab = g.integers(0, 3, 64)
    x = ember.tensor(centers[lab] + 0.5 * g.standard_normal((64, 8)).astype(np.float32))
    y = ember.tensor(lab)
    ember.manual_seed(0)
    ref = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    model.load_state_dict(ref.state_dict())
    model = model.to(device)

    def train(m, xs, ys, dev, amp):
        opt = ember.optim.SGD(m.parameters(), lr=0.1)
        losses = []
        for _ in range(20):
            opt.zero_grad()
            with ember.autocast(dev, dtype=ember.bfloat16, enabled=amp):
                out = m(xs)
                if amp:
                    assert out.dtype == ember.bfloat16
                loss = F.cross_entropy(out, ys)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    l32 = train(ref, x, y, "cpu", False)
    lbf = train(model, x.to(device), y.to(device), device, True)
    assert lbf[-1] < 0.5 * lbf[0]
    assert abs(lbf[-1] - l32[-1]) <= 0.1 * l32[-1] + 0.01, (l32[-1], lbf[-1])
    for p in model.parameters():
        assert p.dtype == ember.float32 and p.grad.dtype == ember.float32
