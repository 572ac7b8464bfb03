"""ember.device: "cpu" and "gpu" ("cuda" and "mps" are aliases of "gpu")."""

_ALIASES = {
    "cpu": "cpu",
    "gpu": "gpu",
    "cuda": "gpu",
    "mps": "gpu",
    "vulkan": "gpu",
    "metal": "gpu",
}


class device:
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            self.type, self.index = "gpu", type
            return
        if not isinstance(type, str):
            raise TypeError(f"device() expected a string or device, got {type!r}")
        s = type.strip().lower()
        if ":" in s:
            s, _, i = s.partition(":")
            try:
                index = int(i)
            except ValueError:
                raise RuntimeError(f"Invalid device string: '{type}'") from None
        if s not in _ALIASES:
            raise RuntimeError(
                f"Expected one of cpu, gpu, cuda, mps device type at start of device string: {type}"
            )
        self.type = _ALIASES[s]
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    # `with ember.device("gpu"):` makes it the factories' default device inside the block.
    def __enter__(self):
        _default_stack.append(_default[0])
        _default[0] = self
        return self

    def __exit__(self, *exc):
        _default[0] = _default_stack.pop()


_default = [None]  # None: the CPU
_default_stack = []


def set_default_device(device):
    """Device that factories (zeros, rand, tensor, nn layers' parameters...) use when none is given."""
    _default[0] = None if device is None else _as_device(device)


def get_default_device():
    return _default[0] if _default[0] is not None else device("cpu")


def _as_device(d):
    if d is None:
        return None
    return d if isinstance(d, device) else device(d)
