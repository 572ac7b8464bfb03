"""ember.optim: update math vs numpy references, fused kernels vs the reference path,
state_dict layout and round trips, LBFGS, and lr_scheduler sequences."""

import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.optim as optim
import ember.optim.optimizer as optimizer_mod
from ember.optim import lr_scheduler

A = np.array([0.5, 1.0, 2.0, 3.0])
B = np.array([1.0, -2.0, 0.5, 0.0])
P0 = np.array([1.0, -1.0, 0.5, 2.0])


def grad_np(p):
    return 2 * A * p + B


def run_ember(make_opt, steps, device, force_python=None, monkeypatch=None):
    if force_python is not None:
        monkeypatch.setattr(optimizer_mod, "_FORCE_PYTHON", force_python)
    p = nn.Parameter(ember.tensor(P0.astype(np.float32)).to(device))
    q = nn.Parameter(ember.tensor(np.array([[0.3, -0.7]], dtype=np.float32)).to(device))
    opt = make_opt([p, q])
    a = ember.tensor(A.astype(np.float32)).to(device)
    b = ember.tensor(B.astype(np.float32)).to(device)
    for _ in range(steps):
        opt.zero_grad()
        loss = (a * p * p + b * p).sum() + (q * q).sum()
        loss.backward()
        opt.step()
    return p.detach().cpu().numpy(), q.detach().cpu().numpy(), opt


def np_sgd(
    steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
):
    p = P0.copy()
    buf = None
    for _ in range(steps):
        g = grad_np(p)
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def np_adam(
    steps,
    lr,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
    decoupled=False,
):
    p = P0.copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vmax = np.zeros_like(p)
    b1, b2 = betas
    for t in range(1, steps + 1):
        g = grad_np(p)
        g = -g if maximize else g
        if weight_decay:
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        if amsgrad:
            vmax = np.maximum(vmax, v)
            denom = np.sqrt(vmax) / math.sqrt(bc2) + eps
        else:
            denom = np.sqrt(v) / math.sqrt(bc2) + eps
        p = p - lr / bc1 * m / denom
    return p


def np_rmsprop(
    steps, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False
):
    p = P0.copy()
    sq = np.zeros_like(p)
    gavg = np.zeros_like(p)
    buf = np.zeros_like(p)
    for _ in range(steps):
        g = grad_np(p)
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        sq = alpha * sq + (1 - alpha) * g * g
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            avg = np.sqrt(sq - gavg**2) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


def np_adagrad(steps, lr, lr_decay=0.0, weight_decay=0.0, init_acc=0.0, eps=1e-10, maximize=False):
    p = P0.copy()
    s = np.full_like(p, init_acc)
    for t in range(1, steps + 1):
        g = grad_np(p)
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (np.sqrt(s) + eps)
    return p


