"""Model cards and preprocessing: what a page needs to know about a model besides its weights
(input shape, classes, normalisation), and how a photo is turned into what the model sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from .i18n import _

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ModelCard",
    "Prepared",
    "card_for_checkpoint",
    "card_for_imagenet",
    "card_for_zoo",
    "normalise",
    "prepare_image",
]

MAX_INPUT_SIDE = 1024  # a checkpoint claiming a bigger input is refused before any input is built
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

@dataclass(frozen=True)
class ModelCard:
    """What a page needs to know about a model besides its weights.

    Cards are cached and shared by every session, so they hold no translated text: ``title``, ``note`` and
    ``display_classes`` are worked out in the reader's language when read.
    """

    kind: str  # "checkpoint", "zoo" (untrained), "imagenet"
    name: str  # the model's zoo name (or what the checkpoint says)
    input_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    trained: bool
    epoch: int | None = None  # of a training checkpoint
    dataset: str = ""  # what a checkpoint was trained on, e.g. "fashion_mnist"
    accuracy: float | None = None  # a checkpoint's test accuracy
    label: str = ""  # an N_-marked title given by the caller, e.g. N_("Uploaded checkpoint")
    crop_pct: float = 1.0  # ImageNet networks: resize to size / crop_pct, then crop the centre (timm's recipe)
    interpolation: str = "bilinear"

    @property
    def title(self) -> str:
        from .models import ZOO

        if self.label:
            return _(self.label)
        spec_title = _(ZOO[self.name].title) if self.name in ZOO else self.name
        if self.kind == "imagenet":
            return _("{model} (ImageNet weights)").format(model=spec_title)
        if self.kind == "zoo":
            return _("{model} (untrained: random weights)").format(model=spec_title)
        if self.dataset and self.trained:
            return _("{model} trained on {dataset}").format(model=self.name, dataset=_dataset_title(self.dataset))
        return _("{model} (checkpoint)").format(model=self.name)

    @property
    def note(self) -> str:
        from .models import ZOO

        if self.kind in ("zoo", "imagenet"):
            return _(ZOO[self.name].description) if self.name in ZOO else ""
        parts = []
        if self.epoch is not None:
            parts.append(_("epoch {n}").format(n=self.epoch))
        if self.accuracy is not None:
            parts.append(_("test accuracy {acc:.1%}").format(acc=self.accuracy))
        return ", ".join(parts)

    @property
    def display_classes(self) -> tuple[str, ...]:
        """The class names in the reader's language (Fashion-MNIST's, CIFAR-10's and ImageNet's)."""
        from .data import class_label
        from .models import imagenet_categories, imagenet_class_labels

        if self.kind == "zoo":
            return tuple(_("class {i}").format(i=i) for i in range(len(self.classes)))
        if self.kind == "imagenet" or self.classes == imagenet_categories():  # by index: names may repeat elsewhere
            return imagenet_class_labels()
        return tuple(class_label(c) for c in self.classes)


def _dataset_title(dataset: str) -> str:
    return {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}.get(
        dataset, dataset.replace("_", "-"))


@dataclass(frozen=True)
class Prepared:
    """An image as the model sees it: ``tensor`` normalised C×H×W, ``display`` uint8 H×W or H×W×3."""

    tensor: Tensor
    display: np.ndarray
    note: str


def normalise(images: Tensor, card: ModelCard) -> Tensor:
    """uint8 C×H×W (or N×C×H×W) pixels → float, standardised with the card's mean/std."""
    mean = torch.tensor(card.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(card.std, dtype=torch.float32).view(-1, 1, 1)
    return (images.float() / 255 - mean) / std


def prepare_image(img: Image.Image, card: ModelCard, *, native: bool = False, max_side: int = 256,
                  invert: bool = False) -> Prepared:
    """Preprocess a decoded photo for ``card``'s model: channels, size, normalisation.

    Default: centre-crop to the model's aspect and resize to its input size. ``native`` keeps the
    photo's own resolution (longer side capped at ``max_side``) for running the conv layers only.
    ``invert`` turns dark-on-light into light-on-dark (as Fashion-MNIST's clothes are).
    """
    from .data import image_to_tensor

    c, h, w = card.input_shape
    if native:
        if not 8 <= max_side <= 2048:
            raise ValueError(_("max_side must be between 8 and 2048, got {max_side}").format(max_side=max_side))
        x = image_to_tensor(img, channels=c, max_side=max_side)
        how = _("kept at its own resolution {w}×{h} (longer side at most {max_side})").format(
            w=x.shape[2], h=x.shape[1], max_side=max_side)
    else:
        resample = Image.Resampling.BICUBIC if card.interpolation == "bicubic" else Image.Resampling.BILINEAR
        big = (round(w / card.crop_pct), round(h / card.crop_pct))
        fitted = ImageOps.fit(img.convert("L" if c == 1 else "RGB"), big, resample)
        if big != (w, h):  # the centre crop the network was trained with
            left, top = (big[0] - w) // 2, (big[1] - h) // 2
            fitted = fitted.crop((left, top, left + w, top + h))
        x = image_to_tensor(fitted, channels=c)
        how = _("centre-cropped and resized to {w}×{h}").format(w=w, h=h)
    if invert:
        x = 1.0 - x
    display = (x * 255).round().to(torch.uint8).numpy()
    display = display[0] if c == 1 else display.transpose(1, 2, 0)
    mean = torch.tensor(card.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(card.std, dtype=torch.float32).view(-1, 1, 1)
    colour = _("grayscale") if c == 1 else "RGB"
    norm = ", ".join(f"{m:.3g}/{s:.3g}" for m, s in zip(card.mean, card.std))
    steps = [colour, how] + ([_("inverted")] if invert else [])
    note = _("{steps}, then (x − mean)/std with mean/std {norm}").format(steps=", ".join(steps), norm=norm)
    return Prepared(((x - mean) / std).contiguous(), np.ascontiguousarray(display), note)


def check_input_shape(shape, state_dict=None) -> tuple[int, int, int]:
    """A checkpoint's claimed input shape, checked against sane limits and its own first conv layer; raises
    ValueError with one sentence. (A 1.6 MB file claiming 1×100000×100000 once grew the server to 21 GB.)"""
    try:
        c, h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(_("the checkpoint's input shape {shape!r} is not three whole numbers (C, H, W)").format(
            shape=shape)) from None
    if not (1 <= c <= 4 and 1 <= h <= MAX_INPUT_SIDE and 1 <= w <= MAX_INPUT_SIDE):
        raise ValueError(_("the checkpoint says its input is {c}×{h}×{w}; this dashboard takes 1 to 4 channels and at "
                           "most {limit}×{limit} pixels").format(c=c, h=h, w=w, limit=MAX_INPUT_SIDE))
    if state_dict:
        first = next((t for t in state_dict.values() if getattr(t, "ndim", 0) == 4), None)
        if first is not None and first.shape[1] != c:
            raise ValueError(_("the checkpoint says its input has {c} channels, but its first conv layer takes "
                               "{k}").format(c=c, k=int(first.shape[1])))
    return c, h, w


def card_for_checkpoint(ckpt, *, title: str | None = None, model_name: str | None = None) -> ModelCard:
    """A ``ModelCard`` from a ``cnnviz.Checkpoint``: its input shape, classes and training normalisation.

    A checkpoint without ``mean``/``std`` in its meta is fed plain [0, 1] pixels. ``title``: an N_-marked title.
    """
    from .models import input_shape_for

    name = model_name or ckpt.model_name
    if ckpt.input_shape:
        shape = tuple(ckpt.input_shape)
    else:  # a bare state_dict: the architecture's input, with as many channels as its first conv layer takes
        first = next((t for t in ckpt.state_dict.values() if getattr(t, "ndim", 0) == 4), None)
        shape = input_shape_for(name, in_channels=int(first.shape[1]) if first is not None and first.shape[1] in (1, 3)
                                else None)
    check_input_shape(shape, ckpt.state_dict)
    c = shape[0]
    mean, std = _numbers(ckpt.meta.get("mean"), c, 0.0), _numbers(ckpt.meta.get("std"), c, 1.0)
    if not all(v > 0 for v in std):
        std = (1.0,) * c
    epoch = ckpt.epoch if isinstance(ckpt.epoch, int) and not isinstance(ckpt.epoch, bool) else None
    trained = epoch is None or epoch > 0
    acc = ckpt.meta.get("test_accuracy")
    acc = float(acc) if isinstance(acc, (int, float)) and 0 <= acc <= 1 else None
    dataset = ckpt.meta.get("dataset")
    return ModelCard("checkpoint", str(name or ""), shape, tuple(ckpt.classes), mean, std, trained, epoch,
                     dataset[:60] if isinstance(dataset, str) else "", acc, title or "")


def _numbers(value, c: int, default: float) -> tuple[float, ...]:
    """A checkpoint's per-channel mean or std: ``c`` finite numbers (one number repeated, or their mean when the
    count differs); ``default`` for anything else (a checkpoint's metadata is not trusted)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value or len(value) > 4 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return (default,) * c
    values = tuple(float(v) for v in value)
    return values if len(values) == c else (float(np.mean(values)),) * c


def card_for_zoo(name: str) -> ModelCard:
    """A ``ModelCard`` for an untrained zoo model (random weights; its outputs mean nothing yet)."""
    from .models import ZOO

    if name not in ZOO:
        raise ValueError(_("unknown model {name!r}; the zoo has: {join_zoo}").format(name=name, join_zoo=', '.join(ZOO)))
    spec = ZOO[name]
    c = spec.input_shape[0]
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if c == 3 else ((0.5,), (0.5,))
    return ModelCard("zoo", name, spec.input_shape, tuple(str(i) for i in range(10)), mean, std, False)


def card_for_imagenet(name: str) -> ModelCard:
    """A ``ModelCard`` for a network with ImageNet weights (1000 classes), preprocessed as it was trained."""
    from .models import imagenet_categories, imagenet_input_config


    cfg = imagenet_input_config(name)
    return ModelCard("imagenet", name, cfg.input_size, imagenet_categories(), cfg.mean, cfg.std, True,
                     crop_pct=cfg.crop_pct, interpolation=cfg.interpolation)
