"""ember.linalg factorizations against numpy.linalg / scipy.linalg on each
device (float32 on "gpu", which runs them through the counted host fallback;
float32 and float64 on "cpu"): values, reconstructions, batched and
broadcast shapes, empty matrices and PyTorch's errors. Gradients are in
tests/test_linalg_grad.py."""

import numpy as np
import pytest
import scipy.linalg as sla

import ember
import ember.linalg as LA

rng = np.random.default_rng(13)


def T(a, device, dtype=None):
    a = np.asarray(a)
    return ember.tensor(a.astype(dtype) if dtype is not None else a).to(device)


def N(t):
    return t.detach().cpu().numpy()


def dtypes(device):
    return ["float32"] if device == "gpu" else ["float32", "float64"]


def tol(dt):
    return dict(rtol=2e-4, atol=2e-4) if dt == "float32" else dict(rtol=1e-10, atol=1e-10)


def rand(*shape, dt="float64"):
    return rng.standard_normal(shape).astype(dt)


def well(*shape, dt="float64"):
    """Well-conditioned square matrices: random plus n on the diagonal."""
    n = shape[-1]
    return (rng.standard_normal(shape) + n * np.eye(n)).astype(dt)


def spd(*shape, dt="float64"):
    a = rng.standard_normal(shape)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dt)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 5, 5)])
def test_inv_det_slogdet(device, shape):
    for dt in dtypes(device):
        a = well(*shape, dt=dt)
        A = T(a, device)
        np.testing.assert_allclose(N(LA.inv(A)), np.linalg.inv(a), **tol(dt))
        np.testing.assert_allclose(N(LA.det(A)), np.linalg.det(a), **tol(dt))
        s, la = LA.slogdet(A)
        ns, nla = np.linalg.slogdet(a)
        np.testing.assert_allclose(N(s), ns)
        np.testing.assert_allclose(N(la), nla, **tol(dt))
        X, info = LA.inv_ex(A)
        assert info.dtype == ember.int32 and N(info).tolist() == np.zeros(shape[:-2]).tolist()
        assert X.device.type == device


def test_det_singular_and_negative(device):
    a = np.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]], dtype="float32")
    A = T(a, device)
    np.testing.assert_allclose(N(LA.det(A)), [0.0, -1.0], atol=1e-6)
    s, la = LA.slogdet(A)
    assert N(s).tolist() == [0.0, -1.0]
    assert N(la)[0] == -np.inf and abs(N(la)[1]) < 1e-6
    # logdet: -inf for a zero determinant, nan for a negative one (PyTorch's values)
    ld = N(ember.logdet(A))
    assert ld[0] == -np.inf and np.isnan(ld[1])


@pytest.mark.parametrize(
    "ashape,bshape",
    [
        ((3, 3), (3,)),
        ((3, 3), (3, 2)),
        ((2, 3, 3), (3, 2)),  # B broadcast over A's batch
        ((3, 3), (4, 3, 1)),  # A broadcast over B's batch
        ((1, 3, 3), (2, 3, 4)),
        ((2, 3, 3), (2, 3)),  # batch of vectors (B.shape == A.shape[:-1])
    ],
)
def test_solve_shapes(device, ashape, bshape):
    for dt in dtypes(device):
        a, b = well(*ashape, dt=dt), rand(*bshape, dt=dt)
        X = LA.solve(T(a, device), T(b, device))
        vec = len(bshape) == 1 or (len(bshape) == len(ashape) - 1 and bshape == ashape[:-1])
        ref = (
            np.linalg.solve(a, b[..., None])[..., 0] if vec else np.linalg.solve(a, b)
        )  # numpy 2 treats B as matrices; PyTorch's vector rule is applied by hand here
        assert tuple(X.shape) == ref.shape
        np.testing.assert_allclose(N(X), ref, **tol(dt))


