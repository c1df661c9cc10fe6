"""Max and average pooling by hand, and how much of their output survives a one-pixel shift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import pool_output_size
from ..i18n import _
from .arrays import checked_array, windows

__all__ = ["ShiftTest", "pool2d", "shift_test"]


def pool2d(x: np.ndarray, *, mode: str = "max", kernel: int = 2, stride: int | None = None,
           padding: int = 0) -> np.ndarray:
    """Max or average pooling of H×W or C×H×W, as ``F.max_pool2d``/``F.avg_pool2d`` (padding counts as 0 in the average).

    Each channel is pooled on its own, so the channel count stays. Raises ``ValueError`` for an unknown
    mode or an impossible size combination.
    """
    if mode not in ("max", "avg"):
        raise ValueError(_("mode must be 'max' or 'avg', got {mode!r}").format(mode=mode))
    x = checked_array(x, name="input", ndim=(2, 3))
    stride = kernel if stride is None else stride
    for n in x.shape[-2:]:
        pool_output_size(n, kernel, stride=stride, padding=padding)
    win = windows(x, kernel, stride, padding, 1, fill=-np.inf if mode == "max" else 0.0)
    return win.max(axis=(-2, -1)) if mode == "max" else win.mean(axis=(-2, -1))


@dataclass(frozen=True)
class ShiftTest:
    """Pooling of an input and of the same input shifted by a pixel: how much of the output stays the same."""

    shifted: np.ndarray
    max_before: np.ndarray
    max_after: np.ndarray
    avg_before: np.ndarray
    avg_after: np.ndarray

    @property
    def max_unchanged(self) -> float:
        return float(np.isclose(self.max_before, self.max_after).mean())

    @property
    def avg_unchanged(self) -> float:
        return float(np.isclose(self.avg_before, self.avg_after).mean())


def shift_test(x: np.ndarray, *, dx: int = 1, dy: int = 0, kernel: int = 2, stride: int | None = None) -> ShiftTest:
    """Shift H×W (or C×H×W) by (dy, dx) pixels (edges repeat) and pool both with max and average."""
    x = checked_array(x, name="input", ndim=(2, 3))
    h, w = x.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        raise ValueError(_("a shift of ({dy}, {dx}) moves the {h}×{w} input out of view").format(dy=dy, dx=dx, h=h, w=w))
    pad = [(0, 0)] * (x.ndim - 2) + [(max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0))]
    big = np.pad(x, pad, mode="edge")
    shifted = big[..., max(-dy, 0):max(-dy, 0) + h, max(-dx, 0):max(-dx, 0) + w]
    kw = dict(kernel=kernel, stride=stride)
    return ShiftTest(shifted, pool2d(x, mode="max", **kw), pool2d(shifted, mode="max", **kw),
                     pool2d(x, mode="avg", **kw), pool2d(shifted, mode="avg", **kw))
