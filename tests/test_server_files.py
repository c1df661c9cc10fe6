"""The server's own files and CPU: links out of the allowed image folders, folders too large to walk, and tiny crafted
checkpoints that once cost a minute of CPU and half a gigabyte before their message."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cnnviz
from cnnviz import checkpoints, data
from cnnviz.data import folders

# ---------------------------------------------------------------------------- links out of the allowed folders


def png(colour, size=(8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def allowed(tmp_path, monkeypatch):
    """An allowed root with a dataset of two classes, and a secret folder of images outside it."""
    root, secret = tmp_path / "allowed", tmp_path / "elsewhere"
    for cls, colour in (("cat", (200, 0, 0)), ("dog", (0, 200, 0))):
        (root / "ds" / cls).mkdir(parents=True)
        for i in range(3):
            (root / "ds" / cls / f"{i}.png").write_bytes(png(colour))
    (secret / "private").mkdir(parents=True)
    for i in range(4):
        (secret / "private" / f"{i}.png").write_bytes(png((0, 0, 250)))
    monkeypatch.setenv(data.ROOTS_ENV, str(root))
    return root, secret


def test_a_linked_class_folder_and_linked_files_out_of_the_roots_are_left_out(allowed):
    """allowed/ds/dog -> /elsewhere and a linked file were read (What a filter looks for showed their pixels)."""
    root, secret = allowed
    (root / "ds" / "spy").symlink_to(secret / "private")  # a class folder that leads out
    (root / "ds" / "cat" / "9.png").symlink_to(secret / "private" / "0.png")  # a file that leads out
    (root / "ds" / "cat" / "8.png").symlink_to(root / "ds" / "dog" / "0.png")  # a link that stays inside: fine
    ds = data.load_image_folder(root / "ds", size=(8, 8), roots=data.data_roots())
    assert ds.classes == ("cat", "dog") and len(ds) == 7
    assert not any(bool((img[2] > 200).all()) for img in ds.images)  # no blue pixel from the secret folder
    everything = data.load_image_folder(root / "ds", size=(8, 8))  # the CLI: the server owner's own tool
    assert everything.classes == ("cat", "dog", "spy") and len(everything) == 12


def test_the_dashboards_loader_refuses_a_folder_that_is_a_link_out(allowed):
    root, secret = allowed
    (root / "innocent").symlink_to(secret)
    with pytest.raises(ValueError, match="only folders inside"):
        data.allowed_folder(root / "innocent")
    with pytest.raises(ValueError, match="only folders inside"):  # the backend itself, not only the page
        cnnviz.training.load_train_test(str(root / "innocent"), input_shape=(3, 8, 8), roots=data.data_roots())
    with pytest.raises(ValueError, match="only folders inside"):
        cnnviz.training.load_train_test(str(secret), input_shape=(3, 8, 8), roots=data.data_roots())
    train, test = cnnviz.training.load_train_test(str(root / "ds"), input_shape=(3, 8, 8), roots=data.data_roots())
    assert len(train) + len(test) == 6


def test_the_dashboards_training_data_cache_passes_the_roots(allowed):
    from dashboard.training import training_data

    root, secret = allowed
    (root / "innocent").symlink_to(secret)
    with pytest.raises(ValueError, match="only folders inside"):
        training_data.__wrapped__(str(root / "innocent"), (3, 8, 8), None, None, 0)


def test_what_a_filter_looks_for_reads_no_linked_file(allowed):
    root, secret = allowed
    (root / "ds" / "cat" / "9.png").symlink_to(secret / "private" / "0.png")
    images = cnnviz.lookfor.folder_set(root / "ds", channels=3, sides=(8,))
    assert len(images.images) == 6 and "cat/9.png" not in images.sources


def test_a_huge_folder_is_listed_lazily(tmp_path, monkeypatch):
    """MAX_FOLDER_FILES used to be counted after sorted(rglob()) had walked the whole tree."""
    for cls in ("a", "b"):
        for sub in range(30):
            (tmp_path / cls / f"{sub:02d}").mkdir(parents=True)
            for i in range(10):
                (tmp_path / cls / f"{sub:02d}" / f"{i}.txt").touch()
    (tmp_path / "a" / "00" / "0.png").write_bytes(png((1, 2, 3)))
    (tmp_path / "b" / "00" / "0.png").write_bytes(png((4, 5, 6)))
    listed = []
    real_scandir = folders.os.scandir

    def counting(path):
        listed.append(path)
        return real_scandir(path)

    monkeypatch.setattr(folders.os, "scandir", counting)
    monkeypatch.setattr(folders, "MAX_FOLDER_FILES", 50)
    files = list(folders.folder_files(tmp_path / "a", limit=50))
    assert len(files) <= 50 and len(listed) <= 6  # five sub-folders of 10 files, not 30
    assert files == sorted(files) and files[0] == tmp_path / "a" / "00" / "0.png"
    assert [p.relative_to(tmp_path / "b") for p in folders.folder_files(tmp_path / "b")] == sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())  # rglob's order


# ---------------------------------------------------------------------------- crafted checkpoints


def cpu_seconds() -> float:
    return time.process_time()  # every thread of this process: what the server would pay


def many_tensors_file(path, n: int):
    """A real PyTorch checkpoint of ``n`` one-number tensors, made in a second (bench_hostile's own maker)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from hostile_files import many_tensors

    path.write_bytes(many_tensors(n))
    return path


def test_two_hundred_thousand_tiny_tensors_are_refused_from_the_index(tmp_path):
    """A 57 MB file of 200,000 one-number tensors once took 74 s to load."""
    small = many_tensors_file(tmp_path / "small.pt", 3)
    assert torch.load(small, weights_only=True)["t2"].tolist() == [0.0]  # the format is PyTorch's own
    path = many_tensors_file(tmp_path / "many.pt", 200_000)
    assert path.stat().st_size > 50_000_000
    for source in (path, path.read_bytes()):  # a file on disk (the CLI) and an upload (the dashboard)
        start = cpu_seconds()
        with pytest.raises(cnnviz.CheckpointError, match="200,00\\d or more parts .* at most 4,096"):
            cnnviz.load_checkpoint(source)
        assert cpu_seconds() - start < 0.5


def test_a_pickle_of_many_tensors_sharing_one_storage_is_refused_by_its_steps(tmp_path):
    """Few records, many tensors: the pickle's steps are counted without running them."""
    shared = torch.zeros(1)
    state = {f"t{i}": shared[0:1] for i in range(4200)}
    buf = io.BytesIO()
    torch.save(state, buf)
    start = cpu_seconds()
    with pytest.raises(cnnviz.CheckpointError, match="4,097 or more parts"):
        cnnviz.load_checkpoint(buf.getvalue())
    assert cpu_seconds() - start < 0.5
    legacy = io.BytesIO()
    torch.save(state, legacy, _use_new_zipfile_serialization=False)  # the format before PyTorch 1.6
    with pytest.raises(cnnviz.CheckpointError, match="or more parts"):
        cnnviz.load_checkpoint(legacy.getvalue())


def stack_checkpoint(path, layers: int):
    """A "stack" checkpoint whose spec lists ``layers`` dropout layers between a 1-output linear layer and the
    classifier: each outputs one number, so only the count can stop it (203 kB for 100,000)."""
    spec = [{"type": "flatten"}, {"type": "linear", "out_features": 1}] + [{"type": "dropout", "p": 0.1}] * layers \
        + [{"type": "linear", "out_features": 10}]
    state = {"fc1.weight": torch.zeros(1, 784), "fc1.bias": torch.zeros(1), "fc2.weight": torch.zeros(10, 1),
             "fc2.bias": torch.zeros(10)}
    payload = {"format": checkpoints.FORMAT, "model_name": "stack", "num_classes": 10, "input_shape": [1, 28, 28],
               "classes": [], "meta": {"spec": spec}, "state_dict": state}
    torch.save(payload, path)
    return path


def test_a_stack_of_100000_dropout_layers_is_refused_before_it_is_built(tmp_path):
    """203 kB once cost 16 s of server CPU and +450 MB per upload before its message (68 s and a MemoryError in
    `cnnviz summary --checkpoint`)."""
    path = stack_checkpoint(tmp_path / "stack.pt", 100_000)
    assert path.stat().st_size < 300_000
    start = cpu_seconds()
    ckpt = cnnviz.load_checkpoint(path)
    with pytest.raises(cnnviz.CheckpointError, match="100,003 layers, more than the 100 this dashboard builds"):
        checkpoints.model_from_checkpoint(ckpt)
    assert cpu_seconds() - start < 1.0
    fine = checkpoints.model_from_checkpoint(cnnviz.load_checkpoint(stack_checkpoint(tmp_path / "ok.pt", 3)))
    assert fine(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_real_checkpoints_still_load_quickly():
    """The shipped CNN (zip format) and EfficientNet-Lite0's weights (296 tensors, PyTorch's older format)."""
    from cnnviz.models import imagenet

    for path in (cnnviz.training.pretrained_checkpoints()[-1], imagenet._bundled_weights_path()):
        start = cpu_seconds()
        assert len(cnnviz.load_checkpoint(path).state_dict) in (10, 296)
        assert cpu_seconds() - start < 2.0


# ---------------------------------------------------------------------------- images


def test_a_huge_webp_is_called_too_large_even_when_pillow_cannot_open_it(monkeypatch):
    """Pillow's WebP reader allocates the whole canvas when it opens a file: on a memory-limited server a valid
    12500×12500 lossless WebP failed there and was called damaged. Its size is read from its header first."""
    from PIL import WebPImagePlugin

    small = io.BytesIO()
    Image.fromarray(np.zeros((3, 5, 3), np.uint8)).save(small, format="WEBP", lossless=True)
    assert cnnviz.decode_image(small.getvalue()).size == (5, 3)
    bits = (12500 - 1) | ((12500 - 1) << 14)  # VP8L: 14 bits each of width-1 and height-1
    head = bytearray(small.getvalue())
    head[21:25] = (bits | (int.from_bytes(head[21:25], "little") & ~((1 << 28) - 1))).to_bytes(4, "little")

    def no_memory(*args, **kwargs):
        raise OSError("could not create decoder object")  # what a memory limit makes of the canvas

    monkeypatch.setattr(WebPImagePlugin._webp, "WebPAnimDecoder", no_memory)
    with pytest.raises(data.ImageTooLarge, match="12500×12500 = 156 megapixels: too large"):
        cnnviz.decode_image(bytes(head))
