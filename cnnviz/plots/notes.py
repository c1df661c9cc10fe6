"""The lecture notes' own plots of their MNIST runs, drawn from a cnnviz training history.

- ``epochs`` (the PyTorch notes): the training and test loss after every epoch, and the test accuracy;
- ``steps`` (the TensorFlow notes): the training accuracy every 100 steps, and the test accuracy at the end.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import _
from ..training import History

__all__ = ["NOTES_PLOTS", "notes_figure"]

NOTES_PLOTS = ("epochs", "steps")
_BLUE, _RED, _GREEN = "#1f77b4", "#d62728", "#2ca02c"


def notes_figure(history: History, plot: str, *, height: int = 360) -> go.Figure:
    """The notes' plot of ``history``: ``plot`` "epochs" or "steps" (see the module). Raises ValueError for another
    plot name."""
    if plot == "epochs":
        return _per_epoch(history, height)
    if plot == "steps":
        return _per_step(history, height)
    raise ValueError(_("unknown plot {plot!r}; choose one of {choices}").format(plot=plot,
                                                                                choices=", ".join(NOTES_PLOTS)))


def _per_epoch(history: History, height: int) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=(_("Loss after each epoch"), _("Test accuracy after each epoch")))
    ex = [e.epoch for e in history.epochs]
    fig.add_trace(go.Scatter(x=ex, y=[e.train_loss for e in history.epochs], mode="lines+markers",
                             name=_("training loss"), line={"color": _BLUE, "width": 2},
                             hovertemplate=_("epoch %{x}<br>training loss %{y:.4f}") + "<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=ex, y=[e.test_loss for e in history.epochs], mode="lines+markers",
                             name=_("test loss"), line={"color": _RED, "width": 2},
                             hovertemplate=_("epoch %{x}<br>test loss %{y:.4f}") + "<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=ex, y=[e.test_acc for e in history.epochs], mode="lines+markers",
                             name=_("test accuracy"), line={"color": _GREEN, "width": 2},
                             hovertemplate=_("epoch %{x}<br>test accuracy %{y:.2%}") + "<extra></extra>"), row=1, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text=_("epoch"), dtick=1, row=1, col=col)
    fig.update_yaxes(title_text=_("cross-entropy"), rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text=_("test accuracy"), tickformat=".1%", row=1, col=2)
    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.22, "x": 0})
    return fig


def _per_step(history: History, height: int) -> go.Figure:
    fig = go.Figure()
    steps = [s for s in history.steps if s.accuracy == s.accuracy]  # NaN: a history without accuracies
    fig.add_trace(go.Scatter(x=[s.step for s in steps], y=[s.accuracy for s in steps], mode="lines",
                             name=_("training accuracy (every {n} steps)").format(n=_log_interval(history)),
                             line={"color": _BLUE, "width": 1.5},
                             hovertemplate=_("step %{x:,}<br>training accuracy %{y:.2%}") + "<extra></extra>"))
    if history.epochs and history.status == "finished":
        last = history.epochs[-1]
        fig.add_trace(go.Scatter(x=[history.step], y=[last.test_acc], mode="markers+text",
                                 name=_("test accuracy at the end"),
                                 marker={"color": _RED, "size": 12, "symbol": "diamond"},
                                 text=[f"{last.test_acc:.2%}"], textposition="bottom left",
                                 hovertemplate=_("step %{x:,}<br>test accuracy %{y:.2%}") + "<extra></extra>"))
    fig.update_layout(height=height, xaxis_title=_("step"), yaxis_title=_("accuracy"),
                      margin={"l": 60, "r": 20, "t": 30, "b": 40}, legend={"orientation": "h", "y": -0.22, "x": 0})
    fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(tickformat=",")
    return fig


def _log_interval(history: History) -> int:
    """Steps between the history's step records (100 in the notes' TensorFlow run)."""
    s = [r.step for r in history.steps]
    gaps = sorted(b - a for a, b in zip(s, s[1:]))
    return gaps[len(gaps) // 2] if gaps else 1
