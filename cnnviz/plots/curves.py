"""Curves as people read them: TensorBoard's smoothing (an exponential moving average, debiased), a log scale for
the loss, and the step, the epoch or the wall clock on the x axis. ``CurveView`` holds the reader's choice; the
training figures take one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..i18n import N_, _

__all__ = ["X_AXES", "CurveView", "ema"]

X_AXES = {"epoch": N_("epoch"), "step": N_("step"), "time": N_("wall-clock time (s)")}  # shown as _(X_AXES[key])


def ema(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average started at zero and divided by ``1 - weight**k``
    (k = the finite values seen so far), so the first points are not pulled towards zero. A NaN or infinite value
    is kept as it is and skipped; ``weight`` 0 returns the values unchanged. Raises ValueError outside [0, 1)."""
    if not 0 <= weight < 1:
        raise ValueError(_("smoothing must be in [0, 1), got {weight}").format(weight=weight))
    last, seen, out = 0.0, 0, []
    for v in values:
        v = float(v)
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        seen += 1
        out.append(last / (1 - weight**seen))
    return out


@dataclass(frozen=True)
class CurveView:
    """How to draw training curves: ``smoothing`` (0 = raw; TensorBoard's default is 0.6) of the step-by-step
    training curves, with the raw line faint behind them; ``log_loss`` for a logarithmic loss axis; ``x`` one of
    ``X_AXES``. Raises ValueError for a value out of range."""

    smoothing: float = 0.0
    log_loss: bool = False
    x: str = "epoch"

    def __post_init__(self) -> None:
        if not 0 <= self.smoothing < 1:
            raise ValueError(_("smoothing must be in [0, 1), got {weight}").format(weight=self.smoothing))
        if self.x not in X_AXES:
            raise ValueError(_("unknown x axis {x!r}; choose one of {choices}").format(
                x=self.x, choices=", ".join(X_AXES)))

    @property
    def x_title(self) -> str:
        return _(X_AXES[self.x])

    def x_of(self, step: float, steps_per_epoch: int, elapsed_s: float) -> float:
        """Where a point at global ``step`` (and ``elapsed_s`` into the run) sits on this view's x axis."""
        if self.x == "step":
            return float(step)
        if self.x == "time":
            return float(elapsed_s)
        return step / steps_per_epoch if steps_per_epoch else float(step)

    def smooth(self, values: Sequence[float]) -> list[float]:
        return ema(values, self.smoothing) if self.smoothing else [float(v) for v in values]
