"""Zero-copy numpy and DLPack interop (issue 14 items 1-2).

On the cpu device, from_numpy / as_tensor / asarray / numpy() / __array_interface__ / DLPack share
memory: a write through either side is seen by the other, strided views keep their strides, and
the memory stays alive until the last user (array, tensor, view) is gone. On the gpu device the
same calls copy or raise, with PyTorch's exception types. Expected messages and behaviours are
PyTorch 2.15's, read by hand from /tmp/tv (real torch + numpy 2.4) and pasted here.
"""

import ctypes
import gc

import numpy as np
import pytest

import ember
from ember.utils import dlpack

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _sample(name, shape=(3, 4)):
    n = int(np.prod(shape))
    if name == "bool":
        return (np.arange(n) % 3 == 0).reshape(shape)
    return (np.arange(n) % 7 + 1).astype(name).reshape(shape)


def _one(name):
    return True if name == "bool" else 9


def _host(t):
    return t.detach().cpu().numpy()


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


# ----------------------------------------------------------------------------- from_numpy
@pytest.mark.parametrize("name", DTYPES)
def test_from_numpy_shares_memory_every_dtype(device, name):
    a = _sample(name)
    t = ember.from_numpy(a)
    assert t.dtype == getattr(ember, name) and tuple(t.shape) == (3, 4)
    if device == "cpu":
        t[1, 2] = _one(name)  # tensor -> array
        assert a[1, 2] == _one(name)
        a[0, 0] = _one(name)  # array -> tensor
        assert t[0, 0].item() == _one(name)
        assert t.data_ptr() == a.__array_interface__["data"][0]
    else:
        g = t.to(device)  # a copy on the GPU: writes do not reach the array
        g[1, 2] = _one(name)
        assert a[1, 2] == _sample(name)[1, 2]
        np.testing.assert_array_equal(_host(g)[0], a[0])


def test_from_numpy_keeps_strides_offsets_and_zero_strides(device):
    base = np.arange(24.0).reshape(4, 6)
    cases = {
        "columns": (base[:, 1::2], (6, 2)),
        "rows+offset": (base[1:3], (6, 1)),
        "transposed": (base.T, (1, 6)),
        # a writable zero-stride view (np.broadcast_to's is read-only, which ember copies)
        "stride 0": (np.lib.stride_tricks.as_strided(base[0], (3, 6), (0, 8)), (0, 1)),
    }
    for label, (a, strides) in cases.items():
        t = ember.from_numpy(a)
        np.testing.assert_array_equal(_host(t), a, err_msg=label)
        assert t.stride() == strides, label
        if device == "cpu":
            assert np.shares_memory(t.numpy(), base), label
    v = ember.from_numpy(base[:, 1::2])
    if device == "cpu":
        v.mul_(10)  # writes through the strided view land in the right places
        assert base[0].tolist() == [0, 10, 2, 30, 4, 50]
    else:
        v.to(device).mul_(10)
        assert base[0].tolist() == [0, 1, 2, 3, 4, 5]


def test_as_tensor_and_asarray_share_unless_converting(device):
    a = np.arange(6, dtype=np.float32)
    t = ember.as_tensor(a)
    s = ember.asarray(a)
    c = ember.asarray(a, copy=True)
    d = ember.as_tensor(a, dtype=ember.float64)  # a dtype change copies (PyTorch: False)
    g = ember.as_tensor(a, device=device)
    a[0] = 42.0
    assert t[0].item() == 42.0 and s[0].item() == 42.0
    assert c[0].item() == 0.0 and d[0].item() == 0.0
    assert g[0].item() == (42.0 if device == "cpu" else 0.0)
    x = ember.tensor(a)  # torch.tensor always copies
    a[1] = 7.0
    assert x[1].item() == 1.0


