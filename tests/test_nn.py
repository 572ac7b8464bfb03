"""ember.nn: Module contract, containers, layers, initialisation and nn.utils."""

import copy
import math
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.nn import init


def T(a, device="cpu", requires_grad=False):
    arr = np.asarray(a)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    t = ember.tensor(arr).to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def N(t):
    return t.detach().cpu().numpy()


def rng(seed=0):
    return np.random.default_rng(seed)


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.register_buffer("scale", ember.ones(2))
        self.register_buffer("tmp", ember.zeros(1), persistent=False)

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x)))) * self.scale


# ---------------------------------------------------------------------------- Module contract
def test_registration_and_iterators():
    m = Small()
    assert [n for n, _ in m.named_parameters()] == [
        "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight",
    ]  # fmt: skip
    assert [n for n, _ in m.named_buffers()] == [
        "scale", "tmp", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
    ]  # fmt: skip
    assert [n for n, _ in m.named_children()] == ["fc1", "bn", "fc2"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "bn", "fc2"]
    assert len(list(m.parameters(recurse=False))) == 0
    assert isinstance(m.fc1.weight, nn.Parameter)
    assert isinstance(m.fc1.weight, ember.Tensor)
    assert m.fc1.weight.requires_grad
    assert m.fc2.bias is None
    # reassigning a parameter slot with a non-Parameter tensor is an error, like PyTorch
    with pytest.raises(TypeError, match="cannot assign"):
        m.fc1.weight = ember.zeros(3, 4)
    m.extra = nn.Linear(2, 2)
    assert "extra" in dict(m.named_children())
    del m.extra
    assert "extra" not in dict(m.named_children())
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = m.nope
    assert m.get_submodule("bn") is m.bn
    assert m.get_parameter("fc1.bias") is m.fc1.bias


def test_shared_parameters_deduplicated():
    a = nn.Linear(3, 3)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert list(seq.state_dict().keys()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_state_dict_round_trip_and_strict_errors():
    m = Small()
    sd = m.state_dict()
    assert list(sd.keys()) == [
        "scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean",
        "bn.running_var", "bn.num_batches_tracked", "fc2.weight",
    ]  # fmt: skip
    assert not sd["fc1.weight"].requires_grad
    assert sd["bn.num_batches_tracked"].dtype == ember.int64
    m2 = Small()
    res = m2.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    for k in sd:
        np.testing.assert_array_equal(N(m2.state_dict()[k]), N(sd[k]))
    # copies, not aliases
    with ember.no_grad():
        m2.fc1.weight.fill_(7.0)
    assert not np.allclose(N(m.fc1.weight), 7.0)

    bad = OrderedDict(sd)
    del bad["fc1.bias"]
    bad["fc3.weight"] = ember.zeros(1)
    with pytest.raises(RuntimeError) as e:
        m2.load_state_dict(bad)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Small:")
    assert 'Missing key(s) in state_dict: "fc1.bias". ' in msg
    assert 'Unexpected key(s) in state_dict: "fc3.weight". ' in msg
    res = m2.load_state_dict(bad, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["fc3.weight"]

    wrong = OrderedDict(sd)
    wrong["fc1.weight"] = ember.zeros(5, 4)
    with pytest.raises(
        RuntimeError,
        match=r"size mismatch for fc1.weight: copying a param with shape torch.Size\(\[5, 4\]\) from checkpoint, the shape in current model is torch.Size\(\[3, 4\]\)",
    ):
        m2.load_state_dict(wrong)


def test_train_eval_requires_grad_zero_grad(device):
    m = Small().to(device)
    assert m.training and m.bn.training
    m.eval()
    assert not m.training and not m.bn.training
    m.train()
    out = m(T(rng().standard_normal((5, 4)), device)).sum()
    out.backward()
    assert m.fc1.weight.grad is not None
    m.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(N(m.fc1.weight.grad), 0)
    m.zero_grad()
    assert m.fc1.weight.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_to_dtype_keeps_parameter_identity():
    m = Small()
    w = m.fc1.weight
    m.double()
    assert m.fc1.weight is w
    assert m.fc1.weight.dtype == ember.float64
    assert m.bn.num_batches_tracked.dtype == ember.int64
    m.float()
    assert m.fc1.weight.dtype == ember.float32
    m.to(ember.float64)
    assert m.scale.dtype == ember.float64


def test_apply_and_hooks():
    m = Small()
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Linear", "Small"]

    calls = []

    def pre(mod, args):
        calls.append("pre")
        return (args[0] * 0,)

    def post(mod, args, out):
        calls.append("post")
        return out + 1

    lin = nn.Linear(2, 2)
    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    y = lin(ember.ones(1, 2))
    np.testing.assert_allclose(N(y), N(lin.bias)[None] + 1, rtol=1e-6)
    assert calls == ["pre", "post"]
    h1.remove()
    h2.remove()
    y = lin(ember.zeros(1, 2))
    np.testing.assert_allclose(N(y), N(lin.bias)[None], rtol=1e-6)


def test_repr_matches_pytorch():
    m = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10, bias=False),
        nn.Dropout(0.25),
        nn.GELU(),
        nn.LeakyReLU(0.2),
        nn.LayerNorm(10),
        nn.Softmax(dim=1),
    )
    expected = """Sequential(
  (0): Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
  (1): BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
  (2): ReLU(inplace=True)
  (3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  (4): Flatten(start_dim=1, end_dim=-1)
  (5): Linear(in_features=256, out_features=10, bias=False)
  (6): Dropout(p=0.25, inplace=False)
  (7): GELU(approximate='none')
  (8): LeakyReLU(negative_slope=0.2)
  (9): LayerNorm((10,), eps=1e-05, elementwise_affine=True)
  (10): Softmax(dim=1)
)"""
    assert repr(m) == expected
    lst = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()])
    assert repr(lst) == (
        "ModuleList(\n  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n  (3): ReLU()\n)"
    )
    assert (
        repr(nn.LSTM(10, 20, num_layers=2, batch_first=True))
        == "LSTM(10, 20, num_layers=2, batch_first=True)"
    )
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.Conv2d(3, 8, 3, stride=2, groups=1, bias=False, padding_mode="reflect")) == (
        "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), bias=False, padding_mode=reflect)"
    )
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    assert repr(p).startswith("Parameter containing:\n")


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    named = nn.Sequential(OrderedDict([("a", nn.Linear(2, 2)), ("b", nn.Tanh())]))
    assert list(named.state_dict().keys()) == ["a.weight", "a.bias"]
    out = seq(ember.ones(5, 2))
    assert tuple(out.shape) == (5, 1)
    assert ((N(out) > 0) & (N(out) < 1)).all()
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Sigmoid"]

    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Linear(1, 1))
    ml.extend([nn.Linear(1, 1)])
    ml.insert(0, nn.Identity())
    assert len(ml) == 4 and isinstance(ml[0], nn.Identity)
    assert len(list(ml.parameters())) == 6
    md = nn.ModuleDict({"x": nn.Linear(1, 2), "y": nn.ReLU()})
    assert list(md.keys()) == ["x", "y"] and "x" in md
    assert list(md.state_dict().keys()) == ["x.weight", "x.bias"]
    pl = nn.ParameterList([nn.Parameter(ember.ones(2)), ember.zeros(3)])
    assert len(list(pl.parameters())) == 2
    assert isinstance(pl[1], nn.Parameter)


