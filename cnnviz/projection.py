"""The learned feature space: what the network's last layer sees of each test image, projected to 2-D.

The penultimate layer's features (the input of the model's last fully connected layer, one vector per image) of a
fixed sample of test images are projected to two dimensions with PCA (a rotation: distances along the two axes of
largest variance are kept) or t-SNE (neighbours stay neighbours; distances between clusters mean little). Before
training the classes overlap; as the network learns they pull apart into clusters.

t-SNE is scikit-learn's Barnes-Hut implementation (measured against openTSNE on this machine: see
benchmarks/bench_projection.py), on the features first reduced to ``TSNE_PCA_DIMS`` by PCA, as is usual.
Both projections are deterministic for a seed. ``checkpoint_projection`` keeps each result on disk beside the
checkpoint (``projections/`` in the run folder), so a checkpoint is projected once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .capture import model_lock
from .data import ImageData
from .i18n import N_, _

__all__ = ["METHODS", "PROJECTION_SIZE", "Projection", "checkpoint_projection", "pca_2d", "penultimate_features",
           "project", "sample_indices", "tsne_2d"]

METHODS = {"pca": N_("PCA"), "tsne": N_("t-SNE")}  # shown as _(METHODS[key])
PROJECTION_SIZE = 2_000  # test images projected
TSNE_PCA_DIMS = 50
CACHE_DIR = "projections"
_FORMAT = 1  # of the cached files; a change recomputes them


@dataclass(frozen=True)
class Projection:
    """Test images as 2-D points: ``points`` N×2, their ``labels`` and the model's ``predicted`` classes, their
    ``indices`` in the test set, the ``layer`` whose input the features are and their dimension ``dims``; PCA's
    share of the variance on each axis (``explained``, empty for t-SNE)."""

    method: str
    seed: int
    points: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    indices: np.ndarray
    classes: tuple[str, ...]
    layer: str
    dims: int
    explained: tuple[float, ...] = ()

    @property
    def accuracy(self) -> float:
        return float((self.labels == self.predicted).mean()) if len(self.labels) else float("nan")


def last_linear(model: nn.Module) -> str:
    """The name of the model's last fully connected layer. Raises ValueError when it has none."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError(_("this model has no fully connected layer: its feature space cannot be shown"))
    return names[-1]


@contextmanager
def _inputs_of(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """The inputs ``module`` receives while the block runs (a hook removed in ``finally``)."""
    seen: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().flatten(1).clone()))
    try:
        yield seen
    finally:
        handle.remove()


@torch.no_grad()
def penultimate_features(model: nn.Module, images: torch.Tensor, *, mean: Sequence[float], std: Sequence[float],
                         batch_size: int = 500) -> tuple[np.ndarray, np.ndarray, str]:
    """(features N×D float32, predicted classes N, the last linear layer's name) of uint8 N×C×H×W ``images``: the
    input of the model's last fully connected layer, in eval mode (the mode is restored). Raises ValueError when the
    model has no fully connected layer."""
    from .training.tensors import affine, to_float

    layer = last_linear(model)
    module = dict(model.named_modules())[layer]
    scale, shift = affine(mean, std, images.shape[1])
    was_training = model.training
    preds = []
    with model_lock(model), _inputs_of(module) as seen:
        model.eval()
        try:
            for i in range(0, len(images), batch_size):
                preds.append(model(to_float(images[i : i + batch_size], scale, shift)).argmax(1))
        finally:
            model.train(was_training)
    feats = torch.cat(seen).float().numpy() if seen else np.zeros((0, 0), dtype=np.float32)
    return feats, (torch.cat(preds).numpy() if preds else np.zeros(0, dtype=np.int64)), layer