CASES = [
    ("sgd", lambda ps: optim.SGD(ps, lr=0.05), lambda: np_sgd(7, 0.05)),
    ("sgd_momentum", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
     lambda: np_sgd(7, 0.05, 0.9, 0.1, 0.01)),
    ("sgd_nesterov_max", lambda ps: optim.SGD(ps, lr=0.02, momentum=0.5, nesterov=True, maximize=True),
     lambda: np_sgd(7, 0.02, 0.5, nesterov=True, maximize=True)),
    ("adam", lambda ps: optim.Adam(ps, lr=0.1), lambda: np_adam(7, 0.1)),
    ("adam_wd_amsgrad", lambda ps: optim.Adam(ps, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True),
     lambda: np_adam(7, 0.05, (0.8, 0.9), weight_decay=0.1, amsgrad=True)),
    ("adam_maximize", lambda ps: optim.Adam(ps, lr=0.05, maximize=True), lambda: np_adam(7, 0.05, maximize=True)),
    ("adamw", lambda ps: optim.AdamW(ps, lr=0.1), lambda: np_adam(7, 0.1, weight_decay=0.01, decoupled=True)),
    ("adamw_amsgrad", lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.3, amsgrad=True),
     lambda: np_adam(7, 0.1, weight_decay=0.3, amsgrad=True, decoupled=True)),
    ("rmsprop", lambda ps: optim.RMSprop(ps, lr=0.01), lambda: np_rmsprop(7, 0.01)),
    ("rmsprop_full", lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.5, centered=True),
     lambda: np_rmsprop(7, 0.01, 0.9, weight_decay=0.1, momentum=0.5, centered=True)),
    ("adagrad", lambda ps: optim.Adagrad(ps, lr=0.1), lambda: np_adagrad(7, 0.1)),
    ("adagrad_full", lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2),
     lambda: np_adagrad(7, 0.1, 0.05, 0.1, 0.2)),
]  # fmt: skip


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("path", ["fused", "reference"])
def test_optimizer_matches_numpy(name, make, ref, path, device, monkeypatch):
    p, _, _ = run_ember(
        make, 7, device, force_python=(path == "reference"), monkeypatch=monkeypatch
    )
    np.testing.assert_allclose(p, ref(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_fused_equals_reference_path(name, make, ref, device, monkeypatch):
    fused = run_ember(make, 10, device, force_python=False, monkeypatch=monkeypatch)
    refp = run_ember(make, 10, device, force_python=True, monkeypatch=monkeypatch)
    np.testing.assert_allclose(fused[0], refp[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused[1], refp[1], rtol=1e-5, atol=1e-6)
    s1, s2 = fused[2].state_dict()["state"], refp[2].state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        assert s1[k].keys() == s2[k].keys()
        for key in s1[k]:
            a, b = s1[k][key], s2[k][key]
            np.testing.assert_allclose(
                np.asarray(a.detach().cpu().numpy()), b.detach().cpu().numpy(), rtol=1e-5, atol=1e-6
            )


def test_state_dict_layout_adam():
    w = nn.Parameter(ember.ones(2, 2))
    b = nn.Parameter(ember.zeros(2))
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1, amsgrad=True)
    (w.sum() + b.sum()).backward()
    opt.step()
    sd = opt.state_dict()
    assert set(sd.keys()) == {"state", "param_groups"}
    assert sorted(sd["state"].keys()) == [0, 1]
    st = sd["state"][0]
    assert set(st.keys()) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert (
        st["step"].dim() == 0
        and st["step"].dtype == ember.float32
        and float(st["step"].item()) == 1.0
    )
    g0, g1 = sd["param_groups"]
    assert g0["params"] == [0] and g1["params"] == [1]
    assert g0["lr"] == 0.1 and g1["lr"] == 0.5 and g0["betas"] == (0.9, 0.999)
    for key in [
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "amsgrad",
        "maximize",
        "foreach",
        "capturable",
        "differentiable",
        "fused",
    ]:
        assert key in g0
    sgd = optim.SGD([w], lr=0.1)
    w.grad = None
    w.sum().backward()
    sgd.step()
    assert sgd.state_dict()["state"] == {}
    sgdm = optim.SGD([w], lr=0.1, momentum=0.9)
    sgdm.step()
    assert list(sgdm.state_dict()["state"][0].keys()) == ["momentum_buffer"]


def test_load_state_dict_continues_identically(device):
    def make_params():
        ember.manual_seed(0)
        return [nn.Parameter(ember.randn(3, 2).to(device)), nn.Parameter(ember.randn(2).to(device))]

    def step(opt, params, k):
        for _ in range(k):
            opt.zero_grad()
            loss = (params[0] ** 2).sum() + (params[1] ** 3).sum()
            loss.backward()
            opt.step()

    pa = make_params()
    oa = optim.AdamW(pa, lr=0.05, amsgrad=True)
    step(oa, pa, 3)
    sd = oa.state_dict()
    pb = [nn.Parameter(p.detach().clone()) for p in pa]
    ob = optim.AdamW(pb, lr=0.9)
    ob.load_state_dict(sd)
    assert ob.param_groups[0]["lr"] == 0.05
    assert ob.param_groups[0]["params"][0] is pb[0]
    step(oa, pa, 4)
    step(ob, pb, 4)
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x.detach().cpu().numpy(), y.detach().cpu().numpy())
    # the loaded state is a copy: stepping one optimizer does not move the other's state
    assert ob.state[pb[0]]["exp_avg"] is not oa.state[pa[0]]["exp_avg"]


def test_load_state_dict_errors():
    p = nn.Parameter(ember.ones(2))
    q = nn.Parameter(ember.ones(2))
    opt = optim.SGD([p], lr=0.1)
    other = optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(other.state_dict())
    two = optim.SGD([p, q], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(two.state_dict())


def test_param_groups_and_errors():
    p = nn.Parameter(ember.ones(2))
    q = nn.Parameter(ember.ones(3))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": q, "lr": 0.01})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0: 1.0"):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(
        ValueError, match="Nesterov momentum requires a momentum and zero dampening"
    ):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([p * 2], lr=0.1)
    r = repr(optim.SGD([p], lr=0.1))
    assert r.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in r


def test_zero_grad_and_closure():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.1)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert calls == [1] and abs(loss.item() - 5.0) < 1e-6
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), [0, 0])
    opt.zero_grad()
    assert p.grad is None
    # a parameter without grad is skipped
    q = nn.Parameter(ember.tensor([3.0]))
    opt2 = optim.Adam([p, q], lr=0.1)
    (p.sum()).backward()
    opt2.step()
    np.testing.assert_array_equal(q.detach().numpy(), [3.0])
    assert len(opt2.state) == 1