def test_flatten_unflatten_identity():
    x = ember.zeros(2, 3, 4, 5)
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(nn.Unflatten(1, (3, 4))(ember.zeros(2, 12)).shape) == (2, 3, 4)
    assert nn.Identity(1, a=2)(x) is x


# ---------------------------------------------------------------------------- init
def test_linear_and_conv_default_init_bounds():
    ember.manual_seed(0)
    lin = nn.Linear(400, 300)
    w = N(lin.weight)
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=sqrt(5)) -> 1/sqrt(fan_in)
    assert np.abs(w).max() <= bound + 1e-7
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(N(lin.bias)).max() <= bound
    conv = nn.Conv2d(8, 16, 3)
    cb = 1 / math.sqrt(8 * 9)
    assert np.abs(N(conv.weight)).max() <= cb + 1e-7
    assert abs(N(conv.weight).std() - cb / math.sqrt(3)) < 0.1 * cb
    emb = nn.Embedding(1000, 50, padding_idx=3)
    assert abs(N(emb.weight).std() - 1.0) < 0.05
    np.testing.assert_array_equal(N(emb.weight)[3], 0)
    rnn = nn.GRU(10, 25)
    assert np.abs(N(rnn.weight_hh_l0)).max() <= 1 / 5 + 1e-7


def test_init_functions():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("conv2d") == 1 and init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("foo")
    assert init._calculate_fan_in_and_fan_out(ember.empty(6, 4, 3, 3)) == (36, 54)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.empty(3))
    ember.manual_seed(1)
    w = ember.empty(300, 200)
    init.xavier_uniform_(w, gain=2.0)
    a = 2.0 * math.sqrt(6 / 500)
    assert np.abs(N(w)).max() <= a and np.abs(N(w)).max() > 0.95 * a
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(N(w).std() - math.sqrt(2 / 300)) < 0.03 * math.sqrt(2 / 300)
    init.constant_(w, 0.5)
    assert (N(w) == 0.5).all()
    init.zeros_(w)
    init.ones_(w)
    assert (N(w) == 1).all()
    e = ember.empty(3, 5)
    init.eye_(e)
    np.testing.assert_array_equal(N(e), np.eye(3, 5))
    q = ember.empty(6, 4)
    init.orthogonal_(q)
    np.testing.assert_allclose(N(q).T @ N(q), np.eye(4), atol=1e-5)
    t = ember.empty(10000)
    init.trunc_normal_(t, std=1.0, a=-1.0, b=1.5)
    v = N(t)
    assert v.min() >= -1.0 and v.max() <= 1.5 and v.std() > 0.5
    p = nn.Parameter(ember.empty(3, 3))
    init.uniform_(p, -1, 1)
    assert p.grad_fn is None and p.requires_grad


