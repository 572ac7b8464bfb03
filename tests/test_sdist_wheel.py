"""End to end: wheels built from the sdist alone install and run (issue 14).

`maturin sdist` -> the .tar.gz copied to a temp dir and unpacked there -> two wheels built
from that directory only, with maturin as the PEP 517 backend (`pip wheel
--no-build-isolation`, no network):

* what `pip install ember-*.tar.gz` builds: tagged for the glibc it was linked against;
* the release wheel, tagged RELEASE_TAG: the same compiled crates linked by zig against glibc
  2.28's symbol versions. README's release command, `maturin build --zig`, does the same link
  but passes --target, which would recompile all ~180 crates into another folder; here zig
  links only the extension (`-C linker`), so the second wheel costs seconds. The dependency
  tree has no C code, so the linker is all that --zig changes for this project.

Each wheel is checked (tag, METADATA, LICENSE, stripped extension, glibc symbol versions),
installed with its numpy dependency into a fresh venv, and tests/sdist_smoke.py trains on cpu
and gpu and round-trips ember.save/load there.

Slow (it compiles ember's two crates in release), so it runs only with
EMBER_TEST_SDIST_WHEEL=1, which .ci/run sets. It reuses the compiled registry crates of the
checkout's own build: CARGO_TARGET_DIR (as for `maturin develop`, default <repo>/target), so
after `make build` only ember-core and ember-py are recompiled. Those two land on the same
file names as the checkout's build, so the next `make build` recompiles them once more.
"""

import glob
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import zipfile

import pytest

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the published wheels' tag (README's Packaging section): glibc >= 2.28
RELEASE_TAG = "manylinux_2_28"
RELEASE_GLIBC = (2, 28)

pytestmark = pytest.mark.skipif(
    os.environ.get("EMBER_TEST_SDIST_WHEEL") != "1",
    reason="builds wheels from the sdist (minutes of Rust); set EMBER_TEST_SDIST_WHEEL=1 "
    "(.ci/run does)",
)


def _run(cmd, timeout, **kw):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    dt = time.perf_counter() - t0
    print(f"[{dt:7.1f} s] {' '.join(map(str, cmd))}")
    if r.returncode != 0:
        pytest.fail(f"{cmd} failed ({r.returncode}):\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}")
    return r


def _clean_env(**extra):
    env = dict(os.environ)
    # the test session runs with the checkout on PYTHONPATH; the built wheel must not see it
    for k in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(k, None)
    env.update(extra)
    return env