def test_step_hooks():
    p = nn.Parameter(ember.tensor([1.0]))
    opt = optim.SGD([p], lr=0.1)
    seen = []
    h = opt.register_step_post_hook(lambda o, a, k: seen.append("post"))
    opt.register_step_pre_hook(lambda o, a, k: seen.append("pre"))
    p.sum().backward()
    opt.step()
    assert seen == ["pre", "post"]
    h.remove()
    opt.step()
    assert seen == ["pre", "post", "pre"]


def test_lbfgs_quadratic_and_rosenbrock():
    Am = ember.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=ember.float64)
    bm = ember.tensor([1.0, -1.0], dtype=ember.float64)
    x = nn.Parameter(ember.zeros(2, dtype=ember.float64))
    opt = optim.LBFGS([x], lr=1, max_iter=50)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (Am @ x)) - (bm * x).sum()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(
        x.detach().numpy(), np.linalg.solve([[3, 1], [1, 2]], [1, -1]), atol=1e-6
    )

    z = nn.Parameter(ember.tensor([-1.5, 2.0], dtype=ember.float64))
    opt = optim.LBFGS([z], lr=1, max_iter=200, line_search_fn="strong_wolfe")

    def rosen():
        opt.zero_grad()
        loss = (1 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(rosen)
    np.testing.assert_allclose(z.detach().numpy(), [1.0, 1.0], atol=1e-5)
    assert opt.state[z]["func_evals"] > 0
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [x]}, {"params": [z]}])


# ---------------------------------------------------------------------------- schedulers
def _opt(lr=1.0, kind="sgd", groups=1):
    ps = [{"params": [nn.Parameter(ember.zeros(1))]} for _ in range(groups)]
    if kind == "adam":
        return optim.Adam(ps, lr=lr)
    return optim.SGD(ps, lr=lr, momentum=0.9)


def _run(sched, opt, n, metrics=None):
    lrs = [opt.param_groups[0]["lr"]]
    for i in range(n):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def test_step_multistep_exponential_lambda():
    o = _opt()
    s = lr_scheduler.StepLR(o, step_size=2, gamma=0.5)
    np.testing.assert_allclose(_run(s, o, 6), [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125])
    assert s.get_last_lr() == [0.125]
    o = _opt()
    s = lr_scheduler.MultiStepLR(o, milestones=[2, 4], gamma=0.1)
    np.testing.assert_allclose(_run(s, o, 5), [1, 1, 0.1, 0.1, 0.01, 0.01])
    o = _opt()
    s = lr_scheduler.ExponentialLR(o, gamma=0.5)
    np.testing.assert_allclose(_run(s, o, 3), [1, 0.5, 0.25, 0.125])
    o = _opt(0.1)
    s = lr_scheduler.LambdaLR(o, lambda e: 1.0 / (e + 1))
    np.testing.assert_allclose(_run(s, o, 3), [0.1, 0.05, 0.1 / 3, 0.025])
    o = _opt()
    s = lr_scheduler.LinearLR(o, start_factor=0.5, total_iters=4)
    np.testing.assert_allclose(_run(s, o, 5), [0.5, 0.625, 0.75, 0.875, 1.0, 1.0])


def test_cosine_annealing_recursive_equals_closed_form():
    o = _opt(0.1)
    T_max, eta_min = 10, 0.001
    s = lr_scheduler.CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min)
    lrs = _run(s, o, 10)
    closed = [
        eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2 for t in range(11)
    ]
    np.testing.assert_allclose(lrs, closed, rtol=1e-10, atol=1e-12)


def test_one_cycle_lr_values_and_momentum():
    o = _opt(1.0)
    s = lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10)
    assert o.param_groups[0]["momentum"] == 0.95
    lrs = _run(s, o, 9)
    assert abs(lrs[0] - 0.04) < 1e-12
    assert abs(lrs[1] - 0.52) < 1e-12
    assert abs(lrs[2] - 1.0) < 1e-12
    assert abs(lrs[9] - 0.04 / 1e4) < 1e-12
    assert abs(o.param_groups[0]["momentum"] - 0.95) < 1e-12
    s.step()  # PyTorch allows one step past the schedule; the next one raises
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        s.step()
    oa = _opt(1.0, "adam")
    lr_scheduler.OneCycleLR(oa, max_lr=0.1, epochs=2, steps_per_epoch=5, anneal_strategy="linear")
    assert oa.param_groups[0]["betas"] == (0.95, 0.999)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        lr_scheduler.OneCycleLR(_opt(), max_lr=1.0)


def test_reduce_lr_on_plateau():
    o = _opt(1.0)
    s = lr_scheduler.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, cooldown=1)
    lrs = _run(s, o, 8, metrics=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5])
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert s.get_last_lr() == [0.5]
    o = _opt(1.0)
    s = lr_scheduler.ReduceLROnPlateau(o, mode="max", patience=0, min_lr=0.3)
    _run(s, o, 3, metrics=[1.0, 0.9, 0.8])
    assert o.param_groups[0]["lr"] == 0.3