def test_asarray_copy_false_refuses_to_copy(device):
    # PyTorch 2.15's messages (by hand): dtype change and Python sequences cannot alias
    a = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="can't alias tensor with dtype 'Float' into dtype 'Dou"):
        ember.asarray(a, dtype=ember.float64, copy=False)
    with pytest.raises(ValueError, match="can't alias arbitrary sequence into a tensor"):
        ember.asarray([1.0, 2.0], copy=False)
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="copies read-only"):
        ember.asarray(ro, copy=False)  # PyTorch shares it; ember would have to copy
    t = ember.asarray(a, copy=False)
    a[0] = 4.0
    assert t[0].item() == 4.0
    g = ember.ones(2, device=device)
    assert ember.asarray(g, copy=False) is g


def test_from_numpy_errors_as_pytorch(device):
    with pytest.raises(ValueError, match="byte order different from the native byte order"):
        ember.from_numpy(np.arange(3, dtype=">f4"))
    with pytest.raises(ValueError, match="byte order"):
        ember.as_tensor(np.arange(3, dtype=">i8"))
    with pytest.raises(ValueError, match="At least one stride in the given numpy array is neg"):
        ember.from_numpy(np.arange(6.0).reshape(2, 3)[:, ::-1])
    odd = np.lib.stride_tricks.as_strided(np.zeros(10, np.int16), shape=(2,), strides=(3,))
    with pytest.raises(ValueError, match="strides not a multiple of the element byte size"):
        ember.from_numpy(odd)
    with pytest.raises(TypeError, match=r"expected np.ndarray \(got list\)"):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy.uint16"):
        ember.from_numpy(np.zeros(2, np.uint16))
    t = ember.from_numpy(np.arange(4.0)).to(device)
    if device == "cpu":
        # memory numpy owns cannot grow (PyTorch's message); shrinking is a view
        with pytest.raises(RuntimeError, match="Trying to resize storage that is not resizable"):
            t.resize_(10)
        assert t.resize_(2).tolist() == [0.0, 1.0]
    else:
        assert t.resize_(2).tolist() == [0.0, 1.0]  # a GPU copy: an ordinary storage


def test_read_only_and_unaligned_arrays_are_copied(device):
    # PyTorch warns and shares a read-only array; ember copies it (its tensors are always
    # writable, and writing into bytes or a read-only memmap would corrupt or crash).
    ro = np.arange(4.0)
    ro.flags.writeable = False
    t = ember.from_numpy(ro).to(device)
    t.add_(1)
    assert ro.tolist() == [0.0, 1.0, 2.0, 3.0] and t.tolist() == [1.0, 2.0, 3.0, 4.0]
    # unaligned float32 (offset 1 byte): PyTorch shares it; Rust slices must be aligned: copy
    raw = np.arange(25, dtype=np.uint8)
    ua = raw[1:].view(np.float32)
    assert not ua.flags.aligned
    u = ember.from_numpy(ua).to(device)
    np.testing.assert_array_equal(_host(u), ua)
    u.zero_()
    assert raw[1:].tolist() == list(range(1, 25))


# ----------------------------------------------------------------------------- numpy()
def test_numpy_views_the_storage(device):
    t = ember.arange(12.0).reshape(3, 4).to(device)
    if device != "cpu":
        with pytest.raises(TypeError, match="can't convert gpu device type tensor to numpy"):
            t.numpy()
        a = t.numpy(force=True)  # a host copy
        a[0, 0] = 5.0
        assert t[0, 0].item() == 0.0
        return
    a = t.numpy()
    a[0, 0] = 5.0
    assert t[0, 0].item() == 5.0
    t[2, 3] = -1.0
    assert a[2, 3] == -1.0
    v = t[:, 1::2]  # strided view with an offset: strides exported, not copied
    b = v.numpy()
    assert b.strides == (16 * 1, 8) and b.shape == (3, 2)
    assert b.__array_interface__["data"][0] == t.data_ptr() + 4
    b[1, 1] = 99.0
    assert t[1, 3].item() == 99.0
    tt = t.t()
    assert tt.numpy().strides == (4, 16)
    assert np.shares_memory(tt.numpy(), a)


