"""One image through a whole network: every layer's output, in the order the forward pass runs them.

A *column* is one layer that computes something (a convolution, batch norm, activation, pooling or linear layer):
its name, kind, output (C×H×W maps, or N values as N×1×1) and its own input, captured by hooks that clone both
(an in-place ReLU cannot change what is shown). Reshaping and do-nothing layers (Flatten, Dropout in eval mode,
Identity) are no columns. ImageNet-sized networks have dozens of layers and up to 1,280 channels a layer: the trace
keeps the first layers and the last ones, and at most ``max_channels`` channels of each.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..capture import ACTIVATIONS, Prediction, _batch, _first_param_device, model_lock
from ..errors import model_input_error
from ..i18n import _

__all__ = ["Column", "NetworkTrace", "column_kind", "trace_network"]

BIG_SIDE = 64  # a model whose input is larger than this (an ImageNet network) is shown in part
FIRST, LAST, MAX_CHANNELS = 6, 4, 32  # what a big network shows: its first and last layers, channels per layer
_SKIP = (nn.Flatten, nn.Dropout, nn.Dropout2d, nn.Identity, nn.Unflatten)
_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def column_kind(module: nn.Module) -> str | None:
    """What a layer does, as the overview names it: "conv", "batchnorm", "activation", "maxpool", "avgpool",
    "adaptive_avgpool", "adaptive_maxpool", "linear"; None for a layer that is no column (reshaping, dropout,
    containers, anything unknown)."""
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.BatchNorm2d):  # also timm's BatchNormAct2d (batch norm + its activation)
        return "batchnorm"
    if isinstance(module, ACTIVATIONS):
        return "activation"
    if isinstance(module, nn.MaxPool2d):
        return "maxpool"
    if isinstance(module, nn.AvgPool2d):
        return "avgpool"
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return "adaptive_avgpool"
    if isinstance(module, nn.AdaptiveMaxPool2d):
        return "adaptive_maxpool"
    if isinstance(module, nn.Linear):
        return "linear"
    return None


@dataclass(frozen=True)
class Column:
    """One layer of the overview. ``values`` C×H×W (a linear layer's N outputs as N×1×1), ``source`` the layer's own
    input (1×C×H×W or 1×N; None for the image), ``shown`` the channels drawn, ``chained`` True when the layer reads
    exactly the previous column's output (False after a skip connection's sum, or across left-out layers)."""

    name: str
    kind: str  # a column_kind, or "input"
    module_type: str  # the module's class name, e.g. "Conv2d"
    values: Tensor
    source: Tensor | None
    module: nn.Module | None
    shown: tuple[int, ...]
    chained: bool

    @property
    def channels(self) -> int:
        return int(self.values.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """The output's shape as PyTorch gives it without the batch: (C, H, W) or (N,)."""
        return (self.channels,) if self.kind == "linear" else tuple(int(v) for v in self.values.shape)

    def reads(self, channel: int) -> list[int]:
        """The channels of the layer's input that ``channel`` is computed from: all of them for a convolution
        (its group's, for a grouped or depthwise one) and a linear layer, the same channel for the rest."""
        if self.kind == "input" or self.source is None:
            return []
        if self.kind == "conv":
            m = self.module
            per = m.in_channels // m.groups
            group = channel // (m.out_channels // m.groups)
            return list(range(group * per, (group + 1) * per))
        if self.kind == "linear":
            return list(range(int(self.source.shape[1]) if self.source.ndim == 2 else 0))
        return [channel]


@dataclass(frozen=True)
class NetworkTrace:
    """Every column of one image's pass, the prediction at the end, and what was left out of a big network
    (``hidden`` layers after the column ``gap_after``; ``big`` when channels were capped too)."""

    columns: tuple[Column, ...]
    prediction: Prediction
    hidden: int = 0
    gap_after: int | None = None
    big: bool = False
    total_layers: int = 0


