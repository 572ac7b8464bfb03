"""ember.random: global RNG control."""

import contextlib

from . import _C

_last_seed = [67280421310721]


def _seeded(seed):
    _last_seed[0] = seed


def manual_seed(seed):
    from . import _ops

    return _ops.manual_seed(seed)


def seed():
    from . import _ops

    return _ops.seed()


def initial_seed():
    return _C.initial_seed()


def get_rng_state():
    from . import _ops

    return _ops.get_rng_state()


def set_rng_state(state):
    from . import _ops

    _ops.set_rng_state(state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, **kw):
    yield