def test_numpy_view_without_numpy_dlpack(monkeypatch):
    # numpy without from_dlpack (< 1.22) takes the __array_interface__ holder path
    monkeypatch.delattr(np, "from_dlpack")
    t = ember.arange(6, dtype=ember.int16).reshape(2, 3)
    a = t.t().numpy()
    assert a.strides == (2, 6) and a.tolist() == [[0, 3], [1, 4], [2, 5]]
    a[0, 1] = 30
    assert t[1, 0].item() == 30
    del t
    gc.collect()
    assert a[0, 1] == 30  # the holder keeps the storage alive


def test_numpy_requires_grad_and_force(device):
    t = ember.ones(3, requires_grad=True, device=device)
    with pytest.raises(RuntimeError) as e:
        t.numpy()
    assert str(e.value) == (
        "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
    )
    f = t.numpy(force=True)
    assert f.tolist() == [1.0, 1.0, 1.0]
    if device == "cpu":
        f[0] = 3.0  # force=True on a CPU tensor still shares (PyTorch: detach().numpy())
        assert t[0].item() == 3.0
    with pytest.raises(TypeError, match="unsupported ScalarType BFloat16"):
        ember.ones(2, dtype=ember.bfloat16).numpy()


def test_array_interface_and_asarray(device):
    t = ember.arange(6, dtype=ember.int32).reshape(2, 3).to(device)
    if device != "cpu":
        assert not hasattr(t, "__array_interface__")
        a = np.asarray(t)  # ember's documented divergence: a host copy
        assert a.tolist() == [[0, 1, 2], [3, 4, 5]]
        with pytest.raises(ValueError, match="Unable to avoid copy"):
            np.array(t, copy=False)
        return
    ai = t.__array_interface__
    assert ai["shape"] == (2, 3) and ai["typestr"] == "<i4" and ai["strides"] == (12, 4)
    assert ai["data"] == (t.data_ptr(), False)
    a = np.asarray(t)
    c = np.array(t, copy=False)
    a[0, 1] = 10
    assert t[0, 1].item() == 10 and c[0, 1] == 10
    assert np.array(t).base is None  # np.array copies by default
    with pytest.raises(AttributeError):
        _ = ember.ones(2, requires_grad=True).__array_interface__
    with pytest.raises(TypeError, match="a bytes-like object is required"):
        memoryview(t)  # no buffer protocol under abi3-py39 (PyTorch has none either)


def test_numpy_mixing_still_matches_pytorch(device):
    # PyTorch 2.15 + numpy 2.4, by hand: nd + t -> TypeError, np.sum(t) -> TypeError,
    # np.asarray(t) -> ndarray sharing memory, t + nd -> float64 Tensor.
    t = ember.ones(3)
    nd = np.ones(3)
    with pytest.raises(TypeError):
        nd + t
    with pytest.raises(TypeError):
        np.sum(t)
    r = t + nd
    assert isinstance(r, ember.Tensor) and r.dtype == ember.float64
    assert np.shares_memory(np.asarray(t), t.numpy())
    e = np.exp(ember.zeros(2).to(device))
    assert isinstance(e, ember.Tensor) and e.tolist() == [1.0, 1.0]


# ----------------------------------------------------------------------------- lifetime
def test_lifetime_array_dropped_first(device):
    a = np.arange(1000, dtype=np.float64)
    t = ember.from_numpy(a)[10:20]
    del a
    gc.collect()
    junk = [np.full(1000, -1.0) for _ in range(50)]  # would reuse freed memory
    assert _host(t.to(device)).tolist() == [float(i) for i in range(10, 20)]
    del junk


def test_lifetime_tensor_dropped_first():
    t = ember.arange(1000.0)
    a = t[100:110].numpy()
    b = a[::3]
    del t, a
    gc.collect()
    junk = [ember.full((1000,), -1.0) for _ in range(50)]
    assert b.tolist() == [100.0, 103.0, 106.0, 109.0]
    del junk


