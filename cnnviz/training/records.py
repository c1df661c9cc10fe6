"""What a run records: ``StepRecord`` (a few steps), ``EpochRecord`` (one epoch) and ``History`` (a snapshot of
the run, saved as and read from ``history.json``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..files import atomic_write_text, json_safe, num_or_nan
from ..i18n import N_, _

__all__ = ["EpochRecord", "History", "RUN_STATUSES", "StepRecord", "status_label"]

# What a run (or a transfer comparison) can be doing, as the pages name it
RUN_STATUSES = {"running": N_("running"), "finished": N_("finished"), "stopped": N_("stopped"),
                "failed": N_("failed"), "interrupted": N_("interrupted"), "new": N_("new"), "queued": N_("waiting"),
                "damaged": N_("damaged")}


def status_label(status: str) -> str:
    """A run's status in the reader's language (an unknown one as it is)."""
    return _(RUN_STATUSES[status]) if status in RUN_STATUSES else status


@dataclass(frozen=True)
class StepRecord:
    """The mean training loss (and accuracy) over the last few steps, at global ``step`` (1-based)."""

    step: int
    epoch: int
    loss: float
    elapsed_s: float
    accuracy: float = float("nan")


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch (1-based): mean training loss/accuracy over it, test loss/accuracy after it, the run's
    seconds so far, and its pace in images per second of training steps (NaN where it was not measured: a transfer
    comparison saved by an older cnnviz)."""

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    elapsed_s: float
    images_per_s: float = float("nan")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EpochRecord:
        """Rebuild a record from ``asdict``'s output as JSON holds it (None for NaN); keys it does not know are
        ignored. Raises TypeError (a field missing, or not a number) or ValueError if malformed."""
        return cls(**{f.name: int(d[f.name]) if f.name == "epoch" else num_or_nan(d[f.name])
                      for f in fields(cls) if f.name in d})


@dataclass(frozen=True)
class History:
    """A snapshot of a run: step records, epoch records and where it stands.

    ``status`` is "running", "finished", "stopped" or "failed" (``message`` says why).
    """

    steps: tuple[StepRecord, ...]
    epochs: tuple[EpochRecord, ...]
    status: str
    message: str = ""
    total_epochs: int = 0
    steps_per_epoch: int = 0
    step: int = 0  # global steps done so far
    elapsed_s: float = 0.0
    batch_size: int = 0
    train_size: int = 0
    current_images_per_s: float | None = None  # the epoch under way: its images per second of training steps
    max_steps: int = 0  # the run ends at this step (mid-epoch if need be); 0: after its whole epochs

    @property
    def total_steps(self) -> int:
        """The run's steps: its epochs', or ``max_steps`` when that comes first."""
        steps = self.total_epochs * self.steps_per_epoch
        return min(steps, self.max_steps) if self.max_steps else steps

    @property
    def progress(self) -> float:
        """Fraction of the run's steps done (0..1)."""
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta_s(self) -> float | None:
        """Estimated seconds left, from the pace so far (None before the first step)."""
        if not self.step or not self.total_steps or self.elapsed_s <= 0:
            return None
        return max(0.0, (self.total_steps - self.step) * self.elapsed_s / self.step)

    @property
    def images_per_s(self) -> float | None:
        """Training throughput, images per second of training steps (test passes, saves and the time a run
        stood stopped excluded): the epoch under way (before and after a stop), else the last finished epoch's;
        for a history saved by an older cnnviz without either, the pace of the steps so far."""
        if self.current_images_per_s:
            return self.current_images_per_s
        if self.epochs:
            return self.epochs[-1].images_per_s
        if self.step and self.elapsed_s > 0:
            return self.step * self.batch_size / self.elapsed_s
        return None

    @property
    def best_test_acc(self) -> float | None:
        return max((e.test_acc for e in self.epochs), default=None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["steps"] = [[s.step, s.epoch, s.loss, s.elapsed_s, s.accuracy] for s in self.steps]  # compact
        return json_safe(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Rebuild a History from ``to_dict()``'s output (e.g. a history.json). Raises ValueError if malformed."""
        try:
            steps = tuple(StepRecord(int(s[0]), int(s[1]), num_or_nan(s[2]), float(s[3]), num_or_nan(s[4] if len(s) > 4 else None))
                          for s in d.get("steps", ()))
            epochs = tuple(EpochRecord.from_dict(e) for e in d.get("epochs", ()))
            known = {f for f in cls.__dataclass_fields__} - {"steps", "epochs"}
            rest = {k: v for k, v in d.items() if k in known}
            return cls(steps=steps, epochs=epochs, **rest)
        except (TypeError, KeyError, IndexError) as err:
            raise ValueError(_("not a cnnviz training history: a field is missing or of the wrong kind")) from None

    def save(self, path: str | Path) -> Path:
        """Write the history as JSON, atomically."""
        return atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a history.json. Raises ValueError if it is not one."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            raise ValueError(_("cannot read the training history {path}: the file is missing, damaged or not "
                               "JSON").format(path=Path(path).name)) from None