def test_solve_left_false_and_ex(device):
    a, b = well(2, 3, 3, dt="float32"), rand(2, 4, 3, dt="float32")
    X = LA.solve(T(a, device), T(b, device), left=False)
    np.testing.assert_allclose(N(X) @ a, b, rtol=1e-4, atol=1e-4)
    r, info = LA.solve_ex(T(a, device), T(b, device), left=False)
    np.testing.assert_allclose(N(r), N(X))
    assert N(info).tolist() == [0, 0]


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(device, upper, unit):
    for dt in dtypes(device):
        a = well(2, 4, 4, dt=dt)
        b = rand(2, 4, 3, dt=dt)
        X = LA.solve_triangular(T(a, device), T(b, device), upper=upper, unitriangular=unit)
        for i in range(2):
            ref = sla.solve_triangular(a[i], b[i], lower=not upper, unit_diagonal=unit)
            np.testing.assert_allclose(N(X)[i], ref, **tol(dt))
        # left=False: X A = B with B (k, n)
        bl = rand(2, 3, 4, dt=dt)
        Xl = LA.solve_triangular(T(a, device), T(bl, device), upper=upper, left=False)
        tri = np.triu(a) if upper else np.tril(a)
        np.testing.assert_allclose(N(Xl) @ tri, bl, **tol(dt))


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(device, upper):
    for dt in dtypes(device):
        a = spd(3, 4, 4, dt=dt)
        L = LA.cholesky(T(a, device), upper=upper)
        ref = np.linalg.cholesky(a)
        np.testing.assert_allclose(N(L), np.swapaxes(ref, -1, -2) if upper else ref, **tol(dt))
        L2, info = LA.cholesky_ex(T(a, device))
        assert N(info).tolist() == [0, 0, 0]
        l2 = N(L2)
        np.testing.assert_allclose(l2 @ np.swapaxes(l2, -1, -2), a, **tol(dt))


def test_cholesky_reads_one_triangle(device):
    a = spd(4, 4, dt="float32")
    garbage = a + np.triu(np.full((4, 4), 7.0, dtype="float32"), 1)
    np.testing.assert_allclose(
        N(LA.cholesky(T(garbage, device))), np.linalg.cholesky(a), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 6, 2)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr(device, shape, mode):
    for dt in dtypes(device):
        a = rand(*shape, dt=dt)
        Q, R = LA.qr(T(a, device), mode=mode)
        nq, nr = np.linalg.qr(a, mode=mode) if mode != "r" else (None, np.linalg.qr(a, mode="r"))
        assert tuple(R.shape) == nr.shape
        # Householder QR is unique up to the signs of R's rows (LAPACK's and faer's agree
        # in practice, but only |R| and the reconstruction are guaranteed).
        np.testing.assert_allclose(np.abs(N(R)), np.abs(nr), **tol(dt))
        if mode == "r":
            assert tuple(Q.shape) == (0,)
            continue
        assert tuple(Q.shape) == nq.shape
        q, r = N(Q), N(R)
        np.testing.assert_allclose(q @ r, a, **tol(dt))
        k = q.shape[-1]
        np.testing.assert_allclose(
            np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)), **tol(dt)
        )
        assert np.allclose(np.tril(r, -1), 0)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 3, 6, 4)])
@pytest.mark.parametrize("full", [True, False])
def test_svd(device, shape, full):
    for dt in dtypes(device):
        a = rand(*shape, dt=dt)
        U, S, Vh = LA.svd(T(a, device), full_matrices=full)
        nu, ns, nvh = np.linalg.svd(a, full_matrices=full)
        assert (tuple(U.shape), tuple(S.shape), tuple(Vh.shape)) == (nu.shape, ns.shape, nvh.shape)
        np.testing.assert_allclose(N(S), ns, **tol(dt))
        k = ns.shape[-1]
        u, vh = N(U)[..., :k], N(Vh)[..., :k, :]
        np.testing.assert_allclose((u * N(S)[..., None, :]) @ vh, a, **tol(dt))
        np.testing.assert_allclose(N(LA.svdvals(T(a, device))), ns, **tol(dt))
        m, n = shape[-2:]
        uu = N(U)
        np.testing.assert_allclose(
            np.swapaxes(uu, -1, -2) @ uu,
            np.broadcast_to(np.eye(uu.shape[-1]), uu.shape[:-2] + (uu.shape[-1],) * 2),
            **tol(dt),
        )
        del m, n


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh(device, uplo):
    for dt in dtypes(device):
        s = rand(2, 5, 5, dt="float64")
        s = (s + np.swapaxes(s, -1, -2)).astype(dt)
        # Only the named triangle is read: garbage in the other one must not matter.
        noisy = (
            s
            + (np.triu(np.ones((5, 5)), 1) if uplo == "L" else np.tril(np.ones((5, 5)), -1)).astype(
                dt
            )
            * 9
        )
        L, V = LA.eigh(T(noisy, device), UPLO=uplo)
        nl = np.linalg.eigvalsh(s)
        np.testing.assert_allclose(N(L), nl, **tol(dt))
        v = N(V)
        np.testing.assert_allclose((v * N(L)[..., None, :]) @ np.swapaxes(v, -1, -2), s, **tol(dt))
        np.testing.assert_allclose(N(LA.eigvalsh(T(noisy, device), UPLO=uplo)), nl, **tol(dt))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 4)])
