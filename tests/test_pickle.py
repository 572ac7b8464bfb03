"""Tensors through pickle (DataLoader workers, multiprocessing queues, copy.deepcopy):
values, dtype, requires_grad and device come back as they went, as in PyTorch."""

import copy
import pickle

import numpy as np
import pytest

import ember

DTYPES = [
    ember.float32,
    ember.float16,
    ember.bfloat16,
    ember.int64,
    ember.int32,
    ember.int16,
    ember.int8,
    ember.uint8,
    ember.bool,
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_pickle_round_trip_keeps_values_dtype_and_device(device, dtype):
    x = ember.tensor([[1.5, -2.0, 0.0], [3.0, 120.0, -0.25]]).to(dtype)
    if device == "gpu" and dtype == ember.bfloat16:
        pytest.skip("bfloat16 is not stored on the gpu device")
    x = x.to(device)
    y = pickle.loads(pickle.dumps(x))
    assert y.dtype == dtype and y.device.type == device and y.shape == x.shape
    assert ember.equal(y.cpu(), x.cpu())


def test_bfloat16_extremes_are_exact():
    x = ember.tensor([3.0e38, -1.0e-38, 1.5, float("inf")], dtype=ember.bfloat16)
    y = pickle.loads(pickle.dumps(x))
    np.testing.assert_array_equal(y.float().numpy(), x.float().numpy())


def test_requires_grad_and_deepcopy(device):
    w = ember.ones(3, device=device, requires_grad=True)
    v = pickle.loads(pickle.dumps(w))
    assert v.requires_grad and v.is_leaf and v.device.type == device
    m = copy.deepcopy(ember.nn.Linear(2, 3).to(device))
    assert m.weight.device.type == device and m.weight.requires_grad
