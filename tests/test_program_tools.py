"""tools/scan_names.py (ast scan of torch names) and tools/run_programs.py's torch->ember mapping
(`--exec`), on tiny code written here. Expected counts are by hand from the code below."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import scan_names  # noqa: E402

CODE = """
import torch
import torch.nn as nn
from torch.nn import functional as F
from torch.optim import AdamW

x = torch.zeros(3)
y = torch.zeros(2)
layer = nn.Linear(3, 2)
z = F.relu(x)
opt = AdamW(layer.parameters())
opt2 = AdamW(layer.parameters())

@torch.jit.ignore
def f(t):
    return t.view(-1)
"""


def test_scan_counts(tmp_path):
    (tmp_path / "a.py").write_text(CODE)
    (tmp_path / "bad.py").write_text("def (:\n")
    counts, files, bad = scan_names.scan(str(tmp_path))
    assert (files, bad) == (1, 1)
    assert counts["torch.zeros"] == 2
    assert counts["torch.nn.Linear"] == 1
    assert counts["torch.nn.functional.relu"] == 1
    # the from-import itself plus two uses of the imported name
    assert counts["torch.optim.AdamW"] == 3
    assert counts["torch.jit.ignore"] == 1
    assert "torch.view" not in counts  # tensor methods are not attributed
    assert scan_names.ember_has("torch.nn.functional.relu")
    assert not scan_names.ember_has("torch.no_such_name")


def _exec(tmp_path, code):
    script = tmp_path / "prog.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "run_programs.py"), "--exec", str(script), "a1"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_exec_maps_torch_to_ember(tmp_path):
    r = _exec(
        tmp_path,
        "import sys, torch, torch.nn.functional as F\n"
        "from torch import nn\n"
        "print(torch.__name__, F.__name__, nn.Linear.__module__, sys.argv[1:], __name__)\n"
        "print(F.relu(torch.tensor([-1.0, 2.0])).tolist())\n",
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "ember ember.nn.functional ember.nn.modules.linear ['a1'] __main__"
    assert lines[1] == "[0.0, 2.0]"
    r = _exec(tmp_path, "import torch.no_such_module\n")
    assert r.returncode != 0
    assert "ember has no module 'ember.no_such_module'" in r.stderr


def test_standin_resnet18(tmp_path):
    # tools/program_stubs/torchvision.models.resnet18 under the torch->ember mapping: the
    # children in torchvision's order (siamese_network keeps children()[:-1]) and ResNet-18's
    # parameter count, by hand: conv1 9408 + bn1 128 + layer1 147968 + layer2 525568
    # + layer3 2099712 + layer4 8393728 + fc 513000 = 11689512.
    script = tmp_path / "rn.py"
    script.write_text(
        "import torch, torchvision\n"
        "m = torchvision.models.resnet18(weights=None)\n"
        "print([n for n, _ in m.named_children()])\n"
        "print(sum(p.numel() for p in m.parameters()), m.fc.in_features)\n"
        "m = torchvision.models.resnet18(num_classes=10).eval()\n"
        "print(tuple(m(torch.randn(2, 3, 32, 32)).shape))\n"
        "try:\n"
        "    torchvision.models.resnet18(weights='DEFAULT')\n"
        "except NotImplementedError as e:\n"
        "    print('refused', 'weights=None' in str(e))\n"
    )
    stubs = os.path.join(ROOT, "tools", "program_stubs")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), stubs]))
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "run_programs.py"), "--exec", str(script)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == (
        "['conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4', "
        "'avgpool', 'fc']"
    )
    assert lines[1] == "11689512 512"
    assert lines[2] == "(2, 10)"
    assert lines[3] == "refused True"
