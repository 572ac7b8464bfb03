"""torch.amp.GradScaler for ember: loss scaling for float16 training.

The scale and the growth tracker are 0-dim tensors on the device of the first
scaled output, so scaling, unscaling and the inf/NaN check run there. The check
is one reduction over all of an optimizer's gradients (they are concatenated
into one vector), and step() reads that one flag on the host, so a step costs one
host read, not one per parameter. update() computes the new scale with tensor
ops (no host read), following PyTorch's _amp_update_scale_.
"""

import warnings
from collections import abc, defaultdict
from enum import Enum

from .. import _dtype
from .._tensor import Tensor

__all__ = ["GradScaler", "OptState"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class GradScaler:
    """Scales the loss so float16 gradients do not underflow, unscales them before the
    optimizer step, skips steps whose gradients hold inf/NaN, and adapts the scale."""

    def __init__(
        self,
        device="cuda",
        init_scale=2.0**16,
        growth_factor=2.0,
        backoff_factor=0.5,
        growth_interval=2000,
        enabled=True,
    ):
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled:
            # PyTorch turns a CUDA scaler off where CUDA is missing; ember's "cuda" is a real
            # GPU (ember.cuda.is_available), its "gpu" any adapter ember can use.
            from .. import cuda, gpu
            from .autocast_mode import _device_key

            key = _device_key(device, "GradScaler")
            dev_str = str(device).split(":")[0].lower()
            available = True
            if key == "gpu":
                available = gpu.is_available() if dev_str == "gpu" else cuda.is_available()
            if not available:
                warnings.warn(
                    f"ember.amp.GradScaler is enabled, but device '{device}' is not available.  "
                    "Disabling.",
                    stacklevel=2,
                )
                self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
            self._init_scale = float(init_scale)
            self._scale = None
            self._growth_factor = float(growth_factor)
            self._backoff_factor = float(backoff_factor)
            self._growth_interval = int(growth_interval)
            self._init_growth_tracker = 0
            self._growth_tracker = None
            self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    # ------------------------------------------------------------ helpers

    def _check_scale_growth_tracker(self, funcname):
        fix = (
            "This may indicate your script did not use scaler.scale(loss or outputs) earlier "
            "in the iteration."
        )
        assert self._scale is not None, f"Attempted {funcname} but _scale is None.  " + fix
        assert self._growth_tracker is not None, (
            f"Attempted {funcname} but _growth_tracker is None.  " + fix
        )
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, dev):
        import ember

        assert self._growth_tracker is None, "_growth_tracker initialized before _scale"
        self._scale = ember.full((), self._init_scale, dtype=_dtype.float32, device=dev)
        self._growth_tracker = ember.full(
            (), self._init_growth_tracker, dtype=_dtype.int32, device=dev
        )

    # ------------------------------------------------------------ the public API

    def scale(self, outputs):
        """Multiply `outputs` (a tensor, or nested lists/tuples of tensors) by the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale.to(outputs.device)

        def apply_scale(val):
            if isinstance(val, Tensor):
                if self._scale is None:
                    self._lazy_init_scale_growth_tracker(val.device)
                return val * self._scale.to(val.device)
            if isinstance(val, abc.Iterable) and not isinstance(val, (str, bytes)):
                iterable = map(apply_scale, val)
                if isinstance(val, (list, tuple)):
                    return type(val)(iterable)
                return iterable
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, allow_fp16):
        import ember

        grads = []
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if (not allow_fp16) and param.grad.dtype == _dtype.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                grads.append(param.grad)
        found = {}
        by_device = defaultdict(list)
        for g in grads:
            by_device[g._device].append(g)
        for dev, gs in by_device.items():
            inv = inv_scale.to(dev)
            for g in gs:
                # In place, so optimizers holding the grad tensors see the unscaled values.
                g.mul_(inv.to(g.dtype) if g.dtype != _dtype.float32 else inv)
            # One reduction over every gradient of this device: inf*inv stays inf, NaN stays NaN.
            flat = ember.cat([g.reshape(-1).float() for g in gs]) if len(gs) > 1 else gs[0]
            found[dev] = (~flat.isfinite()).any().float()
        if not found:
            # No gradients at all: record a "no inf" flag so step()/update() still work.
            found[self._scale._device] = ember.zeros((), device=self._scale.device)
        return found

    def unscale_(self, optimizer):
        """Divide the optimizer's gradients by the scale, in place (once per step)."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        assert self._scale is not None
        if self._scale._device == "cpu":
            inv_scale = self._scale.double().reciprocal().float()
        else:
            # No float64 on ember's GPU; float32's 1/x is correctly rounded, so the same value.
            inv_scale = self._scale.reciprocal()
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, False)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """Unscale (if not done yet) and run optimizer.step() unless a gradient is inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        assert len(state["found_inf_per_device"]) > 0, (
            "No inf checks were recorded for this optimizer."
        )
        retval = None
        # The step's one host read.
        if not sum(v.item() for v in state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None):
        """Back the scale off after a skipped step, grow it after growth_interval clean steps;
        or set it to `new_scale` (a float, or a one-element float32 tensor)."""
        if not self._enabled:
            return
        _scale, _growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                self._scale.fill_(new_scale)
            else:
                reason = (
                    "new_scale should be a float or a 1-element ember.float32 tensor with "
                    "requires_grad=False."
                )
                assert isinstance(new_scale, Tensor), reason
                assert new_scale.numel() == 1, reason
                assert new_scale.dtype == _dtype.float32, reason
                assert new_scale.requires_grad is False, reason
                self._scale.copy_(new_scale.reshape(()).to(self._scale.device))
        else:
            import ember

            found_infs = [
                f.to(_scale.device)
                for state in self._per_optimizer_states.values()
                for f in state["found_inf_per_device"].values()
            ]
            assert len(found_infs) > 0, "No inf checks were recorded prior to update."
            found = found_infs[0]
            for f in found_infs[1:]:
                found = found + f
            found = found > 0
            # PyTorch's _amp_update_scale_, as tensor ops so no value leaves the device.
            tracker = ember.where(found, ember.zeros_like(_growth_tracker), _growth_tracker + 1)
            grow = tracker >= self._growth_interval
            grown = _scale * self._growth_factor
            grown = ember.where(grown.isfinite(), grown, _scale)
            new = ember.where(
                found, _scale * self._backoff_factor, ember.where(grow, grown, _scale)
            )
            self._scale.copy_(new)
            self._growth_tracker.copy_(ember.where(grow, ember.zeros_like(tracker), tracker))
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    # ------------------------------------------------------------ getters/setters, state

    def _get_scale_async(self):
        return self._scale

    def get_scale(self):
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale.item())

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        if self._growth_tracker is None:
            return self._init_growth_tracker
        return int(self._growth_tracker.item())

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._get_growth_tracker(),
        }

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved "
                "from a disabled instance of GradScaler."
            )
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale.fill_(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(self._init_growth_tracker)
