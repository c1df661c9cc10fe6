"""Curves as people read them (cnnviz.plots.curves and the training figures), runs against their settings
(cnnviz.runs.compare, cnnviz.plots.compare), the recorded layers' figures (cnnviz.plots.probes), the chart export
settings (dashboard.layout)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from cnnviz import i18n
from cnnviz.plots import compare as compare_plots
from cnnviz.plots import probes as pplots
from cnnviz.plots import training as tplots
from cnnviz.plots.curves import CurveView, ema
from cnnviz.runs.compare import CSV_COLUMNS, RunRow, histories_csv, varying_settings
from cnnviz.training import EpochRecord, History, StepRecord
from cnnviz.training.probes import BINS, Probes


def tensorboard_smoothing(values, weight):
    """TensorBoard's own algorithm (its scalar dashboard), written out as it is there."""
    last, num_accum, out = 0.0, 0, []
    for v in values:
        if not np.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        num_accum += 1
        debias = 1.0 if weight == 1 else 1 - weight**num_accum
        out.append(last / debias)
    return out


def test_ema_is_tensorboards_debiased_smoothing():
    assert ema([1, 2, 3], 0.5) == pytest.approx([1.0, 5 / 3, 2.125 / 0.875])
    values = list(np.random.default_rng(0).normal(size=50)) + [float("nan"), 3.0]
    got = ema(values, 0.9)
    want = tensorboard_smoothing(values, 0.9)
    assert np.allclose(got[:50], want[:50]) and np.isnan(got[50]) and got[51] == pytest.approx(want[51])
    assert ema([4.0, 4.0, 4.0], 0.99) == pytest.approx([4.0, 4.0, 4.0])  # no pull towards zero at the start
    assert ema([1, 5], 0.0) == [1.0, 5.0]
    with pytest.raises(ValueError, match="smoothing"):
        ema([1], 1.0)
    with pytest.raises(ValueError, match="x axis"):
        CurveView(x="minutes")