# ---------------------------------------------------------------------------- layers
def test_linear_bilinear_forward(device):
    lin = nn.Linear(3, 2).to(device)
    x = rng().standard_normal((4, 3)).astype(np.float32)
    ref = x @ N(lin.weight).T + N(lin.bias)
    np.testing.assert_allclose(N(lin(T(x, device))), ref, rtol=1e-5, atol=1e-6)
    x3 = rng(1).standard_normal((2, 5, 3)).astype(np.float32)
    assert tuple(lin(T(x3, device)).shape) == (2, 5, 2)
    bil = nn.Bilinear(3, 4, 2).to(device)
    assert tuple(bil(T(x, device), T(np.ones((4, 4)), device)).shape) == (4, 2)


def test_batchnorm_running_stats_and_eval(device):
    bn = nn.BatchNorm2d(3, momentum=0.2).to(device)
    x = rng(2).standard_normal((4, 3, 5, 5)).astype(np.float32) * 3 + 1
    y = bn(T(x, device))
    mean = x.mean((0, 2, 3))
    var = x.var((0, 2, 3))
    ref = (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(N(y), ref, rtol=1e-4, atol=1e-4)
    n = 4 * 25
    np.testing.assert_allclose(N(bn.running_mean), 0.2 * mean, rtol=1e-5)
    np.testing.assert_allclose(N(bn.running_var), 0.8 + 0.2 * var * n / (n - 1), rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1
    bn.eval()
    y2 = bn(T(x, device))
    ref2 = (x - N(bn.running_mean).reshape(1, 3, 1, 1)) / np.sqrt(
        N(bn.running_var).reshape(1, 3, 1, 1) + 1e-5
    )
    np.testing.assert_allclose(N(y2), ref2, rtol=1e-4, atol=1e-4)
    assert int(bn.num_batches_tracked.item()) == 1
    with pytest.raises(ValueError, match="expected 4D input"):
        bn(T(np.zeros((2, 3)), device))
    bn1 = nn.BatchNorm1d(3, momentum=None).to(device)
    bn1(T(np.ones((4, 3)), device))
    bn1(T(np.ones((4, 3)) * 3, device))
    np.testing.assert_allclose(N(bn1.running_mean), [2, 2, 2], rtol=1e-6)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3).to(device)(T(np.ones((1, 3)), device))


def test_layernorm_groupnorm_modules(device):
    x = rng(3).standard_normal((2, 4, 3)).astype(np.float32)
    ln = nn.LayerNorm([4, 3]).to(device)
    with ember.no_grad():
        ln.weight.fill_(2.0)
        ln.bias.fill_(0.5)
    flat = x.reshape(2, -1)
    ref = (
        (flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + 1e-5)
    ).reshape(x.shape)
    np.testing.assert_allclose(N(ln(T(x, device))), 2 * ref + 0.5, rtol=1e-4, atol=1e-4)
    gn = nn.GroupNorm(2, 4).to(device)
    assert tuple(gn(T(x, device)).shape) == (2, 4, 3)
    assert [n for n, _ in gn.named_parameters()] == ["weight", "bias"]


def test_dropout_module_train_eval(device):
    d = nn.Dropout(0.5)
    x = T(np.ones((100, 100)), device)
    ember.manual_seed(0)
    assert (N(d(x)) == 0).mean() > 0.4
    d.eval()
    np.testing.assert_array_equal(N(d(x)), 1)


def np_lstm(x, h, c, wih, whh, bih, bhh):
    outs = []
    for t in range(x.shape[0]):
        g = x[t] @ wih.T + bih + h @ whh.T + bhh
        i, f, gg, o = np.split(g, 4, axis=-1)
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        c = sig(f) * c + sig(i) * np.tanh(gg)
        h = sig(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs), h, c


def np_gru(x, h, wih, whh, bih, bhh):
    outs = []
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(x.shape[0]):
        xr, xz, xn = np.split(x[t] @ wih.T + bih, 3, -1)
        hr, hz, hn = np.split(h @ whh.T + bhh, 3, -1)
        r = sig(xr + hr)
        z = sig(xz + hz)
        n = np.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
        outs.append(h)
    return np.stack(outs), h


def _p(m, name):
    return N(getattr(m, name)).astype(np.float64)


def test_lstm_matches_numpy_bidirectional_batch_first(device):
    ember.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True).to(device)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4:8] == [
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ]
    assert tuple(lstm.weight_ih_l1.shape) == (16, 8)
    x = rng(4).standard_normal((2, 5, 3))
    out, (h, c) = lstm(T(x, device))
    assert (
        tuple(out.shape) == (2, 5, 8)
        and tuple(h.shape) == (4, 2, 4)
        and tuple(c.shape) == (4, 2, 4)
    )
    xs = x.transpose(1, 0, 2)
    layer_in = xs
    hs, cs = [], []
    for layer in range(2):
        outs = []
        for sfx in ["", "_reverse"]:
            args = [
                _p(lstm, f"{k}_l{layer}{sfx}")
                for k in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
            ]
            seq = layer_in[::-1] if sfx else layer_in
            o, hh, cc = np_lstm(seq, np.zeros((2, 4)), np.zeros((2, 4)), *args)
            outs.append(o[::-1] if sfx else o)
            hs.append(hh)
            cs.append(cc)
        layer_in = np.concatenate(outs, -1)
    np.testing.assert_allclose(N(out), layer_in.transpose(1, 0, 2), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(N(h), np.stack(hs), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(N(c), np.stack(cs), rtol=1e-4, atol=1e-5)


def test_gru_rnn_and_cells_match_numpy(device):
    ember.manual_seed(1)
    gru = nn.GRU(3, 4).to(device)
    x = rng(5).standard_normal((6, 2, 3))
    h0 = rng(6).standard_normal((1, 2, 4))
    out, h = gru(T(x, device), T(h0, device))
    args = [_p(gru, n) for n in ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]]
    ref, href = np_gru(x, h0[0], *args)
    np.testing.assert_allclose(N(out), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(N(h)[0], href, rtol=1e-4, atol=1e-5)
    # unbatched input
    out_u, h_u = gru(T(x[:, 0], device))
    ref_u, _ = np_gru(x[:, :1], np.zeros((1, 4)), *args)
    np.testing.assert_allclose(N(out_u), ref_u[:, 0], rtol=1e-4, atol=1e-5)
    assert tuple(h_u.shape) == (1, 4)

    rnn = nn.RNN(3, 4, nonlinearity="relu").to(device)
    o, _ = rnn(T(x, device))
    w = [_p(rnn, n) for n in ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]]
    hh = np.zeros((2, 4))
    for t in range(6):
        hh = np.maximum(x[t] @ w[0].T + w[2] + hh @ w[1].T + w[3], 0)
    np.testing.assert_allclose(N(o)[-1], hh, rtol=1e-4, atol=1e-5)

    cell = nn.LSTMCell(3, 4).to(device)
    h1, c1 = cell(T(x[0], device))
    cw = [_p(cell, n) for n in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]]
    _, hr, cr = np_lstm(x[:1], np.zeros((2, 4)), np.zeros((2, 4)), *cw)
    np.testing.assert_allclose(N(h1), hr, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(N(c1), cr, rtol=1e-4, atol=1e-5)
    gcell = nn.GRUCell(3, 4).to(device)
    gw = [_p(gcell, n) for n in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]]
    np.testing.assert_allclose(
        N(gcell(T(x[0], device))), np_gru(x[:1], np.zeros((2, 4)), *gw)[1], rtol=1e-4, atol=1e-5
    )
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        gru(T(np.zeros((2, 2, 5)), device))


