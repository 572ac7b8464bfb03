"""Lets `range` objects index tensors, as Python sequences do in PyTorch (`x[range(n), y]`).

The Rust indexer takes ints, slices, lists and tensors; a `range` in the key is turned into a
list here before the call. The check is one type test per key (and one per tuple element only
when the key is a tuple), so ordinary indexing pays almost nothing.
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
    _setitem(self, _fix(key), value)


Tensor.__getitem__ = __getitem__
Tensor.__setitem__ = __setitem__
