"""Labelled datasets held in memory: the bundled Fashion-MNIST and MNIST (IDX files), torchvision's CIFAR-10 (and
MNIST in another folder).

Everything loads into memory as tensors (``ImageData``): uint8 images N×C×H×W and int64 labels. The
sets taught with are small (70,000 28×28 images are 55 MB), and tensors in memory train several times
faster than a per-image DataLoader.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..i18n import N_, _
from . import paths
from .paths import ASSETS

__all__ = ["CIFAR10_CLASSES", "DATASETS", "FASHION_CLASSES", "FASHION_DIR", "MNIST_CLASSES", "MNIST_DIR",
           "MNIST_SHA256", "DatasetInfo", "DatasetUnavailable", "ImageData", "class_label", "dataset_status",
           "load_dataset", "load_fashion_mnist", "load_mnist", "read_idx"]

FASHION_DIR = ASSETS / "fashion-mnist"
MNIST_DIR = ASSETS / "mnist"
# sha256 of the bundled MNIST files (as in assets/mnist/SHA256SUMS), checked once per process before they are read
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "71524e2cd1ad2968737f7f2f2ff69cbfc32df8ccddff51593f7cb2d4e0eb5b64",
    "train-labels-idx1-ubyte.gz": "fe03b8bd7915f70bf5aa08be480aa413fbd85afcaa58b35d230d335f284fd88e",
    "t10k-images-idx3-ubyte.gz": "5634745efa576a17e7d4cf5cd9d09123c75e6538e5114267c2d156edaf519341",
    "t10k-labels-idx1-ubyte.gz": "ae18e77e031ccde52407f794d123116439864147d33ac992975f85dd4dc42af6",
}

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
    """A class name in the current language: Fashion-MNIST's and CIFAR-10's ten, ImageNet's 1000
    (``cnnviz.models.imagenet_class_label``), else the name as it is (digits, a folder's names)."""
    if name in _CLASS_LABELS:
        return _(_CLASS_LABELS[name])
    from ..models import imagenet_class_label

    try:
        return imagenet_class_label(name)
    except ValueError:  # not an ImageNet class
        return name


class DatasetUnavailable(RuntimeError):
    """A dataset is neither on disk nor downloadable now; the message says what to use instead."""


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


def _split_files(folder: Path, train: bool) -> tuple[Path, Path]:
    split = "train" if train else "t10k"
    return folder / f"{split}-images-idx3-ubyte.gz", folder / f"{split}-labels-idx1-ubyte.gz"


@functools.lru_cache(maxsize=16)
def _check_sha256(path: str, size: int, mtime_ns: int, expected: str) -> None:
    """Raise DatasetUnavailable unless the file's sha256 is ``expected``; a file passes once per process (until it
    changes: its size and time are part of the key). Failures are not remembered."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise DatasetUnavailable(
            _("{name} in cnnviz's assets/mnist is not the file cnnviz ships (its sha256 differs): it is damaged or "
              "was replaced. Reinstall cnnviz from its repository.").format(name=Path(path).name))


def load_fashion_mnist(*, train: bool = True, root: str | Path | None = None) -> ImageData:
    """The bundled Fashion-MNIST (60,000 train / 10,000 test, 1×28×28), read from the IDX .gz files."""
    folder = Path(root) if root is not None else FASHION_DIR
    images, labels = _split_files(folder, train)
    if not images.exists() or not labels.exists():
        raise DatasetUnavailable(
            _("Fashion-MNIST files are missing from cnnviz's assets/fashion-mnist; reinstall cnnviz from its repository (they ship there) or run `apt-get install dataset-fashion-mnist`.")
        )
    return _idx_pair(images, labels, "fashion_mnist", FASHION_CLASSES, f"bundled: {folder}")


def load_mnist(*, train: bool = True) -> ImageData:
    """The bundled MNIST digits (60,000 train / 10,000 test, 1×28×28), read from assets/mnist's IDX .gz files after
    their sha256 is checked (once per process). Raises ``DatasetUnavailable`` when a file is missing or differs."""
    images, labels = _split_files(MNIST_DIR, train)
    for path in (images, labels):
        if not path.is_file():
            raise DatasetUnavailable(
                _("MNIST files are missing from cnnviz's assets/mnist; reinstall cnnviz from its repository (they "
                  "ship there)."))
        stat = path.stat()
        _check_sha256(str(path), stat.st_size, stat.st_mtime_ns, MNIST_SHA256[path.name])
    return _idx_pair(images, labels, "mnist", MNIST_CLASSES, f"bundled: {MNIST_DIR}")


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
    """Load ``fashion_mnist`` or ``mnist`` (both bundled; torchvision's files from ``root`` when it is given) or
    ``cifar10`` through torchvision.

    Downloads (with torchvision's progress bar) into ``root`` (default ``~/.cache/cnnviz/data`` or
    ``$CNNVIZ_DATA``) when the files are not there. Raises ``DatasetUnavailable`` with what to do when
    they are neither on disk nor downloadable, ``ValueError`` for an unknown name.
    """
    if name not in DATASETS:
        raise ValueError(_("unknown dataset {name!r}; choose one of {join_datasets} or use a folder of images").format(name=name, join_datasets=', '.join(DATASETS)))
    if name == "fashion_mnist" and root is None:
        return load_fashion_mnist(train=train)
    if name == "mnist" and root is None:
        return load_mnist(train=train)
    root = Path(root) if root is not None else paths.DEFAULT_ROOT
    cls = _torchvision_class(name)
    try:
        ds = cls(str(root), train=train, download=False)
    except RuntimeError:
        if not download:
            raise DatasetUnavailable(
                _("{datasets_name_title} is not in cnnviz's data folder on this computer. Download it once with network access (`cnnviz data --download {name}`), or use the bundled Fashion-MNIST.").format(datasets_name_title=DATASETS[name].title, name=name)
            ) from None
        try:
            ds = cls(str(root), train=train, download=True)
        except Exception as err:  # URLError, socket errors, HTTP errors, a corrupt download
            raise DatasetUnavailable(
                _("Could not download {datasets_name_title}: there seems to be no network. Use the bundled Fashion-MNIST instead, which needs none, or copy the dataset files into cnnviz's data folder (`cnnviz data` shows where) from a machine that has network.").format(datasets_name_title=DATASETS[name].title)
            ) from None
    return _from_torchvision(ds, name)


def dataset_status(name: str, *, root: str | Path | None = None) -> tuple[bool, str]:
    """Whether ``name`` can be loaded now without a download, and from where, in words a reader can be shown: no
    folder of the server (``cnnviz data`` prints the data folder). No download is tried."""
    if name in ("fashion_mnist", "mnist") and root is None:
        folder = FASHION_DIR if name == "fashion_mnist" else MNIST_DIR
        ok = all(p.exists() for train in (True, False) for p in _split_files(folder, train))
        return ok, _("bundled with cnnviz") if ok else _("missing from cnnviz's bundled files")
    root = Path(root) if root is not None else paths.DEFAULT_ROOT
    try:
        _torchvision_class(name)(str(root), train=False, download=False)
    except RuntimeError:
        return False, _("not downloaded yet; it downloads where there is network")
    return True, _("downloaded into the data folder")