def test_lu(device, shape):
    for dt in dtypes(device):
        a = rand(*shape, dt=dt)
        P, L, U = LA.lu(T(a, device))
        p, l, u = N(P), N(L), N(U)
        np.testing.assert_allclose(p @ l @ u, a, **tol(dt))
        assert np.allclose(np.triu(l, 1), 0) and np.allclose(np.tril(u, -1), 0)
        LU, piv = LA.lu_factor(T(a, device))
        assert piv.dtype == ember.int32
        flat_a = a.reshape((-1,) + shape[-2:])
        for i, ai in enumerate(flat_a):
            lu_ref, piv_ref = sla.lu_factor(ai)
            np.testing.assert_allclose(N(LU).reshape(flat_a.shape)[i], lu_ref, **tol(dt))
            assert N(piv).reshape(len(flat_a), -1)[i].tolist() == (piv_ref + 1).tolist()
        P2, L2, U2 = LA.lu_unpack(LU, piv)
        np.testing.assert_allclose(N(P2), p)
        np.testing.assert_allclose(N(L2), l, **tol(dt))


def test_lu_solve(device):
    for dt in dtypes(device):
        a, b = well(2, 4, 4, dt=dt), rand(2, 4, 3, dt=dt)
        LU, piv = LA.lu_factor(T(a, device))
        B = T(b, device)
        np.testing.assert_allclose(N(LA.lu_solve(LU, piv, B)), np.linalg.solve(a, b), **tol(dt))
        np.testing.assert_allclose(
            N(LA.lu_solve(LU, piv, B, adjoint=True)),
            np.linalg.solve(np.swapaxes(a, -1, -2), b),
            **tol(dt),
        )
        bl = rand(2, 3, 4, dt=dt)
        X = N(LA.lu_solve(LU, piv, T(bl, device), left=False))
        np.testing.assert_allclose(X @ a, bl, **tol(dt))
        np.testing.assert_allclose(N(ember.lu_solve(B, LU, piv)), np.linalg.solve(a, b), **tol(dt))


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (2, 5, 5)])
def test_pinv_lstsq_rank(device, shape):
    for dt in dtypes(device):
        a = rand(*shape, dt=dt)
        np.testing.assert_allclose(N(LA.pinv(T(a, device))), np.linalg.pinv(a), **tol(dt))
        assert N(LA.matrix_rank(T(a, device))).tolist() == np.linalg.matrix_rank(a).tolist()
        b = rand(*shape[:-1], 2, dt=dt)
        sol = LA.lstsq(T(a, device), T(b, device))
        if len(shape) == 2:
            ref = np.linalg.lstsq(a, b, rcond=None)[0]
        else:
            ref = np.stack([np.linalg.lstsq(x, y, rcond=None)[0] for x, y in zip(a, b)])
        np.testing.assert_allclose(N(sol.solution), ref, **tol(dt))
        # gelsy (the default): no residuals, no singular values, the rank
        assert tuple(sol.residuals.shape) == (0,) and tuple(sol.singular_values.shape) == (0,)
        assert N(sol.rank).tolist() == np.linalg.matrix_rank(a).tolist()


