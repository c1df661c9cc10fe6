"""Figures of the network overview: every layer a column of small maps (ONE image trace per column, one marker trace
for clicks), the lines from a chosen channel to the channels it reads, the prediction as bars, one channel enlarged
with clickable cells, and the arithmetic of one cell (windows × kernels = products, in one heatmap trace)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from ..i18n import _
from ..overview import Column, NetworkTrace, Step
from .maps import COLORSCALE, _image_axes, _image_uri, _rgb

__all__ = ["arithmetic_figure", "bar_units", "cell_figure", "is_bars", "network_figure", "operation", "step_text",
           "tile_position"]

PAD = 0.15  # the gap between two tiles, in tiles
SLOT = 5.0  # the least width of a layer's column (its name, shape and operation are written above it)
BARS = 10  # the prediction shows at most this many classes
BAR_LENGTH = 4.0
ROWS = 32  # tiles a column holds before it wraps into a second one
SELECTED, READ = "#d62728", "#ff7f0e"


def operation(column: Column) -> str:
    """What a column's layer does, in a few words: "conv 5×5, pad 2", "max-pool 2×2", "ReLU", "linear 1152→128"."""
    m = column.module
    if column.kind == "input":
        return _("input image")
    if column.kind == "conv":
        kh, kw = m.kernel_size
        text = _("conv {kh}×{kw}").format(kh=kh, kw=kw)
        if tuple(m.stride) != (1, 1):
            text += ", " + _("stride {s}").format(s=m.stride[0])
        if type(m).__name__.endswith("Same"):
            text += ", 'same'"
        elif isinstance(m.padding, str):
            text += f", '{m.padding}'"
        elif any(m.padding):
            text += ", " + _("pad {p}").format(p=m.padding[0])
        if m.groups > 1:
            text += ", " + (_("depthwise") if m.groups == m.in_channels else _("{g} groups").format(g=m.groups))
        return text
    if column.kind == "batchnorm":
        act = getattr(m, "act", None)
        name = type(act).__name__ if act is not None and type(act).__name__ != "Identity" else ""
        return _("batch norm") + (f" + {name}" if name else "")
    if column.kind == "activation":
        return type(m).__name__
    if column.kind in ("maxpool", "avgpool"):
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        text = (_("max-pool {k}×{k}") if column.kind == "maxpool" else _("avg-pool {k}×{k}")).format(k=k)
        s = m.stride if isinstance(m.stride, int) else (m.stride[0] if m.stride else k)
        return text + (", " + _("stride {s}").format(s=s) if s != k else "")
    if column.kind.startswith("adaptive"):
        glob = tuple(column.values.shape[1:]) == (1, 1)
        if column.kind == "adaptive_avgpool":
            return _("global average pooling") if glob else _("adaptive avg-pool")
        return _("global max pooling") if glob else _("adaptive max-pool")
    if column.kind == "linear":
        return _("linear {n_in}→{n_out}").format(n_in=m.in_features, n_out=m.out_features)
    return column.module_type


def _shape_text(column: Column) -> str:
    return "×".join(str(v) for v in column.shape)


def _tile_image(maps: np.ndarray, rows: int, px: int, pad_px: int) -> tuple[np.ndarray, int]:
    """N maps (H×W) scaled together to [0, 1], resized to px×px and tiled top to bottom, then in further columns
    of ``rows``: an RGB uint8 image and the number of tile columns."""
    n = len(maps)
    lo, hi = float(maps.min()), float(maps.max())
    scaled = (maps - lo) / (hi - lo) if hi > lo else np.zeros_like(maps)
    cols = math.ceil(n / rows)
    shown_rows = min(n, rows)
    img = np.full((shown_rows * (px + pad_px) - pad_px, cols * (px + pad_px) - pad_px), np.nan, np.float32)
    h, w = maps.shape[1:]
    resample = Image.Resampling.NEAREST if px >= max(h, w) else Image.Resampling.BOX
    for i in range(n):
        c, r = divmod(i, rows)
        tile = np.asarray(Image.fromarray(scaled[i].astype(np.float32), mode="F").resize((px, px), resample))
        img[r * (px + pad_px):r * (px + pad_px) + px, c * (px + pad_px):c * (px + pad_px) + px] = tile
    return _rgb(img), cols


