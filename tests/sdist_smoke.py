"""Smoke check of an installed ember wheel, run by tests/test_sdist_wheel.py inside a fresh
venv that holds only the wheel and numpy (so no pytest here; failures are AssertionErrors and
a non-zero exit).

    python sdist_smoke.py VENV_PREFIX

1. `ember` is imported from the venv's site-packages, not from a checkout.
2. On "cpu" and on "gpu" (the WGSL kernels compiled into the extension from the sdist's
   shaders/): a few SGD steps of a Linear layer on an MSE loss must give the weights that
   numpy computes by hand for the same steps, and a small MLP trained with Adam must lower
   its loss.
3. `ember.save`/`ember.load` round-trips a state dict (gpu tensors loaded with
   map_location="cpu") into a fresh model that then gives the same outputs.
"""

import os
import sys
import tempfile

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F


def check_installed(prefix):
    where = os.path.realpath(ember.__file__)
    assert where.startswith(os.path.realpath(prefix) + os.sep), (where, prefix)
    assert "site-packages" in where, where
    # the compiled extension sits beside it (a wheel, not a source tree)
    ext = [
        n for n in os.listdir(os.path.dirname(where)) if n.startswith("_C.") and n.endswith(".so")
    ]
    assert ext, os.listdir(os.path.dirname(where))
    print("ember from", where, "extension", ext)


def sgd_linear_matches_numpy(device):
    """5 SGD steps of y = x @ W.T + b on mean((y - t)^2); the same steps in numpy (float64,
    gradients written out by hand) give the reference weights."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype(np.float32)
    t = (x @ np.array([[1.5], [-2.0], [0.5]]) + 0.25).astype(np.float32)
    w0 = rng.standard_normal((1, 3)).astype(np.float32)
    b0 = rng.standard_normal((1,)).astype(np.float32)
    lr = 0.1

    model = nn.Linear(3, 1)
    with ember.no_grad():
        model.weight.copy_(ember.from_numpy(w0))
        model.bias.copy_(ember.from_numpy(b0))
    model = model.to(device)
    assert model.weight.device.type == device, model.weight.device
    opt = ember.optim.SGD(model.parameters(), lr=lr)
    xs, ts = ember.from_numpy(x).to(device), ember.from_numpy(t).to(device)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.mse_loss(model(xs), ts)
        loss.backward()
        opt.step()
        losses.append(loss.item())

    w, b = w0.astype(np.float64), b0.astype(np.float64)
    ref_losses = []
    for _ in range(5):
        r = x @ w.T + b - t  # (16, 1) residual
        ref_losses.append(float(np.mean(r**2)))
        gw = 2.0 * r.T @ x / len(x)  # d mean(r^2) / dW
        gb = 2.0 * r.sum(0) / len(x)
        w, b = w - lr * gw, b - lr * gb
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    np.testing.assert_allclose(model.weight.detach().cpu().numpy(), w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.bias.detach().cpu().numpy(), b, rtol=1e-5, atol=1e-6)
    print(device, "SGD losses", [round(v, 5) for v in losses])


def mlp_adam_and_save_load(device, tmp):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    opt = ember.optim.Adam(model.parameters(), lr=0.05)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0).astype(np.int64)  # 3 classes
    xs = ember.from_numpy(x).to(device)
    ys = ember.from_numpy(labels).to(device)
    first = last = None
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(xs), ys)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
        last = loss.item()
    assert np.isfinite(last) and last < 0.5 * first, (device, first, last)

    path = os.path.join(tmp, f"mlp_{device}.pt")
    state = model.state_dict()
    ember.save(state, path)
    loaded = ember.load(path, map_location="cpu")
    assert list(loaded) == list(state), (list(loaded), list(state))
    for k, v in state.items():
        assert loaded[k].device.type == "cpu", (k, loaded[k].device)
        np.testing.assert_array_equal(loaded[k].numpy(), v.detach().cpu().numpy(), err_msg=k)
    fresh = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    fresh.load_state_dict(loaded)
    with ember.no_grad():
        want = model(xs).cpu().numpy()
        got = fresh(ember.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    print(device, f"Adam loss {first:.4f} -> {last:.4f}, save/load round trip ok")


def main():
    check_installed(sys.argv[1])
    # the gpu run is the point: its kernels are compiled from the sdist's shaders/
    assert ember.gpu.is_available(), ember.gpu.info()
    with tempfile.TemporaryDirectory() as tmp:
        for device in ("cpu", "gpu"):
            sgd_linear_matches_numpy(device)
            mlp_adam_and_save_load(device, tmp)
    print("sdist smoke: ok")


if __name__ == "__main__":
    main()
