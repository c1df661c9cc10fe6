"""Folders of images on the server: the roots a user may name (``data_roots``), and a folder as a dataset."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from ..i18n import _
from .datasets import ImageData
from .images import IMAGE_EXTENSIONS, ImageError, decode_image, image_to_tensor
from . import paths

__all__ = ["MAX_FOLDER_FILES", "ROOTS_ENV", "allowed_folder", "data_roots", "folder_files", "inside_roots",
           "load_image_folder", "working_side"]


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
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):  # a link loop
        resolved = None
    if resolved is None or not inside_roots(resolved, roots):
        raise _outside(roots)
    if not resolved.is_dir():
        raise ValueError(_("{folder} is not a folder").format(folder=text))
    return resolved


def _outside(roots: Sequence[Path]) -> ValueError:
    return ValueError(_("only folders inside {roots} can be used here (the teacher sets them in "
                        "CNNVIZ_DATA_ROOTS)").format(roots=", ".join(str(r) for r in roots)))


def inside_roots(path: str | Path, roots: Sequence[Path]) -> bool:
    """Whether ``path``, resolved (every link followed), lies in one of ``roots`` (resolved folders)."""
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError):  # a link loop
        return False
    return any(real == r or r in real.parents for r in roots)


def folder_files(folder: str | Path, *, roots: Sequence[Path] | None = None, limit: int = MAX_FOLDER_FILES,
                 seen: list[int] | None = None) -> Iterator[Path]:
    """The files under ``folder``, lazily, in the order of ``sorted(folder.rglob("*"))`` (links to sub-folders are
    not walked into). At most ``limit`` entries are looked at in all (``seen``: a shared count [n] across several
    calls), so a huge tree costs no more than that. With ``roots`` (a shared server), a file whose real place, links
    followed, lies outside them is left out."""
    seen = [0] if seen is None else seen
    todo: list[tuple[str, bool]] = [(str(folder), True)]  # (path, is a folder to list) in the order to visit
    while todo:
        path, is_folder = todo.pop()
        if not is_folder:
            if roots is None or inside_roots(path, roots):
                yield Path(path)
            continue
        entries = []
        try:
            with os.scandir(path) as listing:
                for entry in listing:
                    seen[0] += 1
                    if seen[0] > limit:  # never walk a whole disk: the count stops the walk, not the end of a tree
                        break
                    try:
                        entries.append((entry.name, entry.path, entry.is_dir(follow_symlinks=False)))
                    except OSError:
                        continue
        except OSError:
            continue
        # depth first, names in order: the order of sorted(rglob("*")), computed one folder at a time
        todo.extend((p, d) for _name, p, d in sorted(entries, reverse=True))
        if seen[0] > limit:
            todo = [(p, d) for p, d in todo if not d]  # what was listed is still read; nothing more is listed


def _first_entries(folder: Path, limit: int) -> list[Path]:
    """At most ``limit`` entries of ``folder`` (listed lazily: a folder of a million files costs ``limit``)."""
    out = []
    with os.scandir(folder) as listing:
        for entry in listing:
            if len(out) >= limit:
                break
            out.append(Path(entry.path))
    return out


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
    roots: Sequence[Path] | None = None,
) -> ImageData:
    """A dataset from a folder with one sub-folder per class (the layout of torchvision's ImageFolder).

    Every image is decoded safely (shrunk while decoding to ``working_side(size)``), converted to ``channels`` and
    resized to ``size``. Unreadable files are skipped and counted in ``source``. ``where`` names the folder in
    messages (e.g. "the zip"; default: its path). ``roots`` (what a shared server passes: ``data_roots()``): the
    folder, every class folder and every file must lie in one of them once links are followed, else it is refused
    (the folder) or left out (the others); the CLI passes none and reads any folder. At most MAX_FOLDER_FILES
    entries are looked at, counted as the folders are listed. Raises ``ValueError`` when there are fewer than two
    classes or no readable image, or for a folder outside ``roots``.
    """
    folder = Path(folder)
    shown = where or str(folder)
    if roots is not None and not inside_roots(folder, roots):
        raise _outside(roots)
    if not folder.is_dir():
        raise ValueError(_("{folder} is not a folder").format(folder=shown))
    class_dirs = sorted(d for d in _first_entries(folder, MAX_FOLDER_FILES) if d.is_dir() and not d.name.startswith(".")
                        and (roots is None or inside_roots(d, roots)))
    if len(class_dirs) < 2:
        raise ValueError(_("{folder} needs one sub-folder per class and at least two classes; found {len_class_dirs}").format(folder=shown, len_class_dirs=len(class_dirs)))
    images, labels, skipped, seen = [], [], 0, [len(class_dirs)]
    side = working_side(size)
    for label, d in enumerate(class_dirs):
        for f in folder_files(d, roots=roots, seen=seen):
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
