"""Lets `range` objects index tensors, as Python sequences do in PyTorch (`x[range(n), y]`).

The Rust indexer takes ints, slices, lists and tensors; a `range` in the key is turned into a
list here before the call. The check is one type test per key (and one per tuple element only
when the key is a tuple), so ordinary indexing pays almost nothing. A value with leading size-1
dims that does not fit is retried without them, as PyTorch does.
"""

from ._C import Tensor

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


def __setitem__(self, key, value):
    key = _fix(key)
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
