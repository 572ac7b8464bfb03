"""ember.backends.mkldnn: oneDNN switches. ember does not use oneDNN."""

enabled = True
deterministic = False
allow_tf32 = True


def is_available():
    return False
