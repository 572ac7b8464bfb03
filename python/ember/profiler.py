"""ember.profiler: PyTorch's torch.profiler API timing ember's ops.

Timing is taken at the Python boundary (ember's Rust core has no per-op
callback): while a profile is recording, ember's public functions, the
nn.functional functions and the Tensor methods/operators are wrapped (see
_op_hooks.py) and each call becomes an event named like PyTorch's
("aten::add", "aten::matmul", ...), nested calls included, so "Self CPU"
excludes the time of the ops an op calls. `record_function` adds user ranges.
With ProfilerActivity.CUDA requested, an op that returns a tensor on the GPU
device waits for the GPU (ember.gpu.synchronize) before its event ends, so its
time includes the device work; there is no separate device timeline.
"""

import enum
import functools
import json
import os
import threading
import time
from collections import OrderedDict

import ember

from . import _op_hooks

__all__ = [
    "ProfilerAction",
    "ProfilerActivity",
    "profile",
    "record_function",
    "schedule",
    "tensorboard_trace_handler",
]


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 1
    XPU = 2
    MTIA = 3
    PrivateUse1 = 4


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """Step -> ProfilerAction: skip_first steps, then cycles of wait/warmup/active (repeat times; 0 = forever)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise ValueError("Invalid profiler schedule arguments")
    if warmup == 0:
        import warnings

        warnings.warn("Profiler won't be using warmup, this can skew profiler results")

    def schedule_fn(step):
        if step < 0:
            raise ValueError(f"Invalid step: {step}")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait  # start the first cycle at its warmup
        num_steps = wait + warmup + active
        if repeat > 0 and step / num_steps >= repeat:
            return ProfilerAction.NONE
        mod_step = step % num_steps
        if mod_step < wait:
            return ProfilerAction.NONE
        if mod_step < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if mod_step < num_steps - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def _default_schedule(_step):
    return ProfilerAction.RECORD


def _shapes(args):
    out = []
    for a in args:
        if isinstance(a, ember.Tensor):
            out.append(list(a.shape))
        elif isinstance(a, (list, tuple)) and a and all(isinstance(x, ember.Tensor) for x in a):
            out.append([list(x.shape) for x in a])
        else:
            out.append([])
    return out


class _Event:
    __slots__ = ("name", "start_us", "end_us", "thread", "shapes", "children_us", "depth", "user")

    def __init__(self, name, start_us, thread, shapes, depth, user=False):
        self.name = name
        self.start_us = start_us
        self.end_us = start_us
        self.thread = thread
        self.shapes = shapes
        self.children_us = 0.0
        self.depth = depth
        self.user = user

    @property
    def cpu_time_total(self):
        return self.end_us - self.start_us

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - self.children_us


class FunctionEventAvg:
    """Events grouped by name (and input shapes): PyTorch's key_averages() row."""

    def __init__(self, key, input_shapes=None):
        self.key = key
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.input_shapes = input_shapes

    def add(self, ev):
        self.count += 1
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self):
        return (
            f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}us "
            f"cpu_time={self.cpu_time_total:.3f}us count={self.count}>"
        )


