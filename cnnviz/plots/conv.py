"""Plotly figures for the convolution lab (no streamlit here)."""

from __future__ import annotations

import base64
import io

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from PIL import Image

from ..i18n import N_, _

__all__ = ["activation_figure", "bars_figure", "gradient_flow_figure", "image_figure", "loss_figure",
           "matrix_figure", "transposed_grid", "window_grid"]

# cell kinds in window_grid
PAD, INPUT, UNREAD, WINDOW, WINDOW_PAD, BEYOND, WINDOW_BEYOND = range(7)
_KIND_COLOURS = ["#e9e9ee", "#d6e6f5", "#f6b8b8", "#f28e2b", "#f9c98f", "#f8f8f8", "#fde6cf"]
_KIND_NAMES = [N_("padding (zeros)"), N_("input"), N_("never read"), N_("read by this window"),
               N_("window on padding"), N_("past the end (not part of the input)"),
               N_("window past the end: left out")]


def _fmt(v: float) -> str:
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.2f}"


def _title(text: str) -> dict:
    return dict(text=text, y=0.995, yanchor="top", x=0.01, xanchor="left", font=dict(size=14))


def _pads(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from one number or four."""
    if isinstance(padding, (int, np.integer)):
        return (int(padding),) * 4  # type: ignore[return-value]
    top, bottom, left, right = (int(v) for v in padding)
    return top, bottom, left, right


def window_grid(height: int, width: int, *, padding: int | Sequence[int] = 0, rows: Iterable[int] = (),
                cols: Iterable[int] = (), values: np.ndarray | None = None, unread_rows: Iterable[int] = (),
                unread_cols: Iterable[int] = (), title: str = "", cell_px: int = 40,
                beyond: tuple[int, int] = (0, 0)) -> go.Figure:
    """The padded input grid, the cells one window reads (padded coordinates), and never-read rows/columns.

    ``padding`` is one number or (top, bottom, left, right): Keras's 'same' pads one more after when it must.
    ``values`` (height×width) writes the numbers into the input cells; padding cells show 0. ``beyond`` (rows,
    columns) draws that many cells past the padded input's bottom and right edge, where pooling's ceil_mode lets a
    last window hang off the end.
    """
    top, bottom, left, right = _pads(padding)
    bottom_off, right_off = (int(v) for v in beyond)
    hp, wp = height + top + bottom, width + left + right
    kind = np.full((hp + bottom_off, wp + right_off), BEYOND, dtype=int)
    kind[:hp, :wp] = PAD
    kind[top:top + height, left:left + width] = INPUT
    for r in unread_rows:
        kind[top + r, left:left + width] = UNREAD
    for c in unread_cols:
        kind[top:top + height, left + c] = UNREAD
    rows, cols = list(rows), list(cols)
    if rows and cols:
        sub = kind[np.ix_(rows, cols)]
        kind[np.ix_(rows, cols)] = np.select([sub == PAD, sub == BEYOND], [WINDOW_PAD, WINDOW_BEYOND], WINDOW)
    hp, wp = kind.shape
    text = None
    if values is not None:
        full = np.zeros((hp, wp))
        full[top:top + height, left:left + width] = values
        text = [[_fmt(v) for v in row] for row in full]
    n = len(_KIND_COLOURS)
    scale = [[edge, _KIND_COLOURS[i]] for i in range(n) for edge in (i / n, (i + 1) / n)]
    names = np.array([_(k) for k in _KIND_NAMES], dtype=object)
    heat = go.Heatmap(
        z=kind, x=list(range(-left, width + right + right_off)), y=list(range(-top, height + bottom + bottom_off)),
        zmin=-0.5, zmax=n - 0.5, colorscale=scale, showscale=False, xgap=1, ygap=1,
        text=text, texttemplate="%{text}" if text is not None else None, textfont={"size": 11},
        customdata=names[kind], hovertemplate=_("row %{y}, column %{x}") + "<br>%{customdata}<extra></extra>",
    )
    side = max(hp, wp)
    px_size = int(min(520, max(200, side * cell_px)))
    ticks = dict(showgrid=False, zeroline=False, showticklabels=side <= 40, dtick=1 if side <= 16 else 5,
                 constrain="domain")
    layout = dict(title=_title(title), height=px_size + 70, margin=dict(l=10, r=10, t=70 if title else 30, b=10),
                  plot_bgcolor="white", xaxis=dict(ticks, side="top"),
                  yaxis=dict(ticks, autorange="reversed", scaleanchor="x"))
    return go.Figure(heat, layout=layout)


def transposed_grid(size: int, kernel: int, *, stride: int = 1, padding: int = 0, dilation: int = 1,
                    output_padding: int = 0, title: str = "") -> go.Figure:
    """A transposed convolution as the convolution-arithmetic paper draws it: the input's cells spread ``stride``
    apart (zeros between), zeros around (d·(k−1) − p on each side, plus output_padding after), and an ordinary
    stride-1 convolution over that. Square input of ``size`` cells a side."""
    border = dilation * (kernel - 1) - padding
    if border < 0:
        raise ValueError(_("padding {p} is larger than d·(k−1) = {limit}: this view needs padding at most "
                           "d·(k−1)").format(p=padding, limit=dilation * (kernel - 1)))
    inner = (size - 1) * stride + 1
    side = inner + 2 * border + output_padding
    kind = np.full((side, side), PAD, dtype=int)
    idx = border + np.arange(size) * stride
    kind[np.ix_(idx, idx)] = INPUT
    first = np.arange(kernel) * dilation  # the first output cell's window: the top left corner
    first = first[first < side]
    sub = kind[np.ix_(first, first)]
    kind[np.ix_(first, first)] = np.where(sub == PAD, WINDOW_PAD, WINDOW)
    n = len(_KIND_COLOURS)
    scale = [[edge, _KIND_COLOURS[i]] for i in range(n) for edge in (i / n, (i + 1) / n)]
    names = np.array([_("zero (inserted or padding)"), _("input"), "", _("read by the first window"),
                      _("first window on a zero")], dtype=object)
    heat = go.Heatmap(z=kind, zmin=-0.5, zmax=n - 0.5, colorscale=scale, showscale=False, xgap=1, ygap=1,
                      customdata=names[kind], hovertemplate="%{customdata}<extra></extra>")
    ticks = dict(showgrid=False, zeroline=False, showticklabels=False, constrain="domain")
    px_size = int(min(520, max(200, side * 30)))
    layout = dict(title=_title(title), height=px_size + 60, margin=dict(l=10, r=10, t=60 if title else 20, b=10),
                  plot_bgcolor="white", xaxis=ticks, yaxis=dict(ticks, autorange="reversed", scaleanchor="x"))
    return go.Figure(heat, layout=layout)


def matrix_figure(arr: np.ndarray, *, title: str = "", annotate: bool = True, signed: bool = True,
                  x_labels: Sequence[str] | None = None, y_labels: Sequence[str] | None = None,
                  highlight: tuple[int, int] | None = None, height: int | None = None,
                  zrange: tuple[float, float] | None = None, colorbar: bool = False) -> go.Figure:
    """A numeric matrix as a heatmap with the numbers written in (diverging colours around 0 if ``signed``).

    ``zrange`` fixes the colour scale (so several matrices can share one); ``colorbar`` draws its bar.
    """
    arr = np.asarray(arr, dtype=float)
    lim = float(np.abs(arr).max()) or 1.0
    if zrange is not None:
        zmin, zmax = zrange
    else:
        zmin, zmax = (-lim, lim) if signed else (None, None)
    text = [[_fmt(v) for v in row] for row in arr] if annotate else None
    heat = go.Heatmap(
        z=arr, x=list(x_labels) if x_labels is not None else None, y=list(y_labels) if y_labels is not None else None,
        colorscale="RdBu" if signed else "Blues", reversescale=signed, zmid=0 if signed and zrange is None else None,
        zmin=zmin, zmax=zmax, showscale=colorbar, xgap=1, ygap=1,
        colorbar=dict(thickness=12, len=0.8, title=dict(text=_("value"))) if colorbar else None,
        text=text, texttemplate="%{text}" if annotate else None, textfont={"size": 11},
        hovertemplate=_("row %{y}, column %{x}: %{z:.4g}") + "<extra></extra>",
    )
    rows, cols = arr.shape
    xaxis = dict(showgrid=False, zeroline=False, side="top")
    yaxis = dict(showgrid=False, zeroline=False, autorange="reversed")
    xaxis.update(type="category") if x_labels is not None else xaxis.update(dtick=1 if cols <= 16 else 5)
    yaxis.update(type="category") if y_labels is not None else yaxis.update(dtick=1 if rows <= 16 else 5)
    if rows <= 30 and cols <= 30 and x_labels is None and y_labels is None:
        xaxis.update(constrain="domain")
        yaxis.update(constrain="domain", scaleanchor="x")
    shapes = []
    if highlight is not None:
        r, c = highlight
        shapes.append(dict(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                           line=dict(color="#f28e2b", width=4)))
    h = height or int(min(560, max(160, rows * 28 + 80)))
    layout = dict(title=_title(title), height=h, margin=dict(l=10, r=10, t=70 if title else 30, b=10),
                  xaxis=xaxis, yaxis=yaxis, shapes=shapes)
    return go.Figure(heat, layout=layout)


def image_figure(arr: np.ndarray, *, title: str = "", signed: bool = False, height: int = 320) -> go.Figure:
    """A photo (H×W or 3×H×W in [0, 1]) or a filter response as one image trace.

    ``signed`` maps 0 to mid-grey, the most negative value to black and the most positive to white.
    """
    arr = np.asarray(arr, dtype=float)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if signed:
        lim = float(np.abs(arr).max()) or 1.0
        arr = (arr / lim + 1) / 2
    if arr.ndim == 3:
        arr = arr.transpose(1, 2, 0)
    img = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    h, w = img.shape[:2]
    axis = dict(showticklabels=False, ticks="", showgrid=False, zeroline=False, showline=False, constrain="domain")
    layout = dict(title=_title(title), height=height, margin=dict(l=0, r=0, t=40 if title else 0, b=0),
                  xaxis=dict(axis, range=[-0.5, w - 0.5]), yaxis=dict(axis, range=[h - 0.5, -0.5], scaleanchor="x"))
    return go.Figure(go.Image(source=_jpeg_uri(img), hoverinfo="skip"), layout=layout)


def _jpeg_uri(img: np.ndarray) -> str:
    """uint8 H×W or H×W×3 as a JPEG data URI: several times faster to encode than PNG, and a page
    redraws its images on every slider move."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# Lines that lie on top of each other for x > 0 (ReLU, leaky ReLU and ELU are all x there) stay visible: each
# function its own dash pattern, and the ones drawn first are wider.
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def activation_figure(x: np.ndarray, curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
                      labels: Mapping[str, str] | None = None) -> go.Figure:
    """Each activation (left) and its derivative (right), each panel with its own legend and axis titles. Two axes
    laid out by hand: make_subplots alone costs ~50 ms, half the budget of a slider move."""
    palette = px.colors.qualitative.D3
    traces = []
    n = len(curves)
    for i, (name, (y, dy)) in enumerate(curves.items()):
        label = (labels or {}).get(name, name)
        # simplify=False: plotly would otherwise drop points of a wide line that deviate by less than about a
        # quarter of its width, and a sigmoid drawn 8 px wide turns into a polyline
        line = dict(color=palette[i % len(palette)], dash=_DASHES[i % len(_DASHES)], width=2 + 1.5 * (n - 1 - i),
                    simplify=False)
        traces.append(go.Scatter(x=x, y=y, name=label, line=line, legend="legend",
                                 hovertemplate="x = %{x:.2f}<br>f(x) = %{y:.4f}<extra>" + label + "</extra>"))
        traces.append(go.Scatter(x=x, y=dy, name=label + "′", line=line, xaxis="x2", yaxis="y2", legend="legend2",
                                 hovertemplate="x = %{x:.2f}<br>f′(x) = %{y:.4f}<extra>" + label + "</extra>"))
    axis = dict(zeroline=True, zerolinecolor="#999")
    head = dict(xref="paper", yref="paper", y=1.0, yanchor="bottom", showarrow=False, font=dict(size=14))
    legend = dict(orientation="h", yanchor="top", y=-0.18, xanchor="left")
    layout = dict(
        height=420, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(legend, x=0.0), legend2=dict(legend, x=0.55),
        xaxis=dict(axis, domain=[0, 0.45], title=dict(text="x")), yaxis=dict(axis, title=dict(text="f(x)")),
        xaxis2=dict(axis, domain=[0.55, 1], anchor="y2", title=dict(text="x")),
        yaxis2=dict(axis, anchor="x2", title=dict(text="f′(x)")),
        annotations=[dict(head, text=_("the function f(x)"), x=0.225),
                     dict(head, text=_("its derivative f′(x): what backpropagation multiplies by"), x=0.775)],
    )
    return go.Figure(traces, layout=layout)


def gradient_flow_figure(flows: Sequence, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Gradient norm reaching each layer (layer 1 = first), log scale, one line per activation."""
    colours = ["#f28e2b", "#4e79a7", "#59a14f", "#e15759"]
    traces = [go.Scatter(x=list(range(1, f.depth + 1)), y=list(f.grad_norms), mode="lines+markers",
                         name=(labels or {}).get(f.activation, f.activation), line=dict(color=colours[i % len(colours)]))
              for i, f in enumerate(flows)]
    layout = dict(height=360, margin=dict(l=10, r=10, t=40, b=10), title=_title(_("Gradient reaching each layer")),
                  xaxis=dict(title=dict(text=_("layer (1 = next to the input)"))),
                  yaxis=dict(title=dict(text=_("‖∂loss/∂W‖ (log scale)")), type="log", exponentformat="power"))
    return go.Figure(traces, layout=layout)


def bars_figure(labels: Sequence[str], values: Sequence[float], *, title: str = "", highlight: int | None = None,
                y_title: str = "", y_range: tuple[float, float] | None = None, fmt: str = "{:.3f}") -> go.Figure:
    """Bars with their values written on top (``fmt``, e.g. "{:,}" for counts); ``highlight`` one bar in orange."""
    colours = ["#f28e2b" if i == highlight else "#4e79a7" for i in range(len(labels))]
    bar = go.Bar(x=list(labels), y=list(values), marker_color=colours, text=[fmt.format(v) for v in values],
                 textposition="outside", cliponaxis=False)
    yaxis = dict(title=dict(text=y_title), range=list(y_range)) if y_range else dict(title=dict(text=y_title))
    layout = dict(title=_title(title), height=320, margin=dict(l=10, r=10, t=50, b=10), yaxis=yaxis)
    return go.Figure(bar, layout=layout)


def loss_figure(p: np.ndarray, curves: Mapping[str, np.ndarray], *, marker: float | None = None) -> go.Figure:
    """Loss against the predicted probability of the correct answer; ``marker`` draws a dashed line at p."""
    traces = [go.Scatter(x=p, y=y, name=name) for name, y in curves.items()]
    shapes = [] if marker is None else [dict(type="line", x0=marker, x1=marker, y0=0, y1=1, yref="paper",
                                             line=dict(dash="dash", color="#888"))]
    layout = dict(height=360, margin=dict(l=10, r=10, t=40, b=10),
                  title=_title(_("Loss when the correct answer gets probability p")),
                  xaxis=dict(title=dict(text=_("p (predicted probability of the correct answer)"))),
                  yaxis=dict(title=dict(text=_("loss")), range=[0, 5]), legend=dict(orientation="h", y=-0.25),
                  shapes=shapes)
    return go.Figure(traces, layout=layout)
