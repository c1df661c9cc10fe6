"""Plotly figures of a run's recorded layers, as TensorBoard draws them: stacked ("ridge") histograms over steps,
the distribution as min/percentile/max bands, and every layer's gradient norm per step on one log-scale chart."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from ..i18n import N_, _
from ..training.probes import BINS, Probes
from .curves import CurveView

__all__ = ["WHAT", "distribution_figure", "grad_norm_figure", "ridge_figure"]

WHAT = {"weights": N_("weights"), "gradients": N_("gradients")}  # shown as _(WHAT[key])
MAX_ROWS = 24  # histograms drawn in a ridge chart at most (evenly chosen among the records)
MAX_POINTS = 1_000  # points per line in the gradient-norm chart at most (geometric means of neighbouring steps)


def _x(view: CurveView, steps: np.ndarray, steps_per_epoch: int) -> np.ndarray:
    if view.x == "step" or not steps_per_epoch:
        return steps.astype(float)
    return steps / steps_per_epoch


def _x_name(view: CurveView) -> str:
    """The x axis of these charts: steps or epochs (the recording keeps no clock; time falls back to epochs)."""
    return view.x_title if view.x == "step" else _("epoch")


def _check(probes: Probes, layer: int, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not 0 <= layer < len(probes.layers):
        raise ValueError(_("layer {layer} does not exist; this run recorded {n} layers").format(
            layer=layer, n=len(probes.layers)))
    return probes.kind(what)


def _step_label(step: int, steps_per_epoch: int) -> str:
    if steps_per_epoch:
        return _("step {step:,} (epoch {epoch:.2f})").format(step=int(step), epoch=step / steps_per_epoch)
    return _("step {step:,}").format(step=int(step))


def ridge_figure(probes: Probes, layer: int, what: str = "weights", *, height: int = 520) -> go.Figure:
    """The ``what`` ("weights" or "gradients") histograms of one layer stacked over steps, earliest at the back (top),
    latest in front (bottom), darker as training goes on: TensorBoard's histogram view. Each histogram is scaled to
    its own peak; its x extent is the values' range at that step. Raises ValueError for an unknown layer or kind."""
    steps, pct, hist = _check(probes, layer, what)
    fig = go.Figure()
    picked = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), MAX_ROWS)).round().astype(int)) if len(steps) \
        else np.zeros(0, dtype=int)
    colors = sample_colorscale("Blues", list(np.linspace(0.35, 1.0, max(len(picked), 2))))
    n = len(picked)
    ticks, labels = [], []
    for k, r in enumerate(picked):
        lo, hi = float(pct[r, layer, 0]), float(pct[r, layer, -1])
        counts = hist[r, layer].astype(float)
        if not np.isfinite([lo, hi]).all() or counts.sum() == 0:
            continue
        edges = np.linspace(lo, hi, BINS + 1) if hi > lo else np.linspace(lo - 0.5, lo + 0.5, BINS + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        base = float(n - 1 - k)
        top = base + 2.2 * counts / counts.max()
        x = np.concatenate([[edges[0]], centres, [edges[-1]]])
        y = np.concatenate([[base], top, [base]])
        label = _step_label(int(steps[r]), probes.steps_per_epoch)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines", fill="toself", fillcolor=colors[k], opacity=0.85,
            line={"color": "#08306b", "width": 0.8}, name=label, showlegend=False,
            customdata=np.concatenate([[0], counts, [0]]),
            hovertemplate=label + "<br>" + _("value %{x:.4g}<br>%{customdata:,.0f} values") + "<extra></extra>"))
        ticks.append(base)
        labels.append(f"{steps[r] / probes.steps_per_epoch:.2f}" if probes.steps_per_epoch else f"{steps[r]:,}")
    every = max(1, len(ticks) // 8)
    fig.update_layout(
        height=height, margin={"l": 70, "r": 20, "t": 60, "b": 50}, hovermode="closest",
        title=_("{layer}: {what} over training").format(layer=probes.layer_label(layer), what=_(WHAT[what])),
        xaxis_title=_("value of a {kind}").format(kind=_("weight") if what == "weights" else _("gradient")),
        yaxis={"title": _("epoch"), "tickvals": ticks[::every], "ticktext": labels[::every], "zeroline": False,
               "showgrid": False})
    return fig


def distribution_figure(probes: Probes, layer: int, what: str = "weights", *, view: CurveView | None = None,
                        height: int = 420) -> go.Figure:
    """TensorBoard's distribution view of one layer: bands between min and max, the normal distribution's ±1.5σ,
    ±σ and ±0.5σ percentiles, and the median, over steps or epochs. Raises ValueError like ``ridge_figure``."""
    view = view or CurveView()
    steps, pct, _hist = _check(probes, layer, what)
    x = _x(view, steps, probes.steps_per_epoch)
    p = pct[:, layer, :]
    fig = go.Figure()
    bands = ((0, 8, "rgba(31,119,180,0.15)", N_("min – max")), (1, 7, "rgba(31,119,180,0.25)", N_("±1.5σ (7–93 %)")),
             (2, 6, "rgba(31,119,180,0.35)", N_("±σ (16–84 %)")), (3, 5, "rgba(31,119,180,0.5)", N_("±0.5σ (31–69 %)")))
    for lo, hi, color, name in bands:
        fig.add_trace(go.Scatter(x=x, y=p[:, hi], mode="lines", line={"width": 0}, showlegend=False,
                                 legendgroup=name, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=p[:, lo], mode="lines", line={"width": 0}, fill="tonexty", fillcolor=color,
                                 name=_(name), legendgroup=name,
                                 customdata=p[:, hi],
                                 hovertemplate=_(name) + ": %{y:.4g} … %{customdata:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=p[:, 4], mode="lines", line={"color": "#08306b", "width": 2}, name=_("median"),
                             hovertemplate=_("median %{y:.4g}") + "<extra></extra>"))
    fig.update_layout(
        height=height, margin={"l": 70, "r": 20, "t": 60, "b": 50}, hovermode="x unified",
        title=_("{layer}: distribution of the {what}").format(layer=probes.layer_label(layer), what=_(WHAT[what])),
        xaxis_title=_x_name(view), yaxis_title=_("value"), legend={"orientation": "h", "y": -0.18, "x": 0})
    return fig


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_POINTS points: neighbouring steps merged (x: their mean, y: their geometric mean)."""
    if len(x) <= MAX_POINTS:
        return x, y
    k = -(-len(x) // MAX_POINTS)
    cut = len(x) // k * k
    logs = np.log(np.clip(y[:cut], 1e-30, None)).reshape(-1, k, *y.shape[1:])
    return x[:cut].reshape(-1, k).mean(1), np.exp(logs.mean(1))


def grad_norm_figure(runs: Sequence[tuple[str, Probes]], *, view: CurveView | None = None, height: int = 460,
                     title: str | None = None) -> go.Figure:
    """Every layer's gradient norm at every step on a log axis, one colour per layer from the first (dark) to the
    last (light); several runs side by side as panels sharing the y axis (e.g. sigmoid and ReLU), smoothed with
    ``view.smoothing``."""
    view = view or CurveView()
    titles = [label for label, _p in runs] if len(runs) > 1 else None
    fig = make_subplots(rows=1, cols=max(len(runs), 1), shared_yaxes=True, subplot_titles=titles,
                        horizontal_spacing=0.04)
    for col, (label, probes) in enumerate(runs, start=1):
        x, y = _thin(_x(view, probes.norm_steps, probes.steps_per_epoch), probes.grad_norm.astype(float))
        n = len(probes.layers)
        colors = sample_colorscale("Viridis", list(np.linspace(0, 0.9, max(n, 2))))
        for i in range(n):
            fig.add_trace(go.Scatter(
                x=x, y=view.smooth(y[:, i]) if len(y) else [], mode="lines", line={"color": colors[i], "width": 1.6},
                name=f"{i + 1}. {probes.kinds[i] or probes.layers[i]}", legendgroup=str(i), showlegend=col == 1,
                hovertemplate=probes.layer_label(i) + "<br>" + _x_name(view) + " %{x:,.4~g}<br>"
                + _("gradient norm %{y:.3e}") + "<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text=_x_name(view), row=1, col=col)
    values = np.concatenate([p.grad_norm.ravel() for _l, p in runs]) if runs else np.zeros(0)
    values = values[np.isfinite(values) & (values > 0)]
    decades = np.log10(values.max() / values.min()) if len(values) else 0.0
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1, title_text=_("gradient norm ‖∂loss/∂W‖"),
                     dtick=1)  # powers of ten only, unless the values span under 3: then 1, 2 and 5 times them
    if len(values) and decades < 3:  # (raw values: the smoothed lines span less)
        ticks = [m * 10.0 ** k for k in range(int(np.floor(np.log10(values.min()))),
                                               int(np.ceil(np.log10(values.max()))) + 1) for m in (1, 2, 5)]
        fig.update_yaxes(row=1, col=1, tickvals=ticks, ticktext=[f"{t:.3g}" for t in ticks])
    # short legend entries ("1. Conv2d": the layer's place and kind; hover names it), under the x axis's title
    fig.update_layout(height=height, margin={"l": 70, "r": 20, "t": 70 if titles or title else 30, "b": 60},
                      title=title or _("Gradient norm per layer (log scale)"),
                      legend={"orientation": "h", "y": -0.22, "yanchor": "top", "x": 0, "title": {"text": _("layer")}},
                      hovermode="closest")
    return fig
