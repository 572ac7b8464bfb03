"""ember.backends.opt_einsum: ember's einsum orders contractions itself, without opt_einsum."""

enabled = False
strategy = None


def is_available():
    """False: ember does not use the opt_einsum package."""
    return False


def get_opt_einsum():
    return None