def pca_2d(features: np.ndarray, dims: int = 2) -> tuple[np.ndarray, tuple[float, ...]]:
    """The features on their first ``dims`` principal axes (N×dims float32) and each axis's share of the variance.
    Each axis's sign is fixed (its largest loading positive), so the result depends only on the data."""
    x = np.asarray(features, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    _u, s, vt = np.linalg.svd(x, full_matrices=False)
    vt = vt[:dims]
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    total = float((s**2).sum())
    explained = tuple(float(v) / total if total else 0.0 for v in (s[:dims] ** 2))
    return (x @ vt.T).astype(np.float32), explained


_TSNE_LOCK = threading.Lock()  # one t-SNE at a time: it uses every core


def tsne_2d(features: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """scikit-learn's Barnes-Hut t-SNE of the features (first reduced by PCA to ``TSNE_PCA_DIMS``), started from
    their PCA layout: N×2 float32, the same for the same features and seed."""
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float32)
    if x.shape[1] > TSNE_PCA_DIMS:
        x, _explained = pca_2d(x, TSNE_PCA_DIMS)
    perplexity = min(perplexity, max(1.0, (len(x) - 1) / 3))
    with _TSNE_LOCK:
        out = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, method="barnes_hut",
                   max_iter=500, n_jobs=None).fit_transform(x)
    return out.astype(np.float32)


def sample_indices(n: int, size: int = PROJECTION_SIZE, *, seed: int = 0) -> np.ndarray:
    """Which of ``n`` test images are projected: the same as ``ImageData.subset(size, seed=seed)`` picks."""
    if size >= n:
        return np.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size].numpy()


def project(model: nn.Module, test: ImageData, *, method: str = "pca", mean: Sequence[float], std: Sequence[float],
            seed: int = 0, size: int = PROJECTION_SIZE) -> Projection:
    """The penultimate features of ``size`` test images (``sample_indices``) projected to 2-D with ``method``
    ("pca" or "tsne"). Raises ValueError for an unknown method or a model without a fully connected layer."""
    if method not in METHODS:
        raise ValueError(_("unknown projection {method!r}; choose one of {choices}").format(
            method=method, choices=", ".join(METHODS)))
    idx = sample_indices(len(test), size, seed=0)
    feats, preds, layer = penultimate_features(model, test.images[torch.from_numpy(idx)], mean=mean, std=std)
    if method == "pca":
        points, explained = pca_2d(feats)
    else:
        points, explained = tsne_2d(feats, seed=seed), ()
    return Projection(method, seed, points, test.labels[torch.from_numpy(idx)].numpy(), preds, idx,
                      tuple(test.classes), layer, int(feats.shape[1]), explained)


def _cache_file(checkpoint: Path, method: str, seed: int, size: int) -> Path:
    return checkpoint.parent / CACHE_DIR / f"{checkpoint.stem}-{method}-seed{seed}-n{size}.npz"


def _read_cached(path: Path, key: np.ndarray, classes: tuple[str, ...]) -> Projection | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if not np.array_equal(z["key"], key):
                return None
            return Projection(str(z["method"]), int(z["seed"]), z["points"], z["labels"], z["predicted"],
                              z["indices"], classes, str(z["layer"]), int(z["dims"]), tuple(float(v) for v in z["explained"]))
    except Exception:  # missing, damaged or from another version: computed again
        return None


def checkpoint_projection(path: str | Path, test: ImageData, *, method: str = "pca", seed: int = 0,
                          size: int = PROJECTION_SIZE, cache: bool = True) -> Projection:
    """``project`` with the model of the cnnviz checkpoint at ``path`` (its own mean and std), kept on disk in
    ``projections/`` beside it when ``cache`` (read back when the checkpoint, the test set and the settings are the
    same; a damaged file is computed again). Raises CheckpointError / ValueError."""
    from .checkpoints import load_checkpoint, model_from_checkpoint
    from .runs import checkpoint_norm

    path = Path(path)
    stat = path.stat()
    key = np.array([_FORMAT, stat.st_mtime_ns, stat.st_size, len(test), size, seed], dtype=np.int64)
    target = _cache_file(path, method, seed, size)
    if cache and (found := _read_cached(target, key, tuple(test.classes))) is not None:
        return found
    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt)
    mean, std = checkpoint_norm(ckpt.meta, test.images.shape[1])
    result = project(model, test, method=method, mean=mean, std=std, seed=seed, size=size)
    if cache:
        from .files import atomic_write

        arrays = dict(key=key, method=np.array(method), seed=np.array(seed), points=result.points,
                      labels=result.labels, predicted=result.predicted, indices=result.indices,
                      layer=np.array(result.layer), dims=np.array(result.dims),
                      explained=np.array(result.explained, dtype=np.float64))
        try:
            atomic_write(target, lambda f: np.savez(f, **arrays))
        except OSError:  # a read-only run folder (a shared link's, the shipped network's): not kept on disk
            pass
    return result