def _labels(trace: NetworkTrace, j: int) -> list[str]:
    """The lines written above column ``j``: its name (broken after a dot when long), shape and operation (broken
    after a comma), so that narrow columns keep their labels apart."""
    c = trace.columns[j]
    op = _("softmax probabilities") if is_bars(trace, j) else operation(c)
    name = c.name if c.kind != "input" else _("input")
    lines = [name]
    if len(name) > 10 and "." in name:
        head, _dot, tail = name.rpartition(".")
        lines = [head + ".", tail]
    lines.append(_shape_text(c))
    parts = op.replace(" + ", ", + ").split(", ")
    while parts:
        line = parts.pop(0)
        while parts and _ems(line + ", " + parts[0]) <= 8:
            line += (" " if parts[0].startswith("+") else ", ") + parts.pop(0)
        lines.append(line + ("," if parts and not parts[0].startswith("+") else ""))
    if not is_bars(trace, j) and len(c.shown) < c.channels:
        lines.append(_("first {n} of {total}").format(n=len(c.shown), total=c.channels))
    return lines


def _layout(trace: NetworkTrace, show: Sequence[int], rows: int, char: float = 0.0
            ) -> tuple[dict[int, tuple[float, float, int, int]], float, float]:
    """Column index -> (left x, top y, tile columns, tile rows) in tile units, the total width and height. A
    column's slot is as wide as its tiles or its longest label line (``char``: one letter's width in tile units);
    the gap of a big network takes a slot of its own."""
    out: dict[int, tuple[float, float, int, int]] = {}
    height = min(rows, max(len(trace.columns[j].shown) for j in show)) * (1 + PAD)
    x = 0.0
    for j in show:
        c = trace.columns[j]
        text = max(_ems(line) for line in _labels(trace, j)) * char + 1.0
        if is_bars(trace, j):
            n = min(BARS, c.channels)
            out[j] = (x + 0.5, max(0.0, (height - n * (1 + PAD)) / 2), 1, n)
            names = max(_ems(trace.prediction.classes[u]) + 2.5 for u in bar_units(trace, j)) * char
            x += max(text, BAR_LENGTH + 0.8 + names) + 0.5
            continue
        n = len(c.shown)
        cols, r = math.ceil(n / rows), min(n, rows)
        width = cols * (1 + PAD) - PAD
        slot = max(2.0, text, width + 0.8)
        out[j] = (x + (slot - width) / 2, (height - r * (1 + PAD)) / 2, cols, r)
        x += slot
        if trace.gap_after is not None and j == trace.gap_after:
            x += SLOT
    return out, x, max(height, min(BARS, trace.columns[show[-1]].channels) * (1 + PAD))


def _ems(text: str) -> float:
    """About how wide ``text`` is, in font sizes: Hangul and other wide letters 1, the rest 0.66 (with room)."""
    return sum(1.0 if ord(ch) >= 0x1100 else 0.66 for ch in text)


def _fit(trace: NetworkTrace, show: Sequence[int], width: int, letter_px: float, height: int,
         most: int) -> tuple[int, dict, float, float]:
    """The number of tile rows (up to ``most``; the tiles of the fullest column split evenly into tile columns) that
    gives the largest tiles in a plot ``width`` × ``height`` pixels, with the labels' room worked out at that size
    (``letter_px``: the labels' font size)."""
    best = None
    biggest = max(len(trace.columns[j].shown) for j in show)
    for rows in sorted({math.ceil(biggest / k) for k in range(1, 9) if math.ceil(biggest / k) <= most} or {most}):
        place, w, h = _layout(trace, show, rows)
        for _i in range(30):  # the labels' width depends on the scale, which depends on the width: iterate
            place, new_w, h = _layout(trace, show, rows, char=letter_px * w / width)
            done, w = abs(new_w - w) < 0.05, new_w
            if done or w > 2000:
                break
        unit = min(width / w, height / h)
        if best is None or unit > best[0] * 1.05:
            best = (unit, rows, place, w, h)
    return best[1:]


