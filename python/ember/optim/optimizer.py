"""Optimizer base class with PyTorch's param_groups / state / state_dict contract.

The per-step math of the concrete optimizers runs in Rust (`ember._C.*_step`,
one call per param group). A pure tensor-op path with the same math is kept
for builds without those kernels and for the equivalence tests.
"""

import functools
import warnings
from collections import OrderedDict
from copy import deepcopy
from itertools import chain

import ember

__all__ = ["Optimizer", "required"]

# Tests set this to True to run the reference (tensor-op) path even when the
# fused Rust kernels exist, and compare both.
_FORCE_PYTHON = False


def _fused(name):
    if _FORCE_PYTHON:
        return None
    return getattr(ember._C, name, None)


class _RequiredParameter:
    """Singleton class representing a required parameter for an Optimizer."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class _ParamState:
    """`optimizer.state`: a defaultdict(dict) keyed by parameter identity.

    Keyed by id() so it works whether or not tensors are hashable; non-tensor
    keys (from a state_dict whose ids did not map to a parameter) are kept too.
    """

    def __init__(self):
        self._data = OrderedDict()  # id-or-key -> (key object, value)

    @staticmethod
    def _k(key):
        return ("t", id(key)) if isinstance(key, ember.Tensor) else ("k", key)

    def __getitem__(self, key):
        k = self._k(key)
        if k not in self._data:
            self._data[k] = (key, {})
        return self._data[k][1]

    def __setitem__(self, key, value):
        self._data[self._k(key)] = (key, value)

    def __delitem__(self, key):
        del self._data[self._k(key)]

    def __contains__(self, key):
        return self._k(key) in self._data

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return (k for k, _ in self._data.values())

    def get(self, key, default=None):
        k = self._k(key)
        return self._data[k][1] if k in self._data else default

    def keys(self):
        return [k for k, _ in self._data.values()]

    def values(self):
        return [v for _, v in self._data.values()]

    def items(self):
        return list(self._data.values())

    def clear(self):
        self._data.clear()

    def __repr__(self):
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in self.items()) + "}"


def _use_grad(func):
    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        with ember.no_grad():
            return func(self, *args, **kwargs)

    return wrapper


def _get_value(x):
    if isinstance(x, ember.Tensor):
        return x.item()
    return x


class Optimizer:
    r"""Base class for all optimizers (PyTorch's torch.optim.Optimizer)."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._step_count = 0
        if isinstance(params, ember.Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__module__}.{type(params).__name__}"
            )
        self.state = _ParamState()
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {
            "defaults": self.defaults,
            "state": self.state,
            "param_groups": self.param_groups,
        }

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_optimizer_step_pre_hooks", OrderedDict())
        self.__dict__.setdefault("_optimizer_step_post_hooks", OrderedDict())
        self.__dict__.setdefault("_step_count", 0)

    def __repr__(self):
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        format_string += ")"
        return format_string

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, ember.Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a list "
                "instead."
            )
        else:
            param_group["params"] = list(params)
        names = []
        plist = []
        for p in param_group["params"]:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])
                plist.append(p[1])
            else:
                plist.append(p)
        if names:
            if len(names) != len(plist):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing"
                )
            param_group["param_names"] = names
        param_group["params"] = plist
        for param in param_group["params"]:
            if not isinstance(param, ember.Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(param).__module__}.{type(param).__name__}"
                )
            if not self.defaults.get("differentiable", None) and not (
                getattr(param, "is_leaf", True) or getattr(param, "retains_grad", False)
            ):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        existing = set()
        for group in self.param_groups:
            existing.update(id(p) for p in group["params"])
        if not existing.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ grads & hooks
    def zero_grad(self, set_to_none=True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        if p.grad.grad_fn is not None:
                            p.grad = p.grad.detach()
                        else:
                            p.grad.requires_grad_(False)
                        p.grad.zero_()

    def register_step_pre_hook(self, hook):
        from ..nn.modules.module import RemovableHandle

        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook):
        from ..nn.modules.module import RemovableHandle

        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _wrap_step(cls.__dict__["step"])

    def step(self, closure=None):
        raise NotImplementedError

    # ------------------------------------------------------------------ state dict
    def state_dict(self):
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start_index):
                if id(p) not in param_mappings:
                    param_mappings[id(p)] = i
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {}
        for k, v in self.state.items():
            key = param_mappings[id(k)] if isinstance(k, ember.Tensor) else k
            packed_state[key] = v
        return {"state": packed_state, "param_groups": param_groups}

    @staticmethod
    def _process_value_according_to_param_policy(param, value, key=None):
        if key == "step":
            if isinstance(value, ember.Tensor):
                return value.detach().clone()
            return value
        if param.is_floating_point() and value.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device).clone()
        return value.to(device=param.device).clone()

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        param_lens = (len(g["params"]) for g in groups)
        saved_lens = (len(g["params"]) for g in saved_groups)
        if any(p_len != s_len for p_len, s_len in zip(param_lens, saved_lens)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )

        def _cast(param, value, key=None):
            if isinstance(value, ember.Tensor):
                return Optimizer._process_value_according_to_param_policy(param, value, key)
            if isinstance(value, dict):
                return {k: _cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(_cast(param, v, key=key) for v in value)
            return value

        state = _ParamState()
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})

    # ------------------------------------------------------------------ helpers
    def _grouped(self, group):
        """(params, grads) of a group's parameters that have a gradient."""
        params, grads = [], []
        for p in group["params"]:
            if p.grad is not None:
                params.append(p)
                grads.append(p.grad)
        return params, grads


def _wrap_step(step):
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        for hook in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(
                        f"{step} must return None or a tuple of (new_args, new_kwargs), "
                        f"but got {result}."
                    )
        out = step(self, *args, **kwargs)
        self._step_count = getattr(self, "_step_count", 0) + 1
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    wrapper._wrapped_by_ember = True
    return wrapper


_global_pre_hooks = OrderedDict()
_global_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    from ..nn.modules.module import RemovableHandle

    handle = RemovableHandle(_global_pre_hooks)
    _global_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    from ..nn.modules.module import RemovableHandle

    handle = RemovableHandle(_global_post_hooks)
    _global_post_hooks[handle.id] = hook
    return handle


def _step_tensor():
    return ember.zeros((), dtype=ember.float32)


def _incr_steps(states):
    """Increment each state's 'step' (a float32 CPU scalar tensor) and return the ints."""
    steps = []
    for st in states:
        s = st["step"]
        if isinstance(s, ember.Tensor):
            s.add_(1)
            steps.append(int(round(float(s.item()))))
        else:
            st["step"] = float(s) + 1
            steps.append(int(round(st["step"])))
    return steps


def _check_range(name, value, lo=0.0, hi=None, hi_open=False):
    if value < lo or (hi is not None and (value >= hi if hi_open else value > hi)):
        raise ValueError(f"Invalid {name}: {value}")
