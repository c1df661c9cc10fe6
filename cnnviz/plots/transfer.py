"""Plotly figures for transfer-learning comparisons (no streamlit here)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from cnnviz.transfer import STRATEGIES, ComparisonProgress, ComparisonResult, StrategyResult
from ..i18n import _
from .text import short_lines

__all__ = ["STRATEGY_COLOURS", "accuracy_figure", "live_results", "shots_figure", "weight_change_figure"]

STRATEGY_COLOURS = {"scratch": "#7f7f7f", "frozen": "#1f77b4", "last_block": "#ff7f0e", "full": "#2ca02c"}
_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]


def live_results(progress: ComparisonProgress) -> tuple[StrategyResult, ...]:
    """The finished strategies of a running comparison plus the one training now (its epochs so far)."""
    runs = list(progress.done)
    h = progress.history
    if progress.phase == "training" and progress.strategy and h is not None and len(runs) == progress.index:
        from cnnviz.transfer import ParamCounts

        runs.append(StrategyResult(progress.strategy, "running", "", h.epochs, ParamCounts(0, 0),
                                   initial_test_acc=progress.initial_test_acc))
    return tuple(runs)


def accuracy_figure(results: ComparisonResult | Sequence[ComparisonResult] | Sequence[StrategyResult], *,
                    x: str = "epoch", labels: Sequence[str] | None = None, height: int = 420) -> go.Figure:
    """Test accuracy per strategy against epoch (``x="epoch"``) or wall-clock seconds (``x="time"``).

    Several comparisons overlay: colour = strategy, line style = comparison. Every curve starts at the
    accuracy before training (epoch 0, 0 s) when it is known.
    """
    if x not in ("epoch", "time"):
        raise ValueError(_("x must be 'epoch' or 'time', got {x!r}").format(x=x))
    if isinstance(results, ComparisonResult):
        groups = [results.runs]
    elif results and isinstance(results[0], StrategyResult):
        groups = [tuple(results)]  # type: ignore[arg-type]
    else:
        groups = [r.runs for r in results]  # type: ignore[union-attr]
    names = list(labels) if labels is not None else [f"#{i + 1}" for i in range(len(groups))]
    fig = go.Figure()
    for g, runs in enumerate(groups):
        for run in runs:
            xs = [e.epoch if x == "epoch" else e.elapsed_s for e in run.epochs]
            ys = [e.test_acc for e in run.epochs]
            if np.isfinite(run.initial_test_acc):
                xs, ys = [0, *xs], [run.initial_test_acc, *ys]
            title = _(STRATEGIES[run.strategy].title) if run.strategy in STRATEGIES else run.strategy
            name = title if len(groups) == 1 else f"{names[g]} · {title}"
            if run.status == "running":
                name += " " + _("(training…)")
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines+markers", name=name,
                line={"color": STRATEGY_COLOURS.get(run.strategy), "dash": _DASHES[g % len(_DASHES)], "width": 2.5},
                hovertemplate=(_("epoch %{x}") if x == "epoch" else "%{x:.1f} s") + "<br>"
                              + _("test accuracy %{y:.1%}") + "<extra>" + name.replace("%", "%%") + "</extra>"))
    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 40, "b": 50}, legend={"orientation": "h", "y": -0.2},
                      title={"text": _("Test accuracy against epoch") if x == "epoch" else
                             _("Test accuracy against training time"), "font": {"size": 15}})
    fig.update_xaxes(title=_("epoch") if x == "epoch" else _("wall-clock training time (s)"),
                     dtick=1 if x == "epoch" else None, rangemode="tozero")
    fig.update_yaxes(title=_("test accuracy"), tickformat=".0%", rangemode="tozero")
    return fig


def _labels(changes) -> list[str]:
    """Short column labels: conv1, conv2, … for the base's convolutions, dense, dense_1, … for dense layers (Keras names)."""
    out, convs, dense = [], 0, 0
    for c in changes:
        if c.kind == "Conv2d":
            convs += 1
            out.append(f"conv{convs}")
        else:
            out.append("dense" if dense == 0 else f"dense_{dense}")
            dense += 1
    return out


