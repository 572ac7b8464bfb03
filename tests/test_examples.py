"""The example scripts run end to end and reach their targets."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_linear_regression_converges():
    w, b = _load("linear_regression").main(epochs=500)
    assert abs(w - 2.0) < 0.05 and abs(b) < 0.2


def test_mlp_learns_three_points():
    loss, predicted = _load("mlp").main(epochs=200)
    assert loss < 0.1 and predicted == 2


@pytest.mark.parametrize("arch", ["lstm", "transformer"])
def test_char_lm_loss_drops(arch):
    first, last, sample = _load("char_lm").main(
        ["--arch", arch, "--steps", "60", "--batch-size", "16"]
    )
    assert last < first * 0.75
    assert sample.startswith("it was the ") and len(sample) == len("it was the ") + 60


def test_train_digits_demo(tmp_path):
    pytest.importorskip("sklearn")
    mod = _load("train_digits")
    out = tmp_path / "out"
    acc = mod.main(["--out", str(out), "--no-progress"])
    assert acc > 0.95
    assert (out / "loss.png").stat().st_size > 1000
    import ember

    ck = ember.load(out / "digits_cnn.pt")
    assert set(ck) == {"epoch", "model", "optimizer", "scheduler", "test_accuracy"}
    model = mod.Net()
    model.load_state_dict(ck["model"])
    assert os.path.exists(out / "digits_cnn.pt")
