"""Images as tensors for training: per-channel statistics and normalisation (uint8 → float, one batch at a time),
batched augmentation, evaluation and predictions, and datasets converted to a model's input shape."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data import ImageData
from ..i18n import _

__all__ = [
    "MAX_IMAGE_BYTES",
    "affine",
    "augment_batch",
    "channel_stats",
    "evaluate",
    "fit_images",
    "load_train_test",
    "normalize",
    "predict_proba",
    "to_float",
]


def channel_stats(data: ImageData, *, chunk: int = 8192) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of ``data``'s images, in [0, 1] units."""
    if len(data) == 0:
        raise ValueError(_("cannot compute statistics of an empty dataset"))
    c = data.images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    count = 0
    for i in range(0, len(data), chunk):
        x = data.images[i : i + chunk].to(torch.float64).div_(255)
        total += x.sum(dim=(0, 2, 3))
        total_sq += x.square().sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(1e-12).sqrt()
    return [round(float(m), 6) for m in mean], [round(max(float(s), 1e-3), 6) for s in std]


def affine(mean: Sequence[float], std: Sequence[float], channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """scale, shift such that (uint8 * scale + shift) == (x/255 - mean) / std."""
    if len(mean) != channels or len(std) != channels:
        raise ValueError(_("mean/std need one value per channel ({channels}); got {len_mean} and {len_std}").format(channels=channels, len_mean=len(mean), len_std=len(std)))
    if any(s <= 0 for s in std):
        raise ValueError(_("std values must be positive, got {list_std}").format(list_std=list(std)))
    m = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
    return 1.0 / (255.0 * s), -m / s


def to_float(images: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """uint8 images as normalised float: ``images * scale + shift`` with ``scale, shift = affine(...)``."""
    return images.float().mul_(scale).add_(shift)


def augment_batch(images: torch.Tensor, *, generator: torch.Generator, shift: int = 2, flip: bool = True) -> torch.Tensor:
    """Random translations of up to ``shift`` pixels (zero padding) and random horizontal flips, batched.

    ``images`` is uint8 (or float) N×C×H×W; returns a new tensor of the same shape and dtype.
    """
    n, c, h, w = images.shape
    out = images
    if shift > 0:
        padded = F.pad(images, (shift, shift, shift, shift))
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
        out = padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    if flip:
        mask = torch.rand(n, generator=generator) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(3), out)
    return out


@torch.no_grad()
def predict_proba(model: nn.Module, data: ImageData, *, mean: Sequence[float], std: Sequence[float],
                  batch_size: int = 1000) -> torch.Tensor:
    """Softmax probabilities N×K of ``model`` on every image of ``data`` (eval mode; the mode is restored)."""
    was_training = model.training
    model.eval()
    scale, shift = affine(mean, std, data.images.shape[1])
    try:
        out = [F.softmax(model(to_float(data.images[i : i + batch_size], scale, shift)), dim=1)
               for i in range(0, len(data), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageData, *, mean: Sequence[float], std: Sequence[float],
             batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data`` (eval mode; the mode is restored)."""
    if len(data) == 0:
        return float("nan"), float("nan")
    was_training = model.training
    model.eval()
    scale, shift = affine(mean, std, data.images.shape[1])
    loss_sum, correct = 0.0, 0
    try:
        for i in range(0, len(data), batch_size):
            logits = model(to_float(data.images[i : i + batch_size], scale, shift))
            y = data.labels[i : i + batch_size]
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    finally:
        model.train(was_training)
    return loss_sum / len(data), correct / len(data)


MAX_IMAGE_BYTES = 1_500_000_000  # resized uint8 images held in memory; beyond this, ask for a subset


def fit_images(data: ImageData, input_shape: Sequence[int]) -> ImageData:
    """``data`` converted to a model's input shape (C, H, W): gray↔RGB and a bilinear resize, batched.

    Raises ``ValueError`` when the result would not fit in memory (choose a smaller subset).
    """
    c, h, w = (int(v) for v in input_shape)
    n, c0, h0, w0 = data.images.shape
    if (c0, h0, w0) == (c, h, w):
        return data
    if n * c * h * w > MAX_IMAGE_BYTES:
        raise ValueError(_("{n:,} images of {c}×{h}×{w} need {n_c_h_w_1e9:.1f} GB; choose a subset of at most {max_image_bytes_c_h_w:,} images").format(n=n, c=c, h=h, w=w, n_c_h_w_1e9=n * c * h * w / 1e9, max_image_bytes_c_h_w=MAX_IMAGE_BYTES // (c * h * w)))
    out = torch.empty((n, c, h, w), dtype=torch.uint8)
    lum = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    for i in range(0, n, 2048):
        x = data.images[i : i + 2048].float()
        if c0 == 1 and c == 3:
            x = x.expand(-1, 3, -1, -1)
        elif c0 == 3 and c == 1:
            x = (x * lum).sum(1, keepdim=True)
        elif c0 != c:
            raise ValueError(_("cannot turn {c0}-channel images into {c}-channel ones").format(c0=c0, c=c))
        if (h0, w0) != (h, w):
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=h < h0 or w < w0)
        out[i : i + 2048] = x.round().clamp_(0, 255).to(torch.uint8)  # not round_(): x may be an expanded view
    return ImageData(data.name, out, data.labels, data.classes, f"{data.source} (resized to {c}×{h}×{w})")


def load_train_test(dataset: str, *, input_shape: Sequence[int], train_size: int | None = None,
                    test_size: int | None = None, seed: int = 0, root: str | Path | None = None,
                    download: bool = True, roots: Sequence[Path] | None = None) -> tuple[ImageData, ImageData]:
    """Training and test sets for a model: a dataset name (fashion_mnist, mnist, cifar10) or a folder of images.

    A folder (one sub-folder per class) is split 80/20 at random (seeded); with ``roots`` (a shared server:
    ``cnnviz.data.data_roots()``) it must lie in them, links followed (see ``load_image_folder``). Subsets are drawn
    at random (seeded); images are converted to ``input_shape``. Raises ``ValueError`` and
    ``cnnviz.DatasetUnavailable`` with what to do.
    """
    from ..data import DATASETS, load_dataset, load_image_folder

    if dataset in DATASETS:
        train = load_dataset(dataset, train=True, root=root, download=download)
        test = load_dataset(dataset, train=False, root=root, download=download)
    elif roots is not None or Path(dataset).is_dir():
        c, h, w = (int(v) for v in input_shape)
        everything = load_image_folder(dataset, size=(h, w), channels=c, roots=roots)
        if len(everything) < 2:
            raise ValueError(_("{dataset} has {len_everything} readable image(s); need at least 2").format(dataset=dataset, len_everything=len(everything)))
        order = torch.randperm(len(everything), generator=torch.Generator().manual_seed(seed))
        cut = max(1, int(round(0.8 * len(everything))))
        cut = min(cut, len(everything) - 1)
        pick = lambda idx: ImageData(everything.name, everything.images[idx], everything.labels[idx],  # noqa: E731
                                     everything.classes, everything.source)
        train, test = pick(order[:cut]), pick(order[cut:])
    else:
        raise ValueError(_("unknown dataset {dataset!r}: use fashion_mnist, mnist, cifar10 or a folder of images").format(dataset=dataset))
    train, test = train.subset(train_size, seed=seed), test.subset(test_size, seed=seed + 1)
    return fit_images(train, input_shape), fit_images(test, input_shape)


def normalize(images: torch.Tensor, *, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 N×C×H×W (or C×H×W) images as float, standardised per channel: (x/255 - mean) / std."""
    batch = images.unsqueeze(0) if images.ndim == 3 else images
    scale, shift = affine(mean, std, batch.shape[1])
    out = to_float(batch, scale, shift)
    return out[0] if images.ndim == 3 else out