def _elf_sections(data):
    """Section names and (type, offset, size, link) of a 64-bit little-endian ELF file."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not an ELF64 LE file"
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    heads = [
        struct.unpack_from("<IIQQQQI", data, shoff + i * shentsize) for i in range(shnum)
    ]  # name, type, flags, addr, offset, size, link
    str_off = heads[shstrndx][4]

    def cstr(off):
        return data[off : data.index(b"\0", off)].decode()

    return [(cstr(str_off + h[0]), h[1], h[4], h[5], h[6]) for h in heads]


def _glibc_versions(data):
    """GLIBC_x.y versions the ELF file needs (its .gnu.version_r entries), as tuples."""
    secs = _elf_sections(data)
    out = set()
    for _, typ, off, _, link in secs:
        if typ != 0x6FFFFFFE:  # SHT_GNU_verneed
            continue
        strtab = secs[link][2]
        vn = off
        while True:
            _, cnt, _, aux, nxt = struct.unpack_from("<HHIII", data, vn)
            a = vn + aux
            for _ in range(cnt):
                _, _, _, name, anext = struct.unpack_from("<IHHII", data, a)
                s = data[strtab + name : data.index(b"\0", strtab + name)].decode()
                m = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", s)
                if m:
                    out.add((int(m[1]), int(m[2])))
                a += anext
            if not nxt:
                break
            vn += nxt
    return out


def _check_wheel(whl, version, tag):
    """The wheel's name and WHEEL tag, METADATA, LICENSE and stripped extension; returns the
    extension's bytes."""
    assert os.path.basename(whl) == f"ember-{version}-{tag}.whl", whl
    di = f"ember-{version}.dist-info"
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        wheel_meta = z.read(f"{di}/WHEEL").decode()
        meta = z.read(f"{di}/METADATA").decode()
        so = z.read("ember/_C.abi3.so")
        license_text = z.read(f"{di}/licenses/LICENSE").decode()
    assert f"Tag: {tag}" in wheel_meta.splitlines(), wheel_meta
    assert {"ember/__init__.py", "ember/_C.pyi", "ember/py.typed"} <= names
    assert not [n for n in names if n.endswith(".rs") or n.startswith("shaders/")]
    assert license_text.startswith("MIT License\n")
    head, body = meta.split("\n\n", 1)
    fields = head.splitlines()
    for line in (
        f"Version: {version}",
        "License-Expression: MIT",
        "License-File: LICENSE",
        "Requires-Python: >=3.9",
        "Requires-Dist: numpy>=1.21",
        "Description-Content-Type: text/markdown; charset=UTF-8; variant=GFM",
        "Project-URL: Homepage, https://github.com/ember-dl/ember",
    ):
        assert line in fields, (line, fields)
    assert body.startswith("# ember")  # the README is the long description
    sections = {s[0] for s in _elf_sections(so)}
    assert ".dynsym" in sections and ".text" in sections, sections
    # stripped: no symbol table, no DWARF
    assert ".symtab" not in sections, sorted(sections)
    assert not [s for s in sections if s.startswith((".debug", ".zdebug"))], sorted(sections)
    if shutil.which("file"):
        so_path = os.path.join(os.path.dirname(whl), "_C.abi3.so")
        with open(so_path, "wb") as f:
            f.write(so)
        desc = subprocess.run(["file", "-b", so_path], capture_output=True, text=True).stdout
        os.remove(so_path)
        assert ", stripped" in desc and "not stripped" not in desc, desc
    return so


def _glibc_of_tag(tag):
    m = re.fullmatch(r"cp39-abi3-manylinux_(\d+)_(\d+)_x86_64", tag)
    return (int(m[1]), int(m[2])) if m else None


def _pip_wheel(src, out, env, cwd):
    r = _run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), str(src)],
        3000,
        cwd=cwd,
        env=env,
    )
    (whl,) = glob.glob(str(out / "*.whl"))
    return whl, r.stdout + r.stderr


