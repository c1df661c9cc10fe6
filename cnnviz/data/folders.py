"""Folders of images on the server: the roots a user may name (``data_roots``), and a folder as a dataset."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..i18n import _
from .datasets import ImageData
from .images import IMAGE_EXTENSIONS, ImageError, decode_image, image_to_tensor
from . import paths

__all__ = ["MAX_FOLDER_FILES", "ROOTS_ENV", "allowed_folder", "data_roots", "load_image_folder", "working_side"]


ROOTS_ENV = "CNNVIZ_DATA_ROOTS"  # os.pathsep-separated folders a dashboard user may train on (the teacher sets it)
MAX_FOLDER_FILES = 100_000  # a folder dataset never walks more entries than this


def data_roots() -> list[Path]:
    """The folders under which a folder-of-images dataset may lie: $CNNVIZ_DATA_ROOTS, else the project's assets
    and the data cache folder."""
    given = os.environ.get(ROOTS_ENV, "")
    roots = [Path(p) for p in given.split(os.pathsep) if p.strip()] or [paths.ASSETS, paths.DEFAULT_ROOT]
    return [r.expanduser().resolve() for r in roots]


def allowed_folder(path: str | Path) -> Path:
    """``path`` resolved (links followed), if it lies inside one of ``data_roots()``; else ValueError.

    A dashboard runs on a shared server: a path typed into it must not reveal or read the server's other files. The
    message names the allowed roots but says nothing about whether the path exists elsewhere.
    """
    roots = data_roots()
    text = str(path).strip()
    if not text or "\x00" in text:
        raise ValueError(_("type the path of a folder of images"))
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    resolved = candidate.resolve()
    if not any(resolved == r or r in resolved.parents for r in roots):
        raise ValueError(_("only folders inside {roots} can be used here (the teacher sets them in "
                           "CNNVIZ_DATA_ROOTS)").format(roots=", ".join(str(r) for r in roots)))
    if not resolved.is_dir():
        raise ValueError(_("{folder} is not a folder").format(folder=text))
    return resolved


def working_side(size: tuple[int, int]) -> int:
    """The longer side an image is shrunk to while decoding, before it is resized to ``size`` (H, W) for a dataset:
    four times the target, so that the final resize still averages over whole pixels (JPEGs decode at 1/8 scale)."""
    return max(64, 4 * max(size))


def load_image_folder(
    folder: str | Path,
    *,
    size: tuple[int, int] = (32, 32),
    channels: int = 3,
    max_images: int = 20_000,
    where: str | None = None,
) -> ImageData:
    """A dataset from a folder with one sub-folder per class (the layout of torchvision's ImageFolder).

    Every image is decoded safely (shrunk while decoding to ``working_side(size)``), converted to ``channels`` and
    resized to ``size``. Unreadable files are skipped and counted in ``source``. ``where`` names the folder in
    messages (e.g. "the zip"; default: its path). Raises ``ValueError`` when there are fewer than two classes or no
    readable image.
    """
    folder = Path(folder)
    shown = where or str(folder)
    if not folder.is_dir():
        raise ValueError(_("{folder} is not a folder").format(folder=shown))
    class_dirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(class_dirs) < 2:
        raise ValueError(_("{folder} needs one sub-folder per class and at least two classes; found {len_class_dirs}").format(folder=shown, len_class_dirs=len(class_dirs)))
    images, labels, skipped, seen = [], [], 0, 0
    side = working_side(size)
    for label, d in enumerate(class_dirs):
        for f in sorted(d.rglob("*")):
            seen += 1
            if seen > MAX_FOLDER_FILES:  # never walk a whole disk
                break
            if f.suffix.lower() not in IMAGE_EXTENSIONS or not f.is_file():
                continue
            if len(images) >= max_images:
                break
            try:
                img = decode_image(f, max_side=side)
            except ImageError:
                skipped += 1
                continue
            images.append((image_to_tensor(img, channels=channels, size=size) * 255).round().to(torch.uint8))
            labels.append(label)
    if not images:
        raise ValueError(_("no readable image in {folder} (looked for {join_image_extensions})").format(folder=shown, join_image_extensions=', '.join(IMAGE_EXTENSIONS)))
    note = f"folder: {shown}" + (f" ({skipped} unreadable files skipped)" if skipped else "")
    return ImageData(folder.name, torch.stack(images), torch.tensor(labels), tuple(d.name for d in class_dirs), note)
