"""Error analysis: a model's confusion matrix on a labelled set, and the images behind each cell."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ..data import ImageData
from ..i18n import _
from ..training import predict_proba

__all__ = ["ConfusionResult", "checkpoint_confusion", "checkpoint_norm", "confusion"]


@dataclass(frozen=True)
class ConfusionResult:
    """Predictions of a model on a labelled set: ``matrix[true, predicted]`` counts and every probability."""

    matrix: np.ndarray  # K×K int
    probs: np.ndarray  # N×K float32
    labels: np.ndarray  # N int
    preds: np.ndarray  # N int
    classes: tuple[str, ...]

    @property
    def accuracy(self) -> float:
        return float((self.preds == self.labels).mean()) if len(self.labels) else float("nan")

    def cell(self, true: int, predicted: int, *, limit: int | None = None) -> np.ndarray:
        """Indices of the images of class ``true`` predicted as ``predicted``, most confident first."""
        k = len(self.classes)
        if not (0 <= true < k and 0 <= predicted < k):
            raise ValueError(_("classes are 0..{k_1}; got true={true}, predicted={predicted}").format(k_1=k - 1, true=true, predicted=predicted))
        idx = np.flatnonzero((self.labels == true) & (self.preds == predicted))
        idx = idx[np.argsort(-self.probs[idx, predicted], kind="stable")]
        return idx[:limit] if limit is not None else idx

    def top_confusions(self, n: int = 5) -> list[tuple[int, int, int]]:
        """The ``n`` largest off-diagonal cells as (true, predicted, count), largest first."""
        off = self.matrix.copy()
        np.fill_diagonal(off, 0)
        flat = np.argsort(-off, axis=None, kind="stable")[:n]
        k = off.shape[0]
        return [(int(i // k), int(i % k), int(off.flat[i])) for i in flat if off.flat[i] > 0]


def confusion(model: nn.Module, data: ImageData, *, mean: list[float] | tuple[float, ...],
              std: list[float] | tuple[float, ...], batch_size: int = 1000) -> ConfusionResult:
    """The confusion matrix of ``model`` on ``data`` (normalised with ``mean``/``std``) and all probabilities."""
    probs = predict_proba(model, data, mean=mean, std=std, batch_size=batch_size).numpy()
    k = len(data.classes) if data.classes else probs.shape[1]
    if probs.shape[1] != k:
        raise ValueError(_("the model predicts {probs_shape_1} classes but the data has {k}").format(probs_shape_1=probs.shape[1], k=k))
    labels = data.labels.numpy().astype(np.int64)
    preds = probs.argmax(1).astype(np.int64) if len(probs) else np.zeros(0, dtype=np.int64)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (labels, preds), 1)
    return ConfusionResult(matrix, probs.astype(np.float32), labels, preds, tuple(data.classes))


def checkpoint_norm(meta: dict[str, Any], channels: int) -> tuple[list[float], list[float]]:
    """The mean/std a checkpoint was trained with (its meta), or 0.5/0.5 per channel when it does not say."""
    mean, std = meta.get("mean"), meta.get("std")
    if isinstance(mean, (list, tuple)) and isinstance(std, (list, tuple)) and len(mean) == len(std) == channels:
        return [float(v) for v in mean], [float(v) for v in std]
    return [0.5] * channels, [0.5] * channels


def checkpoint_confusion(path: str | Path, data: ImageData) -> tuple[ConfusionResult, ImageData]:
    """Load a cnnviz checkpoint, convert ``data`` to its input shape and compute the confusion matrix.

    Returns the result and the converted data (the images the indices refer to). Raises
    ``cnnviz.CheckpointError`` for a bad file and ``ValueError`` when the classes do not match.
    """
    from ..checkpoints import load_checkpoint, model_from_checkpoint
    from ..training import fit_images

    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt)
    shape = ckpt.input_shape or data.input_shape
    data = fit_images(data, shape)
    if ckpt.classes and tuple(ckpt.classes) != tuple(data.classes):
        raise ValueError(_("this checkpoint was trained on other classes ({join_ckpt_classes_4}, …) than {data_name}'s ({join_data_classes_4}, …)").format(join_ckpt_classes_4=', '.join(ckpt.classes[:4]), data_name=data.name, join_data_classes_4=', '.join(data.classes[:4])))
    mean, std = checkpoint_norm(ckpt.meta, shape[0])
    return confusion(model, data, mean=mean, std=std), data
