"""NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD and Adafactor against numpy
transcriptions of the algorithms in PyTorch's optimizer docs (single-tensor
implementations), plus state_dict round trips and lr_scheduler use."""

import math

import numpy as np
import pytest

import ember

W = np.array([[0.5, 1.5, -2.0], [3.0, 0.25, 1.0]])
TARGET = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -3.0]])
P0 = np.array([[0.3, -0.7, 1.1], [-0.2, 0.9, 0.4]])


def _np_grad(p):
    # d/dp of sum(w * (p - target)^2 * 0.5) + sum(sin(p))
    return W * (p - TARGET) + np.cos(p)


def _dt(device):
    # The GPU stores no float64: there the same runs are float32 with looser tolerances.
    return ember.float64 if device == "cpu" else ember.float32


def _tol(device, rtol, atol):
    return dict(rtol=rtol, atol=atol) if device == "cpu" else dict(rtol=1e-4, atol=1e-5)


def _run_ember(cls, device, steps, shape_1d=False, **kw):
    p0 = P0[0] if shape_1d else P0
    p = ember.tensor(p0, dtype=_dt(device), device=device, requires_grad=True)
    w = ember.tensor(W[0] if shape_1d else W, dtype=_dt(device), device=device)
    t = ember.tensor(TARGET[0] if shape_1d else TARGET, dtype=_dt(device), device=device)
    opt = cls([p], **kw)
    for _ in range(steps):
        opt.zero_grad()
        loss = (w * (p - t) ** 2 * 0.5).sum() + p.sin().sum()
        loss.backward()
        opt.step()
    return p.detach().cpu().numpy(), opt


def _np_nadam(p, steps, lr, betas, eps, wd, md, decoupled, maximize):
    b1, b2 = betas
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    mu_prod = 1.0
    for t in range(1, steps + 1):
        g = _np_grad(p) * (-1 if maximize else 1)
        if wd:
            if decoupled:
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
        mu = b1 * (1 - 0.5 * 0.96 ** (t * md))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * md))
        mu_prod *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vhat = v / (1 - b2**t)
        p = p - lr * (1 - mu) / (1 - mu_prod) * g / (np.sqrt(vhat) + eps)
        p = p - lr * mu_next / (1 - mu_prod * mu_next) * m / (np.sqrt(vhat) + eps)
    return p


def _np_radam(p, steps, lr, betas, eps, wd, decoupled, maximize):
    b1, b2 = betas
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    rho_inf = 2 / (1 - b2) - 1
    for t in range(1, steps + 1):
        g = _np_grad(p) * (-1 if maximize else 1)
        if wd:
            if decoupled:
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            lt = math.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            r = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            p = p - lr * mhat * lt * r
        else:
            p = p - lr * mhat
    return p


def _np_adamax(p, steps, lr, betas, eps, wd, maximize):
    b1, b2 = betas
    m = np.zeros_like(p)
    u = np.zeros_like(p)
    for t in range(1, steps + 1):
        g = _np_grad(p) * (-1 if maximize else 1)
        if wd:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        p = p - lr * m / ((1 - b1**t) * u)
    return p


def _np_adadelta(p, steps, lr, rho, eps, wd, maximize):
    v = np.zeros_like(p)
    u = np.zeros_like(p)
    for _ in range(steps):
        g = _np_grad(p) * (-1 if maximize else 1)
        if wd:
            g = g + wd * p
        v = rho * v + (1 - rho) * g * g
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * dx * dx
        p = p - lr * dx
    return p


def _np_rprop(p, steps, lr, etas, step_sizes, maximize):
    em, ep = etas
    smin, smax = step_sizes
    prev = np.zeros_like(p)
    eta = np.full_like(p, lr)
    for _ in range(steps):
        g = _np_grad(p) * (-1 if maximize else 1)
        s = g * prev
        eta = np.where(
            s > 0, np.minimum(eta * ep, smax), np.where(s < 0, np.maximum(eta * em, smin), eta)
        )
        g = np.where(s < 0, 0.0, g)
        p = p - np.sign(g) * eta
        prev = g
    return p


