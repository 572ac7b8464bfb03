"""Gradients of ember.linalg by float64 finite differences
(ember.autograd.gradcheck) on the cpu device, and one backward on each device
compared with the cpu result. Losses through singular/eigen vectors are
gauge-invariant (sign-independent), as PyTorch requires."""

import numpy as np
import pytest

import ember
import ember.linalg as LA
from ember.autograd import gradcheck

rng = np.random.default_rng(5)


def P(a):
    return ember.tensor(np.asarray(a, dtype="float64")).requires_grad_(True)


def well(*shape):
    n = shape[-1]
    return rng.standard_normal(shape) + n * np.eye(n)


def check(fn, *inputs):
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_inv_det_slogdet_grad():
    check(LA.inv, P(well(2, 3, 3)))
    check(LA.det, P(well(2, 3, 3)))
    check(lambda a: LA.slogdet(a).logabsdet, P(well(3, 3) * np.array([1, -1, 1])))
    check(ember.logdet, P(well(3, 3)))


def test_det_grad_singular():
    # rank 2 (det 0): the gradient is the adjugate, taken from the SVD
    a = rng.standard_normal((3, 2)) @ rng.standard_normal((2, 3))
    check(LA.det, P(a))
    # rank 1: the adjugate is zero but still the exact derivative
    A = P(np.outer([1.0, 2, 3], [1.0, 0, 1]) + 0.0)
    LA.det(A).backward()
    a = np.outer([1.0, 2, 3], [1.0, 0, 1])
    adj_t = np.array(
        [
            [np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(A.grad.numpy(), adj_t, atol=1e-12)


@pytest.mark.parametrize(
    "ashape,bshape,left",
    [
        ((3, 3), (3,), True),
        ((2, 3, 3), (3, 2), True),
        ((3, 3), (2, 3, 1), True),
        ((3, 3), (2, 3), False),
    ],
)
def test_solve_grad(ashape, bshape, left):
    check(lambda a, b: LA.solve(a, b, left=left), P(well(*ashape)), P(rng.standard_normal(bshape)))


@pytest.mark.parametrize(
    "upper,unit,left", [(True, False, True), (False, True, True), (False, False, False)]
)
def test_solve_triangular_grad(upper, unit, left):
    a = well(3, 3)
    a = np.triu(a) if upper else np.tril(a)
    b = rng.standard_normal((3, 2) if left else (2, 3))
    check(
        lambda a, b: LA.solve_triangular(a, b, upper=upper, left=left, unitriangular=unit),
        P(a),
        P(b),
    )


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_grad(upper):
    x = rng.standard_normal((2, 3, 3))

    # symmetrise inside the function: the derivative is taken on symmetric inputs
    def f(x):
        a = x @ x.mT + 3 * ember.eye(3, dtype=ember.float64)
        return LA.cholesky(a, upper=upper)

    check(f, P(x))


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 2)])
def test_qr_grad(shape):
    check(lambda a: LA.qr(a), P(rng.standard_normal(shape)))
    check(lambda a: LA.qr(a)[1], P(rng.standard_normal(shape)))
    if shape[-1] >= shape[-2]:
        check(lambda a: LA.qr(a, mode="complete"), P(rng.standard_normal(shape)))


def test_qr_grad_errors():
    A = P(rng.standard_normal((4, 3)))
    with pytest.raises(RuntimeError, match="not computed when mode='r'"):
        LA.qr(A, mode="r")[1].sum().backward()
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        LA.qr(A, mode="complete")[0].sum().backward()


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 3, 2)])
@pytest.mark.parametrize("full", [False, True])
def test_svd_grad(shape, full):
    k = min(shape[-2:])

    def f(a):
        U, S, Vh = LA.svd(a, full_matrices=full)
        U, Vh = U[..., :k], Vh[..., :k, :]
        # gauge-invariant: U diag(w) Vh and the squares of the entries of U and V
        w = ember.arange(1, k + 1, dtype=ember.float64)
        return (U * w) @ Vh, S, U * U, Vh * Vh

    check(f, P(rng.standard_normal(shape)))
    check(LA.svdvals, P(rng.standard_normal(shape)))


def test_eigh_grad():
    def f(x):
        a = x + x.mT
        L, V = LA.eigh(a)
        return L, V * V, V[..., :, :1] @ V[..., :, :1].mT

    check(f, P(rng.standard_normal((2, 4, 4))))
    check(lambda x: LA.eigvalsh(x + x.mT, UPLO="U"), P(rng.standard_normal((3, 3))))


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3)])
def test_pinv_lstsq_grad(shape):
    check(LA.pinv, P(rng.standard_normal(shape)))
    b = rng.standard_normal((shape[0], 2))
    check(lambda a, b: LA.lstsq(a, b).solution, P(rng.standard_normal(shape)), P(b))
    check(lambda x: LA.pinv(x + x.mT, hermitian=True), P(rng.standard_normal((3, 3))))


def test_matrix_exp_power_grad():
    check(LA.matrix_exp, P(rng.standard_normal((2, 3, 3))))
    check(LA.matrix_exp, P(3 * rng.standard_normal((3, 3))))  # with squaring
    check(lambda a: LA.matrix_power(a, 3), P(rng.standard_normal((3, 3))))
    check(lambda a: LA.matrix_power(a, -2), P(well(3, 3)))
    check(lambda a: LA.cond(a), P(well(3, 3)))
    check(lambda a: LA.matrix_norm(a, "nuc"), P(rng.standard_normal((3, 4))))


def test_lu_grad():
    check(lambda a: LA.lu(a)[1:], P(well(4, 4)))
    check(lambda a: LA.lu_factor(a).LU, P(well(4, 4)))
    LU, piv = LA.lu_factor(ember.tensor(well(3, 3)))
    check(lambda b: LA.lu_solve(LU, piv, b), P(rng.standard_normal((3, 2))))


def test_backward_on_each_device(device):
    """The backward formulas are ember ops: they run on the gpu too (float32)."""
    a = well(3, 3).astype("float32")
    b = rng.standard_normal((3, 2)).astype("float32")
    grads = {}
    for dev in ["cpu", device]:
        A = ember.tensor(a).to(dev).requires_grad_(True)
        B = ember.tensor(b).to(dev).requires_grad_(True)
        s = a @ a.T + 3 * np.eye(3)
        S = ember.tensor(s.astype("float32")).to(dev).requires_grad_(True)
        loss = (
            LA.inv(A).sum()
            + LA.det(A)
            + LA.solve(A, B).sum()
            + LA.cholesky(S).sum()
            + LA.eigvalsh(S).sum()
            + LA.svdvals(A).sum()
            + LA.qr(A)[1].sum()
        )
        loss.backward()
        assert A.grad.device.type == dev
        grads[dev] = (A.grad.cpu().numpy(), B.grad.cpu().numpy(), S.grad.cpu().numpy())
    for x, y in zip(grads["cpu"], grads[device]):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-4)
