"""Runs side by side as data: every run's settings against its best and final test accuracy, and run histories as
CSV for a spreadsheet."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..i18n import N_
from ..training import History
from .store import RunInfo

__all__ = ["CSV_COLUMNS", "SETTINGS", "RunRow", "histories_csv", "settings_rows", "varying_settings"]

# The settings a run is compared by: (RunConfig field, how a page names it: shown as _(name))
SETTINGS = (
    ("model", N_("model")), ("dataset", N_("dataset")), ("optimizer", N_("optimizer")), ("lr", N_("learning rate")),
    ("batch_size", N_("batch size")), ("epochs", N_("epochs")), ("train_size", N_("training images")),
    ("augment", N_("augmentation")), ("schedule", N_("schedule")), ("momentum", N_("momentum")),
    ("weight_decay", N_("weight decay")), ("label_smoothing", N_("label smoothing")), ("bf16", N_("bfloat16")),
    ("seed", N_("seed")),
)


@dataclass(frozen=True)
class RunRow:
    """One run for the settings-against-results table: its label, settings (None where unknown: a CLI run has no
    config), best and final test accuracy (None before the first epoch), epochs done and seconds."""

    label: str
    settings: dict[str, Any]
    best: float | None
    final: float | None
    epochs_done: int
    elapsed_s: float
    status: str


def settings_rows(runs: Sequence[tuple[str, RunInfo]]) -> list[RunRow]:
    """A row per (label, run): the run's settings (a training set of "all" images as None) and its results."""
    rows = []
    for label, info in runs:
        c, h = info.config, info.history
        settings = {f: getattr(c, f) if c is not None else None for f, _name in SETTINGS}
        if c is not None and c.model == "stack":
            settings["model"] = c.label or "stack"
        finite = [e.test_acc for e in h.epochs if math.isfinite(e.test_acc)] if h is not None else []
        rows.append(RunRow(label, settings, max(finite) if finite else None, finite[-1] if finite else None,
                           len(h.epochs) if h is not None else 0, h.elapsed_s if h is not None else 0.0, info.status))
    return rows


def varying_settings(rows: Sequence[RunRow]) -> list[str]:
    """The settings whose value is not the same in every row (every setting when there is a single row)."""
    if len(rows) < 2:
        return [f for f, _name in SETTINGS]
    return [f for f, _name in SETTINGS if len({repr(r.settings.get(f)) for r in rows}) > 1]


CSV_COLUMNS = ("run", "record", "step", "epoch", "elapsed_s", "train_loss", "train_accuracy", "test_loss",
               "test_accuracy", "images_per_s")


def histories_csv(runs: Sequence[tuple[str, History]]) -> str:
    """The histories as one CSV table (column names: ``CSV_COLUMNS``, machine-readable English): a "step" row per
    step record (the training loss and accuracy of the last few steps) and an "epoch" row per finished epoch
    (training means over the epoch, test loss and accuracy after it); empty cells where a record has no value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def num(v: float | None) -> str:
        return "" if v is None or not math.isfinite(v) else repr(float(v))

    for label, h in runs:
        for s in h.steps:
            writer.writerow([label, "step", s.step, num(s.step / h.steps_per_epoch) if h.steps_per_epoch else "",
                             num(s.elapsed_s), num(s.loss), num(s.accuracy), "", "", ""])
        for e in h.epochs:
            writer.writerow([label, "epoch", e.epoch * h.steps_per_epoch if h.steps_per_epoch else "", e.epoch,
                             num(e.elapsed_s), num(e.train_loss), num(e.train_acc), num(e.test_loss),
                             num(e.test_acc), num(e.images_per_s)])
    return out.getvalue()
