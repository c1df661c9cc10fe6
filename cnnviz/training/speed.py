"""How fast this computer trains a model now: a few real steps of ``fit`` on random images, timed.

The studio's time estimates come from here (not from a constant): the same loop, memory layout, optimizer and
threads a run gets, so the figure is what a run started now would see, other runs included.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..data import ImageData
from ..i18n import _
from .loop import fit

__all__ = ["measure_speed"]


def measure_speed(model: str | nn.Module, *, batch_size: int, input_shape: tuple[int, int, int] | None = None,
                  num_classes: int = 10, bf16: bool = False, steps: int = 2, threads: int | None = None) -> float:
    """Images per second ``fit`` trains ``model`` (a zoo name, or a module, which is trained on a copy) at on this
    computer now: one epoch of ``steps`` batches of random images to warm up, then one more, timed.

    Raises ``ValueError`` for a model that does not take ``input_shape`` (default: the zoo model's) or bad settings.
    """
    import copy

    from ..models import build_model, input_shape_for

    if isinstance(model, str):
        input_shape = input_shape or input_shape_for(model)
        model = build_model(model, num_classes=num_classes, in_channels=input_shape[0], seed=0)
    elif input_shape is None:
        raise ValueError(_("measuring a model's speed needs its input shape"))
    else:
        model = copy.deepcopy(model)
    if batch_size < 1:
        raise ValueError(_("batch size must be at least 1, got {batch_size}").format(batch_size=batch_size))
    g = torch.Generator().manual_seed(0)
    n = batch_size * max(1, int(steps))
    images = torch.randint(0, 256, (n, *input_shape), generator=g, dtype=torch.uint8)
    labels = torch.arange(n) % num_classes
    classes = tuple(str(i) for i in range(num_classes))
    train = ImageData("calibration", images, labels, classes, "random images")
    test = ImageData("calibration", images[:1], labels[:1], classes, "random images")
    history = fit(model, train, test, epochs=2, batch_size=batch_size, bf16=bf16, threads=threads,
                  mean=[0.5] * input_shape[0], std=[0.25] * input_shape[0], save_every_s=None)
    speed = history.epochs[-1].images_per_s if history.epochs else math.nan
    if not speed or not math.isfinite(speed):
        raise ValueError(_("the speed could not be measured: {message}").format(message=history.message))
    return float(speed)
