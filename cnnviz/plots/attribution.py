"""Figures of "where it looks, four ways": each method's heat map over the image, side by side (one image trace per
method), and the sanity check's maps before and after the last layer is randomized."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from ..attribution import METHOD_TITLES, Attributions, SanityCheck
from ..i18n import _

__all__ = ["attribution_figure", "overlay", "sanity_figure"]

_HEAT_LUT = (np.array([[int(v) for v in c[4:-1].split(",")] for c in sample_colorscale("Turbo", np.linspace(0, 1, 256))])
             .astype(np.float32))


def overlay(display: np.ndarray, heat: np.ndarray, *, alpha: float = 0.75) -> np.ndarray:
    """A heat map (H×W in [0, 1]) laid over an uint8 image (H×W or H×W×3) as uint8 RGB: the photo shows through
    where the heat is low."""
    base = np.repeat(display[..., None], 3, axis=2) if display.ndim == 2 else display
    heat = np.clip(np.asarray(heat, dtype=np.float32), 0, 1)
    if heat.shape != base.shape[:2]:
        raise ValueError(_("the heat map is {h}, the image {i}: they must be the same size").format(
            h=heat.shape, i=base.shape[:2]))
    colour = _HEAT_LUT[(heat * 255).round().astype(np.uint8)]
    a = (alpha * heat ** 0.6)[..., None]
    return (base.astype(np.float32) * (1 - a) + colour * a).round().clip(0, 255).astype(np.uint8)


def _panel(fig: go.Figure, img: np.ndarray, heat: np.ndarray, row: int, col: int, method: str) -> None:
    fig.add_trace(go.Image(z=img, customdata=np.round(heat, 3),
                           hovertemplate=_("row %{y}, column %{x}<br>{method}: %{customdata:.2f}").replace(
                               "{method}", _(METHOD_TITLES[method])) + "<extra></extra>"), row=row, col=col)


def attribution_figure(display: np.ndarray, result: Attributions, *, cols: int = 4, height: int | None = None,
                       title: str | None = None) -> go.Figure:
    """The methods' heat maps over the image, side by side (``cols`` a row: 4 on a screen, 2 on a phone), each
    titled with its name and the seconds it took."""
    maps = result.maps
    rows = -(-len(maps) // cols)
    # "Saliency (plain gradients)": the part in brackets on a line of its own, or neighbours' titles overlap on a phone
    titles = [_("{method}<br>{s:.1f} s").format(method=_(METHOD_TITLES[m.method]).replace(" (", "<br>("),
                                                s=m.seconds) for m in maps]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.12)
    for i, m in enumerate(maps):
        heat = m.heat.numpy()
        _panel(fig, overlay(display, heat), heat, i // cols + 1, i % cols + 1, m.method)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, constrain="domain", scaleanchor=None)
    fig.update_annotations(font_size=13)
    fig.update_layout(height=height or (300 * rows + 40), margin=dict(l=5, r=5, t=95 if title else 75, b=5),
                      title=dict(text=title, font=dict(size=14), y=0.99, yanchor="top") if title else None)
    return fig


def sanity_figure(display: np.ndarray, check: SanityCheck, *, methods: Sequence[str] | None = None) -> go.Figure:
    """Two rows: each method's map with the trained weights, and after the last layer's weights were randomized,
    with the rank correlation between the two in the title (1: unchanged, 0: unrelated)."""
    methods = list(methods or check.similarity)
    titles = [_(METHOD_TITLES[m]) for m in methods] + [_("randomized · ρ = {r:.2f}").format(r=check.similarity[m])
                                                       for m in methods]
    fig = make_subplots(rows=2, cols=len(methods), subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=0.1)
    for j, m in enumerate(methods, start=1):
        for i, result in enumerate((check.before, check.after), start=1):
            heat = result.get(m).heat.numpy()
            _panel(fig, overlay(display, heat), heat, i, j, m)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, constrain="domain")
    fig.update_annotations(font_size=13)
    fig.update_layout(height=560, margin=dict(l=5, r=5, t=40, b=5))
    return fig