def weight_change_figure(result: ComparisonResult | Sequence[StrategyResult], *, height: int | None = None) -> go.Figure:
    """A heat map: one row per strategy, one column per conv/dense layer, colour = |ΔW|/|W| after training.

    Frozen layers are exactly 0. Hover shows the layer's name, kind and parameter count.
    """
    runs = [r for r in (result.runs if isinstance(result, ComparisonResult) else result) if r.changes]
    if not runs:
        raise ValueError(_("no weight changes recorded yet: train at least one strategy"))
    layers = [c.name for c in runs[0].changes]
    z = np.full((len(runs), len(layers)), np.nan)
    hover = np.empty((len(runs), len(layers)), dtype=object)
    for i, r in enumerate(runs):
        by = {c.name: c for c in r.changes}
        for j, name in enumerate(layers):
            c = by.get(name)
            if c is None:
                hover[i, j] = ""
                continue
            z[i, j] = c.relative
            hover[i, j] = (_("{name} ({kind}, {params:,} parameters)").format(name=name, kind=c.kind, params=c.params)
                           + "<br>" + (_("trained") if c.trainable else _("frozen"))
                           + f"<br>|ΔW|/|W| = {c.relative:.4f}")
    rows = [_(STRATEGIES[r.strategy].title) if r.strategy in STRATEGIES else r.strategy for r in runs]
    text = np.where(np.isfinite(z), np.vectorize(lambda v: f"{v:.2f}" if v >= 0.005 else ("0" if v == 0 else "<.01"))(
        np.nan_to_num(z)), "")
    fig = go.Figure(go.Heatmap(
        z=z, x=_labels(runs[0].changes), y=rows, customdata=hover, hovertemplate="%{customdata}<extra></extra>",
        colorscale="Viridis", zmin=0, colorbar={"title": "|ΔW|/|W|"},
        text=text if len(layers) <= 24 else None, texttemplate="%{text}" if len(layers) <= 24 else None))
    # titles in short lines and margins that make room for the labels: a phone shows the whole figure
    fig.update_layout(height=height or 180 + 55 * len(runs), margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      title={"text": short_lines(_("How far each layer's weights moved during training"), 40),
                             "font": {"size": 15}})
    fig.update_xaxes(title=short_lines(_("layer: the pretrained base's convolutions, then the new head (input side → "
                                         "output side)"), 40),
                     tickangle=-45 if len(layers) > 12 else 0, automargin=True)
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def shots_figure(results: Sequence[ComparisonResult], *, height: int = 380) -> go.Figure:
    """Final test accuracy against labelled images per class, one line per strategy, over several comparisons.

    Raises ``ValueError`` unless at least two comparisons with different numbers of labels are given.
    """
    by_shots = {}
    for r in results:
        if r.config.shots is not None:
            by_shots.setdefault(r.config.shots, r)  # newest first in the lists the pages pass
    if len(by_shots) < 2:
        raise ValueError(_("choose comparisons with at least two different numbers of labelled images per class"))
    fig = go.Figure()
    for key, strategy in STRATEGIES.items():
        pts = sorted((shots, run.final_acc) for shots, r in by_shots.items() for run in r.runs if run.strategy == key)
        if pts:
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                     name=_(strategy.title), line={"color": STRATEGY_COLOURS[key], "width": 2.5},
                                     hovertemplate=_("%{x} labels per class<br>final test accuracy %{y:.1%}")
                                     + "<extra>" + _(strategy.title) + "</extra>"))
    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 40, "b": 50}, legend={"orientation": "h", "y": -0.25},
                      title={"text": _("Final test accuracy against labelled images per class"), "font": {"size": 15}})
    fig.update_xaxes(title=_("labelled training images per class (log scale)"), type="log", tickvals=sorted(by_shots))
    fig.update_yaxes(title=_("final test accuracy"), tickformat=".0%")
    return fig
