"""`ember.func`: PyTorch's function transforms (vmap, grad, grad_and_value, jacrev, jacfwd,
functional_call) built on ember's tape autograd.

`vmap` is a loop-and-stack implementation: it calls the function once per batch element on
slices taken along `in_dims` and stacks the results along `out_dims`. It gives the same values
as PyTorch's batching rules, but costs one call per element (no vectorisation). `randomness`
is accepted; every call draws fresh random numbers, which is PyTorch's "different" behaviour.

`grad` and friends differentiate with `ember.autograd.grad`. When an input already takes part
in an outer graph (it requires grad), the inner derivative is built with `create_graph=True`
so that transforms nest (`grad(grad(f))`, `jacrev(grad(f))`).
"""

from . import _ops
from .autograd import enable_grad
from .autograd import functional as _AF
from .autograd import grad as _autograd_grad

__all__ = ["vmap", "grad", "grad_and_value", "jacrev", "jacfwd", "functional_call", "hessian"]


# --------------------------------------------------------------------------- pytrees
def _is_tensor(x):
    return isinstance(x, _ops.Tensor)


def _flatten(tree):
    """Flattens nested tuples/lists/dicts into (leaves, rebuild function)."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(x) for x in tree]
        leaves = [leaf for p in parts for leaf in p[0]]
        kind = type(tree)

        def rebuild(vals):
            out, i = [], 0
            for p_leaves, p_rebuild in parts:
                out.append(p_rebuild(vals[i : i + len(p_leaves)]))
                i += len(p_leaves)
            return kind(out) if kind in (tuple, list) else kind(*out)

        return leaves, rebuild
    if isinstance(tree, dict):
        keys = list(tree)
        leaves_r, rebuild_t = _flatten(tuple(tree[k] for k in keys))

        def rebuild_d(vals):
            return type(tree)(zip(keys, rebuild_t(vals)))

        return leaves_r, rebuild_d
    return [tree], lambda vals: vals[0]


def _broadcast_dims(name, dims, tree):
    """Expands `dims` (an int/None, or a tree matching `tree`'s prefix) to one per leaf."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(_flatten(tree)[0])
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)):
        if len(dims) != len(tree):
            raise ValueError(
                f"{name}: in_dims is not compatible with the structure of `inputs`: in_dims has "
                f"{len(dims)} elements but inputs has {len(tree)}"
            )
        return [d for sub_d, sub_t in zip(dims, tree) for d in _broadcast_dims(name, sub_d, sub_t)]
    if isinstance(dims, dict) and isinstance(tree, dict):
        return [d for k in tree for d in _broadcast_dims(name, dims[k], tree[k])]
    raise ValueError(
        f"{name}: in_dims {dims!r} is not compatible with the structure of the inputs "
        f"({type(tree).__name__})"
    )


