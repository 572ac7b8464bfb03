"""ember.backends.cpu: CPU capability query."""


def get_cpu_capability():
    """ember's CPU kernels are portable Rust; it reports PyTorch's baseline level."""
    return "DEFAULT"
