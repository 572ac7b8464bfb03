"""`python -m ember.run`: unmodified PyTorch scripts run on ember.

Each test writes a small script into a temporary folder and runs it in a
subprocess, as a user would, then checks its output and exit status.
"""

import os
import subprocess
import sys
import textwrap

import pytest

import ember
import ember.run

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))


def _run(tmp_path, source, *args, files=None, module=None):
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    env = dict(os.environ, PYTHONPATH=_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if module is not None:
        cmd = [sys.executable, "-m", "ember.run", "-m", module, *args]
    else:
        script = tmp_path / "script.py"
        script.write_text(textwrap.dedent(source))
        cmd = [sys.executable, "-m", "ember.run", str(script), *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_torch_imports_resolve_to_ember_modules(tmp_path):
    r = _run(
        tmp_path,
        """
        import sys
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import torch.optim as optim
        from torch import nn as nn2
        from torch.utils.data import DataLoader, TensorDataset
        import torch.backends.cudnn
        import ember

        assert torch is ember and nn is ember.nn and nn2 is ember.nn
        assert F is ember.nn.functional and optim is ember.optim
        assert DataLoader is ember.utils.data.DataLoader
        assert torch.backends.cudnn is ember.backends.cudnn
        assert sys.modules["torch.nn.functional"] is ember.nn.functional
        # same classes under both names, so isinstance checks agree
        assert isinstance(nn.Linear(2, 3), ember.nn.Module)
        assert isinstance(torch.ones(1), ember.Tensor)
        # ember keeps its own module identity
        assert torch.__name__ == "ember" and torch.__spec__.name == "ember"
        assert nn.__spec__.name == "ember.nn"
        print("argv", sys.argv[1:], "name", __name__)
        """,
        "--lr",
        "0.1",
        "pos",
    )
    assert r.returncode == 0, r.stderr
    assert "argv ['--lr', '0.1', 'pos'] name __main__" in r.stdout


def test_argv0_is_the_script_and_its_folder_is_importable(tmp_path):
    r = _run(
        tmp_path,
        """
        import os, sys
        import helper
        print(os.path.basename(sys.argv[0]), helper.VALUE)
        """,
        files={"helper.py": "import torch\nVALUE = torch.tensor([2, 3]).sum().item()\n"},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["script.py", "5"]


def test_missing_torch_module_fails_at_the_import(tmp_path):
    r = _run(tmp_path, "import torch\nimport torch.no_such_module\n")
    assert r.returncode == 1
    assert "ModuleNotFoundError" in r.stderr
    assert "torch.no_such_module is not provided by ember (no module ember.no_such_module)" in (
        r.stderr
    )
    # also through `from torch.x import y`, and caught by `except ImportError` as scripts do
    r = _run(
        tmp_path,
        """
        try:
            from torch.no_such_module import Thing
        except ImportError as e:
            print("caught:", e.name)
        """,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "caught: torch.no_such_module"


def test_exit_status_and_errors_propagate(tmp_path):
    r = _run(tmp_path, "import sys\nsys.exit(3)\n")
    assert r.returncode == 3
    r = _run(tmp_path, "import torch\ntorch.ones(2, 3) @ torch.ones(2, 3)\n")
    assert r.returncode == 1 and "RuntimeError" in r.stderr and "script.py" in r.stderr


def test_module_mode(tmp_path):
    r = _run(
        tmp_path,
        None,
        "x",
        files={"mymod.py": "import sys, torch\nprint(__name__, sys.argv[1:], torch.__name__)\n"},
        module="mymod",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "__main__ ['x'] ember"


def test_usage_without_arguments():
    env = dict(os.environ, PYTHONPATH=_ROOT)
    r = subprocess.run(
        [sys.executable, "-m", "ember.run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "usage:" in r.stderr


def test_a_small_training_script_runs_unchanged(tmp_path):
    r = _run(
        tmp_path,
        """
        import argparse
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.utils.data import DataLoader, TensorDataset

        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int, default=1)
        args = parser.parse_args()

        torch.manual_seed(0)
        torch.backends.cudnn.benchmark = True
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(2, 16)
                self.fc2 = nn.Linear(16, 1)

            @torch.jit.ignore
            def extra(self):
                return 0

            def forward(self, x):
                return self.fc2(F.relu(self.fc1(x)))


        x = torch.randn(256, 2)
        y = (x[:, :1] * 3 - x[:, 1:] * 2).detach()
        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
        model = torch.compile(Net().to(device))
        opt = torch.optim.Adam(model.parameters(), lr=0.02)
        first = None
        for epoch in range(args.epochs):
            for xb, yb in loader:
                loss = F.mse_loss(model(xb.to(device)), yb.to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
                first = loss.item() if first is None else first
        print(f"{first:.4f} {loss.item():.4f}")
        """,
        "--epochs",
        "8",
    )
    assert r.returncode == 0, r.stderr
    first, last = map(float, r.stdout.split())
    assert last < first / 10, (first, last)


def test_spawned_workers_and_subprocesses_see_ember(tmp_path):
    # children inherit sys.path / PYTHONPATH but not the import hook: the stand-in
    # torch package ember.run puts there must bring it back
    r = _run(
        tmp_path,
        """
        import subprocess, sys
        import torch
        from torch.utils.data import DataLoader, Dataset


        class DS(Dataset):
            def __len__(self):
                return 8

            def __getitem__(self, i):
                return torch.tensor([float(i)])


        if __name__ == "__main__":
            loader = DataLoader(DS(), batch_size=2, num_workers=2, multiprocessing_context="spawn")
            print("total", sum(b.sum().item() for b in loader))
            code = "import torch, torch.nn.functional as F; print(torch.__name__, F.__name__)"
            print(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
        """,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["total", "28.0", "ember", "ember.nn.functional"]


def test_install_uninstall_in_process():
    assert "torch" not in sys.modules
    ember.run.install()
    try:
        import torch  # noqa: F401 - resolved by ember.run's finder
        import torch.nn.functional as tf

        assert torch is ember and tf is ember.nn.functional
        with pytest.raises(ModuleNotFoundError, match="torch.nope is not provided by ember"):
            import torch.nope  # noqa: F401
    finally:
        ember.run.uninstall()
    assert "torch" not in sys.modules and "torch.nn" not in sys.modules
    assert ember.__spec__.name == "ember"


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    with open(os.path.join(os.path.dirname(_ROOT), "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    mod, _, fn = scripts["ember-run"].partition(":")
    assert mod == "ember.run" and callable(getattr(ember.run, fn))
