"""ember.utils.tensorboard.SummaryWriter, read back with TensorBoard's own EventAccumulator.

By hand, the same calls through PyTorch 2.15's SummaryWriter gave identical scalars,
histograms (default, bins=4 and max_bins), decoded images, text and hparams content.
"""

import io
import os

import numpy as np
import pytest

import ember

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402
from tensorboard.plugins.hparams import metadata as hp_metadata  # noqa: E402

from ember.utils.tensorboard import SummaryWriter  # noqa: E402


def _acc(path):
    acc = event_accumulator.EventAccumulator(
        str(path), size_guidance={event_accumulator.IMAGES: 0, event_accumulator.TENSORS: 0}
    )
    acc.Reload()
    return acc


def test_scalars_from_tensors_arrays_and_numbers(tmp_path, device):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("loss", ember.tensor(0.5).to(device), 0)
        w.add_scalar("loss", np.float32(0.25), 1)
        w.add_scalar("loss", 0.125, 2, walltime=1234.5)
        w.add_scalar("acc", ember.tensor([0.75]).to(device), 3, new_style=True)
        with pytest.raises(ValueError, match="expected a scalar"):
            w.add_scalar("bad", ember.ones(2), 0)
    acc = _acc(tmp_path)
    ev = acc.Scalars("loss")
    assert [(e.step, e.value) for e in ev] == [(0, 0.5), (1, 0.25), (2, 0.125)]
    assert ev[2].wall_time == 1234.5
    t = acc.Tensors("acc")[0]
    assert t.step == 3 and t.tensor_proto.float_val == [0.75]
    assert acc.SummaryMetadata("acc").plugin_data.plugin_name == "scalars"


def test_add_scalars_writes_one_run_per_tag(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalars("run/loss", {"train": 1.0, "val": ember.tensor(2.0)}, 5)
    assert {"run_loss_train", "run_loss_val"} <= set(os.listdir(tmp_path))
    train = _acc(tmp_path / "run_loss_train").Scalars("run/loss")
    val = _acc(tmp_path / "run_loss_val").Scalars("run/loss")
    assert [(e.step, e.value) for e in train] == [(5, 1.0)]
    assert [(e.step, e.value) for e in val] == [(5, 2.0)]


def test_histogram_statistics_and_buckets(tmp_path, device):
    vals = np.array([-1.5, -0.25, 0.0, 0.5, 0.5, 2.0, 3.0], dtype=np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", ember.tensor(vals).to(device), 7)
        w.add_histogram("np", vals, 8, bins=4)
        w.add_histogram("max", np.arange(100.0), 9, bins=50, max_bins=8)
    acc = _acc(tmp_path)
    h = acc.Histograms("w")[0].histogram_value
    assert acc.Histograms("w")[0].step == 7
    assert (h.min, h.max, h.num) == (-1.5, 3.0, 7)
    assert h.sum == pytest.approx(vals.astype(np.float64).sum())
    assert h.sum_squares == pytest.approx(float((vals.astype(np.float64) ** 2).sum()))
    assert sum(h.bucket) == 7
    # every value lies in the bucket whose right edge is the first limit >= value
    limits = np.array(h.bucket_limit)
    for v in vals:
        assert limits[np.searchsorted(limits, v)] >= v
    h4 = acc.Histograms("np")[0].histogram_value
    counts, edges = np.histogram(vals.astype(np.float64), bins=4)
    # data in the first bucket: an empty bucket ending at the left edge comes first (PyTorch)
    assert list(h4.bucket) == [0.0] + counts.tolist() and list(h4.bucket_limit) == edges.tolist()
    # PyTorch 2.15's SummaryWriter wrote these for np.arange(100.0), bins=50, max_bins=8
    # (checked by hand; 50 // 8 = 6 buckets are merged into one)
    hm = acc.Histograms("max")[0].histogram_value
    assert list(hm.bucket) == [0.0] + [12.0] * 8 + [4.0]
    np.testing.assert_allclose(
        hm.bucket_limit, [0.0, 11.88, 23.76, 35.64, 47.52, 59.4, 71.28, 83.16, 95.04, 99.0]
    )
    with SummaryWriter(tmp_path / "e") as w, pytest.raises(ValueError, match="no element"):
        w.add_histogram("empty", np.zeros(0))


def _decode(image_event):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(image_event.encoded_image_string)))


