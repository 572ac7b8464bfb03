"""einsum by permute + broadcast multiply + sum (differentiable through core ops)."""


def _parse(eq, operands):
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError(
            f"einsum(): more operands were provided than specified in the equation ({len(operands)} vs {len(terms)})"
        )
    # Expand ellipses into fresh capital letters.
    ell_letters = []
    new_terms = []
    for t, op in zip(terms, operands):
        if "..." in t:
            n_ell = op.dim() - (len(t) - 3)
            if len(ell_letters) < n_ell:
                ell_letters = [chr(ord("A") + i) for i in range(n_ell)]
            t = t.replace("...", "".join(ell_letters[len(ell_letters) - n_ell :]))
        if len(t) != op.dim():
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(t)}) does not match the number of dimensions ({op.dim()}) for operand {len(new_terms)}"
            )
        new_terms.append(t)
    if out is None:
        counts = {}
        for t in new_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = "".join(ell_letters) + "".join(
            sorted(c for c, n in counts.items() if n == 1 and c not in ell_letters)
        )
    else:
        out = out.replace("...", "".join(ell_letters))
    return new_terms, out


def einsum(eq, *operands):
    terms, out = _parse(eq, operands)
    letters = []
    for t in terms:
        for c in t:
            if c not in letters:
                letters.append(c)
    order = list(out) + [c for c in letters if c not in out]
    sizes = {}
    prepared = []
    for t, op in zip(terms, operands):
        # Repeated subscripts in one operand (diagonals).
        while len(set(t)) != len(t):
            for i, c in enumerate(t):
                j = t.find(c, i + 1)
                if j >= 0:
                    op = op.diagonal(0, i, j)
                    t = t[:i] + t[i + 1 : j] + t[j + 1 :] + c
                    break
        for c, s in zip(t, op.shape):
            if c in sizes and sizes[c] != s and s != 1 and sizes[c] != 1:
                raise RuntimeError(
                    f"einsum(): operands do not broadcast with remapped shapes (subscript {c}: {sizes[c]} vs {s})"
                )
            sizes[c] = _bc(sizes.get(c, 1), s)
        perm = sorted(range(len(t)), key=lambda i: order.index(t[i]))
        x = op.permute(*perm) if perm else op
        shape = []
        tp = [t[i] for i in perm]
        k = 0
        for c in order:
            if k < len(tp) and tp[k] == c:
                shape.append(x.shape[k])
                k += 1
            else:
                shape.append(1)
        prepared.append(x.reshape(shape))
    # Two-operand contractions go through matmul for speed.
    if len(prepared) == 2:
        a, b = prepared
        red = [i for i in range(len(out), len(order))]
        if red:
            return _contract2(a, b, len(out), len(order))
    r = prepared[0]
    for p in prepared[1:]:
        r = r * p
    red = list(range(len(out), len(order)))
    if red:
        r = r.sum(red)
    return r


def _bc(x, y):
    """The broadcast of two sizes (a 1 takes the other's size, so 0 with 1 is 0, not max)."""
    return y if x == 1 else x


def _contract2(a, b, n_out, n_all):
    # a, b: shapes over `order` with 1s where absent. Sum over dims n_out..n_all.
    red = list(range(n_out, n_all))
    # reduce dims present only in one operand first
    for d in red:
        if a.shape[d] != 1 and b.shape[d] == 1:
            a = a.sum(d, keepdim=True)
        elif b.shape[d] != 1 and a.shape[d] == 1:
            b = b.sum(d, keepdim=True)
    k = 1
    for d in red:
        k *= _bc(a.shape[d], b.shape[d])
    out_shape = [_bc(a.shape[i], b.shape[i]) for i in range(n_out)]
    if k == 1:
        r = a * b
        return r.reshape(r.shape[:n_out]) if n_all > n_out else r
    # batch dims: in both; m dims: only a; n dims: only b
    both = [i for i in range(n_out) if a.shape[i] != 1 and b.shape[i] != 1]
    only_a = [i for i in range(n_out) if a.shape[i] != 1 and b.shape[i] == 1]
    only_b = [i for i in range(n_out) if b.shape[i] != 1 and a.shape[i] == 1]
    ones = [i for i in range(n_out) if a.shape[i] == 1 and b.shape[i] == 1]
    pa = a.permute(*(both + only_a + red + only_b + ones))
    pb = b.permute(*(both + red + only_b + only_a + ones))
    B = [a.shape[i] for i in both]
    M = 1
    for i in only_a:
        M *= a.shape[i]
    N = 1
    for i in only_b:
        N *= b.shape[i]
    ma = pa.reshape(*B, M, k)
    mb = pb.reshape(*B, k, N)
    r = ma @ mb
    r = r.reshape(
        *B, *[a.shape[i] for i in only_a], *[b.shape[i] for i in only_b], *[1 for _ in ones]
    )
    cur = both + only_a + only_b + ones
    inv = [cur.index(i) for i in range(n_out)]
    r = r.permute(*inv) if inv else r
    return r.reshape(out_shape)