def test_lstsq_drivers_and_rank_deficient(device):
    a = rand(6, 3)
    b = rand(6, 2)
    for dt in dtypes(device):
        sol = LA.lstsq(T(a, device, dt), T(b, device, dt), driver="gelsd")
        x, res, rank, sv = np.linalg.lstsq(a, b, rcond=None)
        np.testing.assert_allclose(N(sol.residuals), res, **tol(dt))
        np.testing.assert_allclose(N(sol.singular_values), sv, **tol(dt))
        assert int(N(sol.rank)) == rank
        g = LA.lstsq(T(a, device, dt), T(b, device, dt), driver="gels")
        assert tuple(g.rank.shape) == (0,)
        np.testing.assert_allclose(N(g.residuals), res, **tol(dt))
        # rank-deficient: the minimum-norm solution (numpy's, and LAPACK gelsy's)
        d = np.concatenate([a[:, :2], a[:, :1] + a[:, 1:2]], 1)
        s = LA.lstsq(T(d, device, dt), T(b, device, dt))
        np.testing.assert_allclose(N(s.solution), np.linalg.lstsq(d, b, rcond=None)[0], **tol(dt))
        assert int(N(s.rank)) == 2
        # a vector right-hand side
        v = LA.lstsq(T(a, device, dt), T(b[:, 0], device, dt)).solution
        np.testing.assert_allclose(N(v), x[:, 0], **tol(dt))


def test_pinv_hermitian_and_tolerances(device):
    s = rand(4, 4)
    s = s + s.T
    for dt in dtypes(device):
        np.testing.assert_allclose(
            N(LA.pinv(T(s, device, dt), hermitian=True)), np.linalg.pinv(s), **tol(dt)
        )
        # singular values [3, 2, 1e-3]: atol=0.01 drops the last, rtol=0.7 drops two
        u, _ = np.linalg.qr(rand(3, 3))
        m = (u * [3.0, 2.0, 1e-3]) @ u.T
        M = T(m, device, dt)
        assert int(N(LA.matrix_rank(M, atol=0.01))) == 2
        assert int(N(LA.matrix_rank(M, rtol=0.7))) == 1
        assert int(N(LA.matrix_rank(M, hermitian=True))) == 3
        np.testing.assert_allclose(
            N(LA.pinv(M, atol=0.01)), np.linalg.pinv(m, rcond=0.01 / 3), rtol=1e-3, atol=1e-3
        )
        np.testing.assert_allclose(N(ember.pinverse(M)), np.linalg.pinv(m), rtol=1e-3, atol=1e-2)


def test_cond_power_exp_multidot(device):
    for dt in dtypes(device):
        a = well(3, 3, dt=dt)
        A = T(a, device)
        for p in [None, 2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf]:
            ref = np.linalg.cond(a, p)
            np.testing.assert_allclose(
                N(LA.cond(A, p)), ref, rtol=1e-4 if dt == "float32" else 1e-9
            )
        for k in [0, 1, 2, 5, -1, -3]:
            np.testing.assert_allclose(
                N(LA.matrix_power(A, k)),
                np.linalg.matrix_power(a, k),
                rtol=1e-3 if dt == "float32" else 1e-9,
                atol=1e-5,
            )
        e = rand(2, 4, 4, dt=dt)
        np.testing.assert_allclose(
            N(LA.matrix_exp(T(e, device))),
            np.stack([sla.expm(x) for x in e]),
            rtol=1e-4 if dt == "float32" else 1e-10,
            atol=1e-5 if dt == "float32" else 1e-12,
        )
        big = 5 * rand(3, 3, dt=dt)  # needs scaling and squaring
        np.testing.assert_allclose(
            N(ember.matrix_exp(T(big, device))),
            sla.expm(big),
            rtol=1e-3 if dt == "float32" else 1e-9,
        )
        xs = [rand(3, dt=dt), rand(3, 4, dt=dt), rand(4, 2, dt=dt), rand(2, dt=dt)]
        np.testing.assert_allclose(
            N(LA.multi_dot([T(x, device) for x in xs])), np.linalg.multi_dot(xs), **tol(dt)
        )
        assert np.isinf(N(LA.cond(T(np.zeros((2, 2), dt), device), 1)))  # inf for singular