def test_images_chw_hwc_gray_and_batches(tmp_path, device):
    chw = np.zeros((3, 4, 5), dtype=np.float32)
    chw[0] = 1.0  # red
    chw[2, 1, 2] = 0.5
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", ember.tensor(chw).to(device), 1)
        w.add_image("hwc", chw.transpose(1, 2, 0), 2, dataformats="HWC")
        w.add_image("gray", np.full((4, 5), 255, dtype=np.uint8), 3, dataformats="HW")
        w.add_images("batch", np.ones((10, 1, 2, 3), dtype=np.float32), 4)
        with pytest.raises(AssertionError, match="input format are different"):
            w.add_image("bad", np.zeros((2, 2)), 0)
    acc = _acc(tmp_path)
    want = np.clip(chw.transpose(1, 2, 0) * 255, 0, 255).astype(np.uint8)
    for tag in ("chw", "hwc"):
        ev = acc.Images(tag)[0]
        assert (ev.height, ev.width) == (4, 5)
        np.testing.assert_array_equal(_decode(ev), want)
    np.testing.assert_array_equal(_decode(acc.Images("gray")[0]), np.full((4, 5, 3), 255))
    grid = acc.Images("batch")[0]  # 10 images, 8 per row -> 2 rows
    assert (grid.height, grid.width) == (4, 24)
    g = _decode(grid)
    assert g[:2].min() == 255 and g[2:, :6].min() == 255 and g[2:, 6:].max() == 0


def test_text_hparams_and_figure(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "hello **ember**", 2)
        w.add_hparams({"lr": 0.1, "opt": "adam", "bn": True}, {"hparam/loss": 0.5}, run_name="r1")
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(2, 1), dpi=50)
        plt.plot([0, 1], [0, 1])
        w.add_figure("fig", fig, 3)
    acc = _acc(tmp_path)
    t = acc.Tensors("notes/text_summary")[0]
    assert t.step == 2 and t.tensor_proto.string_val == [b"hello **ember**"]
    assert acc.SummaryMetadata("notes/text_summary").plugin_data.plugin_name == "text"
    img = acc.Images("fig")[0]
    assert (img.height, img.width) == (50, 100)
    hp = _acc(tmp_path / "r1")
    content = hp.PluginTagToContent("hparams")
    ssi = hp_metadata.parse_session_start_info_plugin_data(
        content[hp_metadata.SESSION_START_INFO_TAG]
    )
    assert ssi.hparams["lr"].number_value == 0.1 and ssi.hparams["opt"].string_value == "adam"
    assert ssi.hparams["bn"].bool_value is True
    exp = hp_metadata.parse_experiment_plugin_data(content[hp_metadata.EXPERIMENT_TAG])
    assert [m.name.tag for m in exp.metric_infos] == ["hparam/loss"]
    assert [(e.step, e.value) for e in hp.Scalars("hparam/loss")] == [(0, 0.5)]


def test_default_log_dir_graph_and_close(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_exp")
    logdir = w.get_logdir()
    assert logdir.startswith("runs" + os.sep) and logdir.endswith("_exp")
    import socket

    assert socket.gethostname() in logdir
    with pytest.raises(NotImplementedError, match="no tracer"):
        w.add_graph(ember.nn.Linear(2, 2), ember.ones(1, 2))
    w.add_scalar("x", 1.0, 0)
    w.flush()
    w.close()
    w.close()  # closing twice is fine, as in PyTorch
    assert _acc(logdir).Scalars("x")[0].value == 1.0
