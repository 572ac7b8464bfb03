"""int8 and int16 tensors on both devices (issue 15: "int8/int16 live on the GPU").

The gpu stores them as sign-extended 32-bit words and wraps every result to the type's
width, as the CPU's two's-complement arithmetic (and PyTorch's) does. numpy's int8/int16
arithmetic wraps the same way and is the reference here.
"""

import numpy as np
import pytest

import ember

DTYPES = [(ember.int8, np.int8), (ember.int16, np.int16)]


def _vals(npdt):
    info = np.iinfo(npdt)
    return np.array([info.min, info.min + 1, -3, -1, 0, 1, 2, 100, info.max - 1, info.max], npdt)


@pytest.mark.parametrize("edt,npdt", DTYPES)
def test_round_trip_keeps_extremes(device, edt, npdt):
    a = _vals(npdt)
    t = ember.tensor(a, device=device)
    assert t.dtype == edt and t.device.type == device
    np.testing.assert_array_equal(t.cpu().numpy(), a)


@pytest.mark.parametrize("edt,npdt", DTYPES)
def test_arithmetic_wraps_like_numpy(device, edt, npdt):
    a = _vals(npdt)
    b = np.roll(a, 3)
    ta, tb = ember.tensor(a, device=device), ember.tensor(b, device=device)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal((ta + tb).cpu().numpy(), a + b)
        np.testing.assert_array_equal((ta - tb).cpu().numpy(), a - b)
        np.testing.assert_array_equal((ta * tb).cpu().numpy(), a * b)
        np.testing.assert_array_equal((-ta).cpu().numpy(), -a)
        np.testing.assert_array_equal(ta.abs().cpu().numpy(), np.abs(a))
        np.testing.assert_array_equal((ta + 7).cpu().numpy(), a + npdt(7))
    assert (ta + tb).dtype == edt


@pytest.mark.parametrize("edt,npdt", DTYPES)
def test_compare_reduce_sort(device, edt, npdt):
    a = _vals(npdt)[::-1].copy()
    t = ember.tensor(a, device=device)
    np.testing.assert_array_equal((t > 0).cpu().numpy(), a > 0)
    np.testing.assert_array_equal(t.eq(ember.tensor(a, device=device)).cpu().numpy(), a == a)
    s = t.sum()
    assert s.dtype == ember.int64 and int(s) == int(a.astype(np.int64).sum())
    assert int(t.max()) == int(a.max()) and int(t.min()) == int(a.min())
    assert int(t.argmax()) == int(a.argmax())
    np.testing.assert_array_equal(t.sort().values.cpu().numpy(), np.sort(a))
    c = t.cumsum(0)
    assert c.dtype == ember.int64
    np.testing.assert_array_equal(c.cpu().numpy(), np.cumsum(a.astype(np.int64)))


@pytest.mark.parametrize("edt,npdt", DTYPES)
def test_casts_wrap_to_the_width(device, edt, npdt):
    wide = np.array([300, -300, 70000, -70000, 127, -129, 40000], np.int32)
    t = ember.tensor(wide, device=device)
    np.testing.assert_array_equal(t.to(edt).cpu().numpy(), wide.astype(npdt))
    u = ember.tensor(np.array([0, 127, 128, 255], np.uint8), device=device)
    np.testing.assert_array_equal(
        u.to(edt).cpu().numpy(), np.array([0, 127, 128, 255], np.uint8).astype(npdt)
    )
    f = ember.tensor([-2.7, 2.7, -100.5, 100.5], device=device)
    np.testing.assert_array_equal(f.to(edt).cpu().numpy(), np.array([-2, 2, -100, 100], npdt))
    back = ember.tensor(_vals(npdt), device=device).float()
    np.testing.assert_array_equal(back.cpu().numpy(), _vals(npdt).astype(np.float32))


def test_uint8_plus_int8_promotes_to_int16(device):
    # PyTorch's promotion (conformance case add_u8_i8): uint8 + int8 -> int16.
    a = np.array([0, 200, 255, 17], np.uint8)
    b = np.array([-128, 100, 127, -1], np.int8)
    r = ember.tensor(a, device=device) + ember.tensor(b, device=device)
    assert r.dtype == ember.int16
    np.testing.assert_array_equal(r.cpu().numpy(), a.astype(np.int16) + b.astype(np.int16))


@pytest.mark.parametrize("edt,npdt", DTYPES)
def test_indexing_and_views(device, edt, npdt):
    a = np.arange(-12, 12, dtype=npdt).reshape(4, 6)
    t = ember.tensor(a, device=device)
    np.testing.assert_array_equal(t[1:3, ::2].cpu().numpy(), a[1:3, ::2])
    np.testing.assert_array_equal(t.t().contiguous().cpu().numpy(), a.T)
    idx = ember.tensor([3, 0, 2], device=device)
    np.testing.assert_array_equal(t[idx].cpu().numpy(), a[[3, 0, 2]])
    t[0] = 5
    a[0] = 5
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    assert ember.zeros(3, dtype=edt, device=device).dtype == edt
    np.testing.assert_array_equal(
        ember.full((2,), -5, dtype=edt, device=device).cpu().numpy(), [-5, -5]
    )