def test_tensor_helpers(device):
    for dt in dtypes(device):
        a = well(6, 6, dt=dt).reshape(2, 3, 6)
        np.testing.assert_allclose(
            N(LA.tensorinv(T(a, device), ind=2)), np.linalg.tensorinv(a, ind=2), **tol(dt)
        )
        b = rand(2, 3, dt=dt)
        np.testing.assert_allclose(
            N(LA.tensorsolve(T(a, device), T(b, device))), np.linalg.tensorsolve(a, b), **tol(dt)
        )
        x = rand(4, dt=dt)
        np.testing.assert_allclose(
            N(LA.vander(T(x, device))), np.vander(x, increasing=True), **tol(dt)
        )
        np.testing.assert_allclose(
            N(LA.vander(T(x, device), N=2)), np.vander(x, 2, increasing=True), **tol(dt)
        )
        m = rand(2, 3, 3, dt=dt)
        np.testing.assert_allclose(
            N(LA.diagonal(T(m, device), offset=1)), np.diagonal(m, 1, -2, -1)
        )


def test_householder_product(device):
    for dt in dtypes(device):
        a, tau = rand(5, 3, dt=dt), rand(3, dt=dt)
        q = np.eye(5)
        for i in range(3):
            v = np.concatenate([np.zeros(i), [1.0], a[i + 1 :, i]])
            q = q @ (np.eye(5) - tau[i] * np.outer(v, v))
        np.testing.assert_allclose(
            N(LA.householder_product(T(a, device), T(tau, device))), q[:, :3], **tol(dt)
        )


def test_empty(device):
    z = T(np.zeros((0, 0), "float32"), device)
    assert float(N(LA.det(z))) == 1.0
    s, la = LA.slogdet(z)
    assert float(N(s)) == 1.0 and float(N(la)) == 0.0
    assert tuple(LA.inv(z).shape) == (0, 0)
    assert tuple(LA.cholesky(z).shape) == (0, 0)
    L, V = LA.eigh(z)
    assert tuple(L.shape) == (0,) and tuple(V.shape) == (0, 0)
    b0 = T(np.zeros((0, 3, 3), "float32"), device)
    assert tuple(LA.inv(b0).shape) == (0, 3, 3)
    assert tuple(LA.det(b0).shape) == (0,)
    U, S, Vh = LA.svd(T(np.zeros((0, 3), "float32"), device))
    assert (tuple(U.shape), tuple(S.shape)) == ((0, 0), (0,))
    np.testing.assert_allclose(N(Vh), np.eye(3))  # PyTorch returns the identity here
    U, S, Vh = LA.svd(T(np.zeros((2, 0, 3), "float32"), device), full_matrices=False)
    assert (tuple(U.shape), tuple(S.shape), tuple(Vh.shape)) == ((2, 0, 0), (2, 0), (2, 0, 3))
    Q, R = LA.qr(T(np.zeros((0, 3), "float32"), device))
    assert (tuple(Q.shape), tuple(R.shape)) == ((0, 0), (0, 3))
    Q, R = LA.qr(T(np.zeros((3, 0), "float32"), device), mode="complete")
    np.testing.assert_allclose(N(Q), np.eye(3))
    assert tuple(R.shape) == (3, 0)
    LU, piv = LA.lu_factor(z)
    assert tuple(LU.shape) == (0, 0) and tuple(piv.shape) == (0,)
    assert tuple(LA.pinv(T(np.zeros((0, 3), "float32"), device)).shape) == (3, 0)
    assert int(N(LA.matrix_rank(T(np.zeros((0, 3), "float32"), device)))) == 0


def _raises(exc, match, fn):
    with pytest.raises(exc) as e:
        fn()
    assert match in str(e.value), str(e.value)
    return e.value


