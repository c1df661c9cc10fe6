"""The hostile files bench_hostile.py uploads or places: checkpoints, images, zips, run folders and comparisons, each
written into a temporary folder (nothing here touches the network or anything outside that folder)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _save(obj) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _cnnviz_ckpt(state: dict, **facts) -> dict:
    return {"format": "cnnviz-checkpoint-1", "model_name": "mnist_cnn", "num_classes": 10, "input_shape": [1, 28, 28],
            "classes": [], "meta": {}, "state_dict": state, **facts}


def many_tensors(n: int) -> bytes:
    """A real PyTorch checkpoint of ``n`` one-number tensors (torch.load reads it, slowly: 200,000 took 74 s), made
    in a second: the pickle put together from its opcodes, the records written by PyTorch's own writer."""
    import tempfile

    import torch

    parts = [b"\x80\x02}("]
    for i in range(n):
        key, k = f"t{i}".encode(), str(i).encode()
        parts += [b"X", len(key).to_bytes(4, "little"), key, b"ctorch._utils\n_rebuild_tensor_v2\n(",
                  b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX", len(k).to_bytes(4, "little"), k,
                  b"X\x03\x00\x00\x00cpuK\x01tQK\x00K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR"]
    parts.append(b"u.")
    pickled = b"".join(parts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "many.pt"
        writer = torch._C.PyTorchFileWriter(str(path))
        writer.write_record("data.pkl", pickled, len(pickled))
        writer.write_record("byteorder", b"little", 6)
        for i in range(n):
            writer.write_record(f"data/{i}", b"\0\0\0\0", 4)
        writer.write_end_of_file()
        return path.read_bytes()


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /tmp/cnnviz-hostile-pwned",))


def checkpoints(short: bool) -> list[tuple[str, str, bytes]]:
    """(description, file name, bytes) of the checkpoints uploaded on Grad-CAM."""
    import numpy as np  # noqa: F401 - torch needs it loaded
    import torch

    import cnnviz

    weights = cnnviz.build_model("mnist_cnn", seed=0).state_dict()
    small = cnnviz.build_model("lenet5_28", seed=0).state_dict()
    expanded = dict(weights)
    expanded["classifier.9.weight"] = torch.zeros(1).expand(4_000_000, 128)
    plain = zipfile.ZipFile(io.BytesIO(_save({"w": torch.zeros(100_000_000)})))
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
        for info in plain.infolist():
            z.writestr(info.filename, plain.read(info.filename))
    spec = [{"type": "flatten"}, {"type": "linear", "out_features": 1}] + [{"type": "dropout", "p": 0.1}] * 100_000 \
        + [{"type": "linear", "out_features": 10}]
    stack_state = {"fc1.weight": torch.zeros(1, 784), "fc1.bias": torch.zeros(1), "fc2.weight": torch.zeros(10, 1),
                   "fc2.bias": torch.zeros(10)}
    out = [
        ("checkpoint claiming a 1×100000×100000 input", "huge_input.pt",
         _save(_cnnviz_ckpt(weights, input_shape=[1, 100_000, 100_000]))),
        ("checkpoint claiming 4,000,000 classes", "classes_4m.pt",
         _save(_cnnviz_ckpt(small, model_name="lenet5_28", num_classes=4_000_000))),
        ("tensor expanded to 4,000,000×128 (stride 0)", "expanded.pt", _save(_cnnviz_ckpt(expanded, num_classes=None))),
        ("checkpoint that unpacks to 400 MB", "deflated.pt", packed.getvalue()),
        ("stack checkpoint of 100,000 dropout layers", "stack_100k.pt",
         _save(_cnnviz_ckpt(stack_state, model_name="stack", meta={"spec": spec}))),
        ("checkpoint of 70,000 one-number tensors", "many_70k.pt", many_tensors(70_000)),
        ("pickle that would run a command", "runs_code.pt", _save({"w": _RunsCode()})),
    ]
    return out[4:] if short else out


def images(folder: Path, *, pngs: int) -> dict[str, Path]:
    """Hostile images and not-images by name: large PNGs, a damaged PNG, a panorama, a 12500² WebP, …"""
    import numpy as np
    from PIL import Image

    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        files[name] = folder / name
        files[name].write_bytes(data)

    rng = np.random.default_rng(0)
    for i in range(pngs):  # different files (the cache must miss), large when decoded, small on disk
        img = Image.new("RGB", (6000, 4000), tuple(int(v) for v in rng.integers(0, 256, 3)))
        img.paste(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), (i * 10 % 5900, 100))
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=6)
        put(f"large_{i:02d}.png", buf.getvalue())
    cat = (ROOT / "assets" / "samples" / "cat.png").read_bytes()
    put("damaged.png", cat[: len(cat) // 3])
    pano = Image.new("RGB", (16000, 9000), (90, 140, 200))
    pano.paste(Image.fromarray(rng.integers(0, 256, (600, 900, 3), dtype=np.uint8)), (7000, 4000))
    buf = io.BytesIO()
    pano.save(buf, format="JPEG", quality=85)
    put("panorama_144mp.jpg", buf.getvalue())
    put("notes.png", b"These are my lecture notes, not a picture.\n" * 50)
    buf = io.BytesIO()
    Image.new("L", (12500, 12500), 0).save(buf, format="WEBP", lossless=True)  # valid, 6 kB, 156 megapixels
    put("huge_12500.webp", buf.getvalue())
    put("empty.png", b"")
    put("page.html", b"<html><script>alert('hi')</script><img src=x onerror=alert(1)></html>")
    put("weights.pt", _save({"w": __import__("torch").zeros(3)}))
    return files


def zips(folder: Path, escape: Path) -> dict[str, Path]:
    """The zips of the transfer page: a PNG bomb, members whose names climb out, a deflate bomb, not a zip."""
    from PIL import Image

    files: dict[str, Path] = {}
    flat = io.BytesIO()
    Image.new("L", (6000, 6000), 0).save(flat, format="PNG", optimize=True)
    small = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(small, format="PNG")
    bomb = folder / "png_bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_STORED) as z:
        for i in range(60):
            z.writestr(f"{'ab'[i % 2]}/img{i:02d}.png", flat.getvalue())
    files["png_bomb"] = bomb
    slip = folder / "zip_slip.zip"
    with zipfile.ZipFile(slip, "w") as z:
        for i in range(4):
            z.writestr(f"{'ab'[i % 2]}/ok{i}.png", small.getvalue())
        z.writestr("../" * 12 + str(escape).lstrip("/") + "/climbed.png", small.getvalue())
        z.writestr(str(escape) + "/absolute.png", small.getvalue())
    files["zip_slip"] = slip
    deflate = folder / "deflate_bomb.zip"
    with zipfile.ZipFile(deflate, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("a/x.png", small.getvalue())
        with z.open("b/zeros.png", "w", force_zip64=True) as member:
            chunk = b"\0" * (16 << 20)
            for _ in range(64):  # 1 GB of zeros, about 1 MB packed
                member.write(chunk)
    files["deflate_bomb"] = deflate
    fake = folder / "not_a_zip.zip"
    fake.write_bytes(b"PK\x03\x04 these are not the images you are looking for" * 20)
    files["not_a_zip"] = fake
    return files


def damaged_runs(session: Path) -> None:
    """A session folder with a real-looking run and two damaged ones (the issue's [] config.json, a history cut short)."""
    import cnnviz

    good = session / "20261124-090000-good-aaaaaa"
    good.mkdir(parents=True)
    config = cnnviz.runs.RunConfig(model="simple_convnet", epochs=1, label="good")
    (good / "config.json").write_text(json.dumps(config.to_dict()))
    record = cnnviz.training.EpochRecord(1, 0.5, 0.8, 0.4, 0.85, 10.0, 1000.0)
    cnnviz.training.History((), (record,), "finished", total_epochs=1, steps_per_epoch=10).save(good / "history.json")
    broken = session / "20261124-090100-broken-bbbbbb"
    shutil.copytree(good, broken)
    (broken / "config.json").write_text("[]")
    cut = session / "20261124-090200-cut-cccccc"
    shutil.copytree(good, cut)
    (cut / "history.json").write_text((good / "history.json").read_text()[:40])


def comparisons(session: Path, n: int) -> None:
    """``n`` saved comparisons (and one damaged) in a session's folder."""
    from cnnviz import transfer
    from cnnviz.training import EpochRecord

    pts = (EpochRecord(1, 1.0, 0.5, 1.0, 0.6, 2.0),)
    run = transfer.StrategyResult("frozen", "finished", "", pts, transfer.ParamCounts(100, 10),
                                  (transfer.LayerChange("head.1", "Linear", 10, 0.2, True),), 0.2)
    first = None
    for i in range(n):
        result = transfer.ComparisonResult(transfer.ComparisonConfig(shots=5 + i % 50), (run,), ("a", "b"), 4, 4,
                                           "toy", "finished", created=f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z")
        path = transfer.save_comparison(result, root=session, name=f"c{i:04d}")
        first = first or path
    damaged = first.parent.with_name("damaged")
    damaged.mkdir()
    (damaged / "comparison.json").write_text('{"format": "cnnviz-transfer-1", "runs": [[]]}')


def image_folders(allowed: Path, secret: Path, *, huge: int) -> None:
    """An allowed root with a dataset, a link out of it and a folder too large to walk; a secret folder outside."""
    from PIL import Image

    (secret / "private").mkdir(parents=True)
    for cls, colour in (("cat", (200, 0, 0)), ("dog", (0, 200, 0))):
        (allowed / "ds" / cls).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (32, 32), colour).save(allowed / "ds" / cls / f"{i}.png")
    for i in range(3):
        Image.new("RGB", (32, 32), (0, 0, 250)).save(secret / "private" / f"{i}.png")
    (allowed / "ds" / "spy").symlink_to(secret / "private")
    (allowed / "linked").symlink_to(secret)
    for cls in ("a", "b"):
        (allowed / "huge" / cls).mkdir(parents=True)
        for i in range(huge):
            (allowed / "huge" / cls / f"{i:06d}.txt").touch()