def _np_asgd(p, steps, lr, lambd, alpha, t0, wd, maximize):
    eta, mu = float(np.float32(lr)), 1.0
    ax = np.zeros_like(p)
    for t in range(1, steps + 1):
        g = _np_grad(p) * (-1 if maximize else 1)
        if wd:
            g = g + wd * p
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax) if mu != 1 else p.copy()
        # eta and mu live in float32 state tensors, as in PyTorch.
        eta = float(np.float32(lr / (1 + lambd * lr * t) ** alpha))
        mu = float(np.float32(1 / max(1, t - t0)))
    return p, ax


def _np_adafactor(p, steps, lr, beta2_decay, eps, d, wd, maximize):
    e1 = np.finfo(np.float64).eps if eps[0] is None else eps[0]
    e2 = eps[1]
    matrix = p.ndim > 1
    r = np.zeros(p.shape[:-1] + (1,))
    c = np.zeros(p.shape[:-2] + (1,) + p.shape[-1:]) if matrix else None
    v = np.zeros_like(p)
    for t in range(1, steps + 1):
        g = _np_grad(p) if matrix else _np_grad(np.stack([p, p]))[0]
        g = g * (-1 if maximize else 1)
        b2 = 1 - t**beta2_decay
        rho = min(lr, 1 / math.sqrt(t))
        alpha = max(e2, np.linalg.norm(p) / math.sqrt(p.size)) * rho
        if wd:
            p = p * (1 - lr * wd)
        if matrix:
            r = b2 * r + (1 - b2) * (g * g).mean(axis=-1, keepdims=True)
            c = b2 * c + (1 - b2) * (g * g).mean(axis=-2, keepdims=True)
            var = r @ c / np.maximum(r.mean(axis=-2, keepdims=True), e1)
        else:
            v = b2 * v + (1 - b2) * g * g
            var = v
        u = g / np.sqrt(np.maximum(var, e1 * e1))
        denom = max(1.0, np.linalg.norm(u) / (math.sqrt(u.size) * d))
        p = p - alpha / denom * u
    return p


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True),
        dict(betas=(0.8, 0.9), momentum_decay=0.01, eps=1e-6),
    ],
)
def test_nadam(device, kw):
    got, _ = _run_ember(ember.optim.NAdam, device, 6, **kw)
    full = dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3)
    full.update(kw)
    want = _np_nadam(
        P0.copy(),
        6,
        full["lr"],
        full["betas"],
        full["eps"],
        full["weight_decay"],
        full["momentum_decay"],
        full.get("decoupled_weight_decay", False),
        full.get("maximize", False),
    )
    # mu_product is a float32 state tensor (as in PyTorch), so agreement is float32-level.
    np.testing.assert_allclose(got, want, **_tol(device, 1e-7, 1e-9))


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(lr=0.05, weight_decay=0.1, maximize=True),
        dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
        # beta2=0.9 makes rho_t > 5 from step 7 on, so both branches run.
        dict(lr=0.01, betas=(0.8, 0.9)),
    ],
)
def test_radam(device, kw):
    got, _ = _run_ember(ember.optim.RAdam, device, 10, **kw)
    full = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    full.update(kw)
    want = _np_radam(
        P0.copy(),
        10,
        full["lr"],
        full["betas"],
        full["eps"],
        full["weight_decay"],
        full.get("decoupled_weight_decay", False),
        full.get("maximize", False),
    )
    np.testing.assert_allclose(got, want, **_tol(device, 1e-10, 1e-12))


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.1, weight_decay=0.2, maximize=True)])
def test_adamax(device, kw):
    got, _ = _run_ember(ember.optim.Adamax, device, 6, **kw)
    full = dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False)
    full.update(kw)
    want = _np_adamax(
        P0.copy(),
        6,
        **{k: full[k] for k in ("lr", "betas", "eps")},
        wd=full["weight_decay"],
        maximize=full["maximize"],
    )
    np.testing.assert_allclose(got, want, **_tol(device, 1e-10, 1e-12))


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)])
def test_adadelta(device, kw):
    got, _ = _run_ember(ember.optim.Adadelta, device, 6, **kw)
    full = dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)
    full.update(kw)
    want = _np_adadelta(
        P0.copy(), 6, full["lr"], full["rho"], full["eps"], full["weight_decay"], full["maximize"]
    )
    np.testing.assert_allclose(got, want, **_tol(device, 1e-10, 1e-12))


