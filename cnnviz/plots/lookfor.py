"""Figures for "what a filter looks for": top-activating crops, an optimized input as it improves, the layer-by-layer
row of optimized inputs, and the steps that turn a drawing into a 28×28 input."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import _
from ..lookfor import Example, Visualization

__all__ = ["atlas_figure", "drawing_steps_figure", "examples_figure", "history_figure", "row_figure",
           "snapshots_figure"]


def _rgb(img: np.ndarray) -> np.ndarray:
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def _hide_axes(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor=None, constrain="domain", autorange="reversed")
    return fig


def examples_figure(examples: Sequence[Example], *, title: str, cols: int = 3, height: int | None = None,
                    labels: Sequence[str] | None = None) -> go.Figure:
    """The top-activating crops in a grid, strongest first, each titled with its activation value (and ``labels``,
    else the image's name); a cross marks the centre of the window (the strongest position)."""
    if not examples:
        raise ValueError(_("there are no examples to show"))
    rows = -(-len(examples) // cols)
    names = list(labels) if labels is not None else [e.name for e in examples]
    titles = [_("{value:.3g} · {name}").format(value=e.value, name=n) for e, n in zip(examples, names)]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.03,
                        vertical_spacing=0.09 if rows > 1 else 0.05)
    for k, e in enumerate(examples):
        r, c = divmod(k, cols)
        h, w = e.crop.shape[:2]
        fig.add_trace(go.Image(z=_rgb(e.crop), hovertemplate=_("activation {value:.4g}<br>map position ({row}, "
                                                                "{col})").format(value=e.value, row=e.row, col=e.col)
                               + "<extra></extra>"), row=r + 1, col=c + 1)
        fig.add_trace(go.Scatter(x=[(w - 1) / 2], y=[(h - 1) / 2], mode="markers", hoverinfo="skip",
                                 marker=dict(symbol="cross-thin", size=10, line=dict(width=2, color="#ff3b30"))),
                      row=r + 1, col=c + 1)
    fig.update_annotations(font_size=12)
    # plotly centres the title in the top margin, and the first row's captions sit at the margin's bottom: the margin
    # holds the title's lines and twice a caption's line, so the two never meet
    top = int(14 * 1.25 * (title.count("<br>") + 1) + 2 * 12 * 1.25 + 16)
    fig.update_layout(title=dict(text=title, font=dict(size=14)), showlegend=False,
                      height=height or 170 * rows + top, margin=dict(l=10, r=10, t=top, b=10))
    return _hide_axes(fig)


def snapshots_figure(vis: Visualization, *, height: int = 230) -> go.Figure:
    """The optimized input at several steps, left to right: noise becoming the pattern the channel wants."""
    shots = vis.snapshots
    fig = make_subplots(rows=1, cols=len(shots), horizontal_spacing=0.01,
                        subplot_titles=[_("step {n}").format(n=s) for s, _img in shots])
    for j, (_step, img) in enumerate(shots, start=1):
        fig.add_trace(go.Image(z=_rgb(img), hoverinfo="skip"), row=1, col=j)
    fig.update_annotations(font_size=12)
    fig.update_layout(title=dict(text=_("The input as it is optimized (gradient ascent)"), font=dict(size=14)),
                      height=height, margin=dict(l=10, r=10, t=60, b=10), showlegend=False)
    return _hide_axes(fig)


def history_figure(vis: Visualization, *, best: float | None = None, height: int = 260) -> go.Figure:
    """The objective at every step, with the best dataset example's activation as a line to beat."""
    fig = go.Figure(go.Scatter(y=list(vis.history), mode="lines", name=_("optimized input"),
                               hovertemplate=_("step %{x}<br>activation %{y:.4g}") + "<extra></extra>"))
    if best is not None:
        fig.add_hline(y=best, line_dash="dash", line_color="#ff7f0e",
                      annotation_text=_("best example {value:.3g}").format(value=best))
    fig.update_layout(title=dict(text=_("Activation during the optimization"), font=dict(size=14)), height=height,
                      xaxis_title=_("step"), yaxis_title=_("activation"), margin=dict(l=10, r=10, t=50, b=10),
                      showlegend=False)
    return fig


def row_figure(rows: dict[str, Sequence[Visualization]], *, height_per_row: int = 170) -> go.Figure:
    """Layer by layer: one row of optimized inputs per stage (first, middle, last), each titled with its channel."""
    if not rows:
        raise ValueError(_("there are no layers to show"))
    cols = max(len(v) for v in rows.values())
    titles = []
    for layer, vis in rows.items():
        titles += [_("{layer} · channel {channel}").format(layer=layer, channel=v.channel) for v in vis]
        titles += [""] * (cols - len(vis))
    fig = make_subplots(rows=len(rows), cols=cols, subplot_titles=titles, horizontal_spacing=0.01,
                        vertical_spacing=0.08)
    for i, vis in enumerate(rows.values(), start=1):
        for j, v in enumerate(vis, start=1):
            fig.add_trace(go.Image(z=_rgb(v.image), hovertemplate=_("activation {value:.4g}").format(
                value=v.activation) + "<extra></extra>"), row=i, col=j)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=height_per_row * len(rows) + 40, margin=dict(l=10, r=10, t=40, b=10), showlegend=False)
    return _hide_axes(fig)