def is_bars(trace: NetworkTrace, j: int) -> bool:
    """The last column is the prediction, drawn as bars, when it is a linear layer."""
    return j == len(trace.columns) - 1 and trace.columns[j].kind == "linear"


def bar_units(trace: NetworkTrace, j: int) -> list[int]:
    """The output units the bars show: every class for ten or fewer, else the ten most probable."""
    probs = trace.prediction.probs
    if len(probs) <= BARS:
        return list(range(len(probs)))
    return sorted(range(len(probs)), key=lambda i: -probs[i])[:BARS]


def tile_position(trace: NetworkTrace, place: dict, j: int, channel: int, rows: int) -> tuple[float, float] | None:
    """The centre of ``channel``'s tile in column ``j`` (None when it is not drawn)."""
    if j not in place:
        return None
    x, y, _cols, _r = place[j]
    units = bar_units(trace, j) if is_bars(trace, j) else list(trace.columns[j].shown)
    if channel not in units:
        return None
    i = units.index(channel)
    if is_bars(trace, j):
        pitch = place.get("pitch", 1 + PAD)
        return x - 0.2, y + (i + 0.5) * pitch
    c, r = divmod(i, rows)
    return x + c * (1 + PAD) + 0.5, y + r * (1 + PAD) + 0.5


