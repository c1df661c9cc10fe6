"""Plotly figures of training: live curves, several runs overlaid, a confusion matrix, labelled image tiles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import N_, _
from ..training import History

__all__ = ["METRICS", "cam_overlay", "compare_figure", "confusion_figure", "curves_figure", "tiles"]

METRICS = {  # shown as _(METRICS[key])
    "test_acc": N_("Test accuracy"),
    "test_loss": N_("Test loss"),
    "train_loss": N_("Training loss (per epoch)"),
    "train_acc": N_("Training accuracy (per epoch)"),
    "step_loss": N_("Training loss (every few steps)"),
}
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


def _epoch_x(history: History, step: int) -> float:
    return step / history.steps_per_epoch if history.steps_per_epoch else float(step)


def thinned(items: Sequence, max_points: int | None) -> Sequence:
    """At most ``max_points`` of ``items``, evenly spaced, the first and the last always among them (all of them
    when ``max_points`` is None or not fewer)."""
    n = len(items)
    if max_points is None or n <= max_points:
        return items
    if max_points < 2:
        raise ValueError(_("max_points must be at least 2, not {n}").format(n=max_points))
    return [items[round(i * (n - 1) / (max_points - 1))] for i in range(max_points)]


def curves_figure(history: History, *, height: int = 380, max_points: int | None = None) -> go.Figure:
    """Loss (left) and accuracy (right) against epochs: training every few steps, test after each epoch.

    The legend names the two kinds of line (training, test), each drawn in both panels, never one panel's metric.
    ``max_points`` caps the training points drawn (evenly spaced, the latest always among them): a live figure then
    costs the same to send and redraw however long the run.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("Loss (cross-entropy)"), _("Accuracy")),
                        horizontal_spacing=0.1)
    train_name, test_name = _("training (last few steps)"), _("test (after each epoch)")
    steps = thinned(history.steps, max_points)
    xs = [_epoch_x(history, s.step) for s in steps]
    fig.add_trace(go.Scatter(x=xs, y=[s.loss for s in steps], mode="lines", name=train_name,
                             line={"color": _COLORS[0], "width": 1.5}, legendgroup="train",
                             hovertemplate=_("epoch %{x:.2f}<br>training loss %{y:.4f}") + "<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[s.accuracy for s in steps], mode="lines", name=train_name,
                             line={"color": _COLORS[0], "width": 1.5}, legendgroup="train", showlegend=False,
                             hovertemplate=_("epoch %{x:.2f}<br>training accuracy %{y:.1%}") + "<extra></extra>"),
                  row=1, col=2)
    ex = [e.epoch for e in history.epochs]
    fig.add_trace(go.Scatter(x=ex, y=[e.test_loss for e in history.epochs], mode="lines+markers", name=test_name,
                             line={"color": _COLORS[1], "width": 2.5}, marker={"size": 8}, legendgroup="test",
                             hovertemplate=_("epoch %{x}<br>test loss %{y:.4f}") + "<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=ex, y=[e.test_acc for e in history.epochs], mode="lines+markers", name=test_name,
                             line={"color": _COLORS[1], "width": 2.5}, marker={"size": 8}, legendgroup="test",
                             showlegend=False,
                             hovertemplate=_("epoch %{x}<br>test accuracy %{y:.1%}") + "<extra></extra>"),
                  row=1, col=2)
    right = max(1, history.total_epochs or (ex[-1] if ex else 1))
    for col in (1, 2):
        fig.update_xaxes(title_text=_("epoch"), range=[0, right * 1.02], row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.01], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=height, margin={"l": 50, "r": 20, "t": 60, "b": 40},
                      legend={"orientation": "h", "y": -0.2, "x": 0}, hovermode="closest")
    return fig


