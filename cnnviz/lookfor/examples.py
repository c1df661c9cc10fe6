"""Top-activating examples: run a layer over a set of images once, then show the patches that excite a channel most."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..i18n import _
from .layers import check_channel, private_copy, run_to
from .receptive_fields import ReceptiveField, receptive_field

__all__ = ["Example", "ImageSet", "LayerIndex", "crop", "folder_set", "image_set", "index_layer", "photo_set",
           "top_examples"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImageSet:
    """Images to search, as the model's input: ``images`` uint8 C×H×W each (sizes may differ), with names."""

    name: str
    images: tuple[Tensor, ...]
    names: tuple[str, ...]
    whole_images: bool  # True: each image counts once (a dataset); False: several patches per photo
    sources: tuple[str, ...] = ()  # the photo each image was made from (a file's name without its suffix)

    def __len__(self) -> int:
        return len(self.images)


def image_set(name: str, images: Sequence[Tensor], names: Sequence[str] | None = None, *,
              whole_images: bool = False) -> ImageSet:
    """An ``ImageSet`` from uint8 C×H×W tensors (an N×C×H×W tensor works too). Raises ``ValueError`` when empty."""
    imgs = tuple(images[i] for i in range(len(images)))
    if not imgs:
        raise ValueError(_("there are no images to search"))
    for t in imgs:
        if not isinstance(t, Tensor) or t.ndim != 3 or t.dtype != torch.uint8:
            raise TypeError(_("images must be uint8 tensors C×H×W"))
    labels = tuple(names) if names is not None else tuple(str(i) for i in range(len(imgs)))
    return ImageSet(name, imgs, labels, whole_images)


PHOTO_SIDES = (192, 320)  # each photo is searched at these longer sides: small and large patterns
MAX_FOLDER_IMAGES = 200


def photo_set(files: Sequence, *, channels: int, sides: Sequence[int] = PHOTO_SIDES, name: str = "photos",
              names: Sequence[str] | None = None) -> ImageSet:
    """Photos (paths or bytes) as an ``ImageSet`` of uint8 C×H×W images, each photo at every longer side in
    ``sides`` (a conv layer runs on any size). Unreadable files are skipped; ``ValueError`` when none is left."""
    from ..data import ImageError, decode_image, image_to_tensor

    imgs: list[Tensor] = []
    labels: list[str] = []
    sources: list[str] = []
    for i, f in enumerate(files):
        try:
            img = decode_image(f, max_side=max(sides) * 2)
        except (ImageError, OSError):
            continue
        label = names[i] if names is not None else getattr(f, "stem", str(i))
        for side in sides:
            x = image_to_tensor(img, channels=channels, max_side=side)
            if max(x.shape[1:]) < side:  # a small photo is enlarged to the side wanted
                from PIL import Image

                scale = side / max(img.size)
                big = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                                 Image.Resampling.BICUBIC)
                x = image_to_tensor(big, channels=channels)
            imgs.append((x * 255).round().to(torch.uint8))
            labels.append(f"{label} · {max(x.shape[1:])}px")
            sources.append(str(label))
    if not imgs:
        raise ValueError(_("no readable image found"))
    return ImageSet(name, tuple(imgs), tuple(labels), whole_images=False, sources=tuple(sources))


def folder_set(folder, *, channels: int, sides: Sequence[int] = PHOTO_SIDES,
               max_images: int = MAX_FOLDER_IMAGES) -> ImageSet:
    """Every image under ``folder`` (sub-folders too, at most ``max_images``), as ``photo_set`` reads them.

    The folder must lie under ``cnnviz.data.data_roots()`` (a shared server shows no other files). Raises
    ``ValueError`` for a folder outside them, or without a readable image.
    """
    from ..data import IMAGE_EXTENSIONS, allowed_folder, data_roots, folder_files

    root = allowed_folder(folder)
    files = []
    for f in folder_files(root, roots=data_roots()):  # links out of the allowed folders are left out
        if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file():
            files.append(f)
            if len(files) >= max_images:
                break
    if not files:
        raise ValueError(_("no image found in {folder}").format(folder=folder))
    return photo_set(files, channels=channels, sides=sides, name=str(root.name),
                     names=[str(f.relative_to(root)) for f in files])


@dataclass(frozen=True)
class LayerIndex:
    """One layer's strongest positions over an image set, for every channel.

    ``values`` N×C×K: the K strongest activations of each channel in each image (K = 1 for whole images: the
    image's maximum; else the maximum of each of K regions of the map); ``rows``/``cols`` N×C×K their map
    positions. ``fields`` the receptive field for each image's input size.
    """

    layer: str
    images: ImageSet
    values: Tensor
    rows: Tensor
    cols: Tensor
    fields: tuple[ReceptiveField, ...]
    map_sizes: tuple[tuple[int, int], ...]

    @property
    def channels(self) -> int:
        return int(self.values.shape[1])

    def best(self, channel: int) -> float:
        """The strongest activation of ``channel`` over every image and position."""
        return float(self.values[:, check_channel(channel, self.channels, self.layer)].max())