def network_figure(trace: NetworkTrace, *, show: Sequence[int] | None = None, selected: tuple[int, int] | None = None,
                   tile_px: int | None = None, width: int = 1150, rows: int = ROWS, label_px: int = 11,
                   height: int = 560, max_height: int | None = None) -> go.Figure:
    """Every column of ``trace`` (or the ``show`` ones) left to right, each a column of its channels' maps (one
    scale per layer), with its name, shape and operation above; the prediction as bars at the end. ``selected``
    (column, channel) is outlined and joined by lines to the channels it reads in the column before it. The tiles'
    markers carry (column, channel) for clicks. ``max_height`` (pixels): the figure is drawn narrower when it would
    be taller (a projector's first screen)."""
    show = list(range(len(trace.columns))) if show is None else sorted(set(show))
    if not show:
        raise ValueError(_("choose at least one layer to show"))
    if max_height is not None:  # the tiles get what the labels above them leave; more tile columns, else narrower
        room = max(100, int(max_height - _head(trace, show, label_px) - 20))
        for _i in range(4):
            fig = network_figure(trace, show=show, selected=selected, tile_px=tile_px, width=width, rows=rows,
                                 label_px=label_px, height=min(height, room))
            if fig.layout.height <= max_height or width < 200:
                break
            width = int(width * 0.97 * room / max(1, fig.layout.height - (max_height - room)))
        return fig
    rows, place, total_w, total_h = _fit(trace, show, width, label_px, height, rows)
    unit = width / max(total_w, 1.0)
    bottom = total_h
    if is_bars(trace, show[-1]):  # a bar per line of text, however small the tiles are
        n = len(bar_units(trace, show[-1]))
        place["pitch"] = pitch = max(1 + PAD, 1.35 * label_px / unit)
        x, _y, cols, r = place[show[-1]]
        place[show[-1]] = (x, max(0.0, (total_h - n * pitch) / 2), cols, r)
        bottom = max(total_h, n * pitch)
    px = tile_px or int(min(48, max(16, max(trace.columns[j].values.shape[1] for j in show if not is_bars(trace, j))
                                    if any(not is_bars(trace, j) for j in show) else 16)))
    pad_px = max(1, round(PAD * px))
    fig = go.Figure()
    xs, ys, custom, hover = [], [], [], []
    annotations = []
    for j in show:
        c = trace.columns[j]
        x, y, cols, r = place[j]
        lines = _labels(trace, j)
        named = 2 if lines[0].endswith(".") else 1
        label = "<br>".join([f"<b>{line}</b>" for line in lines[:named]] + lines[named:])
        if is_bars(trace, j):
            units = bar_units(trace, j)
            probs = [trace.prediction.probs[u] for u in units]
            names = [trace.prediction.classes[u] for u in units]
            centres = [y + (i + 0.5) * place["pitch"] for i in range(len(units))]
            best = trace.prediction.best
            fig.add_trace(go.Bar(
                x=[p * BAR_LENGTH for p in probs], y=centres, base=x, orientation="h", width=0.8 * place["pitch"],
                marker_color=[SELECTED if u == best else "#1f77b4" for u in units],
                customdata=[[j, u, p, float(c.values[u, 0, 0])] for u, p in zip(units, probs)],
                hovertemplate=_("%{text}<br>probability %{customdata[2]:.1%}<br>logit %{customdata[3]:.4g}")
                + "<extra></extra>", text=names, textposition="none", name="prediction", showlegend=False))
            # each class and its probability, ending at the figure's right edge: on a screen narrower than
            # ``width`` (a phone) the text keeps its size while the tiles shrink, so it grows leftwards, on a white
            # ground, rather than past the edge
            annotations.extend(dict(x=total_w + 0.3, y=cy, text=f"{n} {p:.0%}", showarrow=False, xanchor="right",
                                    bgcolor="rgba(255,255,255,0.85)", font=dict(size=label_px))
                               for n, p, cy in zip(names, probs, centres))
            annotations.append(dict(x=total_w + 0.3, y=-0.4, text=label, showarrow=False, yanchor="bottom",
                                    xanchor="right", align="right", font=dict(size=label_px)))  # as the labels
            continue
        maps = c.values[list(c.shown)].numpy()
        rgb, _n = _tile_image(maps, rows, px, pad_px)
        fig.add_trace(go.Image(source=_image_uri(rgb), x0=x + 0.5 / px, y0=y + 0.5 / px, dx=1 / px, dy=1 / px,
                               hoverinfo="skip"))
        strength = c.values.mean(dim=(1, 2)).numpy()
        for i, ch in enumerate(c.shown):
            cc, rr = divmod(i, rows)
            xs.append(x + cc * (1 + PAD) + 0.5)
            ys.append(y + rr * (1 + PAD) + 0.5)
            custom.append([j, ch, float(strength[ch]), float(c.values[ch].max())])
            hover.append(c.name if c.kind != "input" else _("input"))
        width_units = cols * (1 + PAD) - PAD
        annotations.append(dict(x=x + width_units / 2, y=-0.4, text=label, showarrow=False,
                                yanchor="bottom", font=dict(size=label_px)))
    if trace.gap_after is not None and trace.gap_after in place:
        nxt = min((k for k in place if isinstance(k, int) and k > trace.gap_after), default=None)
        x, _y, cols, _r = place[trace.gap_after]
        end = x + cols * (1 + PAD)
        gx = (end + place[nxt][0]) / 2 if nxt is not None else end + SLOT / 2
        annotations.append(dict(x=gx, y=total_h / 2, text=_("⋯ {n} layers<br>not drawn").format(n=trace.hidden),
                                showarrow=False, font=dict(size=12, color="#666")))
    fig.add_trace(go.Scatter(
        # a marker no larger than its tile (the chart may be drawn narrower than ``width``): larger ones overlap
        # their neighbours and a click at a tile's centre could choose the one next to it
        x=xs, y=ys, mode="markers", marker=dict(size=min(14.0, max(3.0, 0.8 * unit)), opacity=0.01, color="white",
                                                symbol="square"),
        customdata=custom, text=hover, name="channels", showlegend=False,
        hovertemplate=_("%{text}, channel %{customdata[1]}<br>mean %{customdata[2]:.4g}, largest "
                        "%{customdata[3]:.4g}<br>click: its maps and arithmetic") + "<extra></extra>"))
    shapes = []
    if selected is not None:
        shapes, lines = _selection(trace, place, show, selected, rows)
        if lines[0]:
            fig.add_trace(go.Scatter(x=lines[0], y=lines[1], mode="lines", hoverinfo="skip", showlegend=False,
                                     line=dict(color="rgba(214,39,40,0.45)", width=1.2), name="reads"))
    head = _head(trace, show, label_px)
    height = int(max(300, unit * bottom + head + 20))
    fig.update_layout(annotations=annotations, shapes=shapes, showlegend=False, clickmode="event+select",
                      dragmode=False, bargap=0)
    fig = _image_axes(fig, height)
    fig.update_xaxes(range=[-0.3, total_w + 0.3])
    fig.update_yaxes(range=[bottom + 0.3, -0.3 - head / unit], autorange=False)
    fig.update_layout(margin=dict(l=5, r=5, t=10, b=5))
    return fig


