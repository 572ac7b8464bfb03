"""CI mode of the differential fuzzer (tests/fuzz): seeded random calls over the public API
run in a child process on each device; any crash (signal, abort, hang) or Rust panic
(PanicException) fails. PyTorch is not needed; `tools/fuzz.py --torch` compares values.

Findings that need a Rust fix are listed in KNOWN_RUST (the random run tolerates them); once
fixed, their reproducers move to FIXED_RUST and run as plain regression tests.
"""

import sys

import pytest

sys.path.insert(0, __file__.rsplit("/", 1)[0])

from fuzz import classify, generator, runner  # noqa: E402

N_CALLS = 400
SEED = 17

T = lambda shape, dtype="float32": {"T": [shape, dtype, "normal", 1, False]}  # noqa: E731

# name -> (issue 17 item, how to recognise it in a random run, a reproducer spec)
KNOWN_RUST = {}

# Fixed in the Rust core (checked output allocation; empty views with an offset past their
# storage): each reproducer must now run without a crash or panic.
FIXED_RUST = {
    "huge_broadcast_aborts": (
        "item 3: an output that cannot be allocated aborts the process",
        lambda spec, res: spec.get("tag") == "huge_broadcast" and res["status"] == "crashed",
        {
            "op": "binop:*",
            "args": [{"op": "fn:ones", "args": [2**18, 1]}, {"op": "fn:ones", "args": [1, 2**18]}],
        },
    ),
    "empty_storage_view_panics": (
        "a view with an offset into an empty tensor panics (select/narrow/setitem)",
        lambda spec, res: res["status"] == "panic" and "slice of length 0" in res["msg"],
        {"op": "getitem:", "args": [T([4, 0, 2]), {"U": [-1]}]},
    ),
}


def _known(spec, res):
    return any(match(spec, res) for _, match, _ in KNOWN_RUST.values())


def test_random_calls_never_crash(device):
    specs = generator.generate(SEED, N_CALLS)
    res = runner.run_batch(specs, device=device, call_timeout=60)
    assert len(res) == N_CALLS
    # The run must exercise both outcomes, or the generator has gone wrong.
    statuses = {r["status"] for r in res.values()}
    assert {"ok", "raised"} <= statuses, statuses
    bad = [
        f"#{i} {generator.reproducer(specs[i])}: {r['status']} {r.get('msg') or r.get('stderr')}"
        for i, r in classify.crash_or_panic(res)
        if not _known(specs[i], r)
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", sorted(FIXED_RUST))
def test_fixed_rust_findings(name, device):
    spec = FIXED_RUST[name][2]
    res = runner.run_batch([spec], device=device)[0]
    assert res["status"] not in ("crashed", "hang", "panic"), res


def test_runner_pins_a_crash_and_goes_on():
    # An abort in the middle of a batch is pinned to its call and the calls after it still
    # run in a fresh child; the isolated reproducer is that call alone.
    specs = [
        {"op": "fn:zeros", "args": [2]},
        {"op": "selftest:abort"},
        {"op": "fn:ones", "args": [3]},
        {"op": "selftest:sleep", "args": [30]},
        {"op": "fn:arange", "args": [2]},
    ]
    res = runner.run_batch(specs, call_timeout=3)
    assert res[0]["out"] == {"tensor": [2], "dtype": "float32", "values": [0.0, 0.0]}
    assert res[1]["status"] == "crashed" and res[1]["how"] == "signal 6"
    assert res[2]["out"]["values"] == [1.0, 1.0, 1.0]
    assert res[3]["status"] == "hang"
    assert res[4]["out"] == {"tensor": [2], "dtype": "int64", "values": [0.0, 1.0]}
    assert runner.isolate(specs, 1, res[1]["before"], call_timeout=3) == [1]


def test_classifier_categories():
    ok = {"status": "ok", "out": {"tensor": [2], "dtype": "float32", "values": [1.0, "nan"]}}
    close = {"status": "ok", "out": {"tensor": [2], "dtype": "float32", "values": [1.00001, "nan"]}}
    far = {"status": "ok", "out": {"tensor": [2], "dtype": "float32", "values": [1.1, "nan"]}}
    f64 = {"status": "ok", "out": {"tensor": [2], "dtype": "float64", "values": [1.0, "nan"]}}
    rt = {"status": "raised", "exc": "RuntimeError", "msg": "x"}
    ie = {"status": "raised", "exc": "IndexError", "msg": "x"}
    spec = {"op": "fn:add"}
    assert classify.classify(spec, ok, close)[0] == "match"
    assert classify.classify(spec, ok, far)[0] == "value"
    assert classify.classify(spec, ok, f64) == ("value", "dtype float32 vs float64")
    assert classify.classify(spec, ok, rt)[0] == "silent"
    assert classify.classify(spec, rt, ok)[0] == "ember_raises"
    assert classify.classify(spec, rt, ie)[0] == "exc_type"
    assert classify.classify(spec, rt, rt)[0] == "match"
    panic = {"status": "panic", "exc": "PanicException", "msg": "boom"}
    assert classify.classify(spec, panic, rt)[0] == "panic"
    crashed = {"status": "crashed", "how": "signal 6"}
    assert classify.classify(spec, crashed, ok)[0] == "crash"


def test_generator_is_deterministic_and_covers_the_families():
    a, b = generator.generate(3, 300), generator.generate(3, 300)
    assert a == b and a != generator.generate(4, 300)
    fams = {s["family"] for s in a}
    assert fams == {f for f, _ in generator.Gen.FAMILIES}
    dtypes = {x["T"][1] for s in a for x in _tensors(s)}
    assert dtypes == set(generator.DTYPES)
    assert generator.reproducer({"op": "m:sum", "args": [T([2, 0])], "kwargs": {"dim": 1}}) == (
        "T([2, 0], float32).sum(dim=1)"
    )


def _tensors(x):
    if isinstance(x, dict):
        if "T" in x:
            yield x
        for v in x.values():
            yield from _tensors(v)
    elif isinstance(x, list):
        for v in x:
            yield from _tensors(v)
