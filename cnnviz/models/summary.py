"""Model summaries: each layer's output shape and parameters as Keras's ``model.summary()`` prints them, and the
lecture notes' Keras transfer tables rebuilt in PyTorch."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import model_input_error
from ..i18n import _
from .zoo import build_model, model_spec

__all__ = ["KerasTable", "ModelSummary", "SummaryRow", "keras_param_counts", "notes_keras_table", "summarize"]


@dataclass(frozen=True)
class SummaryRow:
    name: str  # dotted module path, e.g. "features.0"
    kind: str  # class name, e.g. "Conv2d"
    depth: int
    output_shape: tuple[int, ...]  # without the batch dimension, PyTorch order (C, H, W)
    params: int
    trainable: int

    @property
    def keras_shape(self) -> str:
        """The output shape as the notes (Keras) write it: H×W×C for images, plain length for vectors."""
        s = self.output_shape
        if len(s) == 3:
            s = (s[1], s[2], s[0])
        return "×".join(str(d) for d in s)


@dataclass(frozen=True)
class ModelSummary:
    title: str
    input_shape: tuple[int, ...]
    rows: tuple[SummaryRow, ...]
    total: int
    trainable: int

    @property
    def non_trainable(self) -> int:
        return self.total - self.trainable

    def to_text(self) -> str:
        """A table like Keras's ``model.summary()``; the first column is as wide as the longest layer name, so a
        name never runs into the shape column."""
        labels = [f"{r.name} ({r.kind})" for r in self.rows]
        width = max([len("Layer (type)"), *map(len, labels)]) + 2
        header = f"{'Layer (type)':<{width}}{'Output shape':<18}{'Param #':>12}"
        lines = [f'Model: "{self.title}"  (input {"×".join(map(str, self.input_shape))})', "=" * len(header), header,
                 "=" * len(header)]
        for label, r in zip(labels, self.rows):
            lines.append(f"{label:<{width}}{r.keras_shape:<18}{r.params:>12,}")
        lines += ["=" * len(header), f"Total params: {self.total:,}", f"Trainable params: {self.trainable:,}",
                  f"Non-trainable params: {self.non_trainable:,}", "_" * len(header)]
        return "\n".join(lines)


def summarize(model: nn.Module | str, input_shape: tuple[int, int, int] | None = None, *, depth: int = 3,
              title: str | None = None) -> ModelSummary:
    """Each leaf layer's output shape and parameters (via torchinfo), then total/trainable counts.

    ``model`` may be a zoo name. Raises ``ValueError`` when the input shape does not fit the model.
    """
    import torchinfo

    if isinstance(model, str):
        title = title or model
        spec = model_spec(model)
        input_shape = input_shape or spec.input_shape
        # ImageNet networks as they come: 1000 classes; the notes' small ones with their 10
        model = build_model(model, in_channels=input_shape[0],
                            num_classes=1000 if spec.bundled or spec.torchvision else 10)
    if input_shape is None:
        raise ValueError(_("input_shape (C, H, W) is needed to summarise a model that is not a zoo name"))
    was_training = model.training
    try:
        stats = torchinfo.summary(model, input_size=(1, *input_shape), depth=depth, verbose=0, device="cpu",
                                  mode="eval")
    except Exception as err:  # torchinfo wraps the model's own shape errors
        cause = err.__cause__ or err.__context__ or err  # torchinfo wraps the real error ("See above stack traces")
        raise model_input_error(input_shape, cause) from None
    finally:
        model.train(was_training)
    rows = []
    for info in stats.summary_list:
        own = list(info.module.parameters(recurse=False))
        if info.depth == 0 or (info.children and not own):
            continue  # containers: their leaves are listed (a container beside its own layers counted them twice)
        if info.children:  # a layer with parameters of its own and sub-layers (timm's BatchNormAct2d): only its own
            params = sum(p.numel() for p in own)
            trainable = sum(p.numel() for p in own if p.requires_grad)
        else:
            params, trainable = int(info.num_params), int(info.trainable_params)
        shape = tuple(info.output_size[1:]) if info.output_size else ()
        rows.append(SummaryRow(info.var_name if not info.parent_info else _dotted(info), info.class_name, info.depth,
                               shape, int(params), int(trainable)))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelSummary(title or type(model).__name__, tuple(input_shape), tuple(rows), total, trainable)


def _dotted(info) -> str:
    parts = []
    while info is not None and info.depth > 0:
        parts.append(info.var_name)
        info = info.parent_info
    return ".".join(reversed(parts))


# ---------------------------------------------------------------------------- the notes' Keras tables


@dataclass(frozen=True)
class KerasTable:
    """A backbone + the notes' head counted as Keras counts (batch-norm moving statistics are non-trainable
    parameters there; PyTorch keeps them as buffers), with each difference named."""

    name: str
    torch_params: int  # the base's parameters in PyTorch
    bn_moving: int  # batch-norm moving mean + variance: Keras's non-trainable parameters
    conv_biases: int  # biases Keras's version has and this PyTorch one does not
    head: int  # GlobalAveragePooling → Dense 128 → Dense 64 → Dense 10
    features: int  # what the head's first layer sees

    @property
    def keras_base(self) -> int:
        return self.torch_params + self.bn_moving + self.conv_biases

    @property
    def total(self) -> int:
        return self.keras_base + self.head


def keras_param_counts(model: nn.Module) -> tuple[int, int, int]:
    """(trainable, non-trainable, total) as Keras counts them: parameters, plus batch-norm moving statistics as
    non-trainable ones."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    moving = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    return trainable, frozen + moving, trainable + frozen + moving


def _head_params(features: int, hidden: tuple[int, ...] = (128, 64), classes: int = 10) -> int:
    sizes = (features, *hidden, classes)
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def notes_keras_table(name: str) -> KerasTable:
    """The lecture notes' transfer tables rebuilt in PyTorch: ``"mobilenet_v2"`` (torchvision's MobileNetV2 base;
    the notes: 2,430,858) or ``"resnet50v2"`` (timm's pre-activation ResNetV2-50; the notes: 23,835,978).

    Keras's ResNet50V2 gives biases to its stem conv, each block's last 1×1 conv and each shortcut conv; timm's
    bias-free convs lack exactly those, so they are counted here from the network's own layers.
    """
    if name == "mobilenet_v2":
        import torchvision

        with torch.device("meta"):
            base = torchvision.models.mobilenet_v2().features
        _t, moving_and_frozen, _total = keras_param_counts(base)
        params = sum(p.numel() for p in base.parameters())
        return KerasTable(name, params, moving_and_frozen, 0, _head_params(1280), 1280)
    if name == "resnet50v2":
        import timm

        with torch.device("meta"):
            base = timm.create_model("resnetv2_50", pretrained=False, num_classes=0)
        params = sum(p.numel() for p in base.parameters())
        moving = keras_param_counts(base)[1]
        biases = sum(m.out_channels for n, m in base.named_modules() if isinstance(m, nn.Conv2d)
                     and (n == "stem.conv" or n.endswith(".conv3") or n.endswith("downsample.conv")))
        return KerasTable(name, params, moving, biases, _head_params(base.num_features), base.num_features)
    raise ValueError(_("the notes' Keras tables are for mobilenet_v2 and resnet50v2, not {name!r}").format(name=name))