def test_wheel_from_sdist(tmp_path):
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    bindir = os.path.dirname(sys.executable)
    maturin = os.path.join(bindir, "maturin")
    assert os.path.exists(maturin), "maturin (a PYDEPS dependency) is not installed"
    times = {}

    # 1. the sdist, copied out of the checkout and unpacked; nothing below reads ROOT's sources
    t0 = time.perf_counter()
    _run([maturin, "sdist", "--out", str(tmp_path / "dist")], 120, cwd=ROOT)
    (sdist,) = glob.glob(str(tmp_path / "dist" / f"ember-{version}.tar.gz"))
    build = tmp_path / "build"
    build.mkdir()
    shutil.copy(sdist, build)
    with tarfile.open(build / os.path.basename(sdist)) as tar:
        kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(build, **kw)
    src = build / f"ember-{version}"
    # The sdist stores a fixed 2006 mtime for every file, and cargo judges a crate fresh by its
    # sources' mtimes: it could take the checkout's own build of ember-core (same crate, same
    # file names in the shared target dir) as up to date and never compile the sdist's sources,
    # so a missing shader would go unnoticed. Files dated now make it compile what the sdist
    # holds; the "Compiling ... (<unpacked sdist>)" lines below check that it did.
    now = time.time()
    for d, _, files in os.walk(src):
        for n in files:
            os.utime(os.path.join(d, n), (now, now))
    times["sdist"] = time.perf_counter() - t0

    # 2. the wheel `pip install ember-*.tar.gz` builds (the PEP 517 path, no extra options)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    env = _clean_env(CARGO_TARGET_DIR=target, CARGO_TERM_COLOR="never")
    env.pop("MATURIN_PEP517_ARGS", None)
    t0 = time.perf_counter()
    local_whl, log = _pip_wheel(src, tmp_path / "local", env, build)
    times["wheel from sdist"] = time.perf_counter() - t0
    # both crates were compiled from the unpacked sdist (not taken from the checkout's build)
    for crate, path in (("ember-core", "rust/core"), ("ember-py", "rust/py")):
        assert f"Compiling {crate} v{version} ({src}/{path})" in log, (crate, log[-4000:])
    local_tag = os.path.basename(local_whl)[len(f"ember-{version}-") : -len(".whl")]
    local_so = _check_wheel(local_whl, version, local_tag)
    # maturin tags it linux_x86_64 or a manylinux tag its glibc symbol versions allow
    floor = _glibc_of_tag(local_tag)
    assert local_tag == "cp39-abi3-linux_x86_64" or floor, local_tag
    assert floor is None or max(_glibc_versions(local_so)) <= floor

    # 3. the release wheel: the same build, the extension linked by zig against glibc 2.28
    zigcc = tmp_path / "zigcc.sh"
    zigcc.write_text(
        "#!/bin/sh\n"
        # maturin's zig subcommand (cargo-zigbuild's wrapper) runs `python -m ziglang`
        f"export CARGO_ZIGBUILD_PYTHON_PATH='{sys.executable}'\n"
        f"exec '{maturin}' zig cc -- -g -fno-sanitize=all "
        f'-target x86_64-linux-gnu.{RELEASE_GLIBC[0]}.{RELEASE_GLIBC[1]} "$@"\n'
    )
    zigcc.chmod(0o755)
    env["MATURIN_PEP517_ARGS"] = f"--compatibility {RELEASE_TAG} -- -C linker={zigcc}"
    t0 = time.perf_counter()
    release_whl, _ = _pip_wheel(src, tmp_path / "release", env, build)
    times["release wheel (zig link)"] = time.perf_counter() - t0
    release_so = _check_wheel(release_whl, version, f"cp39-abi3-{RELEASE_TAG}_x86_64")
    # the manylinux tag is a promise about glibc: no symbol from a newer one (maturin's audit
    # checks this too; this is an independent reading of .gnu.version_r)
    needed = _glibc_versions(release_so)
    assert needed and max(needed) <= RELEASE_GLIBC, sorted(needed)[-5:]

    # 4. a fresh venv with each wheel (and numpy, its dependency), the smoke script in it
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], 300, env=_clean_env())
    vpy = str(venv / "bin" / "python")
    smoke = tmp_path / "sdist_smoke.py"
    shutil.copy(os.path.join(ROOT, "tests", "sdist_smoke.py"), smoke)
    for whl, so, extra in ((local_whl, local_so, []), (release_whl, release_so, ["--no-deps"])):
        t0 = time.perf_counter()
        pip = [vpy, "-m", "pip", "install", "-q", "--force-reinstall"]
        _run(pip + extra + [whl], 600, env=_clean_env())
        where = "import sysconfig; print(sysconfig.get_path('platlib'))"
        site = _run([vpy, "-c", where], 60, env=_clean_env())
        with open(os.path.join(site.stdout.strip(), "ember", "_C.abi3.so"), "rb") as f:
            assert f.read() == so, f"{whl} is not the installed wheel"
        r = _run([vpy, str(smoke), str(venv)], 600, cwd=tmp_path, env=_clean_env())
        print(r.stdout)
        assert "sdist smoke: ok" in r.stdout
        times[f"install + smoke {os.path.basename(whl)}"] = time.perf_counter() - t0
    print("timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
