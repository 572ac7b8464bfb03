"""ember.utils.safetensors: `safetensors.torch`'s functions for ember tensors.

save_file / load_file / save / load (and save_model / load_model) with the same names,
arguments and keys as `safetensors.torch` (a state dict saves under its own keys, e.g.
`0.weight`), built on the real `safetensors` package: its serializer (`serialize`,
`serialize_file`, given numpy buffers) writes the files and its `deserialize` parses and
validates them, so no safetensors reader or writer is hand-written here. bfloat16 goes through
as raw 16-bit data (numpy has no bfloat16, so `safetensors.numpy` alone could not carry it).
"""

import collections

import numpy as np

import ember

__all__ = ["save_file", "load_file", "save", "load", "save_model", "load_model"]

_TO_ST = {
    "float32": "F32",
    "float64": "F64",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
    "complex64": "C64",
}
_FROM_ST = {v: k for k, v in _TO_ST.items()}


def _pkg():
    try:
        import safetensors
    except ImportError as e:  # pragma: no cover - safetensors is a declared dependency
        raise ImportError(
            "ember.utils.safetensors needs the `safetensors` package: pip install safetensors"
        ) from e
    return safetensors


def _specs(tensors, fn):
    """TensorSpecs for `serialize`, plus the numpy buffers they point into (kept alive)."""
    from ..serialization import _tensor_to_bytes

    if not isinstance(tensors, dict):
        raise TypeError(f"{fn}: expected a dict of tensors, got {type(tensors).__name__}")
    pkg = _pkg()
    specs, keep = {}, []
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"{fn}: keys must be str, got {name!r}")
        if not isinstance(t, ember.Tensor):
            raise TypeError(f"{fn}: {name!r} is a {type(t).__name__}, not a Tensor")
        data, dtype_name = _tensor_to_bytes(t)  # contiguous, little-endian, on the host
        buf = np.frombuffer(data, dtype=np.uint8) if data else np.zeros(1, np.uint8)
        keep.append(buf)
        specs[name] = pkg.TensorSpec(
            dtype=dtype_name,  # TensorSpec takes the long names (same as ember's)
            shape=[int(s) for s in t.shape],
            data_ptr=buf.ctypes.data,
            data_len=len(data),
        )
    return specs, keep


def _check_metadata(metadata, fn):
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise TypeError(f"{fn}: metadata must be a Dict[str, str], got {metadata!r}")


def save(tensors, metadata=None):
    """The safetensors bytes of a dict of tensors (`safetensors.torch.save`)."""
    _check_metadata(metadata, "save")
    specs, keep = _specs(tensors, "save")
    out = bytes(_pkg().serialize(specs, metadata=metadata))
    del keep
    return out


def save_file(tensors, filename, metadata=None):
    """Write a dict of tensors to `filename` in safetensors format."""
    _check_metadata(metadata, "save_file")
    specs, keep = _specs(tensors, "save_file")
    _pkg().serialize_file(specs, str(filename), metadata=metadata)
    del keep


def _to_tensors(entries, device):
    from ..serialization import _bytes_to_tensor

    out = collections.OrderedDict()
    for name, info in entries:
        st = info["dtype"]
        if st not in _FROM_ST:
            raise TypeError(f"safetensors: tensor {name!r} has dtype {st}, which ember lacks")
        t = _bytes_to_tensor(info["data"], _FROM_ST[st], list(info["shape"]))
        out[name] = t if str(device) == "cpu" else t.to(device)
    return out


def load(data):
    """A dict of tensors from safetensors bytes (`safetensors.torch.load`)."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"load: expected bytes, got {type(data).__name__}")
    return dict(_to_tensors(_pkg().deserialize(bytes(data)), "cpu"))


def load_file(filename, device="cpu"):
    """A dict of tensors from a safetensors file, on `device`."""
    with open(filename, "rb") as f:
        data = f.read()
    return dict(_to_tensors(_pkg().deserialize(data), device))


def save_model(model, filename, metadata=None, force_contiguous=False):
    """Save `model.state_dict()`, writing tied tensors once (as safetensors.torch does)."""
    sd = model.state_dict()
    seen, keep = set(), {}
    for name, t in sd.items():
        key = (t._storage_id(), t.storage_offset(), tuple(t.shape), tuple(t.stride()))
        if key in seen:
            continue  # a tied weight: load_model restores it through the module
        seen.add(key)
        keep[name] = t
    save_file(keep, filename, metadata=metadata)


def load_model(model, filename, strict=True, device="cpu"):
    """Load a file saved by save_model into `model`; returns (missing, unexpected) keys."""
    state = load_file(filename, device=device)
    own = model.state_dict()
    tied = {k for k in own if k not in state and _is_tied(own, k, state)}
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if k not in tied]
    unexpected = list(result.unexpected_keys)
    if strict and (missing or unexpected):
        raise RuntimeError(
            f"Error(s) in loading state_dict for {type(model).__name__}: missing keys "
            f"{missing}, unexpected keys {unexpected}"
        )
    return missing, unexpected


def _is_tied(own, key, state):
    t = own[key]
    return any(
        other != key and other in state and own[other]._storage_id() == t._storage_id()
        for other in own
    )