def _head(trace: NetworkTrace, show: Sequence[int], label_px: float) -> float:
    """The room in pixels of the labels above the tiles."""
    return (max(len(_labels(trace, j)) for j in show) + 1) * label_px * 1.25 + 10


def _selection(trace: NetworkTrace, place: dict, show: Sequence[int], selected: tuple[int, int], rows: int):
    """Outlines of the chosen tile and of the tiles it reads, and the lines between them (one trace)."""
    j, channel = selected
    shapes, lx, ly = [], [], []
    at = tile_position(trace, place, j, channel, rows)
    if at is None:
        return shapes, (lx, ly)
    shapes.append(_outline(at, SELECTED, 3))
    c = trace.columns[j]
    prev = j - 1
    if not c.chained or prev not in place or is_bars(trace, prev):
        return shapes, (lx, ly)
    reads = range(trace.columns[prev].channels) if c.kind == "linear" else c.reads(channel)
    for k in reads:
        src = tile_position(trace, place, prev, k, rows)
        if src is None:
            continue
        shapes.append(_outline(src, READ, 1.5))
        lx += [src[0] + 0.5, at[0] - 0.5, None]
        ly += [src[1], at[1], None]
    return shapes, (lx, ly)


def _outline(centre: tuple[float, float], colour: str, width: float) -> dict:
    x, y = centre
    return dict(type="rect", x0=x - 0.55, x1=x + 0.55, y0=y - 0.55, y1=y + 0.55, line=dict(color=colour, width=width))


def cell_figure(column: Column, channel: int, *, cell: tuple[int, int] | None = None, window=None,
                title: str | None = None, height: int = 380) -> go.Figure:
    """One channel of a column enlarged, every value on hover; a transparent marker on every cell makes it
    clickable (customdata: row, column). ``cell`` is outlined; ``window`` (top, left, h, w) too."""
    z = column.values[channel].numpy()
    h, w = z.shape
    fig = go.Figure(go.Heatmap(z=z, colorscale=COLORSCALE, colorbar=dict(thickness=10), hoverinfo="skip"))
    # the cells' markers take the hover and the click (a heatmap cannot be selected), each no larger than its cell
    # (the plot is square, ``height`` less the margins, tall): larger ones overlap and a click could choose a neighbour.
    # customdata as lists: a numpy array reaches the page's selection event as {"0": row, "1": column, …}
    yy, xx = np.indices((h, w))
    fig.add_trace(go.Scatter(x=xx.ravel(), y=yy.ravel(), mode="markers", customdata=np.stack([yy.ravel(),
                             xx.ravel(), z.ravel()], axis=-1).tolist(), name="cells", showlegend=False,
                             marker=dict(size=max(3.0, min(24.0, 0.8 * (height - 50) / max(h, w))), opacity=0.01,
                                         symbol="square"),
                             hovertemplate=_("row %{y}, column %{x}<br>value %{customdata[2]:.4g}")
                             + "<extra></extra>"))
    shapes = []
    if cell is not None:
        r, c = cell
        shapes.append(dict(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                           line=dict(color=SELECTED, width=3)))
    if window is not None:
        top, left, wh, ww = window
        shapes.append(dict(type="rect", x0=left - 0.5, x1=left + ww - 0.5, y0=top - 0.5, y1=top + wh - 0.5,
                           line=dict(color=READ, width=2)))
    name = column.name if column.kind != "input" else _("input")
    fig.update_layout(title=dict(text=title or _("{layer}, channel {channel} ({h}×{w})").format(
        layer=name, channel=channel, h=h, w=w), font=dict(size=14)), shapes=shapes, showlegend=False,
        clickmode="event+select", dragmode=False)
    return _image_axes(fig, height)


