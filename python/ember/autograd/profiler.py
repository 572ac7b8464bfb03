"""ember.autograd.profiler: the legacy torch.autograd.profiler entry points.

`profile(enabled=True, use_cuda=False, record_shapes=False, ...)` and
`record_function` are the ember.profiler ones under their older names and
arguments (use_cuda / use_device map to ProfilerActivity.CUDA).
"""

from .. import profiler as _profiler
from ..profiler import record_function  # noqa: F401

__all__ = ["profile", "record_function"]


class profile(_profiler.profile):
    def __init__(
        self,
        enabled=True,
        *,
        use_cuda=False,
        use_device=None,
        record_shapes=False,
        with_flops=False,
        profile_memory=False,
        with_stack=False,
        with_modules=False,
        use_kineto=False,
        use_cpu=True,
        experimental_config=None,
        acc_events=False,
        custom_trace_id_callback=None,
    ):
        activities = []
        if use_cpu:
            activities.append(_profiler.ProfilerActivity.CPU)
        if use_cuda or use_device:
            activities.append(_profiler.ProfilerActivity.CUDA)
        self.enabled = enabled
        super().__init__(
            activities=activities,
            record_shapes=record_shapes,
            profile_memory=profile_memory,
            with_stack=with_stack,
            with_flops=with_flops,
            with_modules=with_modules,
            acc_events=acc_events,
        )

    def __enter__(self):
        if self.enabled:
            self.start()
        return self

    def table(self, sort_by=None, row_limit=100, **kwargs):
        return self.key_averages().table(sort_by=sort_by, row_limit=row_limit, **kwargs)

    def __str__(self):
        return self.table()