def test_array_outlives_rebinding_the_tensor():
    # np.asarray(t) uses t.__array_interface__, so numpy's base is t itself; rebinding t to
    # another storage (.data =, a growing resize_) must not free the memory under the array.
    t = ember.arange(5.0)
    a = np.asarray(t)
    assert a.base is t
    t.data = ember.zeros(3)
    t2 = ember.arange(4.0)
    b = np.asarray(t2)
    t2.resize_(1000)
    gc.collect()
    junk = [ember.full((5,), 7.0) for _ in range(100)]
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert b.tolist() == [0.0, 1.0, 2.0, 3.0]
    del junk


def test_round_trips_do_not_leak():
    def once(i):
        a = np.full(32768, float(i))  # 256 KiB each: a leak would be ~2.5 GB
        t = ember.from_numpy(a)
        b = t.numpy()
        c = np.from_dlpack(ember.from_dlpack(b))
        np.asarray(t)  # __array_interface__ (keeps an alias on t until t dies)
        d = ember.utils.dlpack.from_dlpack(ember.utils.dlpack.to_dlpack(t))
        return c[5] + d[6].item()

    for i in range(200):
        once(i)
    gc.collect()
    before = _rss_mb()
    for i in range(10000):
        assert once(i) == 2.0 * i
    gc.collect()
    assert _rss_mb() - before < 100


# ----------------------------------------------------------------------------- DLPack
def test_dlpack_export_shares_with_numpy(device):
    t = ember.arange(12.0).reshape(3, 4).to(device)
    if device != "cpu":
        with pytest.raises(BufferError, match="no DLPack device"):
            np.from_dlpack(t)
        with pytest.raises(BufferError, match="no DLPack device"):
            t.__dlpack_device__()
        with pytest.raises(BufferError, match="no DLPack device"):
            dlpack.to_dlpack(t)
        return
    assert t.__dlpack_device__() == (1, 0)
    a = np.from_dlpack(t)
    a[0, 0] = 50.0
    assert t[0, 0].item() == 50.0
    v = np.from_dlpack(t[1:, ::2])  # offset + strides
    assert v.strides == (16, 8) and v.tolist() == [[4.0, 6.0], [8.0, 10.0]]
    t[2, 2] = -7.0
    assert v[1, 1] == -7.0
    del t
    gc.collect()
    assert v[1, 1] == -7.0  # the capsule's tensor handle keeps the storage alive


def test_dlpack_import_shares_with_numpy(device):
    a = np.arange(12.0).reshape(3, 4)
    t = ember.from_dlpack(a[:, 1::2])
    assert t.stride() == (4, 2) and t.tolist() == [[1, 3], [5, 7], [9, 11]]
    if device == "cpu":
        t.add_(100)
        assert a[0].tolist() == [0, 101, 2, 103]
        a[2, 3] = -1
        assert t[2, 1].item() == -1
    else:
        t.to(device).add_(100)
        assert a[0].tolist() == [0, 1, 2, 3]
    ro = np.arange(3.0)
    ro.flags.writeable = False
    r = ember.from_dlpack(ro)  # numpy flags it READ_ONLY (versioned DLPack): copied
    r.add_(1)
    assert ro.tolist() == [0.0, 1.0, 2.0]


def test_dlpack_capsules_versioned_and_legacy(device):
    t = ember.arange(4, dtype=ember.int64).to(device)
    if device != "cpu":
        with pytest.raises(BufferError, match="wgpu"):
            t.__dlpack__(max_version=(1, 0))
        return
    legacy = t.__dlpack__()
    versioned = t.__dlpack__(max_version=(1, 0))
    assert "dltensor" in repr(legacy) and "dltensor_versioned" not in repr(legacy)
    assert '"dltensor_versioned"' in repr(versioned)
    u = ember.from_dlpack(legacy)
    w = ember.from_dlpack(versioned)
    assert '"used_dltensor"' in repr(legacy) and '"used_dltensor_versioned"' in repr(versioned)
    msg = "from_dlpack received an invalid capsule"
    with pytest.raises(RuntimeError, match=msg):
        ember.from_dlpack(legacy)  # a capsule is consumed once
    u[0] = 40
    w[1] = 41
    assert t.tolist() == [40, 41, 2, 3]
    with pytest.raises(AssertionError, match="stream should be None on cpu"):
        t.__dlpack__(stream=1)
    with pytest.raises(BufferError, match="require gradient"):
        ember.ones(2, requires_grad=True).__dlpack__()
    c = ember.from_dlpack(t.__dlpack__(max_version=(1, 0), copy=True))
    c[0] = 0
    assert t[0].item() == 40