def drawing_steps_figure(steps: Sequence[tuple[str, np.ndarray]], *, height: int = 240) -> go.Figure:
    """The preprocessing of a drawing, step by step (each image titled with the step and its size)."""
    fig = make_subplots(rows=1, cols=len(steps), horizontal_spacing=0.02,
                        subplot_titles=[f"{name}<br>{img.shape[1]}×{img.shape[0]}" for name, img in steps])
    for j, (_name, img) in enumerate(steps, start=1):
        fig.add_trace(go.Image(z=_rgb(img), hovertemplate=_("row %{y}, column %{x}<br>pixel %{z[0]}")
                               + "<extra></extra>"), row=1, col=j)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), showlegend=False)
    return _hide_axes(fig)


def atlas_figure(tiles: dict, channels: int, *, layer: str, tile: int = 64, cols: int | None = None,
                 width: int = 1100) -> go.Figure:
    """A layer's atlas: every channel's optimized input in one grid (ONE image trace), the ones still to come grey,
    each numbered; a transparent marker on each tile carries its channel for clicks."""
    import math

    from PIL import Image

    from .maps import _image_uri

    cols = cols or max(4, min(16, math.ceil(math.sqrt(channels * 2))))
    rows = math.ceil(channels / cols)
    gap = max(1, tile // 16)
    grid = np.full((rows * (tile + gap) - gap, cols * (tile + gap) - gap, 3), 255, np.uint8)
    for ch in range(channels):
        r, c = divmod(ch, cols)
        y, x = r * (tile + gap), c * (tile + gap)
        if ch in tiles:
            img = Image.fromarray(_rgb(tiles[ch])).resize((tile, tile), Image.Resampling.LANCZOS)
            grid[y:y + tile, x:x + tile] = np.asarray(img)
        else:
            grid[y:y + tile, x:x + tile] = 225
    xs = [(ch % cols) * (tile + gap) + tile / 2 for ch in range(channels)]
    ys = [(ch // cols) * (tile + gap) + tile / 2 for ch in range(channels)]
    fig = go.Figure(go.Image(source=_image_uri(grid), hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers+text", text=[str(ch) for ch in range(channels)], textposition="middle center",
        textfont=dict(size=11, color="white", shadow="0px 0px 3px black"), customdata=list(range(channels)),
        name="tiles", showlegend=False,
        marker=dict(size=max(10, min(60, width // cols - 6)), symbol="square", opacity=0.01, color="white"),
        hovertemplate=_("channel %{customdata}<br>click: its top examples") + "<extra></extra>"))
    done = sum(1 for ch in range(channels) if ch in tiles)
    title = _("{layer}: {done} of {n} channels").format(layer=layer, done=done, n=channels)
    fig.update_layout(title=dict(text=title, font=dict(size=14)), showlegend=False, clickmode="event+select",
                      dragmode=False, margin=dict(l=5, r=5, t=40, b=5),
                      height=int(40 + 10 + width * grid.shape[0] / grid.shape[1]))
    fig.update_xaxes(visible=False, range=[-0.5, grid.shape[1] - 0.5], constrain="domain")
    fig.update_yaxes(visible=False, range=[grid.shape[0] - 0.5, -0.5], scaleanchor="x", constrain="domain")
    return fig