def test_lstm_backward_reaches_all_parameters(device):
    lstm = nn.LSTM(3, 5, num_layers=2, dropout=0.0).to(device)
    out, _ = lstm(T(rng(7).standard_normal((4, 2, 3)), device))
    out.sum().backward()
    assert all(p.grad is not None and np.abs(N(p.grad)).sum() > 0 for p in lstm.parameters())


def np_mha(q, k, v, w_in, b_in, w_out, b_out, heads, mask=None, kpm=None):
    E = q.shape[-1]
    L, Nb, _ = q.shape
    S = k.shape[0]
    qp = q @ w_in[:E].T + b_in[:E]
    kp = k @ w_in[E : 2 * E].T + b_in[E : 2 * E]
    vp = v @ w_in[2 * E :].T + b_in[2 * E :]
    dh = E // heads

    def split(x, n):
        return x.reshape(n, Nb, heads, dh).transpose(1, 2, 0, 3)

    qh, kh, vh = split(qp, L), split(kp, S), split(vp, S)
    s = qh @ kh.transpose(0, 1, 3, 2) / np.sqrt(dh)
    if mask is not None:
        s = np.where(mask, -np.inf, s)
    if kpm is not None:
        s = np.where(kpm[:, None, None, :], -np.inf, s)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    o = (p @ vh).transpose(2, 0, 1, 3).reshape(L, Nb, E)
    return o @ w_out.T + b_out, p.mean(1)