@pytest.mark.parametrize("name", DTYPES + ["bfloat16"])
def test_dlpack_every_dtype(device, name):
    if name == "bfloat16":
        t = ember.tensor([1.5, -2.0, 3.0], dtype=ember.bfloat16)
    else:
        t = ember.from_numpy(_sample(name, (3,)).copy())
    u = dlpack.from_dlpack(dlpack.to_dlpack(t))  # ember -> ember, shares
    assert u.dtype == t.dtype
    u[0] = 1
    assert t[0].item() == 1
    if name != "bfloat16":
        a = np.from_dlpack(t)
        assert a.dtype == np.dtype(name)
        np.testing.assert_array_equal(a, _host(t))
        assert np.shares_memory(a, t.numpy())
    if device != "cpu":
        g = t.to(device)
        with pytest.raises(BufferError, match="no DLPack device"):
            g.__dlpack__()


# A hand-made producer (ctypes): DLPack 1.0 structs with a byte_offset and a counting deleter.
class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class _DLManagedTensor(ctypes.Structure):
    pass


_DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(_DLManagedTensor))
_DLManagedTensor._fields_ = [
    ("dl_tensor", _DLTensor),
    ("manager_ctx", ctypes.c_void_p),
    ("deleter", _DELETER),
]


def _handmade_capsule(buf, calls, byte_offset, shape, strides):
    shp = (ctypes.c_int64 * len(shape))(*shape)
    std = (ctypes.c_int64 * len(strides))(*strides)
    m = _DLManagedTensor()
    m.dl_tensor = _DLTensor(
        buf.ctypes.data, _DLDevice(1, 0), len(shape), _DLDataType(2, 32, 1), shp, std, byte_offset
    )
    m.deleter = _DELETER(lambda p: calls.append(1))
    keep = (shp, std, m, m.deleter, buf)
    new = ctypes.pythonapi.PyCapsule_New
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return new(ctypes.addressof(m), b"dltensor", None), keep


def test_dlpack_byte_offset_and_deleter_called_once(device):
    buf = np.arange(16, dtype=np.float32)
    calls = []
    cap, keep = _handmade_capsule(buf, calls, byte_offset=8, shape=[2, 3], strides=[4, 1])
    t = ember.from_dlpack(cap)
    assert t.tolist() == [[2, 3, 4], [6, 7, 8]]  # starts 8 bytes (2 floats) in
    v = t[1]
    del t, cap
    gc.collect()
    assert calls == []  # a view is still alive
    if device == "cpu":
        v[0] = -5.0
        assert buf[6] == -5.0
    else:
        assert v.to(device).tolist() == [6.0, 7.0, 8.0]
    del v
    gc.collect()
    ember.tensor(0.0).item()  # any ember call drains a deferred release
    assert calls == [1]
    del keep


# ----------------------------------------------------------------------------- autograd
def test_autograd_and_version_counter_on_shared_storage(device):
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    t = ember.from_numpy(a)
    v0 = t._version
    t.mul_(2)  # in-place through the tensor: counted, and seen by numpy
    assert t._version == v0 + 1
    assert a.tolist() == [2.0, 4.0, 6.0]
    x = ember.from_numpy(a).to(device).requires_grad_()
    y = (x * x).sum()
    y.backward()
    assert _host(x.grad).tolist() == [4.0, 8.0, 12.0]
    w = ember.from_numpy(np.ones(3, dtype=np.float32)).requires_grad_()
    z = w.exp()  # exp saves its result
    s = z.sum()
    with ember.no_grad():
        z.mul_(2)  # modifies a saved tensor in place
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.backward()