# --------------------------------------------------------------------------- vmap
def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorises `func` over a batch dimension (loop-and-stack; see the module docstring)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            f"vmap: randomness must be one of 'error', 'different', 'same', got {randomness!r}"
        )
    if not (in_dims is None or isinstance(in_dims, (int, tuple, list, dict))):
        raise ValueError(f"vmap: in_dims must be an int, None or a tuple, got {in_dims!r}")

    def wrapped(*args, **kwargs):
        dims_tree = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if isinstance(in_dims, (tuple, list)) and len(in_dims) != len(args):
            raise ValueError(
                f"vmap(func, in_dims={in_dims!r}): in_dims is not compatible with the structure "
                f"of the inputs: expected one in_dim per positional argument ({len(args)})"
            )
        leaves, rebuild = _flatten(tuple(args))
        dims = _broadcast_dims("vmap", tuple(dims_tree), tuple(args))
        size = None
        for leaf, d in zip(leaves, dims):
            if d is None:
                continue
            if not _is_tensor(leaf):
                raise ValueError(
                    f"vmap: got in_dim={d} for an input of type {type(leaf).__name__}, but only "
                    "Tensor inputs can be mapped over (use None for the others)"
                )
            nd = leaf.dim()
            if not -nd <= d < nd:
                raise ValueError(
                    f"vmap: in_dim={d} is out of range for an input of shape {tuple(leaf.shape)}"
                )
            n = leaf.shape[d]
            if size is None:
                size = n
            elif n != size:
                raise ValueError(
                    "vmap: Expected all tensors to have the same size in the mapped dimension, "
                    f"got sizes {size} and {n} for the mapped dimension"
                )
        if size is None:
            raise ValueError(
                "vmap: at least one input must be a Tensor mapped over a dimension (in_dims all None)"
            )
        results = []
        for i in range(size):
            sl = [leaf if d is None else leaf.select(d, i) for leaf, d in zip(leaves, dims)]
            results.append(func(*rebuild(sl), **kwargs))
        out_leaves0, out_rebuild = _flatten(results[0])
        per_out = [_flatten(r)[0] for r in results]
        odims = (
            [out_dims] * len(out_leaves0)
            if isinstance(out_dims, int) or out_dims is None
            else _broadcast_dims("vmap", out_dims, results[0])
        )
        stacked = []
        for j, od in enumerate(odims):
            col = [p[j] for p in per_out]
            if not _is_tensor(col[0]):
                col = [_ops.tensor(c) for c in col]
            if od is None:
                stacked.append(col[0])
                continue
            nd = col[0].dim() + 1
            stacked.append(_ops.stack(col, dim=od % nd))
        return out_rebuild(stacked)

    wrapped.__name__ = f"vmap({getattr(func, '__name__', 'func')})"
    return wrapped


