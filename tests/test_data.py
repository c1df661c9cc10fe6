"""Datasets (bundled, torchvision's formats written by the tests, folders) and safe image decoding."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image

import cnnviz
from cnnviz import data


def write_idx(path, array: np.ndarray, *, compress: bool = False) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if compress else payload)


def png_bytes(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


NOISE_PNG = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))


# ---------------------------------------------------------------------------- bundled Fashion-MNIST


def test_bundled_fashion_mnist_is_the_real_dataset():
    train, test = cnnviz.load_fashion_mnist(train=True), cnnviz.load_fashion_mnist(train=False)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.images.shape == (60_000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
    assert torch.bincount(train.labels).tolist() == [6_000] * 10  # the published class balance
    assert torch.bincount(test.labels).tolist() == [1_000] * 10
    assert 0.27 < train.floats().mean().item() < 0.30  # Fashion-MNIST's well-known mean, 0.286


def test_subset_and_floats():
    test = cnnviz.load_fashion_mnist(train=False)
    sub = test.subset(100, seed=1)
    assert len(sub) == 100 and sub.classes == test.classes
    assert torch.equal(sub.images, test.subset(100, seed=1).images)
    x = sub.floats(mean=0.5, std=0.5)
    assert x.min() >= -1 and x.max() <= 1 and x.dtype == torch.float32
    with pytest.raises(ValueError, match="at least 1"):
        test.subset(0)


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    good = tmp_path / "x.gz"
    write_idx(good, np.arange(24).reshape(2, 3, 4), compress=True)
    assert data.read_idx(good).shape == (2, 3, 4)
    truncated = tmp_path / "t"
    truncated.write_bytes(struct.pack(">BBBB", 0, 0, 8, 1) + struct.pack(">I", 10) + b"abc")
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(truncated)
    foreign = tmp_path / "f"
    foreign.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="magic"):
        data.read_idx(foreign)


# ---------------------------------------------------------------------------- torchvision datasets, offline


def test_mnist_through_torchvision_from_files_in_the_real_format(tmp_path, no_network):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    for split, n in (("train", 12), ("t10k", 5)):
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n))
    train = cnnviz.load_dataset("mnist", root=tmp_path, train=True)
    assert train.images.shape == (12, 1, 28, 28) and len(cnnviz.load_dataset("mnist", root=tmp_path, train=False)) == 5
    assert train.classes == tuple("0123456789")
    assert torch.equal(train.images[0, 0], torch.from_numpy(data.read_idx(raw / "train-images-idx3-ubyte")[0].copy()))
    assert cnnviz.dataset_status("mnist", root=tmp_path)[0]


def test_cifar10_through_torchvision_from_pickle_batches(tmp_path, monkeypatch, no_network):
    from torchvision.datasets import CIFAR10

    # The test's small batches cannot match the published MD5 sums; everything else is torchvision's real code.
    monkeypatch.setattr(CIFAR10, "train_list", [[n, None] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[n, None] for n, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": None})
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": rng.integers(0, 10, 4).tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(data.CIFAR10_CLASSES)}))
    train = cnnviz.load_dataset("cifar10", root=tmp_path)
    assert train.images.shape == (20, 3, 32, 32) and train.classes[3] == "cat"
    first = pickle.loads((folder / "data_batch_1").read_bytes())["data"][0].reshape(3, 32, 32)
    assert torch.equal(train.images[0], torch.from_numpy(first))


def test_missing_dataset_with_no_network_says_what_to_do(tmp_path, no_network):
    with pytest.raises(cnnviz.DatasetUnavailable, match="no network.*Fashion-MNIST"):
        cnnviz.load_dataset("mnist", root=tmp_path / "empty")
    with pytest.raises(cnnviz.DatasetUnavailable, match="bundled Fashion-MNIST"):
        cnnviz.load_dataset("cifar10", root=tmp_path / "empty", download=False)
    assert cnnviz.dataset_status("cifar10", root=tmp_path / "empty")[0] is False
    with pytest.raises(ValueError, match="unknown dataset"):
        cnnviz.load_dataset("imagenet")


def test_image_folder_dataset(tmp_path):
    for cls, colour in (("cats", (200, 50, 50)), ("dogs", (50, 50, 200))):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (40 + i, 30), colour).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    ds = cnnviz.data.load_image_folder(tmp_path, size=(16, 16), channels=3)
    assert ds.images.shape == (6, 3, 16, 16) and ds.classes == ("cats", "dogs")
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.images[0, 0, 8, 8] == 200 and "1 unreadable" in ds.source
    with pytest.raises(ValueError, match="at least two classes"):
        cnnviz.data.load_image_folder(tmp_path / "cats")


# ---------------------------------------------------------------------------- decoding uploads


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"])
def test_common_formats_decode(fmt):
    img = cnnviz.decode_image(png_bytes(Image.new("RGB", (30, 20), (10, 200, 30)), fmt))
    assert img.size == (30, 20) and img.mode in ("RGB", "L")


def test_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    img = cnnviz.decode_image(buf.getvalue())
    assert img.getpixel((0, 0))[0] > 200


@pytest.mark.parametrize(
    "payload, message",
    [(b"", "empty"), (b"hello, this is text", "not an image"), (NOISE_PNG[: len(NOISE_PNG) // 2], "damaged")],
)
def test_bad_files_get_a_plain_reason(payload, message):
    with pytest.raises(cnnviz.ImageError, match=message):
        cnnviz.decode_image(payload)


def test_decompression_bomb_is_refused():
    bomb = png_bytes(Image.new("1", (8_000, 6_000)))  # 48 megapixels in a few kB
    assert len(bomb) < 100_000
    with pytest.raises(cnnviz.ImageError, match="megapixels"):
        cnnviz.decode_image(bomb)


def test_mode_conversions():
    sixteen = Image.fromarray(np.array([[0, 1000], [30000, 65535]], dtype=np.uint16))
    out = cnnviz.decode_image(png_bytes(sixteen))
    assert out.mode == "L" and np.asarray(out).tolist() == [[0, 4], [117, 255]]
    cmyk = cnnviz.decode_image(png_bytes(Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "JPEG"))
    assert cmyk.mode == "RGB" and cmyk.getpixel((1, 1))[0] > 200 and cmyk.getpixel((1, 1))[1] < 60
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert cnnviz.decode_image(png_bytes(rgba)).getpixel((0, 0)) == (255, 255, 255)  # transparent -> white
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    assert cnnviz.decode_image(png_bytes(pal)).getpixel((0, 0)) == (0, 255, 0)


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = cnnviz.decode_image(png_bytes(img, "JPEG", exif=exif.tobytes()))
    assert out.size == (20, 40)


def test_image_to_tensor():
    img = Image.new("RGB", (400, 200), (255, 0, 0))
    assert cnnviz.data.image_to_tensor(img).shape == (3, 200, 400)
    gray = cnnviz.data.image_to_tensor(img, channels=1, max_side=100)
    assert gray.shape == (1, 50, 100) and abs(gray.mean().item() - 0.299) < 0.01
    assert cnnviz.data.image_to_tensor(img, size=(28, 28)).shape == (3, 28, 28)
    with pytest.raises(ValueError):
        cnnviz.data.image_to_tensor(img, channels=2)


def test_samples_are_bundled_with_a_cat():
    samples = cnnviz.sample_images()
    assert "cat" in samples and len(samples) >= 4
    for path in samples.values():
        assert cnnviz.decode_image(path).size[0] > 100


def test_folder_datasets_only_under_the_allowed_roots(tmp_path, monkeypatch):
    """The studio's folder path is a path on the shared server: nothing outside CNNVIZ_DATA_ROOTS, no escape by
    '..' or by a link, and the refusal does not tell whether the path exists."""
    from cnnviz import data

    root = tmp_path / "class-data"
    (root / "shapes" / "a").mkdir(parents=True)
    (root / "shapes" / "b").mkdir()
    outside = tmp_path / "secret"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    monkeypatch.setenv("CNNVIZ_DATA_ROOTS", str(root))
    assert data.allowed_folder(root / "shapes") == (root / "shapes").resolve()
    assert data.allowed_folder("shapes") == (root / "shapes").resolve()  # relative to the first root
    for bad in (outside, root / ".." / "secret", root / "link", "/", "/etc"):
        with pytest.raises(ValueError, match="only folders inside") as err:
            data.allowed_folder(bad)
        assert "secret" not in str(err.value).replace(str(root), "")
    missing_inside = root / "nothing-here"
    with pytest.raises(ValueError, match="is not a folder"):
        data.allowed_folder(missing_inside)


def test_big_photos_are_shrunk_while_decoding():
    """A working copy never exceeds max_side: a 6000×4000 JPEG is decoded at a reduced scale directly."""
    buf = io.BytesIO()
    Image.new("RGB", (6000, 4000), (120, 60, 30)).save(buf, format="JPEG", quality=80)
    img = cnnviz.decode_image(buf.getvalue(), max_side=2048)
    assert max(img.size) == 2048 and img.size == (2048, 1365)
    full = cnnviz.decode_image(buf.getvalue())
    assert full.size == (6000, 4000)  # without max_side: the photo as it is
