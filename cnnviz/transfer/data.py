"""Target data: images adapted to a source's input, few-shot splits, and a user's zip extracted safely."""

from __future__ import annotations

import errno
import io
import re
import stat
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import torch

from ..data import IMAGE_EXTENSIONS, ImageData
from .config import ComparisonConfig
from ..i18n import _


def adapt_images(data: ImageData, *, channels: int, size: tuple[int, int]) -> ImageData:
    """``data`` with ``channels`` (1: luminance, 3: grey repeated) and resized to ``size`` (H, W), still uint8.

    The trainer's ``fit_images`` does the work (batched, with its memory limit); raises ``ValueError``.
    """
    from ..training import fit_images

    if channels not in (1, 3):
        raise ValueError(_("channels must be 1 or 3, got {channels}").format(channels=channels))
    return fit_images(data, (channels, *size))


def _per_class_indices(labels: torch.Tensor, cls: int, n: int | None, seed: int) -> torch.Tensor:
    idx = (labels == cls).nonzero().flatten()
    perm = torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed * 7919 + cls))
    idx = idx[perm]
    return idx if n is None else idx[:n]


def few_shot_split(train: ImageData, test: ImageData, *, classes: Sequence[int], shots: int | None,
                   test_per_class: int | None = None, seed: int = 0) -> tuple[ImageData, ImageData]:
    """Keep only ``classes`` (relabelled 0..k-1): ``shots`` random training images of each, and up to
    ``test_per_class`` test images of each. Raises ``ValueError`` for fewer than 2 classes or no shots."""
    classes = list(dict.fromkeys(int(c) for c in classes))
    if len(classes) < 2:
        raise ValueError(_("a target needs at least 2 classes, got {classes}").format(classes=classes))
    if any(c < 0 or c >= len(train.classes) for c in classes):
        raise ValueError(_("class indices must be in 0..{len_train_classes_1}, got {classes}").format(len_train_classes_1=len(train.classes) - 1, classes=classes))
    if shots is not None and shots < 1:
        raise ValueError(_("at least 1 labelled image per class is needed, got {shots}").format(shots=shots))

    def pick(data: ImageData, n: int | None, offset: int) -> ImageData:
        parts = [(_per_class_indices(data.labels, c, n, seed + offset), k) for k, c in enumerate(classes)]
        idx = torch.cat([p for p, _ in parts])
        labels = torch.cat([torch.full((len(p),), k, dtype=torch.int64) for p, k in parts])
        order = torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed + offset))
        return ImageData(data.name, data.images[idx[order]], labels[order], tuple(data.classes[c] for c in classes),
                         data.source)

    tr, te = pick(train, shots, 0), pick(test, test_per_class, 1)
    if len(te) == 0:
        raise ValueError(_("the test set has no image of the chosen classes"))
    return tr, te


def split_folder(data: ImageData, *, test_fraction: float = 0.3, shots: int | None = None,
                 seed: int = 0) -> tuple[ImageData, ImageData]:
    """Split one labelled set (e.g. a user's folder) into train/test per class: ``test_fraction`` of each
    class is held out (at least one image), then up to ``shots`` of the rest train. Raises ``ValueError``
    when a class has fewer than 2 images."""
    if not 0 < test_fraction < 1:
        raise ValueError(_("test_fraction must be between 0 and 1, got {test_fraction}").format(test_fraction=test_fraction))
    tr_idx, te_idx = [], []
    for c in range(len(data.classes)):
        idx = _per_class_indices(data.labels, c, None, seed)
        if len(idx) < 2:
            raise ValueError(_("class {data_classes_c!r} has {len_idx} image(s); each class needs at least 2 (one to learn from, one to test on)").format(data_classes_c=data.classes[c], len_idx=len(idx)))
        n_test = max(1, round(len(idx) * test_fraction))
        te_idx.append(idx[:n_test])
        tr_idx.append(idx[n_test:] if shots is None else idx[n_test : n_test + shots])
    tr, te = torch.cat(tr_idx), torch.cat(te_idx)
    g = torch.Generator().manual_seed(seed)
    tr, te = tr[torch.randperm(len(tr), generator=g)], te[torch.randperm(len(te), generator=g)]
    return (ImageData(data.name, data.images[tr], data.labels[tr], data.classes, data.source),
            ImageData(data.name, data.images[te], data.labels[te], data.classes, data.source))


