"""Hostile input (issue 15): sizes checked before anything is decoded or built, one plain sentence for every refusal
(never a library's words or a path on the server), and a real server that lives through every hostile file."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cnnviz
from cnnviz import cards, checkpoints, gradcam, transfer
from cnnviz import data as cdata

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_WORDS = ("DefaultCPUAllocator", "decompression bomb", "Truncated File Read", "PytorchStreamReader",
                 "cnnviz-zip-", "/tmp", "invalid literal", "enforce fail")


def plain(message: str) -> bool:
    return not any(word in message for word in LIBRARY_WORDS)


def png(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


# ---------------------------------------------------------------------------- zips of images


@pytest.fixture
def count_decodes(monkeypatch):
    calls: list[object] = []
    real = cdata.decode_image

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(cdata.folders, "decode_image", counting)  # where load_image_folder reads it
    return calls


def test_a_zip_of_huge_tiny_pngs_is_refused_before_anything_is_decoded(count_decodes):
    """60 PNGs of 36 MP (35 kB each) once cost the shared server 26-31 s of CPU: now the headers are read as the zip
    is unpacked, and the total pixel budget stops it before a single image is decoded."""
    flat = png(Image.new("L", (6000, 6000)), optimize=True)
    assert len(flat) < 60_000
    bomb = zip_of({f"{'ab'[i % 2]}/{i:02d}.png": flat for i in range(60)})
    with pytest.raises(ValueError, match="megapixels") as err:
        transfer.load_image_zip(bomb)
    assert count_decodes == [] and plain(str(err.value))


def test_one_image_too_large_in_a_zip_is_named():
    huge = png(Image.new("L", (7000, 7000)), optimize=True)  # 49 MP: over the 40 MP any one image may have
    small = png(Image.new("RGB", (8, 8), (200, 0, 0)))
    with pytest.raises(ValueError, match="big/huge.png in the zip") as err:
        transfer.load_image_zip(zip_of({"big/huge.png": huge, "small/a.png": small, "small/b.png": small}))
    assert "megapixels" in str(err.value) and plain(str(err.value))


def test_phone_photos_count_at_the_scale_they_are_decoded_at():
    """24 photos of 12 MP are 288 MP at full size, but a JPEG is decoded at 1/8 scale for a 32×32 dataset: accepted."""
    photo = png(Image.new("RGB", (4000, 3000), (30, 120, 200)), "JPEG", quality=70)
    assert cdata.decoded_pixels(photo, max_side=cdata.working_side((32, 32))) == 500 * 375
    members = {f"{'sea' if i % 2 else 'sky'}/{i:02d}.jpg": photo for i in range(24)}
    ds = transfer.load_image_zip(zip_of(members), size=(32, 32))
    assert len(ds) == 24 and ds.classes == ("sea", "sky")
    assert ds.images.shape == (24, 3, 32, 32)
    assert torch.allclose(ds.images[0, :, 16, 16].float(), torch.tensor([30.0, 120.0, 200.0]), atol=4)


def test_zip_messages_name_no_server_path():
    junk = zip_of({"a/x.png": b"not a png", "b/y.png": b"nope"})
    with pytest.raises(ValueError) as err:
        transfer.load_image_zip(junk)
    assert "no readable image in the zip" in str(err.value) and plain(str(err.value))
    one_class = zip_of({"only/x.png": png(Image.new("RGB", (4, 4)))})
    with pytest.raises(ValueError, match="the zip needs one sub-folder per class") as err:
        transfer.load_image_zip(one_class)
    assert plain(str(err.value))


def test_a_damaged_member_of_a_zip_is_one_plain_sentence():
    good = png(Image.new("RGB", (64, 64), (10, 20, 30)))
    data = bytearray(zip_of({"a/x.png": good, "b/y.png": good}))
    at = data.find(good) + 100
    data[at] ^= 0xFF  # the CRC no longer checks out
    with pytest.raises(ValueError, match="a/x.png in the zip is damaged") as err:
        transfer.load_image_zip(bytes(data))
    assert plain(str(err.value))
    with pytest.raises(ValueError, match="not a zip file that can be read") as err:
        transfer.load_image_zip(b"PK\x03\x04 this is not really a zip")
    assert "Bad" not in str(err.value) and plain(str(err.value))


# ---------------------------------------------------------------------------- photos


def test_a_144_megapixel_panorama_is_decoded_shrunk_not_refused():
    pano = png(Image.new("RGB", (16000, 9000), (90, 140, 200)), "JPEG", quality=60)
    img = cnnviz.decode_image(pano, max_side=2048)
    assert img.size == (2048, 1152) and img.getpixel((1000, 500))[2] > 180
    assert cdata.decoded_pixels(pano) <= cdata.MAX_IMAGE_PIXELS  # without max_side: the largest scale under the limit
    assert max(cnnviz.decode_image(pano).size) == 8000


def test_a_huge_png_is_refused_with_its_size_and_the_limit():
    big = png(Image.new("1", (12000, 12000)))  # 144 MP; PNG cannot be decoded shrunk
    with pytest.raises(cnnviz.ImageError) as err:
        cnnviz.decode_image(big, max_side=2048)
    message = str(err.value)
    assert "12000×12000 = 144 megapixels" in message and "at most 40 megapixels" in message and plain(message)


@pytest.mark.parametrize("cut", ["header", "ihdr", "body"])
def test_a_damaged_png_is_called_damaged(cut):
    whole = png(Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)))
    damaged = {"header": whole[:30], "ihdr": whole[:16] + b"\xff" * 8 + whole[24:], "body": whole[: len(whole) // 2]}
    with pytest.raises(cnnviz.ImageError) as err:
        cnnviz.decode_image(damaged[cut])
    assert "PNG file is damaged or truncated" in str(err.value) and plain(str(err.value))


def test_running_out_of_memory_while_decoding_is_a_plain_sentence(monkeypatch):
    from PIL import ImageFile

    data = png(Image.new("RGB", (10, 10)))

    def no_memory(self, *args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_memory)
    with pytest.raises(cnnviz.ImageError, match="not enough free memory"):
        cnnviz.decode_image(data)


def test_large_decodes_run_at_most_two_at_a_time(monkeypatch):
    """Thirty students uploading big photos at once: the server decodes at most two large images together (memory
    stays bounded); small images are not held up."""
    import threading
    import time as clock

    from PIL import ImageFile

    real_load = ImageFile.ImageFile.load
    inside, most = [0], [0]
    lock = threading.Lock()

    def watched(self, *args, **kwargs):
        large = self.size[0] * self.size[1] > cdata.LARGE_DECODE
        if large:
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            clock.sleep(0.05)  # a slow decoder: overlaps would show
        try:
            return real_load(self, *args, **kwargs)
        finally:
            if large:
                with lock:
                    inside[0] -= 1

    monkeypatch.setattr(ImageFile.ImageFile, "load", watched)
    big = png(Image.new("L", (3000, 3000)), optimize=True)  # 9 MP
    errors: list[BaseException] = []

    def decode() -> None:
        try:
            assert cnnviz.decode_image(big, max_side=256).size == (256, 256)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    threads = [threading.Thread(target=decode) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and 1 <= most[0] <= 2


# ---------------------------------------------------------------------------- checkpoints


def test_an_expanded_tensor_is_refused_when_loaded():
    """torch.save keeps a view's strides: 1.5 kB can hold a "200,000×128" tensor that would make the model it
    describes 100 MB (4,000,000 rows: 2 GB)."""
    state = cnnviz.build_model("mnist_cnn", seed=0).state_dict()
    state["classifier.9.weight"] = torch.zeros(1).expand(200_000, 128)
    state["classifier.9.bias"] = torch.zeros(1).expand(200_000)
    data = torch_bytes(state)
    assert len(data) < 2_000_000
    with pytest.raises(cnnviz.CheckpointError, match="claims 25,600,000 numbers but the file holds only 1"):
        cnnviz.load_checkpoint(data)


def test_a_checkpoint_that_unpacks_to_far_more_than_itself_is_refused():
    plain_file = zipfile.ZipFile(io.BytesIO(torch_bytes({"w": torch.zeros(20_000_000)})))
    packed = zip_of({i.filename: plain_file.read(i.filename) for i in plain_file.infolist()}, zipfile.ZIP_DEFLATED)
    assert len(packed) < 200_000
    with pytest.raises(cnnviz.CheckpointError, match="unpacks to 76 MB"):
        cnnviz.load_checkpoint(packed)


def test_a_model_bigger_than_the_weights_in_the_file_is_never_built(monkeypatch):
    """A bare state_dict whose last 2-D tensor has 100,000 rows (400 kB) used to make mnist_cnn with 100,000 classes
    (51 MB) before the mismatch was found; vgg16 would have taken 1.6 GB."""
    built = []  # the devices models were built on: PyTorch's meta device (no memory) is allowed

    def build(*args, **kwargs):
        built.append(torch.empty(0).device.type)
        return cnnviz.build_model(*args, **kwargs)

    monkeypatch.setattr(checkpoints.rebuild, "build_model", build)
    state = cnnviz.build_model("mnist_cnn", seed=0).state_dict()
    state["zz.weight"] = torch.zeros(100_000, 1)
    ckpt = cnnviz.load_checkpoint(torch_bytes(state))
    with pytest.raises(cnnviz.CheckpointError, match="needs 13,304,608 weights and the file holds 505,898"):
        cnnviz.model_from_checkpoint(ckpt, model_name="mnist_cnn")
    assert "cpu" not in built


def test_an_input_the_architecture_cannot_take_is_refused_before_building(monkeypatch):
    """PyTorch's own shape rules on the meta device: mnist_cnn's classifier takes 28×28 only (a 32×32 claim used to
    fail later, on the page, with a truncated PyTorch sentence); resnet18 on 3×1024×1024 would compute 156 million
    numbers for one image (resnet50: 670 million, 2.7 GB), far over what the server allows."""
    built = []

    def build(*args, **kwargs):
        built.append(torch.empty(0).device.type)
        return cnnviz.build_model(*args, **kwargs)

    monkeypatch.setattr(checkpoints.rebuild, "build_model", build)
    state = cnnviz.build_model("mnist_cnn", seed=0).state_dict()
    with pytest.raises(cnnviz.CheckpointError, match="cannot take an input of that size"):
        cnnviz.model_from_checkpoint(cnnviz.Checkpoint(state, "mnist_cnn", 10, (1, 32, 32)))
    big = cnnviz.build_model("resnet18", seed=0).state_dict()
    with pytest.raises(cnnviz.CheckpointError, match="156,238,346 numbers for one image"):
        cnnviz.model_from_checkpoint(cnnviz.Checkpoint(big, "resnet18", 10, (3, 1024, 1024)))
    assert "cpu" not in built
    fine = cnnviz.model_from_checkpoint(cnnviz.Checkpoint(state, "mnist_cnn", 10, (1, 28, 28)))
    assert "cpu" in built and fine(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.parametrize("facts, words", [
    ({"meta": [1, 2]}, "meta entry"),
    ({"num_classes": "many"}, "num_classes entry"),
    ({"classes": [1, 2, 3]}, "class names"),
    ({"input_shape": "1x28x28"}, "three whole numbers"),
])
def test_junk_metadata_is_one_plain_sentence(facts, words):
    payload = {"format": checkpoints.FORMAT, "model_name": "mnist_cnn", "num_classes": 10, "input_shape": [1, 28, 28],
               "classes": [], "meta": {}, "state_dict": cnnviz.build_model("mnist_cnn").state_dict(), **facts}
    with pytest.raises(cnnviz.CheckpointError, match=words) as err:
        cnnviz.load_checkpoint(torch_bytes(payload))
    assert plain(str(err.value))


def test_junk_values_in_meta_are_ignored_by_the_card():
    state = cnnviz.build_model("mnist_cnn").state_dict()
    ckpt = cnnviz.Checkpoint(state, "mnist_cnn", 10, (1, 28, 28), (),
                             {"epoch": "three", "mean": "xyz", "std": [0.0], "test_accuracy": "high", "dataset": 7})
    card = cards.card_for_checkpoint(ckpt)
    assert (card.epoch, card.mean, card.std, card.accuracy, card.dataset) == (None, (0.0,), (1.0,), None, "")


def test_damaged_and_out_of_memory_checkpoints_say_so_plainly(monkeypatch):
    whole = torch_bytes(cnnviz.build_model("mnist_cnn").state_dict())
    with pytest.raises(cnnviz.CheckpointError, match="damaged or truncated") as err:
        cnnviz.load_checkpoint(whole[: len(whole) // 2])
    assert plain(str(err.value))

    def allocator(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:118] data. DefaultCPUAllocator: not enough memory: you "
                           "tried to allocate 40000000000 bytes.")

    monkeypatch.setattr(torch, "load", allocator)
    with pytest.raises(cnnviz.CheckpointError, match="not enough free memory") as err:
        cnnviz.load_checkpoint(whole)
    assert plain(str(err.value))


# ---------------------------------------------------------------------------- Grad-CAM


def test_grad_cam_on_a_bare_state_dict_of_a_colour_model():
    """A bare state_dict has no class names and no input shape: the card takes the channels from the first conv
    layer (a colour mnist_cnn used to be refused), the classes are numbered, Grad-CAM runs for every class."""
    model = cnnviz.build_model("mnist_cnn", in_channels=3, seed=0)
    ckpt = cnnviz.load_checkpoint(torch_bytes(model.state_dict()))
    rebuilt = cnnviz.model_from_checkpoint(ckpt, model_name="mnist_cnn")
    card = cards.card_for_checkpoint(ckpt, model_name="mnist_cnn")
    assert card.input_shape == (3, 28, 28) and card.classes == ()
    seen = cards.prepare_image(cnnviz.decode_image(cnnviz.sample_images()["cat"]), card)
    prediction = cnnviz.capture.predict(rebuilt, seen.tensor, classes=card.display_classes)
    assert prediction.classes == tuple(f"class {i}" for i in range(10))
    with torch.no_grad():  # the oracle: PyTorch's own logits
        expected = torch.softmax(model.eval()(seen.tensor[None])[0], 0)
    assert prediction.best == int(expected.argmax())
    for target in (None, 9):
        result = gradcam.grad_cam_result(rebuilt, seen.tensor, target)
        assert result.cam.shape == (28, 28)
        assert result.target_class == (prediction.best if target is None else 9)


def test_grad_cam_out_of_memory_is_a_plain_sentence(monkeypatch):
    from captum.attr import LayerGradCam

    def allocator(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 123456789 bytes")

    monkeypatch.setattr(LayerGradCam, "attribute", allocator)
    model = cnnviz.build_model("mnist_cnn", seed=0).eval()
    with pytest.raises(ValueError, match="not enough free memory for Grad-CAM") as err:
        gradcam.grad_cam_result(model, torch.rand(1, 28, 28))
    assert plain(str(err.value))


# ---------------------------------------------------------------------------- a real server


@pytest.mark.browser
@pytest.mark.slow
def test_a_real_server_lives_through_every_hostile_file():
    """benchmarks/bench_hostile.py --short: a real server, Chromium attacks every page with an input (hostile files,
    crafted checkpoints, the camera, zips, server folders, damaged runs, wrong passwords, extreme values); the server
    stays alive and under 3 GB, every refusal is a plain sentence, the panorama and large PNGs are drawn."""
    import re

    if not Path("/usr/bin/chromium").exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_hostile.py"), "--short"],
                         capture_output=True, text=True, timeout=1500, cwd=ROOT)  # 14 min at a load of 20
    report = out.stdout + out.stderr[-2000:]
    assert out.returncode == 0, report
    assert "server alive at the end: yes" in out.stdout and "budget 3.0 GB: met" in out.stdout, report
    assert re.search(r"pages attacked: (\d+) of \1 pages with inputs\n", out.stdout), report  # every page of nav.py
    assert "a command ran from a pickle: no" in out.stdout, report
    assert re.search(r"answered wrongly .*: 0 of \d\d", out.stdout), report
