"""Plotly figures of training: live curves, several runs overlaid, a confusion matrix, labelled image tiles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import N_, _
from ..training import History
from .curves import CurveView

__all__ = ["METRICS", "accuracy_range", "cam_overlay", "compare_figure", "confusion_figure", "curves_figure", "tiles"]

METRICS = {  # shown as _(METRICS[key])
    "test_acc": N_("Test accuracy"),
    "test_loss": N_("Test loss"),
    "train_loss": N_("Training loss (per epoch)"),
    "train_acc": N_("Training accuracy (per epoch)"),
    "step_loss": N_("Training loss (every few steps)"),
}
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


def _faint(fig: go.Figure, x: list[float], y: list[float], color: str, **where) -> None:
    """The raw line, faint, behind its smoothed one (as TensorBoard draws it)."""
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"color": color, "width": 1}, opacity=0.25,
                             showlegend=False, hoverinfo="skip"), **where)


def thinned(items: Sequence, max_points: int | None) -> Sequence:
    """At most ``max_points`` of ``items``, evenly spaced, the first and the last always among them (all of them
    when ``max_points`` is None or not fewer)."""
    n = len(items)
    if max_points is None or n <= max_points:
        return items
    if max_points < 2:
        raise ValueError(_("max_points must be at least 2, not {n}").format(n=max_points))
    return [items[round(i * (n - 1) / (max_points - 1))] for i in range(max_points)]


def _whole_epochs(fig: go.Figure, last: float) -> None:
    """Epoch ticks at whole epochs only (plotly's own would put 0.5, 1.5, 2.5 on a run of three epochs): every
    epoch, or every 2, 5, 10 … so that about ten ticks show."""
    fig.update_xaxes(tick0=0, dtick=next((d for d in (1, 2, 5, 10, 20, 50, 100, 200, 500) if d * 10 >= last), None))


def _hover(view: CurveView, epoch_template: str, value: str) -> str:
    """A hover template: the epoch view's own sentence, or the x axis's name and ``value`` (a template of y)."""
    return (epoch_template if view.x == "epoch" else f"{view.x_title} %{{x:,.4~g}}<br>{value}") + "<extra></extra>"


def curves_figure(history: History, *, height: int = 380, view: CurveView | None = None,
                  max_points: int | None = None) -> go.Figure:
    """Loss (left) and accuracy (right) against epochs (or steps, or seconds: ``view``): training every few steps
    (smoothed with ``view.smoothing``, the raw line faint behind; at most ``max_points`` of them drawn, evenly
    spaced, the latest among them: a live figure costs the same however long the run), test after each epoch.

    The legend names the two kinds of line (training, test), each drawn in both panels, never one panel's metric.
    """
    view = view or CurveView()
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("Loss (cross-entropy)"), _("Accuracy")),
                        horizontal_spacing=0.1)
    train_name, test_name = _("training (last few steps)"), _("test (after each epoch)")
    spe = history.steps_per_epoch
    keep = thinned(range(len(history.steps)), max_points)  # smoothed over every step, then thinned
    loss = view.smooth([s.loss for s in history.steps])
    acc = view.smooth([s.accuracy for s in history.steps])
    steps = [history.steps[i] for i in keep]
    xs = [view.x_of(s.step, spe, s.elapsed_s) for s in steps]
    for col, y in ((1, [s.loss for s in steps]), (2, [s.accuracy for s in steps])):
        if view.smoothing:
            _faint(fig, xs, y, _COLORS[0], row=1, col=col)
    fig.add_trace(go.Scatter(x=xs, y=[loss[i] for i in keep], mode="lines", name=train_name,
                             line={"color": _COLORS[0], "width": 1.5}, legendgroup="train",
                             hovertemplate=_hover(view, _("epoch %{x:.2f}<br>training loss %{y:.4f}"),
                                                  _("training loss %{y:.4f}"))),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[acc[i] for i in keep], mode="lines", name=train_name,
                             line={"color": _COLORS[0], "width": 1.5}, legendgroup="train", showlegend=False,
                             hovertemplate=_hover(view, _("epoch %{x:.2f}<br>training accuracy %{y:.1%}"),
                                                  _("training accuracy %{y:.1%}"))),
                  row=1, col=2)
    ex = [view.x_of(e.epoch * spe, spe, e.elapsed_s) if spe else e.epoch for e in history.epochs]
    fig.add_trace(go.Scatter(x=ex, y=[e.test_loss for e in history.epochs], mode="lines+markers", name=test_name,
                             line={"color": _COLORS[1], "width": 2.5}, marker={"size": 8}, legendgroup="test",
                             hovertemplate=_hover(view, _("epoch %{x}<br>test loss %{y:.4f}"),
                                                  _("test loss %{y:.4f}"))), row=1, col=1)
    fig.add_trace(go.Scatter(x=ex, y=[e.test_acc for e in history.epochs], mode="lines+markers", name=test_name,
                             line={"color": _COLORS[1], "width": 2.5}, marker={"size": 8}, legendgroup="test",
                             showlegend=False,
                             hovertemplate=_hover(view, _("epoch %{x}<br>test accuracy %{y:.1%}"),
                                                  _("test accuracy %{y:.1%}"))),
                  row=1, col=2)
    right = max(1, history.total_epochs or (history.epochs[-1].epoch if history.epochs else 1))
    if view.x == "step":
        right *= max(spe, 1)
    for col in (1, 2):
        fig.update_xaxes(title_text=view.x_title, row=1, col=col,
                         **({"rangemode": "tozero"} if view.x == "time" else {"range": [0, right * 1.02]}))
    fig.update_yaxes(**({"type": "log"} if view.log_loss else {"rangemode": "tozero"}), row=1, col=1)
    if view.x == "epoch":
        _whole_epochs(fig, right)
    fig.update_yaxes(range=[0, 1.01], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=height, margin={"l": 50, "r": 20, "t": 60, "b": 40},
                      legend={"orientation": "h", "y": -0.2, "x": 0}, hovermode="closest")
    return fig


def compare_figure(runs: Sequence[tuple[str, History]], *, metric: str = "test_acc", height: int = 420,
                   view: CurveView | None = None) -> go.Figure:
    """Several runs' ``metric`` overlaid against epochs, steps or seconds (``view``; one colour per run), the
    step-by-step loss smoothed with ``view.smoothing`` over its faint raw line, losses on a log axis with
    ``view.log_loss``. Accuracy ticks get a decimal when the curves span less than ten points, so no two ticks read
    the same (90 %, 90 %, 91 %)."""
    if metric not in METRICS:
        raise ValueError(_("unknown metric {metric!r}; choose one of {choices}").format(
            metric=metric, choices=", ".join(METRICS)))
    view = view or CurveView()
    fig = go.Figure()
    values: list[float] = []
    last = 1.0
    for i, (label, h) in enumerate(runs):
        color = _COLORS[i % len(_COLORS)]
        spe = h.steps_per_epoch
        if metric == "step_loss":
            x = [view.x_of(s.step, spe, s.elapsed_s) for s in h.steps]
            y = [s.loss for s in h.steps]
            mode = "lines"
            if view.smoothing:
                _faint(fig, x, y, color)
                y = view.smooth(y)
        else:
            x = [view.x_of(e.epoch * spe, spe, e.elapsed_s) if spe else e.epoch for e in h.epochs]
            y = [getattr(e, metric) for e in h.epochs]
            mode = "lines+markers"
        values += [v for v in y if v == v]
        last = max(last, h.total_epochs or 0, *x)
        where = _("epoch %{x:.2f}") if view.x == "epoch" else f"{view.x_title} %{{x:,.4~g}}"
        fig.add_trace(go.Scatter(x=x, y=y, mode=mode, name=label, line={"color": color, "width": 2},
                                 hovertemplate=label.replace("%", "%%") + "<br>" + where +
                                 "<br>%{y:.4f}<extra></extra>"))
    if view.log_loss and "loss" in metric:
        fig.update_yaxes(type="log")
    fig.update_layout(height=height, xaxis_title=view.x_title, yaxis_title=_(METRICS[metric]),
                      margin={"l": 60, "r": 20, "t": 30, "b": 40}, legend={"orientation": "h", "y": -0.18, "x": 0})
    _whole_epochs(fig, last)
    if metric.endswith("acc"):
        span = (max(values) - min(values)) if values else 1.0
        fig.update_yaxes(tickformat=".1%" if span < 0.1 else ".0%", range=accuracy_range(values))
    return fig


def accuracy_range(values: Sequence[float]) -> list[float]:
    """A y range for accuracies 0 … 1 that holds ``values`` with a little room and never leaves 0 … 100 % (one
    epoch is one point: plotly alone would stretch the axis around it, from -50 % to 150 %)."""
    values = [v for v in values if v == v]
    if not values:
        return [0.0, 1.0]
    pad = max((max(values) - min(values)) * 0.08, 0.01)
    return [max(0.0, min(values) - pad), min(1.0, max(values) + pad)]


def confusion_figure(matrix: np.ndarray, classes: Sequence[str], *, normalize: bool = False,
                     highlight: tuple[int, int] | None = None, height: int = 560) -> go.Figure:
    """A confusion-matrix heatmap: rows = true class, columns = predicted class, counts written in the cells.

    ``normalize`` colours by the share of each true class (row); ``highlight`` outlines one cell. The counts are
    written in the cells, so there is no colour bar: on a phone the matrix keeps the whole width (the cells' numbers
    are sized to fit them), the class names make their own room and turn upright when they would run into each other.
    """
    m = np.asarray(matrix, dtype=float)
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    z = share if normalize else m
    labels = list(classes)
    text = [[f"{int(m[i, j])}" for j in range(m.shape[1])] for i in range(m.shape[0])]
    # a fixed size (plotly's own shrinks the numbers to fit the cells: 8 px on a phone); smaller for 4-digit counts
    cell_font = 12 if m.max() < 1000 else 10
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, text=text, texttemplate="%{text}", textfont={"size": cell_font}, colorscale="Blues",
        showscale=False, customdata=share,
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
                      yaxis={"autorange": "reversed"}, margin={"l": 10, "r": 10, "t": 20, "b": 10})
    fig.update_xaxes(type="category", automargin=True)  # tick angle: plotly's own choice, upright when crowded
    fig.update_yaxes(type="category", automargin=True)
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
