"""Packaging metadata: what pyproject.toml declares (license, URLs, readme, wheel options) and
what `maturin sdist` really writes (every file a build from the sdist needs, and the PKG-INFO
fields). `maturin sdist` only packs files (about 2 s, no compilation); a wheel is not built here
(minutes of Rust compilation; the by-hand command is in README's Packaging section)."""

import glob
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _toml(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return tomllib.load(f)


def test_pyproject_metadata():
    project = _toml("pyproject.toml")["project"]
    cargo = _toml("Cargo.toml")["workspace"]["package"]
    assert project["name"] == "ember"
    # one version and one license for the Python package and both crates
    assert project["version"] == cargo["version"]
    assert project["license"] == cargo["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    with open(os.path.join(ROOT, "LICENSE")) as f:
        text = f.read()
    assert text.startswith("MIT License\n") and "the ember authors" in text
    # PEP 639: with a license expression, no License :: classifiers
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    assert project["readme"] == "README.md"
    assert set(project["urls"]) == {"Homepage", "Documentation", "Repository", "Issues"}
    assert all(u.startswith("https://") for u in project["urls"].values())
    assert project["requires-python"] == ">=3.9"


def test_wheel_options():
    maturin = _toml("pyproject.toml")["tool"]["maturin"]
    assert maturin["module-name"] == "ember._C"
    assert maturin["strip"] is True
    # No fixed manylinux tag: a build from the sdist links the build machine's glibc (2.35
    # symbols on Debian 12), and a pinned manylinux_2_28 made maturin refuse that build, so
    # `pip install ember-*.tar.gz` failed on every newer distribution. maturin tags such a
    # wheel by what it needs; release wheels pass --compatibility manylinux_2_28 --zig (README).
    assert "compatibility" not in maturin
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert "Platforms:" in readme
    # the release wheel's tag lives on its command line (tests/test_sdist_wheel.py RELEASE_TAG)
    assert "maturin build --release --compatibility manylinux_2_28 --zig" in readme


def _maturin():
    exe = shutil.which("maturin") or os.path.join(os.path.dirname(sys.executable), "maturin")
    if not os.path.exists(exe):
        pytest.fail("maturin (a PYDEPS dependency) is not installed")
    return exe


def test_sdist_contents(tmp_path):
    r = subprocess.run(
        [_maturin(), "sdist", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    (sdist,) = glob.glob(str(tmp_path / "ember-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        top = os.path.basename(sdist)[: -len(".tar.gz")]
        names = {n[len(top) + 1 :] for n in tar.getnames()}
        pkg_info = tar.extractfile(f"{top}/PKG-INFO").read().decode()
    shaders = {os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "shaders", "*.wgsl"))}
    assert len(shaders) > 10
    needed = shaders | {
        "Cargo.toml",
        "Cargo.lock",
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "rust/core/Cargo.toml",
        "rust/core/src/lib.rs",
        "rust/py/Cargo.toml",
        "rust/py/src/lib.rs",
        "python/ember/__init__.py",
        "python/ember/_C.pyi",
        "python/ember/py.typed",
    }
    assert not needed - names, sorted(needed - names)
    # no build output: the extension is compiled from the sdist, never shipped in it
    assert not [n for n in names if n.endswith((".so", ".pyd"))]
    fields = pkg_info.split("\n\n", 1)[0].splitlines()
    for line in (
        "License-Expression: MIT",
        "License-File: LICENSE",
        "Project-URL: Homepage, https://github.com/ember-dl/ember",
        "Project-URL: Repository, https://github.com/ember-dl/ember",
        "Project-URL: Issues, https://github.com/ember-dl/ember/issues",
        "Description-Content-Type: text/markdown; charset=UTF-8; variant=GFM",
        "Requires-Python: >=3.9",
    ):
        assert line in fields, (line, fields)
    # the readme is the long description
    assert pkg_info.split("\n\n", 1)[1].startswith("# ember")


def test_python_floor():
    """requires-python, the abi3 floor of the wheel tag and the classifiers name one minimum
    Python, and the package's source needs no newer one. CI runs only the machine's Python
    (3.11), so the floor is checked statically: vermin finds the newest syntax, stdlib name
    or keyword argument the code uses (zip(strict=) is 3.10, for one)."""
    project = _toml("pyproject.toml")["project"]
    floor = project["requires-python"]
    major, minor = (int(v) for v in floor.removeprefix(">=").split("."))
    features = _toml("rust/py/Cargo.toml")["dependencies"]["pyo3"]["features"]
    assert f"abi3-py{major}{minor}" in features, (floor, features)
    for c in project["classifiers"]:
        if c.startswith(f"Programming Language :: Python :: {major}."):
            assert int(c.rsplit(".", 1)[1]) >= minor, c
    vermin = os.path.join(os.path.dirname(sys.executable), "vermin")
    if not os.path.exists(vermin):
        pytest.fail("vermin (a PYDEPS dependency) is not installed")
    r = subprocess.run(
        [vermin, "--no-tips", "--eval-annotations", "--violations", f"-t={major}.{minor}-"]
        + [os.path.join(ROOT, "python", "ember")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
