"""`ember.onnx`: importable so programs that import torch.onnx run; exporting is not available.

Programs such as pytorch/examples' word_language_model `import torch.onnx` at the top and export
only when asked. `is_in_onnx_export()` is False (as in PyTorch outside an export); `export` and
`dynamo_export` raise NotImplementedError naming what was asked.
"""

import enum

__all__ = ["export", "dynamo_export", "is_in_onnx_export", "TrainingMode", "OperatorExportTypes"]


class TrainingMode(enum.IntEnum):
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


def is_in_onnx_export():
    """False: ember never runs a model inside an ONNX export."""
    return False


def export(model, args=(), f=None, *a, **kw):
    """Not available: ember has no ONNX exporter."""
    raise NotImplementedError(
        f"ember.onnx.export({type(model).__name__}, f={f!r}): ember has no ONNX exporter"
    )


def dynamo_export(model, *args, **kwargs):
    """Not available: ember has no ONNX exporter."""
    raise NotImplementedError(
        f"ember.onnx.dynamo_export({type(model).__name__}): ember has no ONNX exporter"
    )