def _fmt_us(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


_SORT_KEYS = {
    "cpu_time_total": "cpu_time_total",
    "self_cpu_time_total": "self_cpu_time_total",
    "cpu_time": "cpu_time",
    "count": "count",
    # Device columns are not measured separately: sort on the (synchronised) CPU times.
    "cuda_time_total": "cpu_time_total",
    "self_cuda_time_total": "self_cpu_time_total",
    "device_time_total": "cpu_time_total",
    "self_device_time_total": "self_cpu_time_total",
}


class EventList(list):
    """key_averages() result: a list of FunctionEventAvg with PyTorch's table()."""

    def __init__(self, *args, group_by_input_shape=False):
        super().__init__(*args)
        self._group_by_input_shape = group_by_input_shape

    def table(
        self,
        sort_by=None,
        row_limit=100,
        max_name_column_width=55,
        header=None,
        top_level_events_only=False,
    ):
        rows = list(self)
        if sort_by is not None:
            if sort_by not in _SORT_KEYS:
                raise ValueError(
                    f"table(): unknown sort_by {sort_by!r}; expected one of {sorted(_SORT_KEYS)}"
                )
            attr = _SORT_KEYS[sort_by]
            rows.sort(key=lambda r: getattr(r, attr), reverse=True)
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        total_self = sum(r.self_cpu_time_total for r in self) or 1.0
        name_w = max([len("Name")] + [min(len(r.key), max_name_column_width) for r in rows]) + 2
        cols = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
        widths = [13, 13, 13, 13, 14, 12]
        show_shapes = self._group_by_input_shape
        head = "Name".ljust(name_w) + "".join(c.rjust(w) for c, w in zip(cols, widths))
        if show_shapes:
            head += "  Input Shapes"
        line = "-" * len(head)
        out = []
        if header:
            out.append(header)
        out += [line, head, line]
        for r in rows:
            name = (
                r.key
                if len(r.key) <= max_name_column_width
                else r.key[: max_name_column_width - 3] + "..."
            )
            vals = [
                f"{100.0 * r.self_cpu_time_total / total_self:.2f}%",
                _fmt_us(r.self_cpu_time_total),
                f"{100.0 * r.cpu_time_total / total_self:.2f}%",
                _fmt_us(r.cpu_time_total),
                _fmt_us(r.cpu_time),
                str(r.count),
            ]
            s = name.ljust(name_w) + "".join(v.rjust(w) for v, w in zip(vals, widths))
            if show_shapes:
                s += "  " + str(r.input_shapes)
            out.append(s)
        out.append(line)
        out.append(f"Self CPU time total: {_fmt_us(sum(r.self_cpu_time_total for r in self))}")
        return "\n".join(out) + "\n"

    def __str__(self):
        return self.table()


class _Recorder:
    """The interceptor: one event per op call while its profile is recording."""

    def __init__(self, prof):
        self.prof = prof
        self.local = threading.local()

    def _stack(self):
        st = getattr(self.local, "stack", None)
        if st is None:
            st = self.local.stack = []
        return st

    def begin(self, name, args=(), user=False):
        stack = self._stack()
        shapes = _shapes(args) if self.prof.record_shapes else None
        ev = _Event(name, _now_us(), threading.get_ident(), shapes, len(stack), user)
        stack.append(ev)
        return ev

    def end(self, ev, result=None):
        if self.prof._sync_gpu and _on_gpu(result):
            with _op_hooks.paused():
                ember.gpu.synchronize()
        ev.end_us = _now_us()
        stack = self._stack()
        if stack and stack[-1] is ev:
            stack.pop()
        if stack:
            stack[-1].children_us += ev.cpu_time_total
        if self.prof._recording:
            self.prof._events.append(ev)

    def around(self, name, fn, args, kwargs):
        if not self.prof._recording:
            return fn(*args, **kwargs)
        ev = self.begin(name, args)
        result = None
        try:
            result = fn(*args, **kwargs)
            return result
        finally:
            self.end(ev, result)


def _on_gpu(result):
    if isinstance(result, ember.Tensor):
        return result.device.type != "cpu"
    if isinstance(result, (tuple, list)):
        return any(isinstance(r, ember.Tensor) and r.device.type != "cpu" for r in result)
    return False


_T0 = time.perf_counter_ns()


def _now_us():
    return (time.perf_counter_ns() - _T0) / 1000.0


_current = []  # profiles that are active (for record_function)


class profile:
    """Context manager recording ember ops (PyTorch's torch.profiler.profile)."""

    def __init__(
        self,
        *,
        activities=None,
        schedule=None,
        on_trace_ready=None,
        record_shapes=False,
        profile_memory=False,
        with_stack=False,
        with_flops=False,
        with_modules=False,
        experimental_config=None,
        execution_trace_observer=None,
        acc_events=False,
        use_cuda=None,
    ):
        acts = (
            set(activities)
            if activities is not None
            else {ProfilerActivity.CPU, ProfilerActivity.CUDA}
        )
        if use_cuda:
            acts.add(ProfilerActivity.CUDA)
        for a in acts:
            if not isinstance(a, ProfilerActivity):
                raise ValueError(
                    f"profile(): activities must be ProfilerActivity values, got {a!r}"
                )
        self.activities = acts
        self.schedule = schedule if schedule is not None else _default_schedule
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.acc_events = acc_events
        self._sync_gpu = ProfilerActivity.CUDA in acts and _gpu_available()
        self._events = []
        self._recording = False
        self._recorder = _Recorder(self)
        self.step_num = 0
        self.current_action = ProfilerAction.NONE
        self._started = False

    # ----- lifecycle -----
    def start(self):
        if self._started:
            return
        self._started = True
        _op_hooks.push(self._recorder)
        _current.append(self)
        self._enter_action(self.schedule(self.step_num))

    def stop(self):
        if not self._started:
            return
        # Leaving while recording finishes that trace, as PyTorch does.
        if self.current_action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE):
            self._save()
        self._recording = False
        _op_hooks.pop(self._recorder)
        if self in _current:
            _current.remove(self)
        self._started = False

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _enter_action(self, action):
        self.current_action = action
        was = self._recording
        self._recording = action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        if self._recording and not was and not self.acc_events:
            self._events = []

    def _save(self):
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def step(self):
        """Advance the schedule one step (call once per training iteration)."""
        prev = self.current_action
        self.step_num += 1
        if prev == ProfilerAction.RECORD_AND_SAVE:
            self._save()
        self._enter_action(self.schedule(self.step_num))

    # ----- results -----
    def events(self):
        """Recorded events in start order (an op's event ends after the ops it calls)."""
        return sorted(self._events, key=lambda e: e.start_us)

    def key_averages(
        self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False
    ):
        groups = OrderedDict()
        for ev in self._events:
            shapes = ev.shapes if group_by_input_shape else None
            key = (ev.name, str(shapes)) if group_by_input_shape else ev.name
            if key not in groups:
                groups[key] = FunctionEventAvg(ev.name, shapes)
            groups[key].add(ev)
        return EventList(groups.values(), group_by_input_shape=group_by_input_shape)

    def export_chrome_trace(self, path):
        """Write the events as Chrome trace-event JSON (chrome://tracing, Perfetto)."""
        pid = os.getpid()
        trace = []
        for ev in sorted(self._events, key=lambda e: e.start_us):
            item = {
                "ph": "X",
                "cat": "user_annotation" if ev.user else "cpu_op",
                "name": ev.name,
                "pid": pid,
                "tid": ev.thread,
                "ts": ev.start_us,
                "dur": ev.cpu_time_total,
                "args": {},
            }
            if ev.shapes is not None:
                item["args"]["Input Dims"] = ev.shapes
            trace.append(item)
        with open(path, "w") as f:
            json.dump(
                {"traceEvents": trace, "displayTimeUnit": "ms", "schemaVersion": 1},
                f,
            )
        return path

    def __repr__(self):
        return f"<ember.profiler.profile step={self.step_num} events={len(self._events)}>"


def _gpu_available():
    try:
        return bool(ember.gpu.is_available())
    except Exception:  # noqa: BLE001 - no backend means no device activity to wait for
        return False


class record_function:
    """A named user range in the profile (context manager or decorator); a no-op when not profiling."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._events = []

    def __enter__(self):
        self._events = []
        for prof in _current:
            if prof._recording:
                self._events.append((prof, prof._recorder.begin(self.name, user=True)))
        return self

    def __exit__(self, *exc):
        for prof, ev in reversed(self._events):
            prof._recorder.end(ev)
        self._events = []
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)

        return wrapper


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """on_trace_ready handler writing one Chrome trace per saved cycle into dir_name."""

    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or f"{os.uname().nodename}_{os.getpid()}"
        path = os.path.join(dir_name, f"{name}.{time.time_ns()}.pt.trace.json")
        prof.export_chrome_trace(path)
        if use_gzip:
            import gzip
            import shutil

            with open(path, "rb") as src, gzip.open(path + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.remove(path)

    return handler