def history() -> History:
    steps = tuple(StepRecord(s, 1 + (s - 1) // 10, 2.0 / s, 0.5 * s, min(1.0, 0.05 * s)) for s in range(1, 21))
    epochs = (EpochRecord(1, 1.0, 0.5, 0.9, 0.6, 5.0, 100.0), EpochRecord(2, 0.5, 0.7, 0.6, 0.75, 10.0, 100.0))
    return History(steps, epochs, "finished", total_epochs=2, steps_per_epoch=10, step=20, elapsed_s=10.0)


def test_curves_follow_the_view():
    h = history()
    plain = tplots.curves_figure(h)
    assert [t.name for t in plain.data].count("training (last few steps)") == 2 and len(plain.data) == 4
    assert list(plain.data[0].x) == pytest.approx([s / 10 for s in range(1, 21)])
    view = CurveView(smoothing=0.6, log_loss=True, x="step")
    fig = tplots.curves_figure(h, view=view)
    faint = [t for t in fig.data if t.opacity == 0.25]
    assert len(faint) == 2 and list(faint[0].y) == [s.loss for s in h.steps]  # the raw line stays, faint
    smooth = next(t for t in fig.data if t.name == "training (last few steps)")
    assert list(smooth.y) == pytest.approx(ema([s.loss for s in h.steps], 0.6)) and list(smooth.x) == list(range(1, 21))
    test = next(t for t in fig.data if t.name == "test (after each epoch)")
    assert list(test.x) == [10, 20]
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text == "step"
    timed = tplots.curves_figure(h, view=CurveView(x="time"))
    assert list(timed.data[0].x) == [s.elapsed_s for s in h.steps] and timed.layout.xaxis.title.text == \
        "wall-clock time (s)"
    compared = tplots.compare_figure([("a", h), ("b", h)], metric="step_loss", view=view)
    assert len(compared.data) == 4 and compared.layout.yaxis.type == "log"
    assert tplots.compare_figure([("a", h)], metric="test_acc", view=view).layout.yaxis.type != "log"
    with i18n.language("ko"):
        assert i18n.has_hangul(tplots.curves_figure(h, view=CurveView(x="time")).layout.xaxis.title.text)


def test_history_csv_has_every_record():
    h = history()
    rows = list(csv.DictReader(io.StringIO(histories_csv([("run 1", h)]))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 22
    steps = [r for r in rows if r["record"] == "step"]
    assert float(steps[4]["train_loss"]) == pytest.approx(2.0 / 5) and steps[4]["epoch"] == "0.5"
    epoch = [r for r in rows if r["record"] == "epoch"][1]
    assert epoch["step"] == "20" and float(epoch["test_accuracy"]) == 0.75 and epoch["run"] == "run 1"


def row(label, best, final, **settings):
    base = {"model": "simple_convnet", "dataset": "fashion_mnist", "optimizer": "adam", "lr": 1e-3, "batch_size": 64,
            "epochs": 3, "train_size": 10_000, "augment": False, "schedule": "constant", "momentum": 0.9,
            "weight_decay": 0.0, "label_smoothing": 0.0, "bf16": False, "seed": 0}
    return RunRow(label, {**base, **settings}, best, final, 3, 30.0, "finished")


def test_parallel_coordinates_name_categories_and_keep_numbers():
    rows = [row("1", 0.85, 0.84, optimizer="sgd", lr=0.01), row("2", 0.88, 0.87, lr=1e-3, augment=True),
            row("3", 0.80, 0.79, optimizer="sgd", lr=0.1, train_size=None)]
    settings = varying_settings(rows)
    assert settings == ["optimizer", "lr", "train_size", "augment"]
    fig = compare_plots.settings_parcoords(rows, settings)
    dims = {d.label: d for d in fig.data[0].dimensions}
    assert list(dims["optimizer"].ticktext) == ["adam", "sgd"] and list(dims["optimizer"].values) == [1, 0, 1]
    assert list(dims["learning rate"].values) == pytest.approx([-2, -3, -1])  # log10, labelled with the values
    assert list(dims["learning rate"].ticktext) == ["0.001", "0.01", "0.1"]
    assert list(dims["training images"].ticktext) == ["10000", "all"]
    assert list(dims["best test accuracy"].values) == [0.85, 0.88, 0.80]
    assert list(fig.data[0].line.color) == [0.85, 0.88, 0.80]


def probes(layers=2, records=5, steps=40) -> Probes:
    rng = np.random.default_rng(0)
    pct = np.sort(rng.normal(size=(records, layers, 9)), axis=2)
    hist = rng.integers(0, 50, size=(records, layers, BINS))
    norms = np.abs(rng.normal(size=(steps, layers))).astype(np.float32) + 0.1
    return Probes(tuple(f"l{i}.weight" for i in range(layers)), ("Conv2d",) * layers, (10,) * layers, 10,
                  np.arange(records) * 10, pct, hist, np.arange(records) * 10, pct, hist, np.arange(1, steps + 1),
                  norms)


def test_probe_figures_show_the_records():
    p = probes()
    ridge = pplots.ridge_figure(p, 1, "gradients")
    assert len(ridge.data) == 5 and "l1 (Conv2d)" in ridge.layout.title.text
    assert max(ridge.data[0].y) == pytest.approx(4 + 2.2) and ridge.data[0].y[0] == 4  # the earliest at the top
    bands = pplots.distribution_figure(p, 0, "weights")
    median = next(t for t in bands.data if t.name == "median")
    assert list(median.y) == pytest.approx(p.weight_pct[:, 0, 4]) and list(median.x) == [0, 1, 2, 3, 4]
    norms = pplots.grad_norm_figure([("a", p), ("b", p)], view=CurveView(x="step"))
    assert len(norms.data) == 4 and norms.layout.yaxis.type == "log" and list(norms.data[0].x) == list(range(1, 41))
    with pytest.raises(ValueError, match="layer 5"):
        pplots.ridge_figure(p, 5)
    many = probes(steps=5_000)
    thin = pplots.grad_norm_figure([("a", many)])
    assert len(thin.data[0].x) <= pplots.MAX_POINTS


def test_every_chart_downloads_png_at_twice_its_size(app_at):
    at = app_at("31_compare_runs.py")
    import json

    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"]["scale"] == 2 and config["toImageButtonOptions"]["format"] == "png"
    assert config["toImageButtonOptions"]["filename"].startswith("cnnviz-")
