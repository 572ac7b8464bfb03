"""repr/str match PyTorch's print format exactly (with `ember.` where PyTorch writes `torch.`)."""

import pytest

import ember

nan, inf = float("nan"), float("inf")


@pytest.fixture(autouse=True)
def _default_printoptions():
    ember.set_printoptions(profile="default")
    yield
    ember.set_printoptions(profile="default")


CASES = [
    (lambda d: ember.tensor([[1.0, 2.0], [3.0, 4.0]], device=d), "tensor([[1., 2.],\n        [3., 4.]])"),
    (lambda d: ember.tensor([1, 2, 3], dtype=ember.int32, device=d), "tensor([1, 2, 3], dtype=ember.int32)"),
    (lambda d: ember.tensor([1, 2, 3], device=d), "tensor([1, 2, 3])"),
    (lambda d: ember.tensor([1.5, 2.0], device=d), "tensor([1.5000, 2.0000])"),
    (lambda d: ember.tensor([-1.0, 2.0], device=d), "tensor([-1.,  2.])"),
    (lambda d: ember.tensor([-0.5, 10.25], device=d), "tensor([-0.5000, 10.2500])"),
    (lambda d: ember.tensor([0.0, 0.0], device=d), "tensor([0., 0.])"),
    (lambda d: ember.tensor(3.5, device=d), "tensor(3.5000)"),
    (lambda d: ember.tensor(3.0, device=d), "tensor(3.)"),
    (lambda d: ember.tensor(7, device=d), "tensor(7)"),
    (lambda d: ember.tensor(True, device=d), "tensor(True)"),
    (lambda d: ember.tensor([True, False], device=d), "tensor([ True, False])"),
    (lambda d: ember.tensor([], device=d), "tensor([])"),
    (lambda d: ember.tensor([], dtype=ember.int64, device=d), "tensor([], dtype=ember.int64)"),
    (lambda d: ember.zeros(2, 0, device=d), "tensor([], size=(2, 0))"),
    (lambda d: ember.zeros(2, 0, dtype=ember.int32, device=d), "tensor([], size=(2, 0), dtype=ember.int32)"),
    (lambda d: ember.tensor([0.1, 0.25], dtype=ember.float64, device=d), "tensor([0.1000, 0.2500], dtype=ember.float64)"),
    (lambda d: ember.tensor([1.0, 2.0], dtype=ember.float16, device=d), "tensor([1., 2.], dtype=ember.float16)"),
    (lambda d: ember.tensor([1, 2], dtype=ember.uint8, device=d), "tensor([1, 2], dtype=ember.uint8)"),
    (lambda d: ember.tensor([-3, 100], dtype=ember.int8, device=d), "tensor([ -3, 100], dtype=ember.int8)"),
    (lambda d: ember.tensor([1e-5, 1.0], device=d), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda d: ember.tensor([1e10], device=d), "tensor([1.0000e+10])"),
    (lambda d: ember.tensor([100000.0], device=d), "tensor([100000.])"),
    (lambda d: ember.tensor([123456.7], device=d), "tensor([123456.7031])"),
    (lambda d: ember.tensor([0.001, 2.0], device=d), "tensor([1.0000e-03, 2.0000e+00])"),
    (lambda d: ember.tensor([0.01, 2.0], device=d), "tensor([0.0100, 2.0000])"),
    (lambda d: ember.tensor([[1e-8, 1.0], [2.0, 3.0]], device=d), "tensor([[1.0000e-08, 1.0000e+00],\n        [2.0000e+00, 3.0000e+00]])"),
    (lambda d: ember.tensor([nan, 1.0, inf, -inf], device=d), "tensor([ nan,   1.,  inf, -inf])"),
    (lambda d: ember.tensor([nan, 0.5], device=d), "tensor([   nan, 0.5000])"),
    (lambda d: ember.arange(2000, device=d), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"),
    (lambda d: ember.arange(30.0, device=d),
     "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
     "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n"
     "        28., 29.])"),
    (lambda d: ember.arange(24.0, device=d).view(2, 3, 4),
     "tensor([[[ 0.,  1.,  2.,  3.],\n         [ 4.,  5.,  6.,  7.],\n         [ 8.,  9., 10., 11.]],\n\n"
     "        [[12., 13., 14., 15.],\n         [16., 17., 18., 19.],\n         [20., 21., 22., 23.]]])"),
    (lambda d: ember.ones(100, 100, device=d),
     "tensor([[1., 1., 1.,  ..., 1., 1., 1.],\n        [1., 1., 1.,  ..., 1., 1., 1.],\n"
     "        [1., 1., 1.,  ..., 1., 1., 1.],\n        ...,\n        [1., 1., 1.,  ..., 1., 1., 1.],\n"
     "        [1., 1., 1.,  ..., 1., 1., 1.],\n        [1., 1., 1.,  ..., 1., 1., 1.]])"),
    (lambda d: ember.zeros(2000, 2, device=d),
     "tensor([[0., 0.],\n        [0., 0.],\n        [0., 0.],\n        ...,\n        [0., 0.],\n"
     "        [0., 0.],\n        [0., 0.]])"),
    # a view prints its own elements
    (lambda d: ember.arange(6, device=d).view(2, 3).t(), "tensor([[0, 3],\n        [1, 4],\n        [2, 5]])"),
]  # fmt: skip


def _on_device(want, dev):
    """PyTorch's repr of the same tensor on a GPU: device comes right after
    the data, before dtype / grad_fn / requires_grad."""
    for key in (", dtype=", ", grad_fn=", ", requires_grad="):
        i = want.find(key)
        if i >= 0:
            return want[:i] + f", device='{dev}'" + want[i:]
    return want[:-1] + f", device='{dev}')"


@pytest.mark.parametrize("make, want", CASES, ids=[str(i) for i in range(len(CASES))])
def test_repr_matches_pytorch(device, make, want):
    if device != "cpu" and "float64" in want:
        pytest.skip("float64 is not supported on the GPU backend")
    t = make(device)
    if device != "cpu":
        want = _on_device(want, t.device)
    assert repr(t) == want
    assert str(t) == want


def test_requires_grad_and_grad_fn_suffixes(device):
    x = ember.tensor([1.0, 2.0], requires_grad=True, device=device)

    def dev(want):
        return want if device == "cpu" else _on_device(want, x.device)

    assert repr(x) == dev("tensor([1., 2.], requires_grad=True)")
    assert repr(x * 2) == dev("tensor([2., 4.], grad_fn=<MulBackward0>)")
    assert repr(x + 1) == dev("tensor([2., 3.], grad_fn=<AddBackward0>)")
    assert repr(ember.tensor(-0.5, requires_grad=True)) == "tensor(-0.5000, requires_grad=True)"
    if device == "cpu":
        d = ember.tensor([1.0], dtype=ember.float64, requires_grad=True, device=device)
        assert repr(d) == "tensor([1.], dtype=ember.float64, requires_grad=True)"
        assert repr(d.exp()) == "tensor([2.7183], dtype=ember.float64, grad_fn=<ExpBackward0>)"
    with ember.no_grad():
        assert repr(x * 2) == dev("tensor([2., 4.])")
    assert repr(x.detach()) == dev("tensor([1., 2.])")


def test_printoptions():
    t = ember.tensor([1.123456, 2.0])
    ember.set_printoptions(precision=2)
    assert repr(t) == "tensor([1.12, 2.00])"
    ember.set_printoptions(profile="default")
    ember.set_printoptions(sci_mode=True)
    assert repr(ember.tensor([1.5])) == "tensor([1.5000e+00])"
    ember.set_printoptions(profile="default", sci_mode=None)
    ember.set_printoptions(threshold=5, edgeitems=2)
    assert repr(ember.arange(10)) == "tensor([0, 1,  ..., 8, 9])"
    ember.set_printoptions(profile="default")
    ember.set_printoptions(linewidth=20)
    assert repr(ember.arange(8)) == "tensor([0, 1, 2, 3,\n        4, 5, 6, 7])"


def test_format_and_item_strings():
    assert f"{ember.tensor(2.5):.2f}" == "2.50"
    assert str(ember.Size([2, 3])) == "ember.Size([2, 3])"
    assert repr(ember.float32) == "ember.float32"
    assert str(ember.int64) == "ember.int64"
    assert repr(ember.device("cpu")) == "device(type='cpu')"


def test_bfloat16_prints():
    assert repr(ember.tensor([1.0, 2.5], dtype=ember.bfloat16)) == (
        "tensor([1.0000, 2.5000], dtype=ember.bfloat16)"
    )
