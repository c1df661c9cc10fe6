"""Softmax and the losses of the notes: binary and multi-class cross-entropy, mean squared error."""

from __future__ import annotations

import numpy as np

from ..i18n import _
from .arrays import checked_array

__all__ = ["binary_cross_entropy", "cross_entropy", "mse", "mse_onehot_curve", "parse_logits", "softmax"]


def parse_logits(text: str) -> np.ndarray:
    """Numbers separated by commas (or semicolons), e.g. "2.0, 1.0, 0.1", as float64 logits.

    Raises ``ValueError`` (one sentence) for a word that is no number, a number too large to compute with (or
    written as inf or nan), or fewer than two numbers.
    """
    values = []
    for word in (w.strip() for w in str(text).replace(";", ",").split(",")):
        if not word:
            continue
        try:
            value = float(word)
        except ValueError:
            raise ValueError(_("'{word}' is not a number").format(word=word)) from None
        if not np.isfinite(value):
            raise ValueError(_("'{word}' is not a finite number").format(word=word))
        values.append(value)
    if len(values) < 2:
        raise ValueError(_("give at least two numbers, e.g. 2, 1, 0.1"))
    return np.array(values)


def softmax(logits: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
    """softmax(z / T) along the last axis. Raises ``ValueError`` for T <= 0, and for logits so large that z / T
    is beyond float64 (about 1.8e308)."""
    if not temperature > 0:
        raise ValueError(_("temperature must be > 0, got {temperature}: it divides the logits").format(temperature=temperature))
    with np.errstate(over="ignore"):
        z = checked_array(logits, name="logits", ndim=(1, 2)) / temperature
    if not np.isfinite(z).all():
        raise ValueError(_("the logits divided by the temperature {t:g} are too large to compute with: keep every "
                           "logit below 1.7e308 × T in size").format(t=temperature))
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


_EPS = 1e-12


def binary_cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    """Mean −[y·log p + (1−y)·log(1−p)]: binary classification with a sigmoid output (p clipped to [1e-12, 1−1e-12])."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if ((p < 0) | (p > 1)).any() or ((y < 0) | (y > 1)).any():
        raise ValueError(_("probabilities and targets must lie in [0, 1]"))
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def cross_entropy(logits: np.ndarray, target: int | np.ndarray) -> float:
    """Mean −log softmax(logits)[target]: multi-class classification (as ``F.cross_entropy`` on logits)."""
    z = checked_array(logits, name="logits", ndim=(1, 2))
    z2 = z[None] if z.ndim == 1 else z
    t = np.atleast_1d(np.asarray(target, dtype=np.int64))
    if len(t) != len(z2) or (t < 0).any() or (t >= z2.shape[1]).any():
        raise ValueError(_("target must hold one class index in 0..{z2_shape_1_1} per row").format(z2_shape_1_1=z2.shape[1] - 1))
    shifted = z2 - z2.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(t)), t].mean()) + 0.0  # + 0.0 turns −0.0 (a certain answer) into 0.0


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error: regression (predicting numbers)."""
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(_("prediction {pred_shape} and target {target_shape} must have the same shape").format(pred_shape=pred.shape, target_shape=target.shape))
    return float(((pred - target) ** 2).mean())


def mse_onehot_curve(probs: np.ndarray, target: int, p: np.ndarray) -> np.ndarray:
    """MSE against the one-hot target (the mean over all K classes, as ``mse``) when the correct class gets
    probability ``p`` and the other classes share 1 − p in the proportions they have in ``probs``.

    At ``p = probs[target]`` this is exactly ``mse(probs, onehot)``: the curve and the number agree.
    """
    probs = checked_array(probs, name="probabilities", ndim=(1,))
    k = len(probs)
    if not 0 <= target < k:
        raise ValueError(_("the correct class must be one of 0..{last}").format(last=k - 1))
    others = np.delete(probs, target)
    share = others / others.sum() if others.sum() > 0 else np.full(k - 1, 1.0 / (k - 1))
    p = np.asarray(p, dtype=np.float64)
    rest = (1 - p)[..., None] * share  # the other classes' probabilities
    out = ((1 - p) ** 2 + (rest ** 2).sum(axis=-1)) / k
    return out if out.ndim else float(out)
