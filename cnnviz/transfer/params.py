"""Parameter tables (total / trainable / frozen, a Keras-like summary per strategy) and how far weights moved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..models import ZOO
from .strategies import IMAGENET_BACKBONES, STRATEGIES, TransferNet, build_transfer_model, set_strategy
from ..i18n import _
from ..errors import model_input_error


@dataclass(frozen=True)
class ParamCounts:
    total: int
    trainable: int

    @property
    def frozen(self) -> int:
        return self.total - self.trainable


def count_parameters(model: nn.Module) -> ParamCounts:
    """Total and trainable (``requires_grad``) parameter counts."""
    params = list(model.parameters())
    return ParamCounts(sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad))


@dataclass(frozen=True)
class SummaryLine:
    name: str  # Keras-like: "vgg16" (the whole conv base), "flatten", "dense", "dense_1", ...
    kind: str
    output_shape: str  # H×W×C or a length, as the notes write it
    params: int
    trainable: int


@dataclass(frozen=True)
class TransferSummary:
    """The notes' ``model.summary()`` of a transfer model: the base as one line, then the head's layers."""

    title: str
    input_shape: tuple[int, int, int]
    lines: tuple[SummaryLine, ...]
    counts: ParamCounts

    def to_text(self) -> str:
        header = f"{'Layer (type)':<34}{'Output Shape':<16}{'Param #':>12}"
        out = [f'Model: "{self.title}"', "_" * len(header), header, "=" * len(header)]
        out += [f"{(ln.name + ' (' + ln.kind + ')'):<34.34}{ln.output_shape:<16}{ln.params:>12,}" for ln in self.lines]
        out += ["=" * len(header), f"Total params: {self.counts.total:,}", f"Trainable params: {self.counts.trainable:,}",
                f"Non-trainable params: {self.counts.frozen:,}", "_" * len(header)]
        return "\n".join(out)


def _keras_shape(t: torch.Tensor) -> str:
    s = tuple(t.shape[1:])
    if len(s) == 3:
        s = (s[1], s[2], s[0])
    return "×".join(map(str, s))


@torch.no_grad()
def transfer_summary(model: TransferNet, input_shape: tuple[int, int, int], *, title: str | None = None) -> TransferSummary:
    """A Keras-style summary of ``model`` (one forward pass of one zero image). Raises ``ValueError`` on a bad shape."""
    was = model.training
    model.eval()
    try:
        x = model.backbone(torch.zeros(1, *input_shape))
        base = list(model.backbone.parameters())
        lines = [SummaryLine(model.arch, "conv base, " + ("frozen" if not any(p.requires_grad for p in base) else
                             ("partly trainable" if not all(p.requires_grad for p in base) else "trainable")),
                             _keras_shape(x), sum(p.numel() for p in base), sum(p.numel() for p in base if p.requires_grad))]
        dense = 0
        for layer in model.head:
            x = layer(x)
            ps = list(layer.parameters())
            if isinstance(layer, nn.Flatten):
                name = "flatten"
            elif isinstance(layer, nn.Linear):
                name = "dense" if dense == 0 else f"dense_{dense}"
                dense += 1
            else:
                continue  # activations are folded into the dense layers, as in Keras
            lines.append(SummaryLine(name, type(layer).__name__, _keras_shape(x), sum(p.numel() for p in ps),
                                     sum(p.numel() for p in ps if p.requires_grad)))
    except RuntimeError as err:
        raise model_input_error(input_shape, err) from None
    finally:
        model.train(was)
    return TransferSummary(title or f"{model.arch} + new head", tuple(input_shape), tuple(lines), count_parameters(model))


def strategy_table(arch: str, *, num_classes: int = 10, input_shape: tuple[int, int, int] | None = None,
                   head: Sequence[int] = (128, 64)) -> dict[str, TransferSummary]:
    """The summary of ``arch`` + new head under each strategy (random weights: the counts do not depend on them).

    The architecture is built once. VGG16 on 32×32 with a 128-64-10 head: 14,789,258 parameters,
    74,570 of them trainable when the base is frozen.
    """
    if input_shape is None:
        c = ZOO[arch].input_shape[0] if arch in ZOO else 3
        input_shape = (c, 32, 32) if arch in IMAGENET_BACKBONES else ZOO[arch].input_shape
    model = build_transfer_model(arch, "full", num_classes=num_classes, input_shape=input_shape, head=head)
    out = {}
    for key in STRATEGIES:
        set_strategy(model, key)
        out[key] = transfer_summary(model, input_shape, title=f"{arch} + {'-'.join(map(str, [*head, num_classes]))} head")
    return out


# ---------------------------------------------------------------------------- how far weights moved


@dataclass(frozen=True)
class LayerChange:
    """How far one layer's weights moved: ||W_after − W_before|| / ||W_before|| (Frobenius norms)."""

    name: str  # dotted module name in the TransferNet, e.g. "backbone.features.0", "head.1"
    kind: str  # Conv2d, Linear
    params: int
    relative: float
    trainable: bool


def weight_change(before: dict[str, torch.Tensor], model: nn.Module) -> tuple[LayerChange, ...]:
    """|ΔW|/|W| per conv and dense layer between the state dict ``before`` and ``model`` now (weights, not biases)."""
    out = []
    for name, m in model.named_modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        key = f"{name}.weight"
        if key not in before:
            raise ValueError(_("{key} is not in the 'before' weights: they come from another model").format(key=key))
        w0, w1 = before[key].float(), m.weight.detach().float()
        norm = float(w0.norm())
        rel = float((w1 - w0).norm()) / norm if norm > 0 else float("nan")
        out.append(LayerChange(name, type(m).__name__, sum(p.numel() for p in m.parameters()), rel, m.weight.requires_grad))
    return tuple(out)
