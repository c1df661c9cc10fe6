"""Figures for looking inside a CNN: feature-map mosaics, one channel, the layer overview, predictions,
filters and Grad-CAM. Many maps are tiled with numpy into ONE image trace (never one subplot per map).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from ..capture import FeatureMaps, FilterGrid, Prediction
from ..i18n import N_, _
from .text import short_lines

__all__ = [
    "NORMS",
    "Mosaic",
    "channel_figure",
    "filters_figure",
    "gradcam_figure",
    "image_figure",
    "mosaic",
    "mosaic_figure",
    "overview_figure",
    "prediction_figure",
    "value_range",
]

NORMS = ("map", "layer", "global")
NORM_LABELS = {"map": N_("per map"), "layer": N_("per layer"), "global": N_("all layers")}  # _(NORM_LABELS[n])
TILE_LABELS = 64  # up to this many tiles, each carries its channel number
COLORSCALE = "Viridis"
# jet-like, but transparent where the heat is low, so the photo shows through where nothing was found
HEAT = [[0.0, "rgba(0,0,255,0)"], [0.2, "rgba(0,80,255,0.35)"], [0.45, "rgba(0,230,230,0.6)"],
        [0.65, "rgba(120,255,0,0.8)"], [0.85, "rgba(255,200,0,0.95)"], [1.0, "rgba(230,0,0,1)"]]
HOVER_CELLS = 120_000  # above this many pixels the mosaic is a JPEG image (fast) without hover values
_LUT = (np.array([[int(v) for v in c[4:-1].split(",")] for c in sample_colorscale(COLORSCALE, np.linspace(0, 1, 256))])
        .astype(np.uint8))


@dataclass(frozen=True)
class Mosaic:
    """Maps tiled into one picture: ``image`` in [0, 1] (NaN in the gaps), ``raw`` values, ``channel`` per pixel."""

    image: np.ndarray
    raw: np.ndarray
    channel: np.ndarray  # -1 in the gaps
    cols: int
    rows: int
    tile: tuple[int, int]


def value_range(maps: Sequence[FeatureMaps]) -> tuple[float, float]:
    """The smallest and largest activation over several layers (for ``norm="global"``)."""
    if not maps:
        raise ValueError(_("value_range needs at least one layer"))
    return min(float(m.maps.min()) for m in maps), max(float(m.maps.max()) for m in maps)


def mosaic(maps: np.ndarray, *, norm: str = "map", cols: int | None = None, pad: int = 1,
           value_range: tuple[float, float] | None = None, labels: Sequence[int] | None = None) -> Mosaic:
    """Tile N×H×W maps into a grid, each scaled to [0, 1].

    ``norm``: "map" scales each map by its own min/max (shows every map's pattern), "layer" by the
    min/max of all maps given (shows which maps are strong), "global" by ``value_range`` (compares
    layers). A constant map becomes 0. Raises ``ValueError`` for a bad norm or shape.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or maps.shape[0] == 0:
        raise ValueError(_("expected maps N×H×W with N ≥ 1, got shape {shape}").format(shape=maps.shape))
    if norm not in NORMS:
        raise ValueError(_("norm must be one of {norms}, got {norm!r}").format(norms=NORMS, norm=norm))
    n, h, w = maps.shape
    if norm == "map":
        lo, hi = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    elif norm == "layer":
        lo, hi = maps.min(), maps.max()
    else:
        if value_range is None:
            raise ValueError(_('norm="global" needs value_range=(low, high), e.g. from value_range(all_layers)'))
        lo, hi = value_range
    span = np.asarray(hi - lo, dtype=np.float32)
    scaled = np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0.0).clip(0, 1)
    cols = cols or max(1, math.ceil(math.sqrt(n * h / w)))
    rows = math.ceil(n / cols)
    H, W = rows * (h + pad) - pad, cols * (w + pad) - pad
    image = np.full((H, W), np.nan, np.float32)
    raw = np.full((H, W), np.nan, np.float32)
    channel = np.full((H, W), -1, np.int32)
    ids = list(labels) if labels is not None else list(range(n))
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + pad), c * (w + pad)
        image[y:y + h, x:x + w] = scaled[i]
        raw[y:y + h, x:x + w] = maps[i]
        channel[y:y + h, x:x + w] = ids[i]
    return Mosaic(image, raw, channel, cols, rows, (h, w))


def _rgb(image: np.ndarray) -> np.ndarray:
    """[0, 1] values (NaN gaps) → uint8 RGB through the colour scale, gaps white."""
    idx = np.nan_to_num(image, nan=0.0).__mul__(255).round().astype(np.uint8)
    rgb = _LUT[idx]
    rgb[np.isnan(image)] = 255
    return rgb


