"""ember.profiler (events, key_averages().table(), Chrome trace JSON, schedule,
record_function) and ember.autograd anomaly mode (NaN in backward names the
backward function, as PyTorch's message does)."""

import json
import warnings

import pytest

import ember
from ember.profiler import ProfilerAction, ProfilerActivity, profile, record_function, schedule


def _work(device):
    a = ember.randn(16, 16, device=device)
    b = a @ a
    return ember.relu(b + 1).sum()


def test_profile_records_ops_and_table(device, tmp_path):
    with profile(
        activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], record_shapes=True
    ) as prof:
        with record_function("my_block"):
            _work(device)
    names = [e.name for e in prof.events()]
    for n in ("aten::randn", "aten::matmul", "aten::add", "aten::relu", "aten::sum", "my_block"):
        assert n in names, names
    avg = {r.key: r for r in prof.key_averages()}
    assert avg["aten::matmul"].count == 1
    # the user range encloses the ops: its total covers theirs and its self time excludes them
    inner = sum(avg[n].cpu_time_total for n in ("aten::randn", "aten::matmul", "aten::add"))
    assert avg["my_block"].cpu_time_total >= inner
    assert avg["my_block"].self_cpu_time_total <= avg["my_block"].cpu_time_total - inner + 1e-6
    table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=3)
    lines = [ln for ln in table.splitlines() if ln.startswith(("aten::", "my_block"))]
    assert len(lines) == 3 and lines[0].startswith("my_block")
    assert "Self CPU %" in table and "# of Calls" in table and "Self CPU time total" in table
    shaped = prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total")
    assert "[[16, 16], [16, 16]]" in shaped
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    assert {"aten::matmul", "my_block"} <= {e["name"] for e in events}
    for e in events:
        assert e["ph"] == "X" and e["dur"] >= 0 and isinstance(e["ts"], float)
    mm = next(e for e in events if e["name"] == "aten::matmul")
    assert mm["args"]["Input Dims"] == [[16, 16], [16, 16]]


def test_tensor_methods_and_operators_are_recorded():
    x = ember.ones(3)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        y = (x * 2).exp().mean()
        y.item()
    names = [e.name for e in prof.events()]
    assert {"aten::mul", "aten::exp", "aten::mean"} <= set(names)
    # wrappers are gone afterwards: the ops are ember's own functions again
    assert not hasattr(ember.add, "_ember_op_hook")
    assert not hasattr(ember.Tensor.exp, "_ember_op_hook")


def test_record_function_outside_profile_is_noop():
    with record_function("nothing"):
        y = ember.ones(2) + 1

    @record_function("decorated")
    def f(t):
        return t * 3

    assert f(y).tolist() == [6.0, 6.0]
    with profile() as prof:
        f(y)
    assert [e.name for e in prof.events()][:1] == ["decorated"]


def test_schedule_and_on_trace_ready():
    sched = schedule(wait=1, warmup=1, active=2, repeat=1)
    actions = [sched(i) for i in range(6)]
    assert actions == [
        ProfilerAction.NONE,
        ProfilerAction.WARMUP,
        ProfilerAction.RECORD,
        ProfilerAction.RECORD_AND_SAVE,
        ProfilerAction.NONE,
        ProfilerAction.NONE,
    ]
    assert schedule(wait=0, warmup=1, active=1, skip_first=2)(1) == ProfilerAction.NONE
    ready = []

    def on_ready(p):
        ready.append(sorted({e.name for e in p.events()}))

    with profile(schedule=sched, on_trace_ready=on_ready) as prof:
        for step in range(6):
            ember.full((2,), float(step)).neg()
            prof.step()
    assert len(ready) == 1
    # only steps 2 and 3 were recorded: two neg calls, two full calls
    assert ready[0] == ["aten::full", "aten::neg"]
    assert sum(1 for e in prof.events() if e.name == "aten::neg") == 2


def test_bad_profile_arguments():
    with pytest.raises(ValueError, match="activities"):
        profile(activities=["cpu"])
    with pytest.raises(ValueError, match="unknown sort_by"):
        with profile() as prof:
            ember.ones(1) + 1
        prof.key_averages().table(sort_by="bogus")


# ----- anomaly mode -----
def test_detect_anomaly_names_backward_function(device):
    x = ember.tensor([0.0, 1.0], device=device, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ember.autograd.detect_anomaly():
            assert ember.autograd.is_anomaly_enabled()
            y = (x / x).sum()
            # PyTorch 2.15 by hand (/tmp/tv) gives exactly this message for x / x at x = 0.
            with pytest.raises(
                RuntimeError,
                match=r"^Function 'DivBackward0' returned nan values in its 1th output\.$",
            ):
                y.backward()
            z = x.sqrt() * 0
            with pytest.raises(
                RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output"
            ):
                z.sum().backward()
    assert not ember.autograd.is_anomaly_enabled()
    assert not hasattr(ember.add, "_ember_op_hook")


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_anomaly_warns_with_forward_traceback_and_clean_backward_passes():
    x = ember.tensor([0.0, 4.0], requires_grad=True)
    with pytest.warns(
        RuntimeWarning, match="Error detected in SqrtBackward0. Traceback of forward call"
    ):
        with ember.autograd.detect_anomaly():
            with pytest.raises(RuntimeError):
                ember.sqrt(x).mul(0).sum().backward()
    x.grad = None
    w = ember.tensor([1.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ember.autograd.detect_anomaly():
            (w.sqrt() * w).sum().backward()
    # d/dw w^1.5 = 1.5 sqrt(w)
    assert w.grad.tolist() == pytest.approx([1.5, 3.0])


@pytest.mark.filterwarnings("ignore:Error detected in")
def test_set_detect_anomaly_function_and_context():
    ember.autograd.set_detect_anomaly(True)
    try:
        assert ember.autograd.is_anomaly_enabled()
        x = ember.tensor([0.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="returned nan values"):
            (x / x).sum().backward()
    finally:
        ember.autograd.set_detect_anomaly(False)
    assert not ember.autograd.is_anomaly_enabled()
    with ember.autograd.set_detect_anomaly(True, check_nan=True):
        assert ember.autograd.is_anomaly_enabled()
    assert not ember.autograd.is_anomaly_enabled()
    # without anomaly mode the NaN just flows through, as in PyTorch
    x = ember.tensor([0.0], requires_grad=True)
    (x / x).sum().backward()
    assert x.grad.isnan().all().item()


def test_legacy_autograd_profiler():
    from ember.autograd import profiler as legacy

    with legacy.profile(record_shapes=True) as prof:
        with legacy.record_function("step"):
            ember.ones(4, 4).matmul(ember.ones(4, 4)).sum()
    names = {e.name for e in prof.events()}
    assert {"step", "aten::matmul", "aten::sum"} <= names
    assert "aten::matmul" in prof.table(sort_by="cpu_time_total", row_limit=5)
    with legacy.profile(enabled=False) as off:
        ember.ones(2) + 1
    assert off.events() == []
