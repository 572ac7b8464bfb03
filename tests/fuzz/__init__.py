"""Differential fuzzer: generator.py makes seeded random calls as data, worker.py replays
them in a child process (on ember, or on PyTorch under its own interpreter), runner.py
catches crashes and isolates them, classify.py compares ember with PyTorch. The CLI is
tools/fuzz.py; tests/test_fuzz.py is the CI mode (crashes and panics only)."""
