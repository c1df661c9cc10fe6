"""A run folder as it may be found on disk: its JSON files read with their size bounded and every field checked, so
a damaged folder (cut short, hand-edited, written by an older or newer cnnviz) gives one reason, never an exception
in the pages that list runs.

``RunDamaged`` is the reason; ``read_json`` reads one file; ``config_kwargs`` checks a config.json's fields (the
keyword arguments of ``RunConfig``); ``check_history`` checks a history.json before ``History.from_dict`` reads it.
Fields a newer cnnviz added are ignored; fields an older one did not write take their defaults.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..i18n import N_, _
from ..training.records import RUN_STATUSES
from ..training.settings import MAX_EPOCHS

__all__ = ["MAX_JSON_BYTES", "RunDamaged", "check_history", "config_kwargs", "read_json"]

MAX_JSON_BYTES = 32 * 1024 * 1024  # a 1,000-epoch history is about 8 MB
MAX_TEXT = 4096  # characters of a name, a path or a message in a run's files
MAX_COUNT = 10**12  # steps, images, seeds: far above any real run, far below what breaks arithmetic


class RunDamaged(ValueError):
    """A run folder's file cannot be used; the message says which and why, in one sentence."""


def read_json(path: Path) -> Any:
    """The JSON value in ``path``. Raises RunDamaged for a file too large, unreadable, cut short or not JSON."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise RunDamaged(_("{file} is {mb:,} MB, far more than a run's file can be").format(
                file=path.name, mb=size >> 20))
        text = path.read_bytes().decode("utf-8")
        return json.loads(text)
    except RunDamaged:
        raise
    except (OSError, UnicodeDecodeError):
        raise RunDamaged(_("{file} cannot be read").format(file=path.name)) from None
    except (ValueError, RecursionError):  # json.JSONDecodeError is a ValueError; "[[[[…" nested too deep
        raise RunDamaged(_("{file} is cut short or is not JSON").format(file=path.name)) from None


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value: Any, low: float, high: float) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and low <= value <= high)


def _short_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


# field -> (check, what it must be): the checks of a config.json
_CONFIG_FIELDS = {
    "model": (_short_text, N_("a text")),
    "dataset": (_short_text, N_("a text")),
    "train_size": (lambda v: v is None or _whole(v, 1, MAX_COUNT), N_("a whole number of images")),
    "test_size": (lambda v: v is None or _whole(v, 1, MAX_COUNT), N_("a whole number of images")),
    "optimizer": (_short_text, N_("a text")),
    "lr": (lambda v: _number(v, 1e-12, 1e6) and v > 0, N_("a positive number")),
    "momentum": (lambda v: _number(v, 0, 1) and v < 1, N_("a number from 0 to 1")),
    "weight_decay": (lambda v: _number(v, 0, 1e6), N_("a number of at least 0")),
    "batch_size": (lambda v: _whole(v, 1, 1 << 20), N_("a whole number of at least 1")),
    "epochs": (lambda v: _whole(v, 1, MAX_EPOCHS), N_("a whole number from 1 to {max_epochs}")),
    "augment": (lambda v: isinstance(v, bool), N_("true or false")),
    "seed": (lambda v: _whole(v, -MAX_COUNT, MAX_COUNT), N_("a whole number")),
    "schedule": (_short_text, N_("a text")),
    "bf16": (lambda v: isinstance(v, bool), N_("true or false")),
    "label_smoothing": (lambda v: _number(v, 0, 1) and v < 1, N_("a number from 0 to 1")),
    "log_every": (lambda v: v is None or _whole(v, 1, MAX_COUNT), N_("a whole number of at least 1")),
    "spec": (lambda v: v is None or (isinstance(v, list) and len(v) <= 1000 and all(isinstance(x, dict) for x in v)),
             N_("a list of layers")),
    "input_shape": (lambda v: v is None or (isinstance(v, list) and len(v) == 3 and all(_whole(x, 1, 1 << 16)
                                                                                      for x in v)),
                    N_("three whole numbers")),
    "label": (_short_text, N_("a text")),
}


def config_kwargs(d: Any, known: set[str]) -> dict[str, Any]:
    """The keyword arguments of ``RunConfig`` (whose fields are ``known``) in a config.json's value, every one
    checked. Raises RunDamaged naming the first field that is not what a run's config holds."""
    if not isinstance(d, dict):
        raise RunDamaged(_("config.json holds no settings (it is not a JSON object)"))
    kw = {}
    for name, value in d.items():
        if name not in known:
            continue  # a newer cnnviz's setting
        check, what = _CONFIG_FIELDS.get(name, (lambda v: True, ""))
        if not check(value):
            raise RunDamaged(_("config.json: {field} is {value}, not {what}").format(
                field=name, value=_shown(value), what=_(what).format(max_epochs=MAX_EPOCHS)))
        kw[name] = value
    if kw.get("spec"):
        kw["spec"] = tuple(dict(layer) for layer in kw["spec"])
    if kw.get("input_shape"):
        kw["input_shape"] = tuple(kw["input_shape"])
    return kw


_HISTORY_FIELDS = {
    "status": lambda v: isinstance(v, str) and v in RUN_STATUSES and v != "damaged",
    "message": _short_text,
    "total_epochs": lambda v: _whole(v, 0, MAX_EPOCHS),
    "steps_per_epoch": lambda v: _whole(v, 0, MAX_COUNT),
    "step": lambda v: _whole(v, 0, MAX_COUNT),
    "elapsed_s": lambda v: _number(v, 0, 1e10),
    "batch_size": lambda v: _whole(v, 0, MAX_COUNT),
    "train_size": lambda v: _whole(v, 0, MAX_COUNT),
    "current_images_per_s": lambda v: v is None or _number(v, 0, 1e12),
}
_EPOCH_FIELDS = ("train_loss", "train_acc", "test_loss", "test_acc", "elapsed_s", "images_per_s")


def _number_or_none(value: Any) -> bool:
    return value is None or _number(value, -1e30, 1e30)


def check_history(d: Any) -> None:
    """Raises RunDamaged unless ``d`` (a history.json's value) is a training history every page can draw: a
    status, counts, a list of step records and a list of epoch records, each of the right kind."""
    if not isinstance(d, dict) or "status" not in d:
        raise RunDamaged(_("history.json holds no training history"))
    for name, check in _HISTORY_FIELDS.items():
        if name in d and not check(d[name]):
            raise RunDamaged(_("history.json: {field} is {value}, which a training history never holds").format(
                field=name, value=_shown(d[name])))
    steps, epochs = d.get("steps", []), d.get("epochs", [])
    if not isinstance(steps, list) or not all(
            isinstance(s, list) and 4 <= len(s) <= 5 and _whole(s[0], 0, MAX_COUNT) and _whole(s[1], 0, MAX_EPOCHS)
            and all(_number_or_none(v) for v in s[2:]) and s[3] is not None for s in steps):
        raise RunDamaged(_("history.json: its step records are not lists of numbers"))
    if not isinstance(epochs, list) or not all(
            isinstance(e, dict) and _whole(e.get("epoch"), 1, MAX_EPOCHS)
            and all(_number_or_none(e.get(k)) for k in _EPOCH_FIELDS) for e in epochs):
        raise RunDamaged(_("history.json: its epoch records are not numbered epochs with numbers"))
    if any(k not in e for e in epochs for k in _EPOCH_FIELDS[:5]):
        raise RunDamaged(_("history.json: an epoch record lacks its losses, accuracies or time"))


def _shown(value: Any) -> str:
    """A field's value as a reader sees it in a reason: short."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "…"
