"""Typing: python/ember/_C.pyi against the built extension (mypy.stubtest, and regenerating it
with tools/gen_c_stub.py gives the committed file), mypy on a typed user script (must pass) and
on a script of misuses (each must be reported), and the stub's return types against what the
methods really return."""

import ast
import os
import re
import subprocess
import sys

import pytest

import ember

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYDIR = os.path.join(ROOT, "python")
STUB = os.path.join(PYDIR, "ember", "_C.pyi")
TYPING_DIR = os.path.join(ROOT, "tests", "typing")


def _run(args, cwd, timeout=180):
    env = dict(os.environ, PYTHONPATH=PYDIR)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_stubtest_clean(tmp_path):
    # Every name, signature, default, property and class flag of the runtime module matches the
    # stub, with no allowlist. (cwd is a scratch dir: stubtest leaves a .mypy_cache there.)
    r = _run(["-m", "mypy.stubtest", "ember._C"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found in 1 module" in r.stdout


def test_stub_is_regenerated(tmp_path):
    # A new binding or Tensor method without a regenerated stub fails here.
    r = _run([os.path.join(ROOT, "tools", "gen_c_stub.py"), "--check"], cwd=tmp_path)
    assert r.returncode == 0, (
        r.stderr + "\n(regenerate: PYTHONPATH=python python tools/gen_c_stub.py)"
    )


def test_mypy_user_script_and_misuses(tmp_path):
    user = os.path.join(TYPING_DIR, "user_script.py")
    bad = os.path.join(TYPING_DIR, "errors_script.py")
    r = _run(
        ["-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", user, bad],
        cwd=tmp_path,
    )
    reported = {}
    for line in r.stdout.splitlines():
        m = re.match(r"(.+?):(\d+): error: .*\[([\w-]+)\]$", line)
        assert m, f"unexpected mypy output: {line}\n{r.stdout}{r.stderr}"
        assert os.path.samefile(m.group(1), bad), f"error in the user script: {line}"
        reported[int(m.group(2))] = m.group(3)
    expected = {}
    with open(bad) as f:
        for i, line in enumerate(f, 1):
            m = re.search(r"# E: ([\w-]+)$", line)
            if m:
                expected[i] = m.group(1)
    assert len(expected) == 8
    assert reported == expected, r.stdout


def test_user_script_runs(tmp_path):
    r = _run([os.path.join(TYPING_DIR, "user_script.py")], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    first, last = re.search(r"first loss ([\d.]+) last loss ([\d.]+)", r.stdout).groups()
    assert float(last) < float(first) / 5  # it trains


_RUNTIME_TYPES = {"Tensor": ember.Tensor, "_int": int, "_bool": bool, "_float": float, "_str": str}


def _stub_methods_callable_without_arguments():
    """(name, declared return) of the stub's Tensor methods that need no argument but self."""
    tree = ast.parse(open(STUB).read())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    out = []
    for f in cls.body:
        if not isinstance(f, ast.FunctionDef) or not isinstance(f.returns, ast.Name):
            continue
        if f.returns.id not in _RUNTIME_TYPES or f.decorator_list:
            continue
        a = f.args
        positional = a.posonlyargs + a.args
        required = len(positional) - 1 - len(a.defaults)
        kw_required = [d for d in a.kw_defaults if d is None]
        if required == 0 and not kw_required:
            out.append((f.name, f.returns.id))
    return out


# side effects outside the tensor, or fail on purpose on a tensor of this shape
_SKIP = {"backward", "share_memory_", "pin_memory", "cuda", "__index__", "__int__", "item"}


def test_declared_return_types_hold(device):
    # Calls each argument-free Tensor method on a 2x3 float tensor and checks the stub's return
    # type; methods that refuse this input (domain, shape or device) are counted, not hidden.
    cases = _stub_methods_callable_without_arguments()
    checked, refused = 0, []
    for name, ret in cases:
        if name in _SKIP:
            continue
        t = ember.rand(2, 3, device=device) + 0.5
        try:
            value = getattr(t, name)()
        except (RuntimeError, TypeError, ValueError, NotImplementedError) as e:
            refused.append(f"{name}: {type(e).__name__}")
            continue
        assert isinstance(value, _RUNTIME_TYPES[ret]), (name, ret, type(value))
        checked += 1
    assert checked >= 150, (checked, refused)


@pytest.mark.parametrize("name", ["split", "chunk", "unbind", "max_dim", "sort", "unique"])
def test_declared_module_returns(name):
    # Bindings declared to return lists / tuples of tensors do.
    C = ember._C
    t = ember.rand(4, 3)
    calls = {
        "split": lambda: C.split(t, 2, 0),
        "chunk": lambda: C.chunk(t, 2, 0),
        "unbind": lambda: C.unbind(t, 0),
        "max_dim": lambda: C.max_dim(t, 1, False, True),
        "sort": lambda: C.sort(t),
        "unique": lambda: C.unique(t),
    }
    value = calls[name]()
    tree = ast.parse(open(STUB).read())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    declared = ast.unparse(fn.returns)
    assert isinstance(value, list if declared.startswith("List") else tuple), (declared, value)
    assert all(v is None or isinstance(v, ember.Tensor) for v in value)
