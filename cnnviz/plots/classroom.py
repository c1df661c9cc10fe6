"""Plotly figures of the teacher's Class page: chosen runs of the whole class overlaid on one chart."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from ..classroom import ClassRun
from ..i18n import N_, _
from .training import accuracy_range

__all__ = ["CLASS_METRICS", "class_overlay_figure"]

CLASS_METRICS = {"test_acc": N_("Test accuracy"), "test_loss": N_("Test loss"), "train_loss": N_("Training loss")}


def class_overlay_figure(runs: Sequence[ClassRun], metric: str = "test_acc", *, height: int = 420) -> go.Figure:
    """One line per run: ``metric`` after each epoch, named by the student's session tag (a run's name can be anything:
    the tag tells who started it), the run's name and its settings."""
    if metric not in CLASS_METRICS:
        raise ValueError(_("unknown metric {metric!r}; choose one of {choices}").format(
            metric=metric, choices=", ".join(CLASS_METRICS)))
    fig = go.Figure()
    for run in runs:
        epochs = run.info.history.epochs if run.info.history else ()
        who = " ".join(t for t in (f"#{run.student}", run.label) if t)
        name = "{who} · {model} · {settings}".format(who=who, model=run.model, settings=run.settings)
        fig.add_trace(go.Scatter(
            x=[e.epoch for e in epochs], y=[getattr(e, metric) for e in epochs], mode="lines+markers", name=name,
            hovertemplate=_("epoch %{x}<br>value %{y:.4f}") + "<extra>" + name.replace("%", "%%") + "</extra>"))
    percent = metric == "test_acc"
    fig.update_layout(
        height=height, margin={"l": 60, "r": 20, "t": 40, "b": 50},
        xaxis={"title": {"text": _("Epoch")}, "dtick": 1},
        yaxis={"title": {"text": _(CLASS_METRICS[metric])}, "tickformat": ".1%" if percent else ".3f",
               **({"range": accuracy_range([y for t in fig.data for y in t.y])} if percent else {})},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
