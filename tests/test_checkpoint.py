"""ember.utils.checkpoint: gradients equal the plain ones, the segment's activations
are not kept after forward (they are recomputed in backward), RNG state is replayed
so dropout masks match, and checkpoint_sequential."""

import gc
import weakref

import numpy as np
import pytest

import ember
from ember import nn
from ember.utils.checkpoint import checkpoint, checkpoint_sequential


def _model(device):
    ember.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)
    ).to(device)


def _grads(model, x):
    return [p.grad.cpu().numpy().copy() for p in model.parameters()] + [x.grad.cpu().numpy().copy()]


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_grads_equal_plain(device, use_reentrant):
    m = _model(device)
    x = ember.randn(5, 4, device=device, requires_grad=True)
    ember.manual_seed(1)
    plain = m(x).pow(2).sum()
    plain.backward()
    want = _grads(m, x)
    m.zero_grad()
    x.grad = None
    ember.manual_seed(1)  # same dropout mask in the first forward ...
    out = checkpoint(m, x, use_reentrant=use_reentrant).pow(2).sum()
    out.backward()  # ... and the recomputation replays it (preserve_rng_state=True)
    assert float(out.item()) == pytest.approx(float(plain.item()), rel=1e-6)
    for g, w in zip(_grads(m, x), want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_checkpoint_sequential_grads_equal_plain(device):
    m = _model(device)
    x = ember.randn(3, 4, device=device, requires_grad=True)
    ember.manual_seed(2)
    m(x).sum().backward()
    want = _grads(m, x)
    m.zero_grad()
    x.grad = None
    ember.manual_seed(2)
    checkpoint_sequential(m, 3, x, use_reentrant=False).sum().backward()
    for g, w in zip(_grads(m, x), want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _graph_nodes(t):
    """Names of every autograd node reachable from t.grad_fn."""
    # keep every visited wrapper alive so no id() is reused during the walk
    seen, todo, names, keep = set(), [t.grad_fn], [], []
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        keep.append(node)
        names.append(node.name() if callable(node.name) else node.name)
        todo.extend(n for n, _ in node.next_functions)
    return names


def test_activations_not_kept_and_recomputed():
    calls = []
    refs = []

    def segment(x):
        calls.append(ember.is_grad_enabled())
        h = x.exp()  # an activation a plain backward keeps (MulBackward saves it)
        refs.append(weakref.ref(h))
        return (h * x).sum()

    x = ember.tensor([0.5, -1.0, 2.0], dtype=ember.float64, requires_grad=True)
    plain = segment(x)
    assert {"ExpBackward0", "MulBackward0"} <= set(_graph_nodes(plain))
    del plain
    y = checkpoint(segment, x, use_reentrant=False)
    gc.collect()
    assert calls == [True, False]  # the checkpointed forward ran without building a graph,
    assert refs[1]() is None  # kept no reference to its activation,
    nodes = _graph_nodes(y)  # and the graph holds one checkpoint node over the input only
    assert "ExpBackward0" not in nodes and "MulBackward0" not in nodes
    assert len([n for n in nodes if "Checkpoint" in n]) == 1
    y.backward()
    assert calls == [True, False, True]  # backward recomputed the segment with grad
    xv = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(xv) * (1 + xv), rtol=1e-12)


def test_non_reentrant_without_input_grad_reaches_parameters():
    lin = nn.Linear(3, 2)
    x = ember.randn(4, 3)  # no input requires grad
    checkpoint(lin, x, use_reentrant=False).sum().backward()
    np.testing.assert_allclose(lin.bias.grad.numpy(), [4.0, 4.0])
    np.testing.assert_allclose(
        lin.weight.grad.numpy(), np.tile(x.numpy().sum(0), (2, 1)), rtol=1e-6
    )


def test_checkpoint_arguments():
    x = ember.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda a: a * 2, x)
    with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
        checkpoint(lambda a: a, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda a, scale: a * scale, x, use_reentrant=True, scale=2.0)
    # keyword arguments pass through with use_reentrant=False
    y = checkpoint(lambda a, scale: a * scale, x, use_reentrant=False, scale=3.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    with ember.no_grad():
        assert not checkpoint(lambda a: a * 2, x, use_reentrant=False).requires_grad