def index_layer(model: nn.Module, layer: str, images: ImageSet, *, mean: Sequence[float], std: Sequence[float],
                regions: int = 3, batch_size: int = 256, progress: Progress | None = None) -> LayerIndex:
    """Run ``layer`` over every image once and keep each channel's strongest positions.

    Images of one size go through in batches; each is normalised with ``mean``/``std`` first. For a photo set
    (``images.whole_images`` false) the map is split into ``regions`` × ``regions`` parts and each part's maximum
    kept, so one photo can give several different patches. ``progress(done, total)`` is called after each batch.
    Raises ``ValueError`` for a layer without maps or an input the model cannot take.
    """
    net = private_copy(model)
    m = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
    n = len(images)
    k = 1 if images.whole_images else regions * regions
    by_size: dict[tuple[int, ...], list[int]] = {}
    for i, t in enumerate(images.images):
        by_size.setdefault(tuple(t.shape), []).append(i)
    values = rows = cols = None
    fields: list[ReceptiveField | None] = [None] * n
    map_sizes: list[tuple[int, int]] = [(0, 0)] * n
    done = 0
    for shape, ids in by_size.items():
        rf = receptive_field(net, layer, shape)
        for b in range(0, len(ids), batch_size):
            part = ids[b:b + batch_size]
            x = (torch.stack([images.images[i] for i in part]).float() / 255 - m) / s
            with torch.no_grad():
                out = run_to(net, layer, x).float()
            c, h, w = out.shape[1:]
            if values is None:
                values = torch.empty((n, c, k))
                rows = torch.empty((n, c, k), dtype=torch.int32)
                cols = torch.empty((n, c, k), dtype=torch.int32)
            if k == 1:
                v, flat = out.flatten(2).max(dim=2)
                v, flat = v.unsqueeze(-1), flat.unsqueeze(-1)
            else:
                g = (min(regions, h), min(regions, w))
                v, flat = F.adaptive_max_pool2d(out, g, return_indices=True)
                v, flat = v.flatten(2), flat.flatten(2)
                if v.shape[2] < k:  # a map smaller than the regions: repeat its cells
                    reps = math.ceil(k / v.shape[2])
                    v, flat = v.repeat(1, 1, reps)[..., :k], flat.repeat(1, 1, reps)[..., :k]
            ids_t = torch.tensor(part)
            values[ids_t] = v
            rows[ids_t] = (flat // w).to(torch.int32)
            cols[ids_t] = (flat % w).to(torch.int32)
            for i in part:
                fields[i] = rf
                map_sizes[i] = (int(h), int(w))
            done += len(part)
            if progress is not None:
                progress(done, n)
    return LayerIndex(layer, images, values, rows, cols, tuple(fields), tuple(map_sizes))


@dataclass(frozen=True)
class Example:
    """One top-activating example: which image, where, how strong, and the crop the cell sees."""

    image: int  # index into the image set
    name: str
    value: float
    row: int  # position in the map
    col: int
    box: tuple[int, int, int, int]  # (top, left, bottom, right) in the image, may reach outside it
    centre: tuple[float, float]  # the window's centre in the image (row, column)
    crop: np.ndarray  # uint8 H×W (grey) or H×W×3, exactly the receptive field's size


def crop(image: Tensor | np.ndarray, box: tuple[int, int, int, int], *, fill: int = 128) -> np.ndarray:
    """The part of ``image`` (uint8 C×H×W tensor or H×W(×3) array) inside ``box``, exactly the box's size: where
    the box reaches past the image (into the padding), ``fill`` grey."""
    arr = image.numpy() if isinstance(image, Tensor) else np.asarray(image)
    if isinstance(image, Tensor):
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    top, left, bottom, right = box
    h, w = arr.shape[:2]
    out = np.full((bottom - top, right - left, *arr.shape[2:]), fill, dtype=np.uint8)
    y0, y1, x0, x1 = max(top, 0), min(bottom, h), max(left, 0), min(right, w)
    if y0 < y1 and x0 < x1:
        out[y0 - top:y1 - top, x0 - left:x1 - left] = arr[y0:y1, x0:x1]
    return out


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    h = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    w = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return h * w / area if area else 0.0


def top_examples(index: LayerIndex, channel: int, *, k: int = 9, max_overlap: float = 0.5) -> list[Example]:
    """The ``k`` strongest examples of ``channel``, strongest first, each cropped to its receptive field.

    A photo may give several patches, but never two that overlap by more than ``max_overlap`` of their area.
    Raises ``ValueError`` for a channel the layer does not have.
    """
    channel = check_channel(channel, index.channels, index.layer)
    vals = index.values[:, channel].flatten()
    order = torch.argsort(vals, descending=True).tolist()
    per = index.values.shape[2]
    picked: list[Example] = []
    for flat in order:
        i, r = divmod(flat, per)
        row, col = int(index.rows[i, channel, r]), int(index.cols[i, channel, r])
        rf = index.fields[i]
        if rf.whole:
            h, w = index.images.images[i].shape[1:]
            box = (0, 0, int(h), int(w))
            centre = ((h - 1) / 2, (w - 1) / 2)
        else:
            box = rf.box(row, col)
            centre = rf.centre(row, col)
        if any(e.image == i and (_overlap(box, e.box) > max_overlap or (e.row, e.col) == (row, col))
               for e in picked):
            continue
        picked.append(Example(i, index.images.names[i], float(vals[flat]), row, col, box, centre,
                              crop(index.images.images[i], box)))
        if len(picked) >= k:
            break
    return picked
