"""Finite-difference gradient checks (PyTorch's gradcheck signature)."""

import numpy as np

from .. import _C


class GradcheckError(RuntimeError):
    pass


def _inputs(inputs):
    return (inputs,) if isinstance(inputs, _C.Tensor) else tuple(inputs)


def _flat_out(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, _C.Tensor) and o.is_floating_point()]


def _numerical_jacobian(func, inputs, eps):
    from .. import _ops
    from .grad_mode import no_grad

    with no_grad():
        base = _flat_out(func(*inputs))
        out_sizes = [o.numel() for o in base]
        jacs = []
        for x in inputs:
            if not (isinstance(x, _C.Tensor) and x.requires_grad):
                jacs.append(None)
                continue
            n = x.numel()
            J = np.zeros((n, sum(out_sizes)))
            flat = x.detach().reshape(-1)
            orig = flat.clone()
            for i in range(n):
                v = float(orig[i].item())
                x.data = _set(x, i, v + eps)
                plus = (
                    np.concatenate(
                        [o.detach().double().numpy().reshape(-1) for o in _flat_out(func(*inputs))]
                    )
                    if out_sizes
                    else np.zeros(0)
                )
                x.data = _set(x, i, v - eps)
                minus = (
                    np.concatenate(
                        [o.detach().double().numpy().reshape(-1) for o in _flat_out(func(*inputs))]
                    )
                    if out_sizes
                    else np.zeros(0)
                )
                x.data = _set(x, i, v)
                J[i] = (plus - minus) / (2 * eps)
            jacs.append(J)
        del _ops
    return jacs, out_sizes


def _set(x, i, v):
    d = x.detach().clone()
    flat = d.reshape(-1)
    flat[i] = v
    return flat.reshape(x.shape)


def _analytical_jacobian(func, inputs, out_sizes):
    from . import grad

    out = _flat_out(func(*inputs))
    diff_inputs = [x for x in inputs if isinstance(x, _C.Tensor) and x.requires_grad]
    total = sum(out_sizes)
    jacs = [np.zeros((x.numel(), total)) for x in diff_inputs]
    col = 0
    for o in out:
        flat = o.reshape(-1)
        for k in range(flat.numel()):
            if not o.requires_grad:
                col += 1
                continue
            gs = grad(flat[k], diff_inputs, retain_graph=True, allow_unused=True)
            for j, g in enumerate(gs):
                if g is not None:
                    jacs[j][:, col] = g.detach().double().numpy().reshape(-1)
            col += 1
    return jacs


def gradcheck(
    func,
    inputs,
    *,
    eps=1e-6,
    atol=1e-5,
    rtol=1e-3,
    raise_exception=True,
    nondet_tol=0.0,
    check_undefined_grad=True,
    check_grad_dtypes=False,
    check_batched_grad=False,
    check_batched_forward_grad=False,
    check_forward_ad=False,
    check_backward_ad=True,
    fast_mode=False,
    masked=None,
):
    inputs = _inputs(inputs)
    for x in inputs:
        if isinstance(x, _C.Tensor) and x.requires_grad and x.dtype.name != "float64":
            import warnings

            warnings.warn(
                f"Input #{inputs.index(x)} requires gradient and is not a double precision floating point. gradcheck may fail."
            )
    num, out_sizes = _numerical_jacobian(func, inputs, eps)
    ana = _analytical_jacobian(func, inputs, out_sizes)
    num = [j for j in num if j is not None]
    for k, (n, a) in enumerate(zip(num, ana)):
        if not np.allclose(a, n, rtol=rtol, atol=atol):
            msg = (
                f"Jacobian mismatch for output 0 with respect to input {k},\n"
                f"numerical:{n}\nanalytical:{a}\n"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(
    func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kw
):
    from . import grad
    from .grad_mode import enable_grad

    inputs = _inputs(inputs)
    diff = [x for x in inputs if isinstance(x, _C.Tensor) and x.requires_grad]

    def first(*xs):
        # Always differentiate, also when the numerical pass runs this under no_grad.
        with enable_grad():
            outs = [o for o in _flat_out(func(*xs)) if o.requires_grad]
            gos = (
                [o.detach().clone().fill_(1.0) for o in outs]
                if grad_outputs is None
                else list(grad_outputs)
            )
            d = [x for x in xs if isinstance(x, _C.Tensor) and x.requires_grad]
            g = grad(outs, d, gos, create_graph=True, allow_unused=True)
        return tuple(gi for gi in g if gi is not None)

    del diff
    return gradcheck(first, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
