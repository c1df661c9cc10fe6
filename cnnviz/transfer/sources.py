"""Pretrained sources: the project's CNN pretrained here on some Fashion-MNIST classes (held out from the
rest), the shipped CNN, or torchvision backbones with ImageNet weights from the torch hub cache."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from ..cards import IMAGENET_MEAN, IMAGENET_STD
from ..data import FASHION_CLASSES
from ..models import build_model
from ..runs import runs_root
from .config import SOURCES, ComparisonConfig
from .data import few_shot_split
from .strategies import IMAGENET_BACKBONES
from ..i18n import _


def heldout_source(classes: Sequence[int] = (0, 1, 2, 3, 4), *, epochs: int = 2, images: int | None = 12_000,
                   seed: int = 0, cache_dir: str | Path | None = None,
                   callback: Callable[[Any], None] | None = None,
                   stop: threading.Event | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The project's ``mnist_cnn`` trained on the Fashion-MNIST ``classes`` only (so other classes stay unseen).

    Trained with ``cnnviz.training.fit`` the first time (``images`` training images of those classes,
    ``epochs`` epochs) and cached as a cnnviz checkpoint under ``cache_dir`` (default
    ``runs_root()/transfer/sources``); later calls load the cache. Returns the model (eval mode) and
    its meta (classes, mean, std, test_accuracy, path, cached). Raises ``ValueError`` for bad classes,
    ``RuntimeError`` if the training is stopped or fails.
    """
    from ..checkpoints import load_checkpoint, model_from_checkpoint, save_checkpoint
    from ..data import load_fashion_mnist

    classes = sorted(dict.fromkeys(int(c) for c in classes))
    if len(classes) < 2 or any(c < 0 or c > 9 for c in classes) or len(classes) > 9:
        raise ValueError(_("the source needs 2 to 9 Fashion-MNIST classes (0..9), got {classes}").format(classes=classes))
    folder = Path(cache_dir) if cache_dir is not None else runs_root() / "transfer" / "sources"
    tag = f"mnist_cnn-fashion-c{''.join(map(str, classes))}-e{epochs}-n{images or 'all'}-s{seed}"
    path = folder / f"{tag}.pt"
    if path.is_file():
        ckpt = load_checkpoint(path)
        return model_from_checkpoint(ckpt), {**ckpt.meta, "path": str(path), "cached": True}
    from ..training import channel_stats, fit

    train, test = few_shot_split(load_fashion_mnist(train=True), load_fashion_mnist(train=False), classes=classes,
                                 shots=None if images is None else max(1, images // len(classes)),
                                 test_per_class=200, seed=seed)
    model = build_model("mnist_cnn", num_classes=len(classes), seed=seed)
    mean, std = channel_stats(train)
    hist = fit(model, train, test, epochs=epochs, batch_size=64, optimizer="adam", lr=1e-3, seed=seed, mean=mean,
               std=std, callback=callback, stop=stop)
    if hist.status != "finished":
        raise RuntimeError(_("pretraining the source stopped: {hist_message_or_hist_sta}").format(hist_message_or_hist_sta=hist.message or hist.status))
    acc = hist.epochs[-1].test_acc if hist.epochs else float("nan")
    meta = {"dataset": "fashion_mnist", "source_classes": classes, "mean": mean, "std": std, "epoch": epochs,
            "test_accuracy": acc, "train_images": len(train), "seed": seed}
    save_checkpoint(path, model, model_name="mnist_cnn", input_shape=(1, 28, 28), classes=train.classes, meta=meta)
    return model.eval(), {**meta, "path": str(path), "cached": False}


def imagenet_status(name: str) -> tuple[bool, str]:
    """Whether ``name``'s ImageNet weights are in the torch hub cache, and a sentence saying where / how to get them."""
    from ..models import weights_hint, imagenet_weights_status

    cached, path = imagenet_weights_status(name)
    return (True, _("ImageNet weights found in {path}").format(path=path)) if cached else (False, weights_hint(name, path))


def load_source(source: str, *, config: ComparisonConfig | None = None, download: bool = False,
                callback: Callable[[Any], None] | None = None,
                stop: threading.Event | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The pretrained source model and its meta (``mean``, ``std``, ``info``) for a ``SOURCES`` key.

    ImageNet backbones load from the torch hub cache (or download when ``download``); raises
    ``cnnviz.WeightsUnavailable`` saying how to get them, ``ValueError`` for an unknown source or
    a missing shipped checkpoint.
    """
    config = config or ComparisonConfig(source=source)
    if source == "heldout_cnn":
        model, meta = heldout_source(config.source_classes, epochs=config.source_epochs, images=config.source_images,
                                     seed=config.seed, callback=callback, stop=stop)
        names = ", ".join(FASHION_CLASSES[c] for c in meta.get("source_classes", config.source_classes))
        acc = meta.get("test_accuracy")
        meta["info"] = (_("mnist_cnn trained here on Fashion-MNIST {names} ({n} images, {epochs} epochs; test accuracy "
                          "{acc:.1%} on those classes)").format(names=names, n=meta.get("train_images", "?"),
                                                                 epochs=meta.get("epoch"), acc=acc)
                        + (" " + _("(loaded from the cache)") if meta.get("cached") else "")) if acc is not None \
            else "mnist_cnn"
        return model, meta
    if source == "shipped_cnn":
        from ..checkpoints import load_checkpoint, model_from_checkpoint
        from ..training import pretrained_checkpoints

        ckpts = pretrained_checkpoints()
        if not ckpts:
            raise ValueError(_("the shipped Fashion-MNIST checkpoints are missing (assets/pretrained/fashion_mnist_cnn); "
                             "choose the source pretrained here instead"))
        ckpt = load_checkpoint(ckpts[-1])
        meta = dict(ckpt.meta)
        meta.setdefault("mean", [0.286])
        meta.setdefault("std", [0.353])
        meta["info"] = _("shipped mnist_cnn, epoch {epoch}, trained on all 10 Fashion-MNIST classes").format(
            epoch=ckpt.epoch)
        return model_from_checkpoint(ckpt), meta
    if source in IMAGENET_BACKBONES:
        from ..models import load_imagenet_model

        from ..models import imagenet_input_config

        model = load_imagenet_model(source, download=download, progress=False)
        cfg = imagenet_input_config(source)
        return model, {"mean": list(cfg.mean), "std": list(cfg.std),
                       "info": _("{source}, ImageNet weights").format(source=source)}
    raise ValueError(_("unknown source {source!r}; choose one of {join_sources}").format(source=source, join_sources=', '.join(SOURCES)))
