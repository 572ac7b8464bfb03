"""Lets `range` objects index tensors, as Python sequences do in PyTorch (`x[range(n), y]`).

The Rust indexer takes ints, slices, lists and tensors; a `range` in the key is turned into a
list here before the call. The check is one type test per key (and one per tuple element only
when the key is a tuple), so ordinary indexing pays almost nothing. A value with leading size-1
dims that does not fit is retried without them, as PyTorch does; integer-array indexing with a
value of another dtype raises as in PyTorch.
"""

from ._C import Tensor
from ._dtype import bool as _bool

_getitem = Tensor.__getitem__
_setitem = Tensor.__setitem__


def _fix(key):
    if type(key) is range:
        return list(key)
    if type(key) is tuple and range in map(type, key):
        return tuple(list(k) if type(k) is range else k for k in key)
    return key


def __getitem__(self, key):
    return _getitem(self, _fix(key))


def _int_index(k):
    if isinstance(k, Tensor):
        return k.dim() > 0 and not k.dtype.is_floating_point and k.dtype != _bool
    return type(k) is list and bool(k) and all(type(v) is int for v in k)


def _check_index_put_dtype(self, key, value):
    # Integer-array indexing writes through index_put, which PyTorch refuses for a value
    # tensor of another dtype (a bool mask, an int or a slice cast the value instead).
    if type(key) is tuple:
        if not any(_int_index(k) for k in key):
            return
    elif not _int_index(key):
        return
    _getitem(self, key)  # PyTorch reports an index out of bounds (IndexError) first
    from ._validate import _cname

    raise RuntimeError(
        "Index put requires the source and destination dtypes match, got "
        f"{_cname(self.dtype)} for the destination and {_cname(value.dtype)} for the source."
    )


def __setitem__(self, key, value):
    key = _fix(key)
    if isinstance(value, Tensor) and value.dtype != self.dtype:
        _check_index_put_dtype(self, key, value)
    try:
        _setitem(self, key, value)
    except RuntimeError:
        # PyTorch drops a value's leading size-1 dims before broadcasting it to the indexed
        # shape (x[1] = t.unsqueeze(0) works). Retried only after a shape error, so the
        # ordinary path pays nothing and other errors keep their message.
        k = 0
        shape = value.shape if isinstance(value, Tensor) else ()
        while k < len(shape) and shape[k] == 1:
            k += 1
        if k == 0:
            raise
        try:
            _setitem(self, key, value.reshape(shape[k:]))
        except RuntimeError:
            pass
        else:
            return
        raise


Tensor.__getitem__ = __getitem__
Tensor.__setitem__ = __setitem__
