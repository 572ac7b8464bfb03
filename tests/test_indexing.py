"""__getitem__ / __setitem__: basic indexing gives views, advanced indexing follows numpy's
(= PyTorch's) placement rule, setitem writes scalars and broadcast tensors."""

import numpy as np
import pytest

import ember

BASE = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)


def npy(t):
    return t.detach().cpu().numpy()


def idx_for(ix, device):
    """Turn numpy index pieces into ember ones (arrays -> tensors)."""
    if isinstance(ix, tuple):
        return tuple(idx_for(i, device) for i in ix)
    if isinstance(ix, np.ndarray):
        return ember.tensor(ix, device=device)
    return ix


IDX = [
    0,
    -1,
    (1, 2),
    (1, -1, 3, -5),
    slice(None),
    slice(1, None),
    (slice(None), slice(None, None, 2)),
    (slice(None), slice(0, 3, 2)),
    (Ellipsis, 1),
    (0, Ellipsis, slice(1, 4)),
    (None, 0),
    (slice(None), None, 1, None),
    (Ellipsis, None),
    (1, slice(None), -2),
    (slice(5, 10),),
    (slice(-3, -1),),
    np.array([1, 0, 1]),
    (np.array([0, 1]), np.array([2, 0])),
    (slice(None), np.array([[0, 2], [1, 1]])),
    (np.array([1, 0]), slice(None), np.array([3, 1])),
    (slice(None), np.array([0, 2]), np.array([1, 3])),
    (slice(None), np.array([0, 2]), slice(None), np.array([1, 3])),
    (0, np.array([2, 1]), slice(None), np.array([4, 0])),
    (Ellipsis, np.array([4, 0, 4])),
    (np.array([-1, 0]),),
    BASE[..., 0, 0] > 20,
    (slice(None), BASE[0, :, :, 0] > 30),
    (BASE[:, :, 0, 0] > 30, slice(1, 3)),
    (1, BASE[1, :, 0, 0] > 65),
    (None, np.array([1]), Ellipsis, None),
    (np.array(1),),
    np.array([True, False]),
]


@pytest.mark.parametrize("ix", IDX, ids=[str(i).replace("\n", "") for i in range(len(IDX))])
def test_getitem_matches_numpy(device, ix):
    t = ember.tensor(BASE, device=device)
    want = BASE[ix]
    got = t[idx_for(ix, device)]
    assert tuple(got.shape) == want.shape
    np.testing.assert_array_equal(npy(got), want)


def test_getitem_with_python_lists(device):
    t = ember.tensor(BASE, device=device)
    np.testing.assert_array_equal(npy(t[[1, 0]]), BASE[[1, 0]])
    np.testing.assert_array_equal(npy(t[:, [2, 0, 2]]), BASE[:, [2, 0, 2]])
    np.testing.assert_array_equal(npy(t[[0, 1], [1, 2]]), BASE[[0, 1], [1, 2]])
    np.testing.assert_array_equal(npy(t[[True, False]]), BASE[[True, False]])
    np.testing.assert_array_equal(npy(t[0, [[0], [2]], [1, 3]]), BASE[0, [[0], [2]], [1, 3]])


def test_basic_indexing_is_a_view(device):
    t = ember.tensor(BASE, device=device)
    v = t[1, :, ::2]
    assert tuple(v.shape) == (3, 2, 5)
    v[0, 1, 2] = -7.0
    assert t[1, 0, 2, 2].item() == -7.0
    s = t[0, 0, 0]
    s[3] = -8.0
    assert t[0, 0, 0, 3].item() == -8.0
    e = t[..., None]
    assert tuple(e.shape) == (2, 3, 4, 5, 1)
    e[0, 0, 0, 0, 0] = -9.0
    assert t[0, 0, 0, 0].item() == -9.0


def test_advanced_indexing_copies(device):
    t = ember.tensor(BASE, device=device)
    c = t[[0, 1]]
    c[0, 0, 0, 0] = 1000.0
    assert t[0, 0, 0, 0].item() == 0.0
    m = t[t > 100]
    m[0] = -1.0
    assert (t >= 0).all().item()


def test_index_with_zero_dim_tensor_and_bool_scalar(device):
    t = ember.tensor(BASE, device=device)
    i = ember.tensor(1, device=device)
    np.testing.assert_array_equal(npy(t[i]), BASE[1])
    np.testing.assert_array_equal(npy(t[0, i]), BASE[0, 1])
    assert tuple(t[None, None].shape) == (1, 1, 2, 3, 4, 5)


def test_index_with_python_bool(device):
    t = ember.tensor(BASE, device=device)
    assert tuple(t[True].shape) == (1, 2, 3, 4, 5)
    assert tuple(t[False].shape) == (0, 2, 3, 4, 5)


def test_index_int32_and_uint8_tensors(device):
    t = ember.tensor(BASE, device=device)
    i = ember.tensor([1, 0], dtype=ember.int32, device=device)
    np.testing.assert_array_equal(npy(t[i]), BASE[[1, 0]])
    m = ember.tensor([1, 0], dtype=ember.uint8, device=device)  # legacy byte mask
    assert tuple(t[m].shape) in ((1, 3, 4, 5), (2, 3, 4, 5))