def _image_uri(rgb: np.ndarray) -> str:
    """uint8 H×W×3 → a JPEG data URI (quality 92): ten times faster than PNG for megapixel mosaics."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _image_axes(fig: go.Figure, height: int, **kw) -> go.Figure:
    fig.update_xaxes(visible=False, constrain="domain", **kw)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain", **kw)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white")
    return fig


def _height(rows: int, cols: int, h: int, w: int, *, lo: int = 260, hi: int = 760, width: int = 760) -> int:
    return int(min(hi, max(lo, width * rows * h / max(1, cols * w) + 50)))


def mosaic_figure(fm: FeatureMaps, *, norm: str = "map", channels: Sequence[int] | None = None,
                  value_range: tuple[float, float] | None = None, title: str | None = None,
                  hover_cells: int = HOVER_CELLS, width: int = 760, height: int | None = None) -> go.Figure:
    """All (or the chosen) channels of one layer as ONE trace: a heatmap with the channel and value
    on hover, or a JPEG image above ``hover_cells`` pixels (hundreds of large maps stay fast).
    ``width`` is the expected on-screen width in pixels (sets a fitting height); ``height`` (pixels, title
    included) fixes the height instead: the tiles shrink to fit it."""
    picked = list(range(fm.channels)) if channels is None else list(channels)
    maps = fm.maps.numpy()[picked]
    m = mosaic(maps, norm=norm, value_range=value_range, labels=picked)
    h, w = m.tile
    title = title or "{} ({})<br>".format(fm.layer, fm.kind) + _("{n} maps of {h}×{w}, scaled {norm}").format(
        n=len(picked), h=h, w=w, norm=_(NORM_LABELS[norm]))  # two lines: long layer names fit a phone
    if m.image.size <= hover_cells:
        yy, xx = np.indices(m.image.shape)
        custom = np.stack([m.channel, yy % (h + 1), xx % (w + 1), m.raw], axis=-1).astype(np.float32)
        trace = go.Heatmap(z=m.image, customdata=custom, colorscale=COLORSCALE, zmin=0, zmax=1, showscale=False,
                           hovertemplate=_("channel %{customdata[0]}<br>row %{customdata[1]}, column "
                                           "%{customdata[2]}<br>value %{customdata[3]:.4g}") + "<extra></extra>")
        fig = go.Figure(trace)
    else:
        fig = go.Figure(go.Image(source=_image_uri(_rgb(m.image)), hoverinfo="skip"))
    fig.add_trace(_tile_markers(fm, picked, m))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), showlegend=False, clickmode="event+select")
    extra = 20 * title.count("<br>")  # room for a two-line title above the tiles
    fig = _image_axes(fig, height - extra if height else _height(m.rows, m.cols, h, w, width=width))
    return fig.update_layout(margin_t=40 + extra, height=fig.layout.height + extra)


def _tile_markers(fm: FeatureMaps, picked: Sequence[int], m: Mosaic) -> go.Scatter:
    """One point per tile: its channel number written in the tile's corner (up to ``TILE_LABELS`` tiles), and on
    hover (and click) the channel's numbers, so a big mosaic drawn as a picture still tells what each tile is."""
    h, w = m.tile
    strength = fm.strength().numpy()
    xs, ys, peak = [], [], []
    for i, ch in enumerate(picked):
        r, c = divmod(i, m.cols)
        xs.append(c * (w + 1) + w / 2 - 0.5)
        ys.append(r * (h + 1) + h / 2 - 0.5)
        peak.append(float(fm.maps[ch].max()))
    labelled = len(picked) <= TILE_LABELS
    return go.Scatter(
        x=xs, y=ys, mode="markers+text" if labelled else "markers", text=[str(c) for c in picked],
        textposition="middle center", textfont=dict(color="white", size=11 if max(h, w) >= 12 else 9),
        marker=dict(size=max(8, min(40, int(300 / max(1, m.cols)))), opacity=0.01, color="white"),
        customdata=np.stack([np.asarray(picked), strength[list(picked)], peak], axis=-1),
        hovertemplate=_("channel %{customdata[0]}<br>mean %{customdata[1]:.4g}, largest %{customdata[2]:.4g}"
                        "<br>click to enlarge it below") + "<extra></extra>",
        name="channels", showlegend=False)


