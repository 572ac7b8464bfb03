"""SummaryWriter with PyTorch's API, writing through the `tensorboard` package.

Events go through `tensorboard.summary.writer.event_file_writer.EventFileWriter` as
`tensorboard.compat.proto` Event/Summary protos; plugin metadata (text, hparams) comes from the
plugins' own `metadata.create_summary_metadata`. Nothing here encodes protobuf by hand. Values
may be ember tensors, numpy arrays or Python numbers. Images are PNG-encoded with Pillow.

`add_graph` raises NotImplementedError: ember has no tracer to record a model's graph.
"""

import io
import math
import os
import socket
import time
from datetime import datetime

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.summary.writer.event_file_writer import EventFileWriter

import ember

__all__ = ["SummaryWriter"]


def _np(x, what="value"):
    """An ember tensor, numpy array or Python number as a numpy array."""
    if isinstance(x, ember.Tensor):
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        if x.dtype == ember.bfloat16:
            x = x.float()
        return x.numpy()
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    if isinstance(x, (int, float, bool)):
        return np.array(x)
    if hasattr(x, "__array__"):
        return np.asarray(x)
    raise NotImplementedError(
        f"Got {type(x).__name__}, but expected an ember Tensor, numpy array or Python number "
        f"for {what}"
    )


def _scalar(x, what):
    a = _np(x, what)
    if a.size != 1:
        raise ValueError(f"{what}: expected a scalar (one element), got shape {a.shape}")
    return float(a.reshape(()))


class _FileWriter:
    """One event file: the tensorboard writer plus PyTorch's FileWriter helpers."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else float(walltime)
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(Event(summary=summary), global_step, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()


def _default_bins():
    # TensorFlow's default histogram buckets: +-1e-12 growing by 10% up to 1e20, and 0
    v, pos = 1e-12, []
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return [-x for x in reversed(pos)] + [0.0] + pos


def _histogram_proto(values, bins, max_bins=None):
    values = _np(values, "add_histogram values").astype(np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("The input has no element.")
    if bins == "tensorflow":
        bins = _default_bins()
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        # merge groups of len // max_bins neighbouring buckets (PyTorch's rule, which can
        # leave slightly more than max_bins buckets)
        sub = len(counts) // max_bins
        pad = (-len(counts)) % sub
        counts = np.pad(counts, (0, pad)).reshape(-1, sub).sum(axis=-1)
        limits = np.concatenate([limits[:-1:sub], limits[-1:]])
    nz = np.nonzero(counts)[0]
    if nz.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    start, end = int(nz[0]), int(nz[-1]) + 1
    # TensorBoard buckets are right edges: keep one empty bucket left of the data (whose edge
    # is the histogram's left edge when the data starts in the first bucket), as PyTorch does
    if start > 0:
        counts, limits = counts[start - 1 : end], limits[start : end + 1]
    else:
        counts, limits = np.concatenate([[0], counts[:end]]), limits[: end + 1]
    return HistogramProto(
        min=float(values.min()),
        max=float(values.max()),
        num=int(values.size),
        sum=float(values.sum()),
        sum_squares=float(np.dot(values, values)),
        bucket_limit=limits.tolist(),
        bucket=counts.astype(np.float64).tolist(),
    )


def _make_grid(imgs, ncols=8):
    """NCHW images -> one CHW image, row-major, 8 per row (PyTorch's tensorboard grid)."""
    if imgs.shape[1] == 1:
        imgs = np.concatenate([imgs] * 3, 1)
    n, c, h, w = imgs.shape
    ncols = min(n, ncols)
    nrows = int(math.ceil(n / ncols))
    canvas = np.zeros((c, h * nrows, w * ncols), dtype=imgs.dtype)
    for i in range(n):
        y, x = divmod(i, ncols)
        canvas[:, y * h : (y + 1) * h, x * w : (x + 1) * w] = imgs[i]
    return canvas


def _to_hwc(img, dataformats):
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt):
        raise ValueError(f"You can not use the same dimension shordhand twice. input_format: {fmt}")
    if img.ndim != len(fmt):
        raise AssertionError(
            f"size of input tensor and input format are different. tensor shape: {img.shape}, "
            f"input_format: {fmt}"
        )
    if len(fmt) == 4:
        if not set(fmt) == set("NCHW"):
            raise ValueError(f"unsupported dataformats {dataformats!r} for a batch of images")
        nchw = img.transpose([fmt.index(d) for d in "NCHW"])
        return _make_grid(nchw).transpose(1, 2, 0)
    if len(fmt) == 3:
        if not set(fmt) == set("CHW"):
            raise ValueError(f"unsupported dataformats {dataformats!r} for an image")
        hwc = img.transpose([fmt.index(d) for d in "HWC"])
        return np.concatenate([hwc] * 3, 2) if hwc.shape[2] == 1 else hwc
    if len(fmt) == 2:
        if not set(fmt) == set("HW"):
            raise ValueError(f"unsupported dataformats {dataformats!r} for a gray image")
        hw = img.transpose([fmt.index(d) for d in "HW"])
        return np.stack([hw] * 3, 2)
    raise ValueError(f"unsupported dataformats {dataformats!r}")


