"""The arithmetic of one output cell, with the real numbers, for every kind of column the overview draws.

A convolution's cell is, for each input channel it reads, the window of that channel times the kernel's slice,
summed; then the channels' sums added up, plus the bias. Batch norm is folded into one scale and one shift; an
activation is a function of the one cell under it; a pooling cell is the largest (or the mean) of its window; a
linear unit is Σ input × weight + bias. ``cell_chain`` follows a convolution's cell through the layers that come
after it up to the next convolution or linear layer (batch norm, the activation, the pooling cell it falls in), as
CNN Explainer does. Every value is computed here from the layer's own input and weights and compared by the tests
with what PyTorch's forward pass wrote into the map (``Step.shown``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..i18n import _
from .trace import NetworkTrace

__all__ = ["Step", "Term", "cell_arithmetic", "cell_chain", "same_padding"]

LINEAR_TERMS = 8  # a linear unit lists its largest contributions; the rest are added up in one number


@dataclass(frozen=True)
class Term:
    """One input channel's part of a cell: its ``window`` of values (NaN outside the input: padding), the
    ``kernel`` slice (conv only), their elementwise ``product`` and its ``total``. A linear layer's term is one input
    (1×1 arrays)."""

    channel: int
    window: np.ndarray
    kernel: np.ndarray | None
    product: np.ndarray | None
    total: float


@dataclass(frozen=True)
class Step:
    """How one cell of one column is computed. ``value`` is this arithmetic's result, ``shown`` what the layer's
    map holds at that cell (PyTorch's forward pass); ``origin`` the window's top-left in the layer's input (negative
    inside the padding)."""

    column: int
    layer: str
    kind: str
    channel: int
    row: int
    col: int
    terms: tuple[Term, ...]
    value: float
    shown: float
    bias: float = 0.0
    scale: float = 1.0  # batch norm, folded: value = scale·x + bias (then its activation, if it has one)
    before: float = float("nan")  # activation / batch norm: the cell under it; batch norm + act: after the norm
    rest: float = 0.0  # linear: the inputs not listed in ``terms``, added up
    rest_count: int = 0
    origin: tuple[int, int] = (0, 0)
    function: str = ""  # activation: its class name (ReLU, ReLU6, Tanh …)


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after) of one side, as timm's Conv2dSame pads: the output is
    ceil(size / stride), the extra pixel goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _pads(module: nn.Module, h: int, w: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padding that ``module`` (a conv or pool) puts around an h×w input."""
    k = _pair(module.kernel_size)
    s = _pair(module.stride if module.stride is not None else module.kernel_size)
    d = _pair(getattr(module, "dilation", 1))
    if type(module).__name__.endswith("Same"):  # timm's Conv2dSame / MaxPool2dSame: TensorFlow's padding
        top, bottom = same_padding(h, k[0], s[0], d[0])
        left, right = same_padding(w, k[1], s[1], d[1])
        return top, bottom, left, right
    p = module.padding
    if p == "valid":
        return 0, 0, 0, 0
    if p == "same":  # PyTorch's own 'same' (stride 1): the extra pixel goes after
        (top, bottom), (left, right) = ((d[0] * (k[0] - 1)) // 2, d[0] * (k[0] - 1) - (d[0] * (k[0] - 1)) // 2), \
            ((d[1] * (k[1] - 1)) // 2, d[1] * (k[1] - 1) - (d[1] * (k[1] - 1)) // 2)
        return top, bottom, left, right
    p = _pair(p)
    return p[0], p[0], p[1], p[1]


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _window(plane: Tensor, module: nn.Module, row: int, col: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The input values one output cell of a conv or pool reads from one channel ``plane`` (H×W): NaN where the
    window lies in the padding. Returns the window and its top-left corner in the input."""
    h, w = plane.shape
    top, _bottom, left, _right = _pads(module, h, w)
    k, s = _pair(module.kernel_size), _pair(module.stride if module.stride is not None else module.kernel_size)
    d = _pair(getattr(module, "dilation", 1))
    y0, x0 = row * s[0] - top, col * s[1] - left
    ys = y0 + d[0] * np.arange(k[0])
    xs = x0 + d[1] * np.arange(k[1])
    values = plane.numpy().astype(np.float64)
    inside = (ys[:, None] >= 0) & (ys[:, None] < h) & (xs[None, :] >= 0) & (xs[None, :] < w)
    out = np.full((k[0], k[1]), np.nan)
    out[inside] = values[np.clip(ys, 0, h - 1)[:, None], np.clip(xs, 0, w - 1)[None, :]][inside]
    return out, (int(y0), int(x0))


def _check_cell(trace: NetworkTrace, column: int, channel: int, row: int, col: int):
    if not 0 <= column < len(trace.columns):
        raise ValueError(_("column {column} does not exist: the overview has {n} columns").format(
            column=column, n=len(trace.columns)))
    c = trace.columns[column]
    if c.kind == "input":
        raise ValueError(_("the input image is given, not computed: pick a cell of a layer"))
    ch, h, w = c.values.shape
    if not (0 <= channel < ch and 0 <= row < h and 0 <= col < w):
        raise ValueError(_("{layer} has {c} channels of {h}×{w}: channel {channel}, row {row}, column {col} is "
                           "outside it").format(layer=c.name, c=ch, h=h, w=w, channel=channel, row=row, col=col))
    return c


def cell_arithmetic(trace: NetworkTrace, column: int, channel: int, row: int = 0, col: int = 0) -> Step:
    """How the cell (``channel``, ``row``, ``col``) of ``trace.columns[column]`` is computed from the layer's input,
    with the real numbers. Raises ``ValueError`` for a cell outside the layer or the input column."""
    c = _check_cell(trace, column, channel, row, col)
    m, src, shown = c.module, c.source[0].double(), float(c.values[channel, row, col])
    base = dict(column=column, layer=c.name, kind=c.kind, channel=channel, row=row, col=col, shown=shown)
    if c.kind == "conv":
        weight = m.weight.detach().double().cpu()[channel]
        terms = []
        origin = (0, 0)
        for j, k in enumerate(c.reads(channel)):
            window, origin = _window(src[k], m, row, col)
            kernel = weight[j].numpy()
            product = np.nan_to_num(window) * kernel
            terms.append(Term(k, window, kernel, product, float(product.sum())))
        bias = float(m.bias.detach().double()[channel]) if m.bias is not None else 0.0
        return Step(**base, terms=tuple(terms), value=float(sum(t.total for t in terms) + bias), bias=bias,
                    origin=origin)
    if c.kind == "linear":
        x = src.flatten()
        weight = m.weight.detach().double().cpu()[channel]
        contrib = (x * weight).numpy()
        order = np.argsort(-np.abs(contrib), kind="stable")[:LINEAR_TERMS]
        terms = tuple(Term(int(i), np.array([[float(x[i])]]), np.array([[float(weight[i])]]),
                           np.array([[contrib[i]]]), float(contrib[i])) for i in order)
        rest_idx = np.setdiff1d(np.arange(len(contrib)), order)
        rest = float(contrib[rest_idx].sum())
        bias = float(m.bias.detach().double()[channel]) if m.bias is not None else 0.0
        return Step(**base, terms=terms, value=float(contrib.sum() + bias), bias=bias, rest=rest,
                    rest_count=len(rest_idx))
    x = float(src.reshape(c.values.shape)[channel, row, col]) if c.kind in ("batchnorm", "activation") else math.nan
    if c.kind == "batchnorm":
        scale = float(m.weight.detach().double()[channel]) if m.weight is not None else 1.0
        mean, var = float(m.running_mean.double()[channel]), float(m.running_var.double()[channel])
        scale = scale / math.sqrt(var + m.eps)
        shift = (float(m.bias.detach().double()[channel]) if m.bias is not None else 0.0) - mean * scale
        normed = scale * x + shift
        act = getattr(m, "act", None)  # timm's BatchNormAct2d: the activation comes with it
        value = _activate(act, normed) if act is not None and not isinstance(act, nn.Identity) else normed
        return Step(**base, terms=(), value=value, bias=shift, scale=scale, before=x,
                    function=type(act).__name__ if act is not None and not isinstance(act, nn.Identity) else "")
    if c.kind == "activation":
        return Step(**base, terms=(), value=_activate(m, x), before=x, function=type(m).__name__)
    if c.kind in ("maxpool", "avgpool"):
        window, origin = _window(src[channel], m, row, col)
        if c.kind == "maxpool":
            value = float(np.nanmax(window))
        elif m.count_include_pad:
            value = float(np.nansum(window) / (m.divisor_override or window.size))
        else:
            value = float(np.nanmean(window)) if m.divisor_override is None else float(
                np.nansum(window) / m.divisor_override)
        return Step(**base, terms=(Term(channel, window, None, None, value),), value=value, origin=origin)
    # adaptive pooling: PyTorch's bins, start = floor(i·H/out), end = ceil((i+1)·H/out)
    h, w = src.shape[1:]
    oh, ow = c.values.shape[1:]
    y0, y1 = (row * h) // oh, -((-(row + 1) * h) // oh)
    x0, x1 = (col * w) // ow, -((-(col + 1) * w) // ow)
    window = src[channel, y0:y1, x0:x1].numpy()
    value = float(window.max() if c.kind == "adaptive_maxpool" else window.mean())
    return Step(**base, terms=(Term(channel, window, None, None, value),), value=value, origin=(y0, x0))


def _activate(module: nn.Module, x: float) -> float:
    """An activation on one number: the formulas the page writes, the module itself for any other."""
    if type(module) is nn.ReLU:
        return max(0.0, x)
    if type(module) is nn.ReLU6:
        return min(max(0.0, x), 6.0)
    if type(module) is nn.LeakyReLU:
        return x if x >= 0 else module.negative_slope * x
    if type(module) is nn.Tanh:
        return math.tanh(x)
    if type(module) is nn.Sigmoid:
        return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
    with torch.no_grad():
        return float(module(torch.tensor([[[[x]]]], dtype=torch.float64)).flatten()[0])


_FOLLOWERS = ("batchnorm", "activation", "maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool")


def cell_chain(trace: NetworkTrace, column: int, channel: int, row: int = 0, col: int = 0) -> tuple[Step, ...]:
    """The cell's arithmetic, then the same value through the layers right after it that work channel by channel
    (batch norm, activation, pooling: the pooling cell whose window holds it), up to the next convolution or linear
    layer or a column that does not read its predecessor. Raises ``ValueError`` like ``cell_arithmetic``."""
    steps = [cell_arithmetic(trace, column, channel, row, col)]
    j = column + 1
    while j < len(trace.columns) and trace.columns[j].kind in _FOLLOWERS and trace.columns[j].chained:
        nxt = trace.columns[j]
        if nxt.kind in ("batchnorm", "activation"):
            pass
        elif nxt.kind in ("maxpool", "avgpool"):
            src_h, src_w = nxt.source.shape[2:]
            top, _b, left, _r = _pads(nxt.module, src_h, src_w)
            k = _pair(nxt.module.kernel_size)
            s = _pair(nxt.module.stride if nxt.module.stride is not None else nxt.module.kernel_size)
            row = max(0, min(int(nxt.values.shape[1]) - 1, (row + top) // s[0]))
            col = max(0, min(int(nxt.values.shape[2]) - 1, (col + left) // s[1]))
            if not (row * s[0] - top <= steps[-1].row < row * s[0] - top + k[0]
                    and col * s[1] - left <= steps[-1].col < col * s[1] - left + k[1]):  # no window covers it
                break
        else:  # adaptive pooling
            h, w = nxt.source.shape[2:]
            oh, ow = nxt.values.shape[1:]
            row, col = min(oh - 1, row * oh // h), min(ow - 1, col * ow // w)
        steps.append(cell_arithmetic(trace, j, channel, row, col))
        j += 1
    return tuple(steps)

