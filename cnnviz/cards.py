"""Model cards and preprocessing: what a page needs to know about a model besides its weights
(input shape, classes, normalisation), and how a photo is turned into what the model sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

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

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

@dataclass(frozen=True)
class ModelCard:
    """What a page needs to know about a model besides its weights."""

    title: str
    input_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    trained: bool
    note: str = ""
    epoch: int | None = None  # of a training checkpoint


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
            raise ValueError(f"max_side must be between 8 and 2048, got {max_side}")
        x = image_to_tensor(img, channels=c, max_side=max_side)
        how = f"kept at its own resolution {x.shape[2]}×{x.shape[1]} (longer side at most {max_side})"
    else:
        fitted = ImageOps.fit(img.convert("L" if c == 1 else "RGB"), (w, h), Image.Resampling.BILINEAR)
        x = image_to_tensor(fitted, channels=c)
        how = f"centre-cropped and resized to {w}×{h}"
    if invert:
        x = 1.0 - x
    display = (x * 255).round().to(torch.uint8).numpy()
    display = display[0] if c == 1 else display.transpose(1, 2, 0)
    mean = torch.tensor(card.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(card.std, dtype=torch.float32).view(-1, 1, 1)
    colour = "grayscale" if c == 1 else "RGB"
    norm = ", ".join(f"{m:.3g}/{s:.3g}" for m, s in zip(card.mean, card.std))
    note = f"{colour}, {how}{', inverted' if invert else ''}, then (x − mean)/std with mean/std {norm}"
    return Prepared(((x - mean) / std).contiguous(), np.ascontiguousarray(display), note)


def card_for_checkpoint(ckpt, *, title: str | None = None, model_name: str | None = None) -> ModelCard:
    """A ``ModelCard`` from a ``cnnviz.Checkpoint``: its input shape, classes and training normalisation.

    A checkpoint without ``mean``/``std`` in its meta is fed plain [0, 1] pixels.
    """
    from .models import input_shape_for

    name = model_name or ckpt.model_name
    shape = tuple(ckpt.input_shape) if ckpt.input_shape else input_shape_for(name)
    c = shape[0]
    mean = tuple(float(v) for v in (ckpt.meta.get("mean") or [0.0] * c))
    std = tuple(float(v) for v in (ckpt.meta.get("std") or [1.0] * c))
    if len(mean) != c or len(std) != c:
        mean, std = (float(np.mean(mean)),) * c, (float(np.mean(std)),) * c
    epoch = ckpt.epoch
    trained = epoch is None or int(epoch) > 0
    acc = ckpt.meta.get("test_accuracy")
    note = (f"epoch {epoch}" if epoch is not None else "") + (f", test accuracy {float(acc):.1%}" if acc else "")
    dataset = str(ckpt.meta.get("dataset") or "").replace("_", "-").replace("fashion-mnist", "Fashion-MNIST")
    title = title or (f"{name} trained on {dataset}" if dataset and trained else f"{name} (checkpoint)")
    return ModelCard(title, shape, tuple(ckpt.classes), mean, std, trained, note.strip(", "),
                     None if epoch is None else int(epoch))


def card_for_zoo(name: str) -> ModelCard:
    """A ``ModelCard`` for an untrained zoo model (random weights; its outputs mean nothing yet)."""
    from .models import ZOO

    if name not in ZOO:
        raise ValueError(f"unknown model {name!r}; the zoo has: {', '.join(ZOO)}")
    spec = ZOO[name]
    c = spec.input_shape[0]
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if c == 3 else ((0.5,), (0.5,))
    return ModelCard(f"{spec.title} (untrained: random weights)", spec.input_shape,
                     tuple(f"class {i}" for i in range(10)), mean, std, False, spec.description)


def card_for_imagenet(name: str) -> ModelCard:
    """A ``ModelCard`` for a torchvision backbone with ImageNet weights (1000 classes, 224×224 RGB)."""
    from .models import ZOO, imagenet_categories

    return ModelCard(f"{ZOO[name].title} (ImageNet weights)", (3, 224, 224), imagenet_categories(),
                     IMAGENET_MEAN, IMAGENET_STD, True, ZOO[name].description)