def test_multihead_attention_matches_numpy(device):
    ember.manual_seed(2)
    mha = nn.MultiheadAttention(8, 2).to(device)
    assert [n for n, _ in mha.named_parameters()] == [
        "in_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ]
    r = rng(8)
    q = r.standard_normal((3, 2, 8))
    k = r.standard_normal((4, 2, 8))
    v = r.standard_normal((4, 2, 8))
    mask = np.zeros((3, 4), bool)
    mask[0, 3] = True
    kpm = np.zeros((2, 4), bool)
    kpm[1, 0] = True
    out, w = mha(
        T(q, device),
        T(k, device),
        T(v, device),
        attn_mask=T(mask, device),
        key_padding_mask=T(kpm, device),
    )
    args = [
        _p(mha, "in_proj_weight"),
        _p(mha, "in_proj_bias"),
        N(mha.out_proj.weight),
        N(mha.out_proj.bias),
    ]
    ref, wref = np_mha(q, k, v, *args, heads=2, mask=mask, kpm=kpm)
    np.testing.assert_allclose(N(out), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(N(w), wref, rtol=1e-4, atol=1e-5)
    mha_bf = nn.MultiheadAttention(8, 2, batch_first=True).to(device)
    mha_bf.load_state_dict(mha.state_dict())
    out_bf, _ = mha_bf(
        T(q.transpose(1, 0, 2), device),
        T(k.transpose(1, 0, 2), device),
        T(v.transpose(1, 0, 2), device),
        need_weights=False,
    )
    np.testing.assert_allclose(
        N(out_bf).transpose(1, 0, 2),
        mha(T(q, device), T(k, device), T(v, device))[0].detach().cpu().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )


def test_transformer_encoder_layer(device):
    ember.manual_seed(3)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True).to(
        device
    )
    names = [n for n, _ in layer.named_parameters()]
    assert names == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
        "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
        "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
    ]  # fmt: skip
    x = T(rng(9).standard_normal((2, 5, 8)), device)
    y = layer(x)
    # post-norm reference composed from the submodules
    sa = layer.self_attn(x, x, x, need_weights=False)[0]
    h = layer.norm1(x + sa)
    ref = layer.norm2(h + layer.linear2(F.relu(layer.linear1(h))))
    np.testing.assert_allclose(N(y), N(ref), rtol=1e-5, atol=1e-5)
    pre = nn.TransformerEncoderLayer(
        8, 2, 16, 0.0, activation="gelu", batch_first=True, norm_first=True
    ).to(device)
    mask = nn.Transformer.generate_square_subsequent_mask(5, device=device)
    assert N(mask).tolist()[1] == [0.0, 0.0, float("-inf"), float("-inf"), float("-inf")]
    causal = pre(x, src_mask=mask, is_causal=True)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        pre(x, is_causal=True)
    # with a causal mask the first position only sees itself: changing later tokens leaves it
    x2 = x.clone()
    x2[:, 1:] = 0.0
    np.testing.assert_allclose(
        N(pre(x2, src_mask=mask, is_causal=True))[:, 0], N(causal)[:, 0], rtol=1e-5, atol=1e-5
    )
    enc = nn.TransformerEncoder(layer, 2).to(device)
    assert tuple(enc(x).shape) == (2, 5, 8)
    assert enc.layers[0] is not enc.layers[1]


def test_conv_modules_and_padding_modes(device):
    ember.manual_seed(4)
    conv = nn.Conv2d(2, 3, 3, padding="same", padding_mode="circular").to(device)
    x = rng(10).standard_normal((1, 2, 5, 5)).astype(np.float32)
    y = conv(T(x, device))
    ref = F.conv2d(F.pad(T(x, device), (1, 1, 1, 1), mode="circular"), conv.weight, conv.bias)
    np.testing.assert_allclose(N(y), N(ref), rtol=1e-5, atol=1e-6)
    ct = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).to(device)
    assert tuple(ct.weight.shape) == (3, 2, 3, 3)
    out = ct(T(np.zeros((1, 3, 4, 4)), device), output_size=(8, 8))
    assert tuple(out.shape) == (1, 2, 8, 8)
    c1 = nn.Conv1d(2, 4, 3, padding=1).to(device)
    assert tuple(c1(T(np.zeros((2, 2, 7)), device)).shape) == (2, 4, 7)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_pooling_modules(device):
    x = T(rng(11).standard_normal((2, 3, 8, 8)), device)
    assert tuple(nn.MaxPool2d(2)(x).shape) == (2, 3, 4, 4)
    assert tuple(nn.AvgPool2d(3, stride=2, padding=1)(x).shape) == (2, 3, 4, 4)
    assert tuple(nn.AdaptiveAvgPool2d((1, 1))(x).shape) == (2, 3, 1, 1)
    assert tuple(nn.MaxPool1d(2)(x[:, :, 0]).shape) == (2, 3, 4)
    out, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert tuple(idx.shape) == (2, 3, 4, 4)