def test_scheduler_state_dict_round_trip():
    o1 = _opt(0.1)
    s1 = lr_scheduler.MultiStepLR(o1, [3, 5], gamma=0.5)
    _run(s1, o1, 4)
    sd = s1.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    o2 = _opt(0.1)
    o2.load_state_dict(o1.state_dict())
    s2 = lr_scheduler.MultiStepLR(o2, [100], gamma=0.9)
    s2.load_state_dict(sd)
    assert _run(s1, o1, 3) == _run(s2, o2, 3)
    o3 = _opt(1.0)
    s3 = lr_scheduler.ReduceLROnPlateau(o3, patience=1)
    s3.step(1.0)
    s3.step(2.0)
    sd3 = s3.state_dict()
    s4 = lr_scheduler.ReduceLROnPlateau(_opt(1.0), patience=5)
    s4.load_state_dict(sd3)
    assert s4.patience == 1 and s4.num_bad_epochs == 1 and s4.best == 1.0
    ol = _opt()
    sl = lr_scheduler.LambdaLR(ol, lambda e: 0.5**e)
    assert sl.state_dict()["lr_lambdas"] == [None]


def test_scheduler_requires_initial_lr_when_resuming():
    with pytest.raises(
        KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\]"
    ):
        lr_scheduler.StepLR(_opt(), 2, last_epoch=3)


def test_cosine_warm_restarts_and_chained():
    o = _opt(1.0)
    s = lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2)
    lrs = _run(s, o, 5)
    np.testing.assert_allclose(
        lrs,
        [1.0, 0.75, 0.25, 1.0, (1 + math.cos(math.pi / 6)) / 2, (1 + math.cos(math.pi / 3)) / 2],
        rtol=1e-12,
    )
    o = _opt(1.0)
    s = lr_scheduler.ChainedScheduler(
        [lr_scheduler.ExponentialLR(o, 0.5), lr_scheduler.StepLR(o, 2, 0.1)]
    )
    np.testing.assert_allclose(_run(s, o, 3), [1.0, 0.5, 0.025, 0.0125])
    sd = s.state_dict()
    assert len(sd["_schedulers"]) == 2 and "optimizer" not in sd


def test_sequential_lr_switches_at_milestone():
    o = _opt(1.0)
    warm = lr_scheduler.ConstantLR(o, factor=0.1, total_iters=2)
    decay = lr_scheduler.ExponentialLR(o, gamma=0.9)
    s = lr_scheduler.SequentialLR(o, schedulers=[warm, decay], milestones=[2])
    # the second scheduler starts from its epoch 0 (the base lr) at the milestone
    np.testing.assert_allclose(_run(s, o, 4), [0.1, 0.1, 1.0, 0.9, 0.81])
    sd = s.state_dict()
    assert len(sd["_schedulers"]) == 2 and sd["last_epoch"] == 4


class PlainSGD(optim.Optimizer):
    """A user-defined optimizer written the PyTorch way."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))

    @ember.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                state["steps"] = state.get("steps", 0) + 1
                p.add_(p.grad, alpha=-group["lr"])


def test_user_defined_optimizer_subclass():
    p = nn.Parameter(ember.tensor([1.0, -2.0]))
    opt = PlainSGD([p], lr=0.5)
    seen = []
    opt.register_step_post_hook(lambda o, a, k: seen.append(1))
    for _ in range(2):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.0, 0.0], atol=1e-7)
    assert opt.state[p]["steps"] == 2 and seen == [1, 1]
    assert opt.state_dict()["state"] == {0: {"steps": 2}}


def test_cyclic_lr_triangular_modes():
    o = _opt(1.0)
    s = lr_scheduler.CyclicLR(o, base_lr=0.1, max_lr=1.0, step_size_up=2)
    np.testing.assert_allclose(_run(s, o, 6), [0.1, 0.55, 1.0, 0.55, 0.1, 0.55, 1.0])
    assert abs(o.param_groups[0]["momentum"] - 0.8) < 1e-12  # momentum cycles inversely
    o = _opt(1.0)
    s = lr_scheduler.CyclicLR(
        o, base_lr=0.1, max_lr=1.0, step_size_up=1, mode="triangular2", cycle_momentum=False
    )
    np.testing.assert_allclose(_run(s, o, 4), [0.1, 1.0, 0.1, 0.55, 0.1])
    o = _opt(1.0, "adam")
    lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3)
    assert o.param_groups[0]["betas"][0] == 0.9
    assert "_scale_fn_custom" not in lr_scheduler.CyclicLR(_opt(), 0.1, 1.0).state_dict()