def test_errors(device):
    sing = T(np.zeros((3, 3), "float32"), device)
    e = _raises(
        LA.LinAlgError,
        "linalg.inv: The diagonal element 1 is zero, the inversion could not be completed because the input matrix is singular.",
        lambda: LA.inv(sing),
    )
    assert isinstance(e, RuntimeError) and type(e).__name__ == "_LinAlgError"
    assert LA.LinAlgError is ember._C._LinAlgError
    _raises(
        LA.LinAlgError,
        "linalg.inv: (Batch element 1): The diagonal element 2 is zero",
        lambda: LA.inv(
            T(np.stack([np.eye(3), np.diag([1.0, 0.0, 1.0])]).astype("float32"), device)
        ),
    )
    _raises(
        LA.LinAlgError,
        "torch.linalg.solve: The solver failed because the input matrix is singular.",
        lambda: LA.solve(sing, T(np.ones(3, "float32"), device)),
    )
    notpd = T(np.array([[1.0, 2.0], [2.0, 1.0]], "float32"), device)
    _raises(
        LA.LinAlgError,
        "linalg.cholesky: The factorization could not be completed because the input is not positive-definite (the leading minor of order 2 is not positive-definite).",
        lambda: LA.cholesky(notpd),
    )
    _, info = LA.cholesky_ex(notpd)
    assert int(N(info)) == 2
    _raises(
        LA.LinAlgError,
        "(Batch element 0): The factorization",
        lambda: LA.cholesky_ex(notpd[None], check_errors=True),
    )
    rect = T(np.ones((2, 3), "float32"), device)
    for fn, name in [
        (LA.inv, "linalg.inv"),
        (LA.det, "linalg.det"),
        (LA.cholesky, "linalg.cholesky"),
        (LA.eigh, "linalg.eigh"),
    ]:
        _raises(
            RuntimeError,
            f"{name}: A must be batches of square matrices, but they are 2 by 3 matrices",
            lambda fn=fn: fn(rect),
        )
    _raises(
        RuntimeError,
        "linalg.inv: The input tensor A must have at least 2 dimensions.",
        lambda: LA.inv(T(np.ones(3, "float32"), device)),
    )
    ints = (
        T(np.ones((2, 2), "int64"), device)
        if device == "cpu"
        else T(np.ones((2, 2), "int32"), device)
    )
    nm = "Long" if device == "cpu" else "Int"
    for fn, name in [
        (LA.inv, "linalg.inv"),
        (LA.cholesky, "linalg.cholesky"),
        (LA.qr, "linalg.qr"),
        (LA.svd, "linalg.svd"),
    ]:
        _raises(
            NotImplementedError,
            f"{name}: Expected a floating point or complex tensor as input. Got {nm}",
            lambda fn=fn: fn(ints),
        )
    _raises(
        RuntimeError,
        "linalg.solve: Incompatible shapes of A and B for the equation AX = B (3x3 and 4x1)",
        lambda: LA.solve(T(np.eye(3, dtype="float32"), device), T(np.ones(4, "float32"), device)),
    )
    _raises(RuntimeError, "qr received unrecognized mode 'bad'", lambda: LA.qr(rect, mode="bad"))
    _raises(
        RuntimeError,
        "Expected UPLO argument to be 'L' or 'U', but got X",
        lambda: LA.eigh(sing, UPLO="X"),
    )
    _raises(RuntimeError, "torch.linalg.lu_factor: U[1,1] is zero", lambda: LA.lu_factor(sing))
    _raises(NotImplementedError, "complex", lambda: LA.eig(sing))
    _raises(NotImplementedError, "complex", lambda: LA.eigvals(sing))
    _raises(
        RuntimeError,
        "parameter `driver` should be one of",
        lambda: LA.lstsq(rect, rect, driver="x"),
    )
    _raises(TypeError, "must be int, not float", lambda: LA.matrix_power(sing, 2.0))
    nan = T(np.array([[np.nan, 1.0], [1.0, 1.0]], "float32"), device)
    msg = "linalg.svd: The algorithm failed to converge because the input matrix contained"
    _raises(LA.LinAlgError, msg, lambda: LA.svd(nan))
    _raises(LA.LinAlgError, msg, lambda: LA.svdvals(nan))
    _raises(
        RuntimeError,
        "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0",
        lambda: LA.solve(
            T(np.ones((2, 2, 2), "float32"), device), T(np.ones((3, 2, 1), "float32"), device)
        ),
    )
    _raises(
        RuntimeError,
        "input.dim() must be greater or equal to other.dim()",
        lambda: LA.lstsq(rect, T(np.ones((2, 2, 3), "float32"), device)),
    )
    _raises(
        RuntimeError,
        "linalg.matrix_exp: The input tensor A must have at least 2 dimensions.",
        lambda: LA.matrix_exp(T(np.ones(3, "float32"), device)),
    )
    _raises(
        RuntimeError,
        "multi_dot(): expected at least 2 tensors but got 1",
        lambda: LA.multi_dot([sing]),
    )
    _raises(
        RuntimeError,
        "`torch.qr` is deprecated in favor of `torch.linalg.qr`",
        lambda: ember.qr(sing),
    )