def channel_figure(fm: FeatureMaps, channel: int, *, title: str | None = None) -> go.Figure:
    """One channel enlarged, with its values on hover and a colour bar."""
    if not 0 <= channel < fm.channels:
        raise ValueError(_("{layer} has channels 0 … {last}, got {channel}").format(
            layer=fm.layer, last=fm.channels - 1, channel=channel))
    z = fm.maps[channel].numpy()
    fig = go.Figure(go.Heatmap(z=z, colorscale=COLORSCALE, colorbar=dict(thickness=12, title=dict(text=_("value"))),
                               hovertemplate=_("row %{y}, column %{x}<br>value %{z:.4g}") + "<extra></extra>"))
    h, w = z.shape
    fig.update_layout(title=dict(text=title or _("{layer}, channel {channel} ({h}×{w})").format(
        layer=fm.layer, channel=channel, h=h, w=w), font=dict(size=14)))
    return _image_axes(fig, _height(1, 1, h, w, lo=280, hi=420, width=420))


def image_figure(display: np.ndarray, *, title: str | None = None, height: int = 420) -> go.Figure:
    """An uint8 image (H×W grayscale or H×W×3 RGB) with pixel values on hover."""
    title = _("What the model sees") if title is None else title
    if display.ndim == 2:
        fig = go.Figure(go.Heatmap(z=display, colorscale="gray", zmin=0, zmax=255, showscale=False,
                                   hovertemplate=_("row %{y}, column %{x}<br>pixel %{z}") + "<extra></extra>"))
    else:
        fig = go.Figure(go.Image(z=display, hovertemplate=_("row %{y}, column %{x}<br>RGB %{z}") + "<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=14)))
    return _image_axes(fig, height)


OVERVIEW_TILE = 112  # pixels: the longest side every map of the layer overview is drawn at


def _resample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """N×h×w maps enlarged or shrunk to N×H×W by repeating pixels (nearest neighbour): a 7×7 map stays 7×7
    blocks."""
    rows = np.arange(size[0]) * maps.shape[1] // size[0]
    cols = np.arange(size[1]) * maps.shape[2] // size[1]
    return maps[:, rows][:, :, cols]


def overview_figure(layers: Sequence[FeatureMaps], *, per_layer: int = 4, height: int = 600) -> go.Figure:
    """Layer by layer for one image: each column shows a layer's ``per_layer`` most active maps, all
    drawn at the same size, so the falling resolution shows as coarser pixels (titles give the sizes).

    Every column is the same picture size with the same gaps (each map resampled to one tile size), so the columns
    line up: tile k of every layer sits in the same row."""
    if not layers:
        raise ValueError(_("overview_figure needs at least one layer"))
    fig = make_subplots(rows=1, cols=len(layers), horizontal_spacing=0.015,
                        subplot_titles=[f"{fm.layer}<br>{fm.channels}×{fm.size[0]}×{fm.size[1]}" for fm in layers])
    big_h, big_w = max(fm.size[0] for fm in layers), max(fm.size[1] for fm in layers)
    scale = min(1.0, OVERVIEW_TILE / max(big_h, big_w))
    th, tw = max(1, round(big_h * scale)), max(1, round(big_w * scale))
    pad = max(1, th // 10)
    for j, fm in enumerate(layers, start=1):
        top = fm.top_k(per_layer)
        h, w = fm.size
        m = mosaic(_resample(fm.maps.numpy()[top], (th, tw)), norm="map", cols=1, pad=pad, labels=top)
        fig.add_trace(go.Image(source=_image_uri(_rgb(m.image)),
                               hovertemplate=_("{layer}: {h}×{w} per map").format(layer=fm.layer, h=h, w=w)
                               + "<extra></extra>"), row=1, col=j)
        fig.update_xaxes(range=[-0.5, tw - 0.5], row=1, col=j)
        fig.update_yaxes(range=[(th + pad) * per_layer - pad - 0.5, -0.5], row=1, col=j)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, constrain="domain")
    for j in range(1, len(layers) + 1):
        fig.update_yaxes(scaleanchor=f"x{'' if j == 1 else j}", row=1, col=j)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white")
    return fig


def prediction_figure(pred: Prediction, *, top: int = 10, title: str | None = None) -> go.Figure:
    """The ``top`` most probable classes as horizontal bars, the best on top."""
    title = _("Class probabilities (softmax)") if title is None else title
    pairs = pred.top(top)[::-1]
    best = pred.classes[pred.best]
    fig = go.Figure(go.Bar(x=[p for _, p in pairs], y=[c for c, _ in pairs], orientation="h",
                           marker_color=["#d62728" if c == best else "#1f77b4" for c, _ in pairs],
                           text=[f"{p:.1%}" for _, p in pairs], textposition="auto",
                           hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=80 + 28 * len(pairs),
                      xaxis=dict(range=[0, 1], tickformat=".0%"), margin=dict(l=10, r=10, t=40, b=10),
                      yaxis=dict(type="category"))  # digits' class names are names, not numbers on an axis
    return fig


def filters_figure(grid: FilterGrid, *, title: str | None = None, signed: bool | None = None,
                   limit: float | None = None) -> go.Figure:
    """A conv layer's filters tiled in one trace: colour images for RGB filters, otherwise a heatmap of
    one input channel's slice (blue negative, red positive; hover gives the weight).

    ``limit``: the colour scale runs from −limit to +limit (0 to limit for |ΔW|); give several figures the same
    limit to compare them (before and after training). Default: this grid's own largest |weight|.
    """
    colour = grid.colour
    signed = grid.signed if signed is None else signed
    if title is None:
        detail = _("{layer}: {n} filters {h}×{w}").format(layer=grid.layer, n=grid.count, h=grid.weights.shape[2],
                                                          w=grid.weights.shape[3])
        if not colour:
            detail += ", " + _("input channel {c}").format(c=grid.in_channel)
        title = f"{grid.label or grid.layer}<br><span style='font-size:11px'>{detail}</span>"
    if colour:  # weights: each filter scaled to [0, 1] as a whole, RGB kept together; |ΔW|: one scale for all
        w = grid.weights.transpose(0, 2, 3, 1)
        if signed:
            lo, hi = w.min(axis=(1, 2, 3), keepdims=True), w.max(axis=(1, 2, 3), keepdims=True)
        else:
            lo, hi = np.zeros(1, w.dtype), np.full(1, w.max(), w.dtype)
        w = (w - lo) / np.where(hi > lo, hi - lo, 1)
        n, h, ww = w.shape[:3]
        cols = max(1, math.ceil(math.sqrt(n)))
        rows = math.ceil(n / cols)
        img = np.full((rows * (h + 1) - 1, cols * (ww + 1) - 1, 3), 255, np.uint8)
        for i in range(n):
            r, c = divmod(i, cols)
            img[r * (h + 1):r * (h + 1) + h, c * (ww + 1):c * (ww + 1) + ww] = (w[i] * 255).round().astype(np.uint8)
        fig = go.Figure(go.Image(z=img, hovertemplate="RGB %{z}<extra></extra>"))
        size = (rows, cols, h, ww)
    else:
        m = mosaic(grid.slices(), norm="layer")
        top = limit if limit else (float(np.nanmax(np.abs(m.raw))) or 1.0)
        yy, xx = np.indices(m.raw.shape)
        h, ww = m.tile
        custom = np.stack([m.channel, yy % (h + 1), xx % (ww + 1)], axis=-1)
        fig = go.Figure(go.Heatmap(
            z=m.raw, customdata=custom, colorscale="RdBu_r" if signed else "Reds", zmid=0 if signed else None,
            zmin=-top if signed else 0, zmax=top,
            colorbar=dict(thickness=12, title=dict(text=_("weight") if signed else "|ΔW|")),
            hovertemplate=_("filter %{customdata[0]}<br>row %{customdata[1]}, column %{customdata[2]}"
                            "<br>weight %{z:.4f}") + "<extra></extra>"))
        size = (m.rows, m.cols, h, ww)
    fig.update_layout(title=dict(text=title, font=dict(size=14)))
    _image_axes(fig, _height(*size, lo=240, hi=520, width=400))
    return fig.update_layout(margin=dict(t=60))


def gradcam_figure(display: np.ndarray, cam: np.ndarray, *, alpha: float = 0.5, title: str = "Grad-CAM") -> go.Figure:
    """The image with the Grad-CAM heat map (0 … 1, same H×W) laid over it; hover gives the heat."""
    if cam.shape != display.shape[:2]:
        raise ValueError(_("heat map {cam} and image {image} differ in size").format(cam=cam.shape,
                                                                                     image=display.shape[:2]))
    rgb = display if display.ndim == 3 else np.repeat(display[..., None], 3, axis=2)
    fig = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=cam, colorscale=HEAT, zmin=0, zmax=1, opacity=alpha, colorbar=dict(thickness=12),
                             hovertemplate=_("row %{y}, column %{x}<br>Grad-CAM %{z:.2f}") + "<extra></extra>"))
    title = short_lines(title, 44)  # a long class name or layer: lines that leave the chart's toolbar room on a phone
    extra = 20 * title.count("<br>")
    fig.update_layout(title=dict(text=title, font=dict(size=14)))
    return _image_axes(fig, 460 + extra).update_layout(margin_t=40 + extra)