def arithmetic_figure(step: Step, *, limit: int = 6) -> go.Figure:
    """A convolution cell's arithmetic for its ``limit`` largest input channels (by |sum|): each row the window of
    that channel, × the kernel slice, = their product, and the sum, the numbers written in the cells. ONE heatmap:
    each block coloured on its own scale (blue negative, red positive), the text gives the real values."""
    if step.kind != "conv" or not step.terms:
        raise ValueError(_("the arithmetic figure is for a convolution's cell"))
    terms = sorted(step.terms, key=lambda t: -abs(t.total))[:limit]
    kh, kw = terms[0].window.shape
    gap = 1
    width = 3 * kw + 2 * (gap + 1)
    height = len(terms) * (kh + gap) - gap
    z = np.full((height, width), np.nan)
    text = np.full((height, width), "", dtype=object)
    annotations = []
    for i, t in enumerate(terms):
        y = i * (kh + gap)
        for b, block in enumerate((t.window, t.kernel, t.product)):
            x = b * (kw + gap + 1)
            top = float(np.nanmax(np.abs(block))) or 1.0
            z[y:y + kh, x:x + kw] = np.nan_to_num(block / top)
            text[y:y + kh, x:x + kw] = [[_("pad") if np.isnan(v) else f"{v:.2f}" for v in row] for row in block]
        mid = y + (kh - 1) / 2
        annotations += [dict(x=kw + 0.5, y=mid, text="×", showarrow=False, font=dict(size=18)),
                        dict(x=2 * kw + gap + 1.5, y=mid, text="=", showarrow=False, font=dict(size=18)),
                        dict(x=width - 0.5, y=mid, text=_("ch {k}: Σ = {s:.3f}").format(k=t.channel, s=t.total),
                             xanchor="left", showarrow=False, font=dict(size=13))]
    cell = 34 if kh <= 5 else 24
    fig = go.Figure(go.Heatmap(z=z, text=text, texttemplate="%{text}", textfont=dict(size=11 if kh <= 3 else 9),
                               colorscale="RdBu", reversescale=True, zmin=-1, zmax=1, showscale=False,
                               hoverinfo="skip", xgap=1, ygap=1))
    heads = [_("input window"), _("kernel"), _("product")]
    annotations += [dict(x=b * (kw + gap + 1) + (kw - 1) / 2, y=-0.7, text=f"<b>{h}</b>", showarrow=False,
                         yanchor="bottom", font=dict(size=13)) for b, h in enumerate(heads)]
    fig.update_layout(annotations=annotations, margin=dict(l=5, r=140, t=40, b=5))
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5], constrain="domain")
    fig.update_yaxes(visible=False, range=[height - 0.5, -1.6], scaleanchor="x", constrain="domain")
    fig.update_layout(height=int(min(900, 60 + cell * (height + 1.5))), plot_bgcolor="white")
    return fig


def step_text(step: Step, steps: Sequence[Step] = ()) -> tuple[str, str]:
    """(what this step computes, with its numbers; the operation's name) for the chain's table."""
    if step.kind == "conv":
        n = len(step.terms)
        what = _("Σ of {n} channel sums {s:.4g} + bias {b:.4g}").format(
            n=n, s=sum(t.total for t in step.terms), b=step.bias)
        return what, _("convolution")
    if step.kind == "linear":
        listed = sum(t.total for t in step.terms)
        what = _("{k} largest inputs × weights {s:.4g} + the other {m} {r:.4g} + bias {b:.4g}").format(
            k=len(step.terms), s=listed, m=step.rest_count, r=step.rest, b=step.bias)
        return what, _("linear")
    if step.kind == "batchnorm":
        what = _("{a:.4g} × {x:.4g} + {b:.4g}").format(a=step.scale, x=step.before, b=step.bias)
        if step.function:
            what += " → " + f"{step.function}"
        return what, _("batch norm (folded)")
    if step.kind == "activation":
        return f"{step.function}({step.before:.4g})", _("activation")
    window = step.terms[0].window
    vals = ", ".join(_("pad") if np.isnan(v) else f"{v:.3g}" for v in window.ravel()[:16])
    more = " …" if window.size > 16 else ""
    name = {"maxpool": _("max"), "adaptive_maxpool": _("max")}.get(step.kind, _("mean"))
    return f"{name}({vals}{more})", _("pooling")