@pytest.mark.parametrize(
    "kw", [dict(), dict(lr=0.3, etas=(0.3, 1.5), step_sizes=(0.05, 0.4), maximize=True)]
)
def test_rprop(device, kw):
    got, _ = _run_ember(ember.optim.Rprop, device, 8, **kw)
    full = dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False)
    full.update(kw)
    want = _np_rprop(P0.copy(), 8, **full)
    np.testing.assert_allclose(got, want, **_tol(device, 1e-10, 1e-12))


@pytest.mark.parametrize(
    "kw", [dict(), dict(lr=0.05, lambd=0.01, alpha=0.5, t0=2, weight_decay=0.1, maximize=True)]
)
def test_asgd(device, kw):
    got, opt = _run_ember(ember.optim.ASGD, device, 6, **kw)
    full = dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False)
    full.update(kw)
    want, ax = _np_asgd(
        P0.copy(),
        6,
        full["lr"],
        full["lambd"],
        full["alpha"],
        full["t0"],
        full["weight_decay"],
        full["maximize"],
    )
    np.testing.assert_allclose(got, want, **_tol(device, 1e-10, 1e-12))
    state = next(iter(opt.state.values()))
    np.testing.assert_allclose(state["ax"].cpu().numpy(), ax, **_tol(device, 1e-10, 1e-12))


@pytest.mark.parametrize(
    "kw,one_d",
    [
        (dict(), False),
        (dict(), True),
        (dict(lr=0.1, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.1), False),
        (dict(lr=0.1, maximize=True, weight_decay=0.05), True),
    ],
)
def test_adafactor(device, kw, one_d):
    got, _ = _run_ember(ember.optim.Adafactor, device, 6, shape_1d=one_d, **kw)
    full = dict(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0)
    full.update(kw)
    want = _np_adafactor(
        (P0[0] if one_d else P0).copy(),
        6,
        full["lr"],
        full["beta2_decay"],
        full["eps"],
        full["d"],
        full["weight_decay"],
        kw.get("maximize", False),
    )
    np.testing.assert_allclose(got, want, **_tol(device, 1e-10, 1e-12))


# Final parameters after 8 steps, computed by hand with PyTorch 2.15 (/tmp/tv) from the
# same P0 / loss and these hyperparameters, pasted here.
PYTORCH_8_STEPS = [
    (
        "NAdam",
        dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
        [
            -0.01708115449900774,
            -0.9564699582533966,
            1.411705524130683,
            -0.32345571267713213,
            0.5306159526747024,
            0.07244016375289654,
        ],
    ),
    (
        "RAdam",
        dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1),
        [
            0.09593374296770846,
            -0.9934976466119884,
            1.3372226258598532,
            -0.311790942886693,
            0.7389038099342536,
            -0.6763239344719472,
        ],
    ),
    (
        "Adamax",
        dict(lr=0.1, weight_decay=0.2, maximize=True),
        [
            1.0558594464055655,
            0.010079201759186987,
            0.6830455324039592,
            0.4110113982049162,
            1.1813360259194159,
            1.1956901247039464,
        ],
    ),
    (
        "Adadelta",
        dict(lr=0.5, weight_decay=0.1),
        [
            0.2866494555730285,
            -0.7132749957537116,
            1.11359905570943,
            -0.2129029404961395,
            0.8865744120905235,
            0.3866327952669636,
        ],
    ),
    ("Rprop", dict(lr=0.3), [-0.684, -1.225, 6.04972544, -0.368, -0.6481919999999999, -2.205728]),
    (
        "ASGD",
        dict(lr=0.05, lambd=0.01, t0=2, weight_decay=0.1),
        [
            0.06167796553273185,
            -1.0065837908575004,
            1.514506643410162,
            -0.28229918238362417,
            0.7095258618688386,
            -1.0204969531329837,
        ],
    ),
    (
        "Adafactor",
        dict(lr=0.1, weight_decay=0.1),
        [
            -0.6026546400255722,
            -1.2144636337850192,
            1.3933871967545843,
            -0.31007792006995494,
            0.5895956223616913,
            -0.08682245221278466,
        ],
    ),
]