def _image_proto(img, dataformats):
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - Pillow comes with matplotlib
        raise ImportError("add_image needs Pillow to encode PNG: pip install pillow") from e
    arr = _np(img, "add_image img_tensor")
    hwc = _to_hwc(arr, dataformats)
    if hwc.shape[2] not in (1, 3, 4):
        raise ValueError(f"an image needs 1, 3 or 4 channels, got {hwc.shape[2]}")
    scale = 1 if hwc.dtype == np.uint8 else 255  # float images are in [0, 1]
    hwc = np.clip(hwc.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    h, w, c = hwc.shape
    buf = io.BytesIO()
    Image.fromarray(hwc if c != 1 else hwc[:, :, 0]).save(buf, format="PNG")
    return Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=buf.getvalue())


def _figure_to_hwc(figure, close):
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    if close:
        plt.close(figure)
    return rgba[:, :, :3].copy()


class SummaryWriter:
    """Writes TensorBoard event files (PyTorch's torch.utils.tensorboard.SummaryWriter)."""

    def __init__(
        self,
        log_dir=None,
        comment="",
        purge_step=None,
        max_queue=10,
        flush_secs=120,
        filename_suffix="",
    ):
        if not log_dir:
            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = None
        self.all_writers = None
        self._get_file_writer()

    def _get_file_writer(self):
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = _FileWriter(
                self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix
            )
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                step = self.purge_step
                self.file_writer.add_event(Event(file_version="brain.Event:2"), step)
                self.file_writer.add_event(
                    Event(session_log=SessionLog(status=SessionLog.START)), step
                )
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    # ------------------------------------------------------------------ scalars
    def add_scalar(
        self,
        tag,
        scalar_value,
        global_step=None,
        walltime=None,
        new_style=False,
        double_precision=False,
    ):
        value = _scalar(scalar_value, f"add_scalar({tag!r})")
        if new_style:
            from tensorboard.plugins.scalar import metadata

            tensor = TensorProto(
                dtype="DT_DOUBLE" if double_precision else "DT_FLOAT",
                tensor_shape=TensorShapeProto(),
            )
            if double_precision:
                tensor.double_val.append(value)
            else:
                tensor.float_val.append(value)
            smd = metadata.create_summary_metadata(display_name="", description="")
            summary = Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=smd)])
        else:
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Each tag goes to its own run, `<log_dir>/<main_tag>_<tag>`, as in PyTorch."""
        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, scalar_value in tag_scalar_dict.items():
            fw_tag = fw_logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            if fw_tag not in self.all_writers:
                self.all_writers[fw_tag] = _FileWriter(
                    fw_tag, self.max_queue, self.flush_secs, self.filename_suffix
                )
            value = _scalar(scalar_value, f"add_scalars({main_tag!r}, {tag!r})")
            summary = Summary(value=[Summary.Value(tag=main_tag, simple_value=value)])
            self.all_writers[fw_tag].add_summary(summary, global_step, walltime)

    # ---------------------------------------------------------------- histograms
    def add_histogram(
        self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None
    ):
        hist = _histogram_proto(values, bins, max_bins)
        summary = Summary(value=[Summary.Value(tag=tag, histo=hist)])
        self._get_file_writer().add_summary(summary, global_step, walltime)

    # -------------------------------------------------------------------- images
    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        image = _image_proto(img_tensor, dataformats)
        summary = Summary(value=[Summary.Value(tag=tag, image=image)])
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        image = _image_proto(img_tensor, dataformats)
        summary = Summary(value=[Summary.Value(tag=tag, image=image)])
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them, as a grid) rendered as an image."""
        if isinstance(figure, list):
            imgs = np.stack([_figure_to_hwc(f, close) for f in figure])
            self.add_images(tag, imgs, global_step, walltime, dataformats="NHWC")
        else:
            self.add_image(tag, _figure_to_hwc(figure, close), global_step, walltime, "HWC")

    # ---------------------------------------------------------------------- text
    def add_text(self, tag, text_string, global_step=None, walltime=None):
        from tensorboard.plugins.text import metadata

        smd = metadata.create_summary_metadata(display_name="", description="")
        tensor = TensorProto(
            dtype="DT_STRING",
            string_val=[str(text_string).encode("utf-8")],
            tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
        )
        summary = Summary(
            value=[Summary.Value(tag=tag + "/text_summary", metadata=smd, tensor=tensor)]
        )
        self._get_file_writer().add_summary(summary, global_step, walltime)

    # ------------------------------------------------------------------- hparams
    def add_hparams(
        self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None
    ):
        """Hyperparameters and metrics for TensorBoard's HParams tab (a run per call)."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        exp, ssi, sei = _hparams_summaries(hparam_dict, metric_dict, hparam_domain_discrete)
        if not run_name:
            run_name = str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as w_hp:
            w_hp.file_writer.add_summary(exp, global_step)
            w_hp.file_writer.add_summary(ssi, global_step)
            w_hp.file_writer.add_summary(sei, global_step)
            for k, v in metric_dict.items():
                w_hp.add_scalar(k, v, global_step)

    # --------------------------------------------------------------------- graph
    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        raise NotImplementedError(
            "SummaryWriter.add_graph: ember has no tracer (torch.jit.trace) to record a model's "
            "graph; log scalars, histograms of parameters, or the model's repr with add_text"
        )

    # ------------------------------------------------------------------- control
    def flush(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        if self.all_writers is None:
            return  # already closed
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()


def _hparams_summaries(hparam_dict, metric_dict, hparam_domain_discrete):
    """The experiment, session-start and session-end summaries of PyTorch's hparams()."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    hparam_domain_discrete = hparam_domain_discrete or {}
    for k, v in hparam_domain_discrete.items():
        if k not in hparam_dict or not isinstance(v, list) or not v:
            raise TypeError(
                f"parameter: hparam_domain_discrete[{k!r}] should be a non-empty list of the "
                "values hparam_dict[k] can take"
            )
    ssi = plugin_data_pb2.SessionStartInfo()
    infos = []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, ember.Tensor):
            v = _scalar(v, f"hparam {k!r}")
        if isinstance(v, bool):
            ssi.hparams[k].bool_value = v
            dtype = "DATA_TYPE_BOOL"
        elif isinstance(v, (int, float)):
            ssi.hparams[k].number_value = v
            dtype = "DATA_TYPE_FLOAT64"
        elif isinstance(v, str):
            ssi.hparams[k].string_value = v
            dtype = "DATA_TYPE_STRING"
        else:
            raise ValueError(f"value should be one of int, float, str, bool, or Tensor: {k}={v!r}")
        info = api_pb2.HParamInfo(name=k, type=api_pb2.DataType.Value(dtype))
        if k in hparam_domain_discrete:
            from google.protobuf import struct_pb2

            info.domain_discrete.CopyFrom(
                struct_pb2.ListValue(values=[_pb_value(x) for x in hparam_domain_discrete[k]])
            )
        infos.append(info)

    def summary(tag, **content):
        data = plugin_data_pb2.HParamsPluginData(version=metadata.PLUGIN_DATA_VERSION, **content)
        smd = metadata.create_summary_metadata(data)
        return Summary(value=[Summary.Value(tag=tag, metadata=smd)])

    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict]
    exp = summary(
        metadata.EXPERIMENT_TAG,
        experiment=api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics),
    )
    ssi_summary = summary(metadata.SESSION_START_INFO_TAG, session_start_info=ssi)
    sei = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS"))
    sei_summary = summary(metadata.SESSION_END_INFO_TAG, session_end_info=sei)
    return exp, ssi_summary, sei_summary


def _pb_value(x):
    from google.protobuf import struct_pb2

    if isinstance(x, bool):
        return struct_pb2.Value(bool_value=x)
    if isinstance(x, (int, float)):
        return struct_pb2.Value(number_value=x)
    return struct_pb2.Value(string_value=str(x))
