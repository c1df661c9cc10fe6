"""Datasets and images: the bundled Fashion-MNIST, torchvision's downloads, image folders, photo decoding.

Everything loads into memory as tensors (``ImageData``): uint8 images N×C×H×W and int64 labels. The
sets taught with are small (70,000 28×28 images are 55 MB), and tensors in memory train several times
faster than a per-image DataLoader.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gzip
import io
import os
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .i18n import N_, _

__all__ = [
    "ASSETS",
    "DATASETS",
    "DatasetInfo",
    "DatasetUnavailable",
    "ImageData",
    "ImageError",
    "ImageTooLarge",
    "MAX_IMAGE_PIXELS",
    "dataset_status",
    "decode_image",
    "decoded_pixels",
    "image_to_tensor",
    "load_dataset",
    "load_fashion_mnist",
    "load_image_folder",
    "read_idx",
    "sample_images",
]

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FASHION_DIR = ASSETS / "fashion-mnist"
SAMPLES_DIR = ASSETS / "samples"
DEFAULT_ROOT = Path(os.environ.get("CNNVIZ_DATA", Path.home() / ".cache" / "cnnviz" / "data"))

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = tuple(str(i) for i in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Class names stay English in data and checkpoints; they are shown through class_label().
_CLASS_LABELS = {
    "T-shirt/top": N_("T-shirt/top"), "Trouser": N_("Trouser"), "Pullover": N_("Pullover"), "Dress": N_("Dress"),
    "Coat": N_("Coat"), "Sandal": N_("Sandal"), "Shirt": N_("Shirt"), "Sneaker": N_("Sneaker"), "Bag": N_("Bag"),
    "Ankle boot": N_("Ankle boot"), "airplane": N_("airplane"), "automobile": N_("automobile"), "bird": N_("bird"),
    "cat": N_("cat"), "deer": N_("deer"), "dog": N_("dog"), "frog": N_("frog"), "horse": N_("horse"),
    "ship": N_("ship"), "truck": N_("truck"),
}


def class_label(name: str) -> str:
    """A class name in the current language: Fashion-MNIST's and CIFAR-10's ten, ImageNet's where a Korean name is
    known (``cnnviz.models.imagenet_class_label``), else the name as it is (digits, a folder's names)."""
    if name in _CLASS_LABELS:
        return _(_CLASS_LABELS[name])
    from .models import imagenet_class_label

    return imagenet_class_label(name)

# Pixels decoded for one image (a JPEG counts at the reduced scale it is decoded at): 40 MP are 160 MB as RGBA.
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class DatasetUnavailable(RuntimeError):
    """A dataset is neither on disk nor downloadable now; the message says what to use instead."""


class ImageError(ValueError):
    """An uploaded file is not an image this app can read; the message says why."""


class ImageTooLarge(ImageError):
    """An image has more pixels than this server decodes (read from its header, before any decoding)."""


@dataclass(frozen=True)
class ImageData:
    """A labelled image set held in memory: ``images`` uint8 N×C×H×W, ``labels`` int64 N."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.uint8:
            raise TypeError(_("images must be uint8 N×C×H×W, got {tuple_self_images_shape} {self_images_dtype}").format(tuple_self_images_shape=tuple(self.images.shape), self_images_dtype=self.images.dtype))
        if len(self.images) != len(self.labels):
            raise ValueError(_("{len_self_images} images but {len_self_labels} labels").format(len_self_images=len(self.images), len_self_labels=len(self.labels)))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, n: int | None, *, seed: int = 0) -> "ImageData":
        """A class-balanced-by-chance random subset of ``n`` images (all of them when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise ValueError(_("subset size must be at least 1, got {n}").format(n=n))
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return ImageData(self.name, self.images[idx], self.labels[idx], self.classes, self.source)

    def floats(self, *, mean: float | None = None, std: float | None = None) -> torch.Tensor:
        """Images as float32 in [0, 1], or standardised when ``mean``/``std`` are given."""
        x = self.images.float().div_(255)
        if mean is not None and std is not None:
            x.sub_(mean).div_(std)
        return x


# --------------------------------------------------------------------------- IDX (MNIST-family) files

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw), the format of MNIST and Fashion-MNIST."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(_("{path_name} is not an IDX file (bad magic number)").format(path_name=path.name))
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=_IDX_TYPES[data[2]], offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(_("{path_name} is truncated: header says {dims}, found {arr_size} values").format(path_name=path.name, dims=dims, arr_size=arr.size))
    return arr.reshape(dims)


def _idx_pair(images: Path, labels: Path, name: str, classes: tuple[str, ...], source: str) -> ImageData:
    x = torch.from_numpy(read_idx(images).astype(np.uint8, copy=True)).unsqueeze(1)
    y = torch.from_numpy(read_idx(labels).astype(np.int64))
    return ImageData(name, x, y, classes, source)


def load_fashion_mnist(*, train: bool = True, root: str | Path | None = None) -> ImageData:
    """The bundled Fashion-MNIST (60,000 train / 10,000 test, 1×28×28), read from the IDX .gz files."""
    folder = Path(root) if root is not None else FASHION_DIR
    split = "train" if train else "t10k"
    images, labels = folder / f"{split}-images-idx3-ubyte.gz", folder / f"{split}-labels-idx1-ubyte.gz"
    if not images.exists() or not labels.exists():
        raise DatasetUnavailable(
            _("Fashion-MNIST files are missing from {folder}; reinstall cnnviz from its repository (they ship in assets/fashion-mnist) or run `apt-get install dataset-fashion-mnist`.").format(folder=folder)
        )
    return _idx_pair(images, labels, "fashion_mnist", FASHION_CLASSES, f"bundled: {folder}")


# --------------------------------------------------------------------------- torchvision datasets


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    input_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    train_size: int
    test_size: int


DATASETS: dict[str, DatasetInfo] = {
    "fashion_mnist": DatasetInfo("fashion_mnist", "Fashion-MNIST", (1, 28, 28), FASHION_CLASSES, 60_000, 10_000),
    "mnist": DatasetInfo("mnist", "MNIST", (1, 28, 28), MNIST_CLASSES, 60_000, 10_000),
    "cifar10": DatasetInfo("cifar10", "CIFAR-10", (3, 32, 32), CIFAR10_CLASSES, 50_000, 10_000),
}


def _torchvision_class(name: str):
    from torchvision import datasets

    return {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}[name]


def _from_torchvision(ds, name: str) -> ImageData:
    data = ds.data
    data = torch.as_tensor(np.asarray(data))
    if data.ndim == 3:  # MNIST family: N×H×W
        data = data.unsqueeze(1)
    else:  # CIFAR: N×H×W×C
        data = data.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    return ImageData(name, data.contiguous(), labels, DATASETS[name].classes, f"torchvision: {ds.root}")


def load_dataset(name: str, *, train: bool = True, root: str | Path | None = None, download: bool = True) -> ImageData:
    """Load ``fashion_mnist`` (bundled first), ``mnist`` or ``cifar10`` through torchvision.

    Downloads (with torchvision's progress bar) into ``root`` (default ``~/.cache/cnnviz/data`` or
    ``$CNNVIZ_DATA``) when the files are not there. Raises ``DatasetUnavailable`` with what to do when
    they are neither on disk nor downloadable, ``ValueError`` for an unknown name.
    """
    if name not in DATASETS:
        raise ValueError(_("unknown dataset {name!r}; choose one of {join_datasets} or use a folder of images").format(name=name, join_datasets=', '.join(DATASETS)))
    if name == "fashion_mnist" and root is None:
        return load_fashion_mnist(train=train)
    root = Path(root) if root is not None else DEFAULT_ROOT
    cls = _torchvision_class(name)
    try:
        ds = cls(str(root), train=train, download=False)
    except RuntimeError:
        if not download:
            raise DatasetUnavailable(
                _("{datasets_name_title} is not in {root}. Download it once with network access (`cnnviz data --download {name}`), or use the bundled Fashion-MNIST.").format(datasets_name_title=DATASETS[name].title, root=root, name=name)
            ) from None
        try:
            ds = cls(str(root), train=train, download=True)
        except Exception as err:  # URLError, socket errors, HTTP errors, a corrupt download
            raise DatasetUnavailable(
                _("Could not download {datasets_name_title} into {root} ({type_err_name}: {err}). There seems to be no network. Use the bundled Fashion-MNIST instead, which needs none, or copy the dataset files into {root} from a machine that has network.").format(datasets_name_title=DATASETS[name].title, root=root, type_err_name=type(err).__name__, err=err)
            ) from None
    return _from_torchvision(ds, name)


def dataset_status(name: str, *, root: str | Path | None = None) -> tuple[bool, str]:
    """Whether ``name`` can be loaded now without a download, and from where (no download is tried)."""
    if name == "fashion_mnist" and root is None:
        ok = all((FASHION_DIR / f).exists() for f in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
        return ok, f"bundled in {FASHION_DIR}" if ok else f"missing from {FASHION_DIR}"
    root = Path(root) if root is not None else DEFAULT_ROOT
    try:
        _torchvision_class(name)(str(root), train=False, download=False)
    except RuntimeError:
        return False, f"not in {root}; downloads with network access"
    return True, f"on disk in {root}"


# --------------------------------------------------------------------------- images


def _format_by_magic(head: bytes) -> str | None:
    """The image format a file's first bytes announce (None when they announce none we read)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
          (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
# Pillow refuses outright above twice its own bomb limit, before a size can be read: that is the last word for any file.
PILLOW_HARD_LIMIT = 2 * Image.MAX_IMAGE_PIXELS
LARGE_DECODE = 8_000_000  # decodes of more pixels than this run at most two at a time in the whole server
_LARGE_DECODES = threading.BoundedSemaphore(2)


def _damaged(fmt: str | None) -> ImageError:
    if fmt:
        return ImageError(_("the {format} file is damaged or truncated (cut short), so it cannot be read to the "
                            "end. Save or export it again.").format(format=fmt))
    return ImageError(_("the image file is damaged or truncated (cut short), so it cannot be read to the end. Save "
                        "or export it again."))


def _too_large(w: int, h: int, limit: int, fmt: str | None) -> ImageTooLarge:
    return ImageTooLarge(_("the {format} image is {w}×{h} = {mp:.0f} megapixels: too large for this server, which reads "
                           "at most {limit:.0f} megapixels of it (a JPEG photo is read shrunk, up to {pillow:.0f} "
                           "megapixels). Make it smaller first.").format(
        format=fmt or _("uploaded"), w=w, h=h, mp=w * h / 1e6, limit=limit / 1e6, pillow=PILLOW_HARD_LIMIT / 1e6))


def _open_header(source: bytes | Path) -> Image.Image:
    """The image opened lazily: only its header is read. Raises ImageError with a plain sentence."""
    if isinstance(source, Path):
        try:
            size = source.stat().st_size
            with open(source, "rb") as f:
                head = f.read(16)
        except OSError:
            raise ImageError(_("the file cannot be read")) from None
    else:
        size, head = len(source), source[:16]
    if size == 0:
        raise ImageError(_("the file is empty (0 bytes)"))
    fmt = _format_by_magic(head)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limits follow, in plain words
            return Image.open(source if isinstance(source, Path) else io.BytesIO(source))
    except Image.DecompressionBombError:
        raise ImageTooLarge(_("the image has more than {limit:.0f} megapixels: too large for this server. Make it "
                           "smaller first.").format(limit=PILLOW_HARD_LIMIT / 1e6)) from None
    except MemoryError:
        raise ImageError(_("the server has not enough free memory to open this image now; try a smaller one")) from None
    except Exception:  # UnidentifiedImageError, SyntaxError, struct.error, ValueError, OSError … from a bad header
        if fmt:
            raise _damaged(fmt) from None
        raise ImageError(_("this file is not an image that can be read (PNG, JPEG, WebP, BMP, GIF or TIFF)")) from None


def _reduced_scale(img: Image.Image, *, max_pixels: int, max_side: int | None) -> int:
    """The scale (1, 2, 4 or 8) at which a JPEG is decoded: as small as ``max_side`` allows, and small enough to stay
    within ``max_pixels``. 1 for other formats (they decode at full size). Raises ImageError when even 1/8 is too big."""
    w, h = img.size
    if img.format != "JPEG" or len(getattr(img, "tile", ())) != 1:
        if w * h > max_pixels:
            raise _too_large(w, h, max_pixels, img.format)
        return 1
    needed = next((s for s in (1, 2, 4, 8) if -(-w // s) * -(-h // s) <= max_pixels), None)
    if needed is None:
        raise _too_large(w, h, max_pixels, img.format)
    allowed = max((s for s in (1, 2, 4, 8) if max_side and max(w, h) // s >= max_side), default=1)
    return max(needed, allowed)


def decoded_pixels(source: bytes | str | Path, *, max_pixels: int = MAX_IMAGE_PIXELS,
                   max_side: int | None = None) -> int:
    """How many pixels ``decode_image`` with these options would decode, read from the header only (nothing is
    decoded). Raises ``ImageError`` as ``decode_image`` would for an unreadable or too large file."""
    img = _open_header(Path(source) if isinstance(source, str) else source)
    with img:
        scale = _reduced_scale(img, max_pixels=max_pixels, max_side=max_side)
        w, h = img.size
    return (-(-w // scale)) * (-(-h // scale))


def decode_image(data: bytes | str | Path, *, max_pixels: int = MAX_IMAGE_PIXELS,
                 max_side: int | None = None) -> Image.Image:
    """Decode an uploaded file into an 8-bit RGB or L (grayscale) PIL image, oriented as shot.

    Handles PNG, JPEG, WebP, BMP, TIFF and GIF (first frame); EXIF rotation; palette, alpha (over
    white), CMYK and 16-bit images. Sizes are read from the header before anything is decoded: a JPEG is decoded
    at 1/2, 1/4 or 1/8 scale when ``max_side`` allows it, or when its full size has more than ``max_pixels`` pixels
    (a phone's 144-megapixel panorama is read shrunk); another format with more than ``max_pixels`` pixels is
    refused. ``max_side`` then shrinks the result so that its longer side is at most that, so a server keeps
    working copies of a bounded size whatever is uploaded. Large decodes run at most two at a time per process.
    Raises ``ImageError`` with one plain sentence (never a library's message) for a non-image, an empty, damaged
    or truncated file, one too large, or too little memory.
    """
    source = Path(data) if isinstance(data, str) else data
    img = opened = _open_header(source)
    fmt, done = img.format, False
    try:
        scale = _reduced_scale(img, max_pixels=max_pixels, max_side=max_side)
        w, h = img.size
        if scale > 1:
            img.draft(img.mode, (w // scale, h // scale))
        pixels = img.size[0] * img.size[1]
        gate = _LARGE_DECODES if pixels > LARGE_DECODE else contextlib.nullcontext()
        with gate, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.seek(0)  # first frame of a GIF/TIFF
            img.load()
            if max_side and max(img.size) > 2 * max_side and img.mode in _REDUCIBLE:
                img = img.reduce(max(img.size) // max_side)  # a fast box shrink first: less to convert and rotate
            img = _normalise_mode(img)
            img = ImageOps.exif_transpose(img) or img
            if max_side and max(img.size) > max_side:
                img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        done = True
    except ImageError:
        raise
    except MemoryError:
        raise ImageError(_("the server has not enough free memory to open this image now; try a smaller one")) from None
    except Exception:  # OSError "image file is truncated", SyntaxError, ValueError, EOFError, zlib errors …
        raise _damaged(fmt) from None
    finally:
        if img is not opened or not done:
            opened.close()  # the full-size original and its file
    if pixels > LARGE_DECODE:
        _release_freed_memory()
    return img


_REDUCIBLE = ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F")


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _release_freed_memory() -> None:
    """Hand the memory a large decode freed back to the system. glibc keeps freed blocks of tens of MB in the
    arena of the thread that used them (every Streamlit rerun runs in its own thread), so without this a server's
    resident memory grew by ~100 MB with each different large photo, for a long while."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _normalise_mode(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.array(img, dtype=np.float32)  # float32, in place: a 40 MP 16-bit scan stays at 160 MB
        lo, hi = float(arr.min()), float(arr.max())
        if hi > lo:
            arr -= lo
            arr *= 255 / (hi - lo)
        else:
            arr[...] = 0
        return Image.fromarray(np.rint(arr, out=arr).astype(np.uint8), mode="L")
    if img.mode in ("1", "L"):
        return img.convert("L")
    if img.mode == "LA" or img.mode == "PA" or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    return img.convert("RGB")


def image_to_tensor(
    img: Image.Image,
    *,
    channels: int | None = None,
    size: tuple[int, int] | None = None,
    max_side: int | None = None,
) -> torch.Tensor:
    """A PIL image as float32 C×H×W in [0, 1].

    ``channels`` 1 or 3 converts to grayscale or RGB; ``size`` (H, W) resizes exactly; ``max_side``
    shrinks (never enlarges) so that the longer side is at most that, keeping the aspect ratio.
    """
    if channels not in (None, 1, 3):
        raise ValueError(_("channels must be 1 or 3, got {channels}").format(channels=channels))
    if channels == 1:
        img = img.convert("L")
    elif channels == 3:
        img = img.convert("RGB")
    if size is not None:
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    elif max_side is not None and max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr))


def sample_images() -> dict[str, Path]:
    """The bundled sample photos, by name (``cat``, ``astronaut``, ...)."""
    return {p.stem: p for p in sorted(SAMPLES_DIR.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}


SAMPLE_TITLES = {"astronaut": N_("astronaut"), "cameraman": N_("cameraman"), "cat": N_("cat"), "coffee": N_("coffee"),
                 "rocket": N_("rocket")}


def sample_title(name: str) -> str:
    """A sample photo's name in the current language (the file's name for photos with no title)."""
    return _(SAMPLE_TITLES[name]) if name in SAMPLE_TITLES else name


ROOTS_ENV = "CNNVIZ_DATA_ROOTS"  # os.pathsep-separated folders a dashboard user may train on (the teacher sets it)
MAX_FOLDER_FILES = 100_000  # a folder dataset never walks more entries than this


def data_roots() -> list[Path]:
    """The folders under which a folder-of-images dataset may lie: $CNNVIZ_DATA_ROOTS, else the project's assets
    and the data cache folder."""
    given = os.environ.get(ROOTS_ENV, "")
    roots = [Path(p) for p in given.split(os.pathsep) if p.strip()] or [ASSETS, DEFAULT_ROOT]
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