def compare_figure(runs: Sequence[tuple[str, History]], *, metric: str = "test_acc", height: int = 420) -> go.Figure:
    """Several runs' ``metric`` overlaid against epochs (one colour per run). Accuracy ticks get a decimal when the
    curves span less than ten points, so no two ticks read the same (90 %, 90 %, 91 %)."""
    if metric not in METRICS:
        raise ValueError(_("unknown metric {metric!r}; choose one of {choices}").format(
            metric=metric, choices=", ".join(METRICS)))
    fig = go.Figure()
    values: list[float] = []
    for i, (label, h) in enumerate(runs):
        color = _COLORS[i % len(_COLORS)]
        if metric == "step_loss":
            x = [_epoch_x(h, s.step) for s in h.steps]
            y = [s.loss for s in h.steps]
            mode = "lines"
        else:
            x = [e.epoch for e in h.epochs]
            y = [getattr(e, metric) for e in h.epochs]
            mode = "lines+markers"
        values += [v for v in y if v == v]
        fig.add_trace(go.Scatter(x=x, y=y, mode=mode, name=label, line={"color": color, "width": 2},
                                 hovertemplate=label.replace("%", "%%") + "<br>" + _("epoch %{x:.2f}") +
                                 "<br>%{y:.4f}<extra></extra>"))
    fig.update_layout(height=height, xaxis_title=_("epoch"), yaxis_title=_(METRICS[metric]),
                      margin={"l": 60, "r": 20, "t": 30, "b": 40}, legend={"orientation": "h", "y": -0.18, "x": 0})
    if metric.endswith("acc"):
        span = (max(values) - min(values)) if values else 1.0
        fig.update_yaxes(tickformat=".1%" if span < 0.1 else ".0%")
    return fig


def confusion_figure(matrix: np.ndarray, classes: Sequence[str], *, normalize: bool = False,
                     highlight: tuple[int, int] | None = None, height: int = 560) -> go.Figure:
    """A confusion-matrix heatmap: rows = true class, columns = predicted class, counts written in the cells.

    ``normalize`` colours by the share of each true class (row); ``highlight`` outlines one cell.
    """
    m = np.asarray(matrix, dtype=float)
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    z = share if normalize else m
    labels = list(classes)
    text = [[f"{int(m[i, j])}" for j in range(m.shape[1])] for i in range(m.shape[0])]
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, text=text, texttemplate="%{text}", colorscale="Blues",
        customdata=share, colorbar={"title": {"text": _("share of row") if normalize else _("images")}},
        hovertemplate=_("true %{y}<br>predicted %{x}<br>%{text} images (%{customdata:.1%} of the row)")
        + "<extra></extra>"))
    # A heatmap cell cannot be selected by a click; an invisible point on every cell can (point i = cell divmod(i, k))
    k = m.shape[0]
    fig.add_trace(go.Scatter(
        x=[labels[j] for i in range(k) for j in range(k)], y=[labels[i] for i in range(k) for j in range(k)],
        mode="markers", marker={"size": max(12, min(44, height // (k + 2))), "opacity": 0.01, "color": "#000"},
        customdata=[[i, j, share[i, j]] for i in range(k) for j in range(k)], showlegend=False, name="cells",
        text=[text[i][j] for i in range(k) for j in range(k)],
        hovertemplate=_("true %{y}<br>predicted %{x}<br>%{text} images (%{customdata[2]:.1%} of the row)")
        + "<br>" + _("click to see these images") + "<extra></extra>"))
    fig.update_layout(clickmode="event+select")
    if highlight is not None:
        t, p = highlight
        fig.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, line={"color": "#d62728", "width": 3})
    fig.update_layout(height=height, xaxis_title=_("predicted class"), yaxis_title=_("true class"),
                      yaxis={"autorange": "reversed"}, margin={"l": 100, "r": 20, "t": 20, "b": 90})
    fig.update_xaxes(tickangle=-35, type="category")
    fig.update_yaxes(type="category")
    return fig


def tiles(images: np.ndarray, *, size: int = 96) -> list[np.ndarray]:
    """uint8 N×C×H×W images as a list of H'×W'(×3) uint8 arrays enlarged (nearest) to about ``size`` pixels."""
    out = []
    for img in np.asarray(images):
        arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        k = max(1, size // max(arr.shape[0], arr.shape[1]))
        out.append(np.ascontiguousarray(arr.repeat(k, axis=0).repeat(k, axis=1)))
    return out


def cam_overlay(image: np.ndarray, cam: np.ndarray, *, alpha: float = 0.5, size: int = 96) -> np.ndarray:
    """A uint8 C×H×W image with a Grad-CAM heat map (H×W in [0, 1]) blended on top, enlarged to ~``size`` px."""
    img = np.asarray(image, dtype=np.float32)
    rgb = np.repeat(img[:1], 3, axis=0) if img.shape[0] == 1 else img[:3]
    c = np.clip(np.asarray(cam, dtype=np.float32), 0, 1)
    # a compact "jet": blue → cyan → yellow → red
    heat = np.stack([np.clip(1.5 - abs(4 * c - 3), 0, 1), np.clip(1.5 - abs(4 * c - 2), 0, 1),
                     np.clip(1.5 - abs(4 * c - 1), 0, 1)]) * 255
    out = ((1 - alpha) * rgb + alpha * heat).round().clip(0, 255).astype(np.uint8)
    return tiles(out[None], size=size)[0]