def test_activation_modules(device):
    x = T(np.array([-2.0, -0.5, 0.0, 0.5, 2.0]), device)
    xs = N(x)
    np.testing.assert_allclose(N(nn.ReLU()(x)), np.maximum(xs, 0))
    np.testing.assert_allclose(N(nn.ReLU6()(x * 4)), np.clip(xs * 4, 0, 6))
    np.testing.assert_allclose(N(nn.Tanh()(x)), np.tanh(xs), rtol=1e-6)
    np.testing.assert_allclose(N(nn.Sigmoid()(x)), 1 / (1 + np.exp(-xs)), rtol=1e-6)
    np.testing.assert_allclose(N(nn.Hardtanh(-1, 1)(x)), np.clip(xs, -1, 1))
    np.testing.assert_allclose(
        N(nn.ELU(alpha=0.5)(x)), np.where(xs > 0, xs, 0.5 * (np.exp(xs) - 1)), rtol=1e-6
    )
    np.testing.assert_allclose(N(nn.Softplus(beta=2)(x)), np.log1p(np.exp(2 * xs)) / 2, rtol=1e-5)
    np.testing.assert_allclose(N(nn.LogSoftmax(dim=0)(x)).sum() < 0, True)
    np.testing.assert_allclose(N(nn.Softmax(dim=-1)(x)).sum(), 1, rtol=1e-6)
    np.testing.assert_allclose(N(nn.SiLU()(x)), xs / (1 + np.exp(-xs)), rtol=1e-6)
    np.testing.assert_allclose(N(nn.LeakyReLU(0.1)(x)), np.where(xs > 0, xs, 0.1 * xs), rtol=1e-6)
    y = T(np.array([-1.0, 1.0]), device, requires_grad=True)
    z = y * 1.0
    nn.ReLU(inplace=True)(z)
    np.testing.assert_allclose(N(z), [0, 1])


# ---------------------------------------------------------------------------- nn.utils
def test_clip_grad_norm_and_value(device):
    p1 = T(np.zeros(3), device, requires_grad=True)
    p2 = T(np.zeros(4), device, requires_grad=True)
    (p1 * T([3.0, 0, 0], device)).sum().backward()
    (p2 * T([0.0, 4.0, 0, 0], device)).sum().backward()
    total = nn.utils.clip_grad_norm_([p1, p2], max_norm=1.0)
    np.testing.assert_allclose(float(N(total)), 5.0, rtol=1e-6)
    np.testing.assert_allclose(N(p1.grad), [3 / (5 + 1e-6), 0, 0], rtol=1e-5)
    np.testing.assert_allclose(N(p2.grad)[1], 4 / (5 + 1e-6), rtol=1e-5)
    total_inf = nn.utils.clip_grad_norm_([p1, p2], max_norm=10.0, norm_type="inf")
    np.testing.assert_allclose(float(N(total_inf)), 4 / (5 + 1e-6), rtol=1e-5)
    nn.utils.clip_grad_value_([p1, p2], 0.1)
    assert np.abs(N(p1.grad)).max() <= 0.1 + 1e-7
    p3 = T(np.zeros(2), device, requires_grad=True)
    (p3 * T([float("inf"), 1.0], device)).sum().backward()
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p3, 1.0, error_if_nonfinite=True)
    assert float(N(nn.utils.clip_grad_norm_([T(np.zeros(2), device)], 1.0))) == 0.0


def test_parameters_vector_round_trip():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert tuple(vec.shape) == (3 * 2 + 2 + 2 + 1,)
    new = ember.arange(11, dtype=ember.float32)
    nn.utils.vector_to_parameters(new, m.parameters())
    np.testing.assert_array_equal(N(m[0].weight), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(N(m[1].bias), [10])


def test_deepcopy_module_is_independent():
    m = Small()
    m2 = copy.deepcopy(m)
    assert m2.fc1.weight is not m.fc1.weight
    assert isinstance(m2.fc1.weight, nn.Parameter)
    np.testing.assert_array_equal(N(m2.fc1.weight), N(m.fc1.weight))
    with ember.no_grad():
        m2.fc1.weight.add_(1)
    assert not np.allclose(N(m2.fc1.weight), N(m.fc1.weight))


def test_custom_module_training_converges(device):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)).to(device)
    x = rng(12).uniform(-1, 1, (64, 2)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:]).astype(np.float32)
    opt = ember.optim.Adam(model.parameters(), lr=0.02)
    tx, ty = T(x, device), T(y, device)
    first = None
    for _ in range(200):
        opt.zero_grad()
        loss = F.mse_loss(model(tx), ty)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first