# ---- zip uploads

MAX_ZIP_FILES = 20_000
MAX_ZIP_ENTRIES = 50_000  # entries of any kind in the zip's directory, counted before it is parsed
MAX_ZIP_BYTES = 300 * 1024 * 1024  # uncompressed total
MAX_ZIP_MEMBER = 25 * 1024 * 1024
# Pixels decoded for the whole zip, read from each image's header before anything is decoded (a JPEG counts at the
# reduced scale it is decoded at): 250 MP of PNG are a few seconds of one core. 60 PNGs of 36 MP (32 kB each) once
# took 26-31 s of the shared server's CPU.
MAX_ZIP_PIXELS = 250_000_000


class _Refused(ValueError):
    """A limit of the zip was reached (the message says which)."""


def _zip_entry_count(data: bytes | Path) -> int | None:
    """The number of entries the zip's end record announces (None when there is no end record to read)."""
    if isinstance(data, Path):
        with open(data, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - (1 << 16) - 22))
            tail = f.read()
    else:
        tail = bytes(data[-((1 << 16) + 22):])
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 12 > len(tail):
        return None
    return int.from_bytes(tail[at + 10 : at + 12], "little")  # 0xFFFF: a zip64 count, more than we take anyway


def extract_image_zip(data: bytes | str | Path, dest: str | Path, *, max_files: int = MAX_ZIP_FILES,
                      max_bytes: int = MAX_ZIP_BYTES, max_member: int = MAX_ZIP_MEMBER,
                      max_pixels: int = MAX_ZIP_PIXELS, max_side: int | None = None) -> Path:
    """Extract the images of a zip into ``dest`` safely and return the folder that holds the class folders.

    Only image files are written; absolute paths, ``..``, symlinks, hidden files and ``__MACOSX`` are
    skipped; more than ``max_files`` images, ``max_member`` bytes in one file or ``max_bytes`` in all
    (counted while decompressing, not trusted from the header) raise ``ValueError``, as does a file
    that is not a zip. Each image's size is read from its header as it is written: one with more pixels than
    ``cnnviz.data.MAX_IMAGE_PIXELS``, or more than ``max_pixels`` in all (decoded at ``max_side``, the way
    ``load_image_folder`` will), raises ``ValueError`` before any image is decoded. Every message is one plain
    sentence that names the file inside the zip, never a path on the server.
    """
    from ..data import ImageError, ImageTooLarge, decoded_pixels

    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    source = data if isinstance(data, (bytes, bytearray)) else Path(data)
    entries = _zip_entry_count(source)
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise ValueError(_("the zip holds more than {n:,} files; use fewer").format(n=MAX_ZIP_ENTRIES))
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    except Exception:  # BadZipFile, OSError, ValueError, EOFError … for a file that is not a readable zip
        raise ValueError(_("this is not a zip file that can be read (is it damaged, or another kind of file?)")) from None
    written = total = pixels = 0
    with zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if info.is_dir() or not parts or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
                continue
            if ".." in parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
                continue
            if stat.S_ISLNK(info.external_attr >> 16) or Path(parts[-1]).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            if written >= max_files:
                raise ValueError(_("the zip holds more than {max_files:,} images; use fewer").format(max_files=max_files))
            target = dest.joinpath(*parts).resolve()
            if dest not in target.parents:
                continue
            shown = "/".join(parts)
            size = 0
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 16):
                        size += len(chunk)
                        total += len(chunk)
                        if size > max_member:
                            raise _Refused(_("{join_parts} is larger than {max_member_2_20} MB uncompressed").format(join_parts=shown, max_member_2_20=max_member // 2**20))
                        if total > max_bytes:
                            raise _Refused(_("the zip is larger than {max_bytes_2_20} MB uncompressed").format(max_bytes_2_20=max_bytes // 2**20))
                        out.write(chunk)
            except _Refused:
                raise
            except RuntimeError:  # zipfile: "File … is encrypted, password required for extraction"
                raise ValueError(_("{name} in the zip is protected by a password; zip the images without one").format(
                    name=shown)) from None
            except NotImplementedError:  # a compression method Python cannot read
                raise ValueError(_("{name} in the zip is compressed in a way that cannot be read; zip the images "
                                   "again with ordinary compression").format(name=shown)) from None
            except MemoryError:
                raise ValueError(_("the server has not enough free memory to read this zip now; try again "
                                   "later or with fewer images")) from None
            except OSError as err:
                if err.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise ValueError(_("the server could not store the zip's images (its disk is full); try again "
                                       "later")) from None
                raise ValueError(_("{name} in the zip cannot be stored on the server (is its name very long?); "
                                   "rename it").format(name=shown)) from None
            except Exception:  # BadZipFile (a CRC error), zlib.error, EOFError: a damaged member
                raise ValueError(_("{name} in the zip is damaged (its data does not check out); make the zip "
                                   "again").format(name=shown)) from None
            try:
                pixels += decoded_pixels(target, max_side=max_side)
            except ImageTooLarge as err:
                raise ValueError(_("{name} in the zip: {reason}").format(name=shown, reason=err)) from None
            except ImageError:
                pass  # damaged or not an image after all: load_image_folder skips it and counts it
            if pixels > max_pixels:
                raise ValueError(_("the zip's images add up to more than {limit:.0f} megapixels to decode (PNGs count "
                                   "at full size, JPEG photos shrunk); use fewer or smaller images").format(
                    limit=max_pixels / 1e6))
            written += 1
    if not written:
        raise ValueError(_("the zip holds no images (PNG, JPEG, ...); put one folder per class in it"))
    root = dest
    while True:
        subs = [d for d in root.iterdir() if d.is_dir()]
        files = [f for f in root.iterdir() if f.is_file()]
        if len(subs) == 1 and not files:
            root = subs[0]
        else:
            return root


def load_image_zip(data: bytes | str | Path, *, size: tuple[int, int] = (32, 32), channels: int = 3,
                   name: str = "your images") -> ImageData:
    """A labelled set from a zip of one folder per class (extracted safely to a temporary folder, then deleted).

    Raises ``ValueError`` with one plain sentence (never a path on the server) for a bad or oversized zip, fewer
    than two classes or no readable image.
    """
    from ..data import load_image_folder, working_side

    try:
        with tempfile.TemporaryDirectory(prefix="cnnviz-zip-") as tmp:
            root = extract_image_zip(data, tmp, max_side=working_side(size))
            folder = load_image_folder(root, size=size, channels=channels, where=_("the zip"))
    except MemoryError:
        raise ValueError(_("the server has not enough free memory to read this zip now; try again later or with "
                           "fewer images")) from None
    except OSError:  # the temporary folder itself
        raise ValueError(_("the server could not store the zip's images (its disk is full); try again "
                           "later")) from None
    return ImageData(name, folder.images, folder.labels, folder.classes, f"zip upload ({len(folder)} images)")



def prepare_target(config: ComparisonConfig, *, user_data: ImageData | None = None,
                   download: bool = False) -> tuple[ImageData, ImageData]:
    """The target's (train, test) sets, few-shot as ``config`` says, with the source's channels and size.

    ``user_data`` is the user's labelled images for ``target="folder"``. Raises ``ValueError`` for
    bad settings and ``cnnviz.DatasetUnavailable`` when a dataset is not on disk (and not downloaded).
    """
    from ..data import load_dataset, load_fashion_mnist

    config.validate()
    c, h, w = config.input_shape
    if config.target == "folder":
        if user_data is None:
            raise ValueError(_("upload a zip of your images first (one folder per class)"))
        train, test = split_folder(user_data, shots=config.shots, seed=config.seed)
    else:
        if config.target == "fashion_heldout":
            full_train, full_test = load_fashion_mnist(train=True), load_fashion_mnist(train=False)
            classes = config.target_classes or tuple(i for i in range(10) if i not in config.source_classes)
            if set(classes) & set(config.source_classes):
                raise ValueError(_("target classes {sorted_set_classes_set_c} are also source classes: held-out means the source never saw them").format(sorted_set_classes_set_c=sorted(set(classes) & set(config.source_classes))))
        else:
            full_train = load_dataset(config.target, train=True, download=download)
            full_test = load_dataset(config.target, train=False, download=download)
            classes = config.target_classes or tuple(range(len(full_train.classes)))
        train, test = few_shot_split(full_train, full_test, classes=classes, shots=config.shots,
                                     test_per_class=config.test_per_class, seed=config.seed)
    return adapt_images(train, channels=c, size=(h, w)), adapt_images(test, channels=c, size=(h, w))
