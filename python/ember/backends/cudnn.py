"""ember.backends.cudnn: cuDNN switches. ember has no cuDNN: they are recorded, nothing more."""

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True


def is_available():
    """False: ember does not use cuDNN."""
    return False


def version():
    """None, as PyTorch answers without cuDNN."""
    return None


def is_acceptable(tensor):
    return False