def test_padding_upsample_pixelshuffle_distance_modules(device):
    x = rng(13).standard_normal((2, 8, 3, 4)).astype(np.float32)
    tx = T(x, device)
    np.testing.assert_allclose(
        N(nn.ZeroPad2d((1, 0, 2, 1))(tx)), np.pad(x, ((0, 0), (0, 0), (2, 1), (1, 0)))
    )
    np.testing.assert_allclose(
        N(nn.ConstantPad1d(2, 3.5)(tx[:, :, 0])),
        np.pad(x[:, :, 0], ((0, 0), (0, 0), (2, 2)), constant_values=3.5),
    )
    np.testing.assert_allclose(
        N(nn.ReflectionPad2d(1)(tx)), np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    )
    np.testing.assert_allclose(
        N(nn.ReplicationPad1d((0, 3))(tx[:, :, 0])),
        np.pad(x[:, :, 0], ((0, 0), (0, 0), (0, 3)), mode="edge"),
    )
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    up = nn.Upsample(scale_factor=2, mode="nearest")
    assert repr(up) == "Upsample(scale_factor=2.0, mode='nearest')"
    np.testing.assert_allclose(N(up(tx)), x.repeat(2, 2).repeat(2, 3))
    ps = nn.PixelShuffle(2)(tx)
    assert tuple(ps.shape) == (2, 2, 6, 8)
    ref = x.reshape(2, 2, 2, 2, 3, 4).transpose(0, 1, 4, 2, 5, 3).reshape(2, 2, 6, 8)
    np.testing.assert_allclose(N(ps), ref)
    np.testing.assert_allclose(N(nn.PixelUnshuffle(2)(ps)), x)
    a, b = x.reshape(2, -1), x[::-1].reshape(2, -1)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(
        N(nn.CosineSimilarity(dim=1)(T(a, device), T(b, device))), cos, rtol=1e-5
    )
    np.testing.assert_allclose(
        N(nn.PairwiseDistance()(T(a, device), T(b, device))),
        np.linalg.norm(a - b + 1e-6, axis=1),
        rtol=1e-5,
    )
    bn3 = nn.BatchNorm3d(2).to(device)
    y = bn3(T(rng(14).standard_normal((3, 2, 2, 2, 2)), device))
    np.testing.assert_allclose(N(y).mean((0, 2, 3, 4)), [0, 0], atol=1e-5)


def test_transformer_decoder_layer(device):
    ember.manual_seed(5)
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True).to(
        device
    )
    names = [n for n, _ in layer.named_parameters()]
    assert names[:4] == [
        "self_attn.in_proj_weight",
        "self_attn.in_proj_bias",
        "self_attn.out_proj.weight",
        "self_attn.out_proj.bias",
    ]
    assert "multihead_attn.in_proj_weight" in names and names[-2:] == ["norm3.weight", "norm3.bias"]
    tgt = T(rng(15).standard_normal((2, 4, 8)), device)
    mem = T(rng(16).standard_normal((2, 6, 8)), device)
    tmask = nn.Transformer.generate_square_subsequent_mask(4, device=device)
    out = layer(tgt, mem, tgt_mask=tmask, tgt_is_causal=True)
    sa = layer.self_attn(tgt, tgt, tgt, attn_mask=tmask, need_weights=False)[0]
    h = layer.norm1(tgt + sa)
    h = layer.norm2(h + layer.multihead_attn(h, mem, mem, need_weights=False)[0])
    ref = layer.norm3(h + layer.linear2(F.relu(layer.linear1(h))))
    np.testing.assert_allclose(N(out), N(ref), rtol=1e-5, atol=1e-5)
    dec = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(8)).to(device)
    assert tuple(dec(tgt, mem).shape) == (2, 4, 8)