# --------------------------------------------------------------------------- grad
def _prep_inputs(args, argnums):
    """Returns args with the differentiated ones replaced by fresh graph inputs."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not isinstance(a, int) or not -len(args) <= a < len(args):
            raise RuntimeError(
                f"Got argnums={argnums!r} but only {len(args)} positional inputs were given"
            )
    nums = tuple(a % len(args) for a in nums)
    args = list(args)
    nested = False
    diff = []
    for a in nums:
        leaves, rebuild = _flatten(args[a])
        fresh = []
        for leaf in leaves:
            if not _is_tensor(leaf):
                raise RuntimeError(
                    f"grad: argument {a} must be a Tensor (or a tuple/dict of Tensors), got "
                    f"{type(leaf).__name__}"
                )
            if not leaf.is_floating_point():
                raise RuntimeError(
                    f"grad: only floating point inputs can be differentiated, argument {a} has "
                    f"dtype {leaf.dtype}"
                )
            if leaf.requires_grad:
                nested = True
                fresh.append(leaf.view_as(leaf))
            else:
                fresh.append(leaf.detach().requires_grad_(True))
        args[a] = rebuild(fresh)
        diff.append((fresh, rebuild))
    return args, nums, diff, nested


def _split_aux(out, has_aux, name):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(
            f"{name}(f)(*args): output of function f should be a tuple: (output, aux) "
            "if has_aux is True"
        )
    return out


def grad_and_value(func, argnums=0, has_aux=False):
    """Returns a function computing (gradient of func w.r.t. argnums, func's value)."""

    def wrapped(*args, **kwargs):
        with enable_grad():
            args2, nums, diff, nested = _prep_inputs(args, argnums)
            out = func(*args2, **kwargs)
            value, aux = _split_aux(out, has_aux, "grad_and_value")
            if not _is_tensor(value) or value.numel() != 1:
                shape = tuple(value.shape) if _is_tensor(value) else type(value).__name__
                raise RuntimeError(
                    "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, "
                    f"got tensor with shape {shape}"
                )
            inputs = [t for fresh, _ in diff for t in fresh]
            gs = _autograd_grad(
                value, inputs, create_graph=nested, retain_graph=nested, allow_unused=True
            )
        # autograd.grad gives one entry per input (zip(strict=) would need Python 3.10)
        gs = [g if g is not None else _ops.zeros_like(x) for g, x in zip(gs, inputs)]
        if not nested:
            gs = [g.detach() for g in gs]
            value = value.detach()
        grads, i = [], 0
        for fresh, rebuild in diff:
            grads.append(rebuild(gs[i : i + len(fresh)]))
            i += len(fresh)
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        if has_aux:
            return g, (value, aux)
        return g, value

    return wrapped


def grad(func, argnums=0, has_aux=False):
    """Returns a function computing the gradient of scalar-valued `func` w.r.t. `argnums`."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapped(*args, **kwargs):
        g, v = gv(*args, **kwargs)
        if has_aux:
            return g, v[1]
        return g

    return wrapped


# --------------------------------------------------------------------------- jacobians
def _jac(func, argnums, has_aux, name, vectorize_mode):
    def wrapped(*args):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        aux_box = []

        def f(*diff_args):
            full = list(args)
            for a, v in zip(nums, diff_args):
                full[a] = v
            out = func(*full)
            if has_aux:
                out, aux = _split_aux(out, True, name)
                aux_box.append(aux)
            return out

        diff_inputs = tuple(args[a] for a in nums)
        nested = any(_is_tensor(x) and x.requires_grad for x in diff_inputs)
        jac = _AF.jacobian(f, diff_inputs, create_graph=nested, strategy=vectorize_mode)
        # autograd.functional.jacobian returns, for tuple inputs, one entry per input.
        if isinstance(argnums, int):
            if isinstance(jac[0], tuple):  # several outputs: one tuple per output
                jac = tuple(j[0] for j in jac)
            else:
                jac = jac[0]
        if has_aux:
            aux = aux_box[0] if aux_box else None
            return jac, aux
        return jac

    return wrapped


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """Jacobian of `func` w.r.t. `argnums`, by reverse mode (one vjp per output element)."""
    return _jac(func, argnums, has_aux, "jacrev", "reverse-mode")


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """Jacobian of `func` w.r.t. `argnums`, same values as `jacrev` (computed by vjps here)."""
    return _jac(func, argnums, has_aux, "jacfwd", "forward-mode")


def hessian(func, argnums=0):
    """Hessian of scalar-valued `func`: jacfwd(jacrev(func))."""
    return jacfwd(jacrev(func, argnums), argnums)


# --------------------------------------------------------------------------- functional_call
def _resolve(module, name):
    *path, leaf = name.split(".")
    mod = module
    for p in path:
        mod = getattr(mod, p)
    return mod, leaf


def functional_call(
    module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False
):  # noqa: E501
    """Calls `module` with its parameters/buffers replaced by the given tensors, then restores."""
    if isinstance(parameter_and_buffer_dicts, (tuple, list)):
        merged = {}
        for d in parameter_and_buffer_dicts:
            dup = set(merged) & set(d)
            if dup:
                raise ValueError(
                    f"functional_call: {sorted(dup)} appeared in multiple dictionaries; behavior "
                    "of functional call is ambiguous"
                )
            merged.update(d)
    else:
        merged = dict(parameter_and_buffer_dicts)
    if strict:
        expected = {n for n, _ in module.named_parameters()} | {
            n for n, _ in module.named_buffers()
        }
        missing, unexpected = sorted(expected - set(merged)), sorted(set(merged) - expected)
        if missing or unexpected:
            raise RuntimeError(
                "Error(s) in reparametrizing for "
                f"{type(module).__name__}: missing keys {missing}, unexpected keys {unexpected}"
            )
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    kwargs = kwargs or {}
    saved = []
    try:
        for name, value in merged.items():
            mod, leaf = _resolve(module, name)
            if leaf in mod._parameters:
                store = mod._parameters
            elif leaf in mod._buffers:
                store = mod._buffers
            else:
                raise AttributeError(
                    f"functional_call: {type(module).__name__} has no parameter or buffer {name!r}"
                )
            saved.append((store, leaf, store[leaf]))
            store[leaf] = value
        return module(*args, **kwargs)
    finally:
        for store, leaf, old in reversed(saved):
            store[leaf] = old
