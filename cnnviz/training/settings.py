"""What ``fit`` checks and prepares before its first step: its options and settings, whether the model fits the
data, the optimizer and learning-rate schedule, and the saved state a resumed run continues from."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data import ImageData
from ..errors import model_input_error
from ..i18n import _
from .rundir import STATE_FILE
from .tensors import to_float

__all__ = ["MAX_EPOCHS", "OPTIMIZERS", "SAVE_EVERY_S", "SCHEDULES", "FitOptions", "check_epochs", "check_model_fits",
           "check_settings", "load_optimizer", "load_state", "make_optimizer", "one_cycle"]


OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "onecycle")
SAVE_EVERY_S = 30.0  # a run killed outright (SIGKILL, power cut) loses at most this much training
MAX_EPOCHS = 1000  # wherever epochs enter (fit, a run's config, the CLI, a transfer comparison): a run must end



@dataclass(frozen=True)
class FitOptions:
    """fit's keyword options beyond the common ones (see ``fit``'s docstring)."""

    log_every: int | None = None
    eval_batch_size: int = 1000
    threads: int | None = None
    resume: bool = False
    schedule: str = "constant"
    flip: bool | None = None
    model_name: str | None = None
    spec: list | None = None
    dataset: str | None = None
    meta: dict = field(default_factory=dict)
    keep_state: bool = True
    save_initial: bool = True
    channels_last: bool | None = None
    bf16: bool = False
    save_every_s: float | None = SAVE_EVERY_S
    save_every_steps: int | None = None
    foreach: bool = True
    label_smoothing: float = 0.0
    max_steps: int | None = None
    probes: bool = True  # record weight and gradient statistics in the run folder (probes.npz)



def make_optimizer(params: list[torch.Tensor], optimizer: str, *, lr: float, momentum: float, weight_decay: float,
                    foreach: bool) -> torch.optim.Optimizer:
    """SGD (with momentum) or Adam; ``foreach``: one multi-tensor update for all parameters (the same arithmetic)."""
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=foreach)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=foreach)


def check_model_fits(model: nn.Module, data: ImageData, scale: torch.Tensor, shift: torch.Tensor) -> None:
    """One image through the model (eval mode, no grad): its output must be one score per class."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(to_float(data.images[:1], scale, shift))
    except RuntimeError as err:
        raise model_input_error(data.input_shape, err) from None
    finally:
        model.train(was_training)
    k = max(len(data.classes), int(data.labels.max()) + 1)
    if out.ndim != 2 or out.shape[1] < k:
        raise ValueError(_("the model outputs {tuple_out_shape_1} per image but the data has {k} classes: its last layer needs {k} outputs").format(tuple_out_shape_1=tuple(out.shape[1:]), k=k))


def one_cycle(step: int, total: int, peak: float) -> float:
    """A one-cycle learning rate: warm up linearly over 25 % of the steps to ``peak``, then cosine down to ~0."""
    warm = max(1, int(0.25 * total))
    if step < warm:
        return peak * (0.04 + 0.96 * step / warm)
    t = (step - warm) / max(1, total - warm)
    return peak * (0.5 * (1 + math.cos(math.pi * min(1.0, t)))) + peak * 1e-3


def load_state(folder: Path) -> dict[str, Any] | None:
    path = folder / STATE_FILE
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # PyTorch's words (and the server's paths) stay on the server
        raise ValueError(_("{path} is damaged; restart the run from an epoch checkpoint").format(
            path=path.name)) from None


def load_optimizer(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    try:
        opt.load_state_dict(state)
    except (ValueError, KeyError):
        raise ValueError(_("the saved optimizer state does not fit this run; choose the same optimizer")) from None


def check_epochs(epochs: object, *, name: str = "epochs", shown: str | None = None) -> int:
    """``epochs`` as an int if it is a whole number from 1 to MAX_EPOCHS; else ValueError naming ``name`` and the
    value (``shown``: as the user typed it)."""
    try:
        whole = isinstance(epochs, numbers.Real) and not isinstance(epochs, bool) and int(epochs) == epochs
    except (OverflowError, ValueError):  # inf, nan
        whole = False
    if not whole or not 1 <= epochs <= MAX_EPOCHS:  # type: ignore[operator]
        raise ValueError(_("{name} must be a whole number from 1 to {limit:,}, got {epochs}").format(
            name=name, limit=MAX_EPOCHS, epochs=shown if shown is not None else epochs))
    return int(epochs)  # type: ignore[arg-type]


def check_settings(train: ImageData, test: ImageData, *, epochs: int, batch_size: int, optimizer: str, lr: float,
                    momentum: float, weight_decay: float, start_epoch: int, opts: FitOptions) -> None:
    if not isinstance(train, ImageData) or not isinstance(test, ImageData):
        raise TypeError(_("train and test must be cnnviz.ImageData (see cnnviz.load_dataset)"))
    if len(train) == 0:
        raise ValueError(_("the training set is empty"))
    if train.input_shape[0] != test.input_shape[0] or train.input_shape[1:] != test.input_shape[1:]:
        raise ValueError(_("train images are {train_input_shape} but test images are {test_input_shape}").format(train_input_shape=train.input_shape, test_input_shape=test.input_shape))
    check_epochs(epochs)
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(_("batch size must be at least 1, got {batch_size}").format(batch_size=batch_size))
    if optimizer not in OPTIMIZERS:
        raise ValueError(_("unknown optimizer {optimizer!r}; choose one of {join_optimizers}").format(optimizer=optimizer, join_optimizers=', '.join(OPTIMIZERS)))
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(_("learning rate must be a positive number, got {lr}").format(lr=lr))
    if not 0 <= momentum < 1:
        raise ValueError(_("momentum must be in [0, 1), got {momentum}").format(momentum=momentum))
    if weight_decay < 0:
        raise ValueError(_("weight decay must be >= 0, got {weight_decay}").format(weight_decay=weight_decay))
    if start_epoch < 0 or start_epoch > epochs:
        raise ValueError(_("start_epoch must be between 0 and epochs ({epochs}), got {start_epoch}").format(epochs=epochs, start_epoch=start_epoch))
    if opts.schedule not in SCHEDULES:
        raise ValueError(_("unknown schedule {opts_schedule!r}; choose one of {join_schedules}").format(opts_schedule=opts.schedule, join_schedules=', '.join(SCHEDULES)))
    if not 0 <= opts.label_smoothing < 1:
        raise ValueError(_("label smoothing must be in [0, 1), got {value}").format(value=opts.label_smoothing))
    if opts.max_steps is not None and (int(opts.max_steps) != opts.max_steps or opts.max_steps < 1):
        raise ValueError(_("max_steps must be a whole number of at least 1 (or None for whole epochs), got "
                           "{max_steps}").format(max_steps=opts.max_steps))
    if opts.log_every is not None and opts.log_every < 1:
        raise ValueError(_("log_every must be at least 1, got {opts_log_every}").format(opts_log_every=opts.log_every))
    labels = train.labels
    if len(labels) and (int(labels.min()) < 0):
        raise ValueError(_("labels must be class indices 0..K-1"))