def test_pad_pack_sequences():
    from ember.nn.utils.rnn import (
        pack_padded_sequence,
        pack_sequence,
        pad_packed_sequence,
        pad_sequence,
        unpack_sequence,
    )

    seqs = [ember.tensor([1.0, 2.0, 3.0]), ember.tensor([4.0, 5.0]), ember.tensor([6.0])]
    padded = pad_sequence(seqs, batch_first=True, padding_value=-1.0)
    assert padded.tolist() == [[1, 2, 3], [4, 5, -1], [6, -1, -1]]
    assert tuple(pad_sequence(seqs).shape) == (3, 3)
    assert pad_sequence(seqs, batch_first=True, padding_side="left").tolist()[2] == [0, 0, 6]
    packed = pack_padded_sequence(padded, [3, 2, 1], batch_first=True)
    assert packed.data.tolist() == [1, 4, 6, 2, 5, 3] and packed.batch_sizes.tolist() == [3, 2, 1]
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        pack_padded_sequence(padded, [1, 3, 2], batch_first=True)
    shuffled = padded[ember.tensor([2, 0, 1])]
    packed2 = pack_padded_sequence(
        shuffled, ember.tensor([1, 3, 2]), batch_first=True, enforce_sorted=False
    )
    assert packed2.sorted_indices.tolist() == [1, 2, 0] and packed2.unsorted_indices.tolist() == [
        2,
        0,
        1,
    ]
    out, lengths = pad_packed_sequence(packed2, batch_first=True, total_length=4)
    assert lengths.tolist() == [1, 3, 2]
    assert out.tolist() == [[6, 0, 0, 0], [1, 2, 3, 0], [4, 5, 0, 0]]
    back = unpack_sequence(pack_sequence([seqs[1], seqs[0]], enforce_sorted=False))
    assert [b.tolist() for b in back] == [[4, 5], [1, 2, 3]]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_rnn_on_packed_sequences_matches_per_sequence_runs(kind, device):
    from ember.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    ember.manual_seed(6)
    rnn = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True).to(device)
    lengths = [2, 5, 3]
    x = T(rng(17).standard_normal((3, 5, 3)), device)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_p, hid = rnn(packed)
    out, out_len = pad_packed_sequence(out_p, batch_first=True)
    assert out_len.tolist() == lengths and tuple(out.shape) == (3, 5, 8)
    h_n = hid[0] if kind == "LSTM" else hid
    for b, n in enumerate(lengths):
        ob, hb = rnn(x[b : b + 1, :n])
        hb = hb[0] if kind == "LSTM" else hb
        np.testing.assert_allclose(N(out)[b, :n], N(ob)[0], rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(N(out)[b, n:], 0)
        np.testing.assert_allclose(N(h_n)[:, b], N(hb)[:, 0], rtol=1e-4, atol=1e-5)
    out_p.data.sum().backward()
    assert all(p.grad is not None for p in rnn.parameters())


def test_init_generator_makes_init_reproducible():
    def draw(seed):
        t = ember.empty(5, 4)
        init.kaiming_uniform_(t, a=math.sqrt(5), generator=ember.Generator().manual_seed(seed))
        return N(t)

    np.testing.assert_array_equal(draw(3), draw(3))
    assert not np.array_equal(draw(3), draw(4))
    ember.manual_seed(0)
    a = N(nn.Linear(4, 5).weight)
    ember.manual_seed(0)
    np.testing.assert_array_equal(a, N(nn.Linear(4, 5).weight))


def test_full_backward_hooks():
    lin = nn.Linear(3, 2)
    seen = []

    def hook(mod, grad_input, grad_output):
        seen.append(
            (mod, [None if g is None else N(g) for g in grad_input], [N(g) for g in grad_output])
        )
        return (grad_input[0] * 2,)

    def pre(mod, grad_output):
        seen.append("pre")
        return None

    h = lin.register_full_backward_hook(hook)
    lin.register_full_backward_pre_hook(pre)
    x = ember.ones(4, 3, requires_grad=True)
    out = lin(x)
    (out * 3).sum().backward()
    assert seen[0] == "pre"
    mod, gin, gout = seen[1]
    assert mod is lin
    np.testing.assert_allclose(gout[0], np.full((4, 2), 3.0))
    np.testing.assert_allclose(gin[0], np.full((4, 2), 3.0) @ N(lin.weight), rtol=1e-6)
    np.testing.assert_allclose(N(x.grad), 2 * gin[0], rtol=1e-6)  # the hook's replacement is used
    np.testing.assert_allclose(N(lin.weight.grad), np.full((2, 3), 12.0), rtol=1e-6)
    h.remove()
    seen.clear()
    lin(ember.ones(1, 3)).sum().backward()  # input without grad: hooks still see grad_output
    assert seen == ["pre"]
    lin2 = nn.Linear(3, 2)
    calls = []
    lin2.register_full_backward_hook(lambda m, gi, go: calls.append(gi))
    lin2(ember.ones(1, 3)).sum().backward()
    assert calls == [(None,)]


def test_full_transformer(device):
    ember.manual_seed(7)
    model = nn.Transformer(
        d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16,
        dropout=0.0, batch_first=True,
    ).to(device)  # fmt: skip
    names = [n for n, _ in model.named_parameters()]
    assert names[0] == "encoder.layers.0.self_attn.in_proj_weight"
    assert (
        "decoder.layers.0.multihead_attn.in_proj_weight" in names
        and names[-1] == "decoder.norm.bias"
    )
    src = T(rng(18).standard_normal((2, 5, 8)), device)
    tgt = T(rng(19).standard_normal((2, 3, 8)), device)
    mask = model.generate_square_subsequent_mask(3, device=device)
    out = model(src, tgt, tgt_mask=mask, tgt_is_causal=True)
    assert tuple(out.shape) == (2, 3, 8)
    ref = model.decoder(tgt, model.encoder(src), tgt_mask=mask)
    np.testing.assert_allclose(N(out), N(ref), rtol=1e-5, atol=1e-5)