@pytest.mark.parametrize("name,kw,want", PYTORCH_8_STEPS, ids=[c[0] for c in PYTORCH_8_STEPS])
def test_matches_pytorch_values(device, name, kw, want):
    got, _ = _run_ember(getattr(ember.optim, name), device, 8, **kw)
    np.testing.assert_allclose(got.ravel(), want, **_tol(device, 1e-9, 1e-12))


ALL = [
    (ember.optim.NAdam, dict(lr=0.05, weight_decay=0.01)),
    (ember.optim.RAdam, dict(lr=0.05, betas=(0.8, 0.9))),
    (ember.optim.Adamax, dict(lr=0.05)),
    (ember.optim.Adadelta, dict(lr=0.5)),
    (ember.optim.Rprop, dict(lr=0.05)),
    (ember.optim.ASGD, dict(lr=0.05, t0=2)),
    (ember.optim.Adafactor, dict(lr=0.05)),
]


@pytest.mark.parametrize("cls,kw", ALL, ids=[c.__name__ for c, _ in ALL])
def test_state_dict_round_trip(device, cls, kw):
    # 4 steps straight must equal 2 steps, state_dict -> fresh optimizer, 2 more steps.
    straight, _ = _run_ember(cls, device, 4, **kw)
    p = ember.tensor(P0, dtype=_dt(device), device=device, requires_grad=True)
    w = ember.tensor(W, dtype=_dt(device), device=device)
    t = ember.tensor(TARGET, dtype=_dt(device), device=device)

    def run(opt, n):
        for _ in range(n):
            opt.zero_grad()
            ((w * (p - t) ** 2 * 0.5).sum() + p.sin().sum()).backward()
            opt.step()

    opt = cls([p], **kw)
    run(opt, 2)
    sd = opt.state_dict()
    assert set(sd["state"][0]) >= {"step"}
    assert float(sd["state"][0]["step"]) == 2.0
    opt2 = cls([p], **kw)
    opt2.load_state_dict(sd)
    run(opt2, 2)
    # load_state_dict casts float32 scalars (NAdam's mu_product, ASGD's eta/mu) to the
    # parameter's float64, as PyTorch does, so those two agree to float32 rounding only.
    np.testing.assert_allclose(p.detach().cpu().numpy(), straight, **_tol(device, 1e-7, 1e-9))


@pytest.mark.parametrize("cls,kw", ALL, ids=[c.__name__ for c, _ in ALL])
def test_lr_scheduler_drives_lr(cls, kw):
    p = ember.tensor(P0, dtype=ember.float64, requires_grad=True)
    opt = cls([p], **kw)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(kw["lr"] * 0.125)
    assert sched.get_last_lr() == [pytest.approx(kw["lr"] * 0.125)]


@pytest.mark.parametrize(
    "cls,kw,msg",
    [
        (ember.optim.NAdam, dict(lr=-1.0), "Invalid learning rate"),
        (ember.optim.RAdam, dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
        (ember.optim.Adadelta, dict(rho=1.5), "Invalid rho value"),
        (ember.optim.Rprop, dict(etas=(1.5, 1.2)), "Invalid eta values"),
        (ember.optim.Adafactor, dict(beta2_decay=0.5), "Invalid beta2_decay value"),
        (ember.optim.Adamax, dict(weight_decay=-1), "Invalid weight_decay value"),
    ],
)
def test_bad_hyperparameters(cls, kw, msg):
    p = ember.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match=msg):
        cls([p], **kw)
