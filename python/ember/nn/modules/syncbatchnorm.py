"""nn.SyncBatchNorm for a single process: PyTorch itself computes plain batch norm when no
process group is initialized, which is the case ember supports. Across processes the batch
statistics would have to be all-reduced; that is refused with a clear error until
ember.distributed provides it (see the report of branch nnext).
"""

import ember

from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm

__all__ = ["SyncBatchNorm"]


def _distributed_world_size():
    dist = getattr(ember, "distributed", None)
    if dist is None or not getattr(dist, "is_available", lambda: False)():
        return 1
    if not dist.is_initialized():
        return 1
    return dist.get_world_size()


class SyncBatchNorm(_BatchNorm):
    r"""Batch norm over N and the spatial dims; synchronised across processes in PyTorch."""

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        process_group=None,
        device=None,
        dtype=None,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input):
        if self.training and _distributed_world_size() > 1:
            raise NotImplementedError(
                "SyncBatchNorm: synchronising batch statistics across processes is not "
                "supported by ember yet; use BatchNorm (per-process statistics) instead"
            )
        return super().forward(input)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Returns `module` with every BatchNorm*d replaced by a SyncBatchNorm (same tensors)."""
        out = module
        if isinstance(module, (BatchNorm1d, BatchNorm2d, BatchNorm3d)):
            out = SyncBatchNorm(
                module.num_features, module.eps, module.momentum, module.affine,
                module.track_running_stats, process_group,
            )  # fmt: skip
            if module.affine:
                with ember.no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