def test_getitem_on_0d_and_1d(device):
    z = ember.tensor(3.0, device=device)
    assert z[()].item() == 3.0
    assert z[None].shape == (1,)
    assert z[...].shape == ()
    v = ember.arange(5, device=device)
    assert v[-1].item() == 4 and v[2].dim() == 0
    assert v[10:].numel() == 0
    assert v[-100:2].tolist() == [0, 1]


SET = [
    (0, 1.0),
    ((1, 2), -3.0),
    ((slice(None), 1), 5.0),
    ((Ellipsis, slice(None, None, 2)), 7.0),
    (np.array([1, 0, 1]), 9.0),
    ((np.array([0, 1]), np.array([2, 0])), 2.5),
    ((slice(None), np.array([0, 2]), slice(None), np.array([1, 3])), 4.0),
    (BASE > 60, -1.0),
    ((slice(None), BASE[0, :, :, 0] > 30), 6.0),
    ((0, None, 1), 8.0),
]


@pytest.mark.parametrize("ix, val", SET, ids=[str(i) for i in range(len(SET))])
def test_setitem_scalar_matches_numpy(device, ix, val):
    t = ember.tensor(BASE, device=device)
    want = BASE.copy()
    want[ix] = val
    t[idx_for(ix, device)] = val
    np.testing.assert_array_equal(npy(t), want)


@pytest.mark.parametrize(
    "ix", [0, (slice(None), 1), (Ellipsis, 2), (1, slice(0, 2), slice(None), 3)]
)
def test_setitem_broadcast_tensor(device, ix):
    t = ember.tensor(BASE, device=device)
    want = BASE.copy()
    shape = want[ix].shape
    val = np.arange(shape[-1], dtype=np.float32) * -1.0
    want[ix] = val
    t[ix] = ember.tensor(val, device=device)
    np.testing.assert_array_equal(npy(t), want)
    # full-shape value
    full = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want[ix] = full
    t[ix] = ember.tensor(full, device=device)
    np.testing.assert_array_equal(npy(t), want)


def test_setitem_advanced_with_tensor_values(device):
    t = ember.zeros(4, 3, device=device)
    t[[0, 2]] = ember.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device)
    np.testing.assert_array_equal(npy(t), [[1, 2, 3], [0, 0, 0], [4, 5, 6], [0, 0, 0]])
    t[t > 2] = ember.tensor([-3.0, -4.0, -5.0, -6.0], device=device)
    np.testing.assert_array_equal(npy(t), [[1, 2, -3], [0, 0, 0], [-4, -5, -6], [0, 0, 0]])
    t[:, [0, 2]] = ember.tensor([7.0, 8.0], device=device)
    np.testing.assert_array_equal(npy(t)[:, [0, 2]], [[7, 8]] * 4)


def test_setitem_casts_values(device):
    t = ember.zeros(3, dtype=ember.int64, device=device)
    t[0] = 2.7
    t[1] = ember.tensor(3.9, device=device)
    t[2] = True
    assert t.tolist() == [2, 3, 1]
    f = ember.zeros(2, device=device)
    f[:] = ember.tensor([1, 2], device=device)
    assert f.dtype == ember.float32 and f.tolist() == [1.0, 2.0]
    f[0] = float("nan")
    assert np.isnan(npy(f)[0])


def test_setitem_through_a_view(device):
    t = ember.zeros(3, 4, device=device)
    v = t.t()
    v[1] = ember.tensor([1.0, 2.0, 3.0], device=device)
    np.testing.assert_array_equal(npy(t)[:, 1], [1, 2, 3])
    t[1:, 2:][0, 1] = 5.0
    assert t[1, 3].item() == 5.0


def test_setitem_bumps_version(device):
    t = ember.zeros(3, device=device)
    v = t._version
    t[0] = 1.0
    assert t._version > v


@pytest.mark.parametrize(
    "ix",
    [5, -6, (0, 10), (slice(None), 4)],
)
def test_index_out_of_range_is_index_error(device, ix):
    t = ember.zeros(5, 4, device=device)[:, :4]
    if isinstance(ix, tuple) and ix[0] == slice(None):
        with pytest.raises(IndexError):
            t[ix]
        return
    with pytest.raises(IndexError):
        t[ix]
    with pytest.raises(IndexError):
        t[ix] = 1.0


def test_bad_index_errors(device):
    t = ember.zeros(2, 3, device=device)
    with pytest.raises(IndexError):
        t[0, 0, 0]
    # Integer tensor indices on the GPU are checked by the kernel: the error
    # surfaces at the next read to the host (CUDA's device-side asserts).
    with pytest.raises(IndexError, match="5"):
        t[ember.tensor([0, 5], device=device)].cpu()
    with pytest.raises(IndexError, match="-3"):
        t[[0, -3]].cpu()
    with pytest.raises(IndexError):
        t[ember.tensor([True, False, True], device=device)]
    with pytest.raises(IndexError):
        t[..., ...]
    with pytest.raises(IndexError):
        t[ember.tensor([0.0, 1.0], device=device)]
    with pytest.raises((TypeError, IndexError)):
        t["a"]
    with pytest.raises(ValueError):
        t[::-1]
    with pytest.raises(ValueError):
        t[::0]
    with pytest.raises(IndexError):
        ember.tensor(1.0, device=device)[0]