def test_dtype_errors_cpu():
    a = ember.eye(3)
    _raises(
        NotImplementedError,
        "linalg.inv: Low precision dtypes not supported. Got Half",
        lambda: LA.inv(a.half()),
    )
    _raises(
        RuntimeError,
        "linalg.solve: Expected A and B to have the same dtype, but found A of type Float and B of type Double instead",
        lambda: LA.solve(a, a.double()),
    )
    _raises(
        NotImplementedError,
        "\"linalg_eigh_cpu\" not implemented for 'Long'",
        lambda: LA.eigh(a.long()),
    )
    # float64 keeps float64
    assert LA.inv(a.double()).dtype == ember.float64


def test_gpu_fallback_is_counted():
    if not ember.gpu.is_available():
        pytest.skip("no GPU adapter")
    a = ember.eye(3).to("gpu") * 2
    before = dict(ember.gpu.fallbacks())
    x = LA.inv(a)
    after = dict(ember.gpu.fallbacks())
    assert x.device.type == "gpu"
    assert after.get("linalg_inv", 0) == before.get("linalg_inv", 0) + 1
    np.testing.assert_allclose(N(x), np.eye(3) / 2)


def test_top_level_and_methods(device):
    a = well(3, 3, dt="float32")
    A = T(a, device)
    np.testing.assert_allclose(N(ember.inverse(A)), np.linalg.inv(a), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(N(A.inverse()), np.linalg.inv(a), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(N(A.det()), np.linalg.det(a), rtol=1e-4)
    np.testing.assert_allclose(N(ember.det(A)), np.linalg.det(a), rtol=1e-4)
    sd = A.slogdet()
    assert type(sd).__name__ == "slogdet"
    np.testing.assert_allclose(N(sd.logabsdet), np.linalg.slogdet(a)[1], rtol=1e-4)
    np.testing.assert_allclose(N(A.logdet()), np.log(np.linalg.det(a)), rtol=1e-4)
    U, S, V = ember.svd(A)
    np.testing.assert_allclose((N(U) * N(S)) @ N(V).T, a, rtol=1e-4, atol=1e-4)
    U0, S0, V0 = A.svd(compute_uv=False)
    np.testing.assert_allclose(N(U0), 0)
    np.testing.assert_allclose(N(S0), np.linalg.svd(a)[1], rtol=1e-4)
    np.testing.assert_allclose(N(A.pinverse()), np.linalg.pinv(a), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(N(A.matrix_power(3)), np.linalg.matrix_power(a, 3), rtol=1e-4)
    b = rand(3, 2, dt="float32")
    X, clone = ember.triangular_solve(T(b, device), A, upper=False)
    np.testing.assert_allclose(N(X), sla.solve_triangular(a, b, lower=True), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(N(clone), a)
    Xt = N(ember.triangular_solve(T(b, device), A, transpose=True).solution)
    np.testing.assert_allclose(Xt, sla.solve_triangular(a, b, trans=1), rtol=1e-4, atol=1e-5)
    s = spd(3, 3, dt="float32")
    L = LA.cholesky(T(s, device))
    np.testing.assert_allclose(
        N(ember.cholesky_solve(T(b, device), L)), np.linalg.solve(s, b), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(N(ember.cholesky_inverse(L)), np.linalg.inv(s), rtol=1e-4, atol=1e-5)
    Uc = LA.cholesky(T(s, device), upper=True)
    np.testing.assert_allclose(
        N(ember.cholesky_solve(T(b, device), Uc, upper=True)),
        np.linalg.solve(s, b),
        rtol=1e-4,
        atol=1e-5,
    )
    LU, piv = ember.lu(A)
    np.testing.assert_allclose(N(LU), sla.lu_factor(a)[0], rtol=1e-4, atol=1e-5)
    P, L2, U2 = ember.lu_unpack(LU, piv)
    np.testing.assert_allclose(N(P) @ N(L2) @ N(U2), a, rtol=1e-4, atol=1e-5)