def _called_columns(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules that may be columns: those with a column_kind that sit in no other such module (the ReLU6 inside
    timm's BatchNormAct2d belongs to the batch norm)."""
    out: list[tuple[str, nn.Module]] = []
    taken: list[str] = []
    for name, module in model.named_modules():
        if not name or any(name.startswith(t + ".") for t in taken):
            continue
        if column_kind(module) is not None:
            out.append((name, module))
            taken.append(name)
    return out


def trace_network(model: nn.Module, image: Tensor, *, classes: tuple[str, ...] = (), big: bool | None = None,
                  first: int = FIRST, last: int = LAST, max_channels: int = MAX_CHANNELS) -> NetworkTrace:
    """Run one image (C×H×W, normalised as the model expects) through ``model`` and keep every column.

    ``big`` (default: the input is larger than BIG_SIDE pixels a side) keeps only the ``first`` and ``last`` columns
    and ``max_channels`` channels of each. Raises ``ValueError`` when the model cannot take the image or has no
    layer to show, ``TypeError`` for an input that is no tensor.
    """
    x = _batch(image).to(_first_param_device(model))
    big = max(x.shape[2:]) > BIG_SIDE if big is None else big
    candidates = _called_columns(model)
    calls: list[tuple[str, nn.Module, Tensor, Tensor]] = []
    pending: dict[int, list[Tensor]] = {}

    me = threading.get_ident()  # another thread may run the shared model meanwhile: its passes are not ours

    def pre(module, inputs):
        if threading.get_ident() == me and inputs and isinstance(inputs[0], Tensor):
            pending.setdefault(id(module), []).append(inputs[0].detach().to("cpu", copy=True))

    def post_for(name: str):
        def post(module, _inputs, output):
            if threading.get_ident() != me:
                return
            inp = pending.get(id(module), [None]).pop()
            if isinstance(output, Tensor) and inp is not None:
                calls.append((name, module, inp, output.detach().to("cpu", copy=True)))
        return post

    with model_lock(model):
        modes = [(m, m.training) for m in model.modules()]
        handles = []
        for name, module in candidates:
            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post_for(name)))
        model.eval()
        try:
            with torch.no_grad():
                logits = model(x)
        except RuntimeError as err:
            raise model_input_error(x.shape[1:], err) from None
        finally:
            for h in handles:
                h.remove()
            for m, mode in modes:
                m.training = mode
    if not calls:
        raise ValueError(_("this model has no layer the overview can show (convolutions, pooling, activations, "
                           "linear layers)"))
    probs = torch.softmax(logits[0].float().cpu().flatten(), dim=0)
    names = tuple(classes) if len(classes) == len(probs) else tuple(
        _("class {i}").format(i=i) for i in range(len(probs)))
    prediction = Prediction(tuple(float(p) for p in probs), names)

    seen: dict[str, int] = {}
    columns = [Column("input", "input", "", x[0].detach().float().cpu(), None, None, (), False)]
    for name, module, inp, out in calls:
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name} #{seen[name]}"
        values = out[0].float()
        if values.ndim == 1:
            values = values[:, None, None]
        elif values.ndim != 3:
            continue
        prev = columns[-1].values
        src = inp.float()
        flat_prev = prev.flatten() if src.ndim == 2 else prev
        chained = tuple(flat_prev.shape) == tuple(src[0].shape) and torch.equal(flat_prev, src[0])
        columns.append(Column(label, column_kind(module), type(module).__name__, values, src, module, (), chained))

    total = len(columns) - 1
    hidden, gap = 0, None
    if big and len(columns) > 1 + first + last:
        hidden, gap = len(columns) - 1 - first - last, first
        columns = columns[:1 + first] + columns[-last:]
        for i in (1 + first,):  # the first column after the gap does not read the one drawn before it
            columns[i] = _replace(columns[i], chained=False)
    cap = max_channels if big else None
    columns = [_replace(c, shown=tuple(range(min(c.channels, cap) if cap else c.channels))) for c in columns]
    return NetworkTrace(tuple(columns), prediction, hidden, gap, big, total)


def _replace(column: Column, **changes) -> Column:
    from dataclasses import replace

    return replace(column, **changes)
