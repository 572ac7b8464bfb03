"""autograd.functional: jacobian, hessian, vjp, jvp, hvp, vhp."""

from .grad_mode import enable_grad


def _as_tuple(x):
    return (x, False) if isinstance(x, tuple) else ((x,), True)


def _prep(inputs, create_graph):
    out = []
    for t in inputs:
        t2 = t.detach() if not create_graph else t
        if create_graph and t.requires_grad:
            t2 = t.view_as(t)
        else:
            t2 = t.detach().requires_grad_(True)
        out.append(t2)
    return tuple(out)


def _grad(outputs, inputs, grad_outputs, create_graph, retain_graph=True):
    """autograd.grad over the outputs that require grad; None for every input when none
    does. As PyTorch's functional API: a function whose output (or whose gradient, inside
    hessian/vhp) does not depend on the inputs differentiably, such as a linear map or a
    relu network's gradient, has a zero derivative here, not an error."""
    from . import grad

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [
        (o, g)
        for o, g in zip(outputs, grad_outputs)
        if o is not None and getattr(o, "requires_grad", False)
    ]
    if not pairs:
        return (None,) * len(inputs)
    outs = tuple(o for o, _ in pairs)
    gos = tuple(g for _, g in pairs)
    return grad(
        outs,
        inputs,
        None if all(g is None for g in gos) else gos,
        retain_graph=retain_graph,
        create_graph=create_graph,
        allow_unused=True,
    )


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    inputs, single = _as_tuple(inputs)
    with enable_grad():
        x = _prep(inputs, create_graph)
        out = func(*x)
        outs, out_single = _as_tuple(out)
        if v is None:
            if any(o.numel() != 1 for o in outs):
                raise RuntimeError(
                    "The vector v can only be None if the user-provided function returns a single Tensor with a single element."
                )
            v = tuple(o.new_ones(o.shape) for o in outs)
        vs, _ = _as_tuple(v)
        g = _grad(outs, x, vs, create_graph)
    g = tuple(gi if gi is not None else xi.new_zeros(xi.shape) for gi, xi in zip(g, x))
    if not create_graph:
        outs = tuple(o.detach() for o in outs)
        g = tuple(gi.detach() for gi in g)
    return (outs[0] if out_single else outs), (g[0] if single else g)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    # Double-vjp trick: jvp = d/du <vjp(u), v>
    inputs, single = _as_tuple(inputs)
    if v is None:
        if any(i.numel() != 1 for i in inputs):
            raise RuntimeError(
                "The vector v can only be None if the input to the user-provided function is a single Tensor with a single element."
            )
        v = tuple(i.new_ones(i.shape) for i in inputs)
    vs, _ = _as_tuple(v)
    with enable_grad():
        x = _prep(inputs, True)
        out = func(*x)
        outs, out_single = _as_tuple(out)
        us = tuple(o.new_zeros(o.shape).requires_grad_(True) for o in outs)
        g = _grad(outs, x, us, True)
        g2 = [gi if gi is not None else xi.new_zeros(xi.shape) for gi, xi in zip(g, x)]
        res = _grad(tuple(g2), us, vs, create_graph)
    res = tuple(r if r is not None else o.new_zeros(o.shape) for r, o in zip(res, outs))
    if not create_graph:
        outs = tuple(o.detach() for o in outs)
        res = tuple(r.detach() for r in res)
    return (outs[0] if out_single else outs), (res[0] if out_single else res)


def jacobian(
    func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"
):
    from .. import _ops

    inputs, single = _as_tuple(inputs)
    with enable_grad():
        x = _prep(inputs, create_graph)
        out = func(*x)
        outs, out_single = _as_tuple(out)
        jac = []
        for o in outs:
            rows = [[] for _ in x]
            flat = o.reshape(-1)
            for k in range(flat.numel()):
                g = _grad((flat[k],), x, None, create_graph, retain_graph=True)
                for j, (gj, xj) in enumerate(zip(g, x)):
                    rows[j].append(gj if gj is not None else xj.new_zeros(xj.shape))
            per_in = []
            for j, xj in enumerate(x):
                if rows[j]:
                    J = _ops.stack(rows[j]).reshape(*o.shape, *xj.shape)
                else:
                    J = xj.new_zeros((*o.shape, *xj.shape))
                per_in.append(J if create_graph else J.detach())
            jac.append(tuple(per_in))
    if out_single and single:
        return jac[0][0]
    if out_single:
        return jac[0]
    if single:
        return tuple(j[0] for j in jac)
    return tuple(jac)


def hessian(
    func,
    inputs,
    create_graph=False,
    strict=False,
    vectorize=False,
    outer_jacobian_strategy="reverse-mode",
):
    inputs_t, single = _as_tuple(inputs)

    def jac_func(*xs):
        j = jacobian(func, xs if len(xs) > 1 else xs[0], create_graph=True)
        return j

    return jacobian(jac_func, inputs, create_graph=create_graph)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    inputs, single = _as_tuple(inputs)
    vs, _ = _as_tuple(v)
    with enable_grad():
        x = _prep(inputs, True)
        out = func(*x)
        g = _grad((out,), x, None, True)
        terms = [(gi * vi).sum() for gi, vi in zip(g, vs) if gi is not None]
        dot = sum(terms[1:], terms[0]) if terms else None
        h = _grad((dot,), x, None, create_graph)
    h = tuple(hi if hi is not None else xi.new_zeros(xi.shape) for hi, xi in zip(h, x))
    out = out if create_graph else out.detach()
    return out, (h[0] if single else h)


hvp = vhp
