"""Transfer learning: model surgery and freezing, parameter tables (the notes' numbers), |ΔW|/|W|, data prep,
zip extraction, saving, the ImageNet-weights path (a state dict in a temporary torch hub cache) and a whole
comparison end to end on tiny data."""

from __future__ import annotations

import io
import json
import math
import stat
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import cnnviz
from cnnviz import transfer
from cnnviz.data import ImageData
from cnnviz.training import EpochRecord


def tiny_data(n_per_class: int = 6, classes: int = 3, shape=(1, 28, 28), seed: int = 0) -> ImageData:
    """Separable toy images: class k is bright in horizontal band k."""
    g = torch.Generator().manual_seed(seed)
    c, h, w = shape
    images = (torch.rand(n_per_class * classes, c, h, w, generator=g) * 60).to(torch.uint8)
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    band = h // classes
    for i, k in enumerate(labels.tolist()):
        images[i, :, k * band:(k + 1) * band] += 150
    return ImageData("toy", images, labels, tuple(f"c{k}" for k in range(classes)), "test")


# ---------------------------------------------------------------------------- parameter tables


def test_vgg16_with_the_notes_head_has_the_notes_parameter_counts():
    table = transfer.strategy_table("vgg16", num_classes=10, input_shape=(3, 32, 32), head=(128, 64))
    frozen = table["frozen"]
    assert frozen.counts.total == 14_789_258
    assert frozen.counts.trainable == 74_570
    assert frozen.counts.frozen == 14_789_258 - 74_570
    # the notes' summary: VGG16 base 1×1×512 → Flatten 512 → Dense 128 → Dense 64 → Dense 10
    assert [(ln.name, ln.output_shape, ln.params) for ln in frozen.lines] == [
        ("vgg16", "1×1×512", 14_714_688), ("flatten", "512", 0), ("dense", "128", 65_664),
        ("dense_1", "64", 8_256), ("dense_2", "10", 650)]
    text = frozen.to_text()
    assert "Total params: 14,789,258" in text and "Trainable params: 74,570" in text
    assert table["scratch"].counts.trainable == table["full"].counts.trainable == 14_789_258
    # block 5 is three 3×3 convs 512→512: 3 × (512·512·9 + 512) parameters learn on top of the head
    assert table["last_block"].counts.trainable == 74_570 + 3 * (512 * 512 * 9 + 512)


def test_counts_agree_with_pytorch_and_the_resnet_last_block_is_layer4():
    model = transfer.build_transfer_model("resnet18", "last_block", num_classes=5, input_shape=(3, 32, 32))
    counts = transfer.count_parameters(model)
    assert counts.total == sum(p.numel() for p in model.parameters())
    layer4 = sum(p.numel() for p in model.backbone.layer4.parameters())
    head = sum(p.numel() for p in model.head.parameters())
    assert counts.trainable == layer4 + head
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 5)


# ---------------------------------------------------------------------------- model surgery


def _source(seed: int = 3) -> nn.Module:
    return cnnviz.build_model("mnist_cnn", num_classes=5, seed=seed)


def test_transfer_copies_the_source_base_and_never_changes_the_source():
    source = _source()
    before = {k: v.clone() for k, v in source.state_dict().items()}
    model = transfer.build_transfer_model("mnist_cnn", "full", num_classes=3, input_shape=(1, 28, 28), source=source)
    for k, v in source.features.state_dict().items():
        assert torch.equal(model.backbone.features.state_dict()[k], v)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    assert all(torch.equal(before[k], v) for k, v in source.state_dict().items())
    scratch = transfer.build_transfer_model("mnist_cnn", "scratch", num_classes=3, input_shape=(1, 28, 28), source=source)
    assert not torch.equal(scratch.backbone.features[0].weight, source.features[0].weight)


def test_every_strategy_starts_from_the_same_head():
    source = _source()
    heads = [transfer.build_transfer_model("mnist_cnn", s, num_classes=3, input_shape=(1, 28, 28), source=source, seed=7)
             .head.state_dict() for s in transfer.STRATEGIES]
    for h in heads[1:]:
        assert all(torch.equal(h[k], heads[0][k]) for k in h)


@pytest.mark.parametrize("strategy, trainable", [
    ("scratch", {"features.0", "features.3", "features.6"}), ("frozen", set()),
    ("last_block", {"features.6"}), ("full", {"features.0", "features.3", "features.6"})])
def test_freezing_per_strategy(strategy, trainable):
    model = transfer.build_transfer_model("mnist_cnn", strategy, num_classes=3, input_shape=(1, 28, 28), source=_source())
    learning = {n.rsplit(".", 1)[0] for n, p in model.backbone.named_parameters() if p.requires_grad}
    assert learning == trainable
    assert all(p.requires_grad for p in model.head.parameters())


def test_bad_inputs_raise_value_errors_with_hints():
    with pytest.raises(ValueError, match="strategy"):
        transfer.build_transfer_model("mnist_cnn", "half", num_classes=3, input_shape=(1, 28, 28))
    with pytest.raises(ValueError, match="mnist_cnn cannot take a 1×4×4 input"):
        transfer.build_transfer_model("mnist_cnn", "frozen", num_classes=3, input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match="held-out"):
        transfer.ComparisonConfig(source="shipped_cnn", target="fashion_heldout").validate()


# ---------------------------------------------------------------------------- |ΔW|/|W|


def test_weight_change_is_exact_on_hand_set_weights():
    model = nn.Sequential(nn.Conv2d(1, 1, 2, bias=False), nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[[[3.0, 0.0], [0.0, 4.0]]]]))  # norm 5
        model[2].weight.fill_(1.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] += 1.0  # |ΔW| = 1
        model[2].bias.add_(5.0)  # biases do not count
    changes = {c.name: c for c in transfer.weight_change(before, model)}
    assert changes["0"].relative == pytest.approx(1 / 5)
    assert changes["2"].relative == 0.0
    assert changes["0"].kind == "Conv2d" and changes["2"].params == 10


# ---------------------------------------------------------------------------- data


def test_adapt_images_converts_channels_and_size():
    data = tiny_data(2, 2)
    rgb = transfer.adapt_images(data, channels=3, size=(32, 32))
    assert rgb.images.shape == (4, 3, 32, 32) and rgb.images.dtype == torch.uint8
    assert torch.equal(rgb.images[:, 0], rgb.images[:, 2])
    grey = transfer.adapt_images(rgb, channels=1, size=(32, 32))
    assert (grey.images.int() - rgb.images[:, :1].int()).abs().max() <= 1  # luminance of grey is grey


def test_few_shot_split_keeps_only_the_chosen_classes_relabelled():
    data = tiny_data(10, 4)
    train, test = transfer.few_shot_split(data, data, classes=[3, 1], shots=4, test_per_class=2, seed=1)
    assert train.classes == ("c3", "c1") and len(train) == 8 and len(test) == 4
    assert train.labels.bincount().tolist() == [4, 4]
    # label 0 now means old class 3: the bright band is band 3
    band = 28 // 4
    img = train.images[train.labels == 0][0, 0].float()
    assert img[3 * band:4 * band].mean() > img[:band].mean() + 100


def test_split_folder_is_per_class_and_disjoint():
    data = tiny_data(10, 3)
    train, test = transfer.split_folder(data, test_fraction=0.3, shots=5, seed=0)
    assert test.labels.bincount().tolist() == [3, 3, 3] and train.labels.bincount().tolist() == [5, 5, 5]
    seen = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in seen for x in test.images)
    with pytest.raises(ValueError, match="at least 2"):
        transfer.split_folder(tiny_data(1, 2))


# ---------------------------------------------------------------------------- zip uploads


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 10), colour).save(buf, format="PNG")
    return buf.getvalue()


def _zip(entries: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def test_zip_is_extracted_safely_and_loaded(tmp_path):
    data = _zip({"pets/cats/a.png": _png("red"), "pets/cats/b.png": _png("red"), "pets/dogs/c.png": _png("blue"),
                 "pets/dogs/d.png": _png("blue"), "../evil.png": _png("green"), "/abs.png": _png("green"),
                 "__MACOSX/pets/._a.png": b"junk", "pets/notes.txt": b"hello"}, symlink="pets/cats/link.png")
    root = transfer.extract_image_zip(data, tmp_path / "out")
    assert root == (tmp_path / "out" / "pets").resolve()
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["out/pets/cats/a.png", "out/pets/cats/b.png", "out/pets/dogs/c.png", "out/pets/dogs/d.png"]
    loaded = transfer.load_image_zip(data, size=(8, 8), channels=3)
    assert loaded.classes == ("cats", "dogs") and loaded.images.shape == (4, 3, 8, 8)
    assert loaded.images[loaded.labels == 0][:, 0].float().mean() > 200  # red cats


def test_zip_limits_and_garbage(tmp_path):
    with pytest.raises(ValueError, match="not a zip"):
        transfer.extract_image_zip(b"not a zip", tmp_path / "a")
    with pytest.raises(ValueError, match="no images"):
        transfer.extract_image_zip(_zip({"a.txt": b"x"}), tmp_path / "b")
    with pytest.raises(ValueError, match="larger than"):
        transfer.extract_image_zip(_zip({"c/a.png": b"\0" * 5000}), tmp_path / "c", max_member=1000)
    with pytest.raises(ValueError, match="more than 2"):
        transfer.extract_image_zip(_zip({f"c/{i}.png": _png("red") for i in range(3)}), tmp_path / "d", max_files=2)


# ---------------------------------------------------------------------------- ImageNet weights


def test_imagenet_weights_load_from_the_torch_hub_cache(tmp_path, monkeypatch):
    import torchvision

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        ok, message = transfer.imagenet_status("resnet18")
        assert not ok and "resnet18-f37072fd.pth" in message
        with pytest.raises(cnnviz.WeightsUnavailable, match="not on this machine"):
            transfer.load_source("resnet18", download=False)
        torch.manual_seed(0)
        reference = torchvision.models.resnet18(weights=None)
        (tmp_path / "checkpoints").mkdir()
        torch.save(reference.state_dict(), tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
        assert transfer.imagenet_status("resnet18")[0]
        source, meta = transfer.load_source("resnet18", download=False)
        assert meta["mean"] == list(transfer.IMAGENET_MEAN)
        model = transfer.build_transfer_model("resnet18", "frozen", num_classes=3, input_shape=(3, 32, 32), source=source)
        assert torch.equal(model.backbone.conv1.weight, reference.conv1.weight)
        assert torch.equal(model.backbone.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
        # and a short comparison runs on it, with batch-norm statistics of the frozen base untouched
        data = transfer.adapt_images(tiny_data(4, 3), channels=3, size=(32, 32))
        config = transfer.ComparisonConfig(source="resnet18", target="folder", strategies=("frozen",), epochs=1,
                                           batch_size=6)
        result = transfer.run_comparison(config, train=data, test=data, source_model=source, source_meta=meta)
        assert result.status == "finished" and len(result.runs[0].epochs) == 1
        assert torch.equal(source.bn1.running_mean, reference.bn1.running_mean)
        base = [c for c in result.runs[0].changes if c.name.startswith("backbone.")]
        assert base and all(c.relative == 0.0 for c in base)
    finally:
        torch.hub.set_dir(old)


# ---------------------------------------------------------------------------- a comparison end to end


def test_comparison_end_to_end_saves_and_reopens(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "runs"))
    torch.manual_seed(0)
    full = tiny_data(8, 4)
    # a tiny held-out setup: source pretrained on classes 0-1, target = classes 2-3 it never saw
    src_train, src_test = transfer.few_shot_split(full, full, classes=[0, 1], shots=None)
    from cnnviz.training import fit

    source = cnnviz.build_model("mnist_cnn", num_classes=2, seed=0)
    fit(source, src_train, src_test, epochs=1, batch_size=8, mean=[0.3], std=[0.3])
    train, test = transfer.few_shot_split(full, full, classes=[2, 3], shots=4, test_per_class=4)
    config = transfer.ComparisonConfig(source="heldout_cnn", target="fashion_heldout", epochs=2, batch_size=4, shots=4)
    seen = []
    result = transfer.run_comparison(config, train=train, test=test, source_model=source,
                                     source_meta={"mean": [0.3], "std": [0.3], "info": "toy source"},
                                     progress=seen.append)
    assert result.status == "finished"
    assert [r.strategy for r in result.runs] == list(transfer.STRATEGIES)
    assert {p.strategy for p in seen if p.phase == "training"} == set(transfer.STRATEGIES)
    for r in result.runs:
        assert [e.epoch for e in r.epochs] == [1, 2]
        assert all(0 <= e.test_acc <= 1 for e in r.epochs)
        assert r.epochs[0].elapsed_s <= r.epochs[1].elapsed_s
    by = {r.strategy: r for r in result.runs}
    moved = {r.strategy: {c.name: c.relative for c in r.changes} for r in result.runs}
    assert moved["frozen"]["backbone.features.0"] == 0.0 and moved["frozen"]["head.1"] > 0
    assert moved["last_block"]["backbone.features.3"] == 0.0 and moved["last_block"]["backbone.features.6"] > 0
    assert moved["full"]["backbone.features.0"] > 0
    assert by["frozen"].counts.trainable < by["last_block"].counts.trainable < by["full"].counts.trainable
    # frozen and fine-tuned runs start from the same pretrained base + head: same accuracy before training
    assert by["frozen"].initial_test_acc == by["full"].initial_test_acc == by["last_block"].initial_test_acc

    path = transfer.save_comparison(result)
    assert path.parent.parent == tmp_path / "runs" / "transfer"
    again = transfer.load_comparison(path.parent)
    assert again.runs == result.runs and again.config == result.config
    assert transfer.list_comparisons() == [path]
    json.loads(path.read_text())  # plain JSON
    with pytest.raises(ValueError, match="not a cnnviz"):
        path.write_text("{}")
        transfer.load_comparison(path)


def test_a_comparison_saved_before_epochs_had_a_pace_still_loads():
    """A comparison's epochs are training's own records (EpochRecord); files written when they had no
    images_per_s load with it unmeasured (NaN)."""
    run = transfer.StrategyResult("frozen", "finished", "", (EpochRecord(1, 1.0, 0.5, 1.0, 0.6, 2.0),),
                                  transfer.ParamCounts(10, 5))
    saved = transfer.ComparisonResult(transfer.ComparisonConfig(), (run,), ("a", "b"), 4, 4, "toy", "finished").to_dict()
    assert saved["runs"][0]["epochs"][0].pop("images_per_s") is None  # NaN in JSON; now as older files have it
    epoch = transfer.ComparisonResult.from_dict(json.loads(json.dumps(saved))).runs[0].epochs[0]
    assert isinstance(epoch, cnnviz.training.EpochRecord)
    assert (epoch.epoch, epoch.train_acc, epoch.test_acc, epoch.elapsed_s) == (1, 0.5, 0.6, 2.0)
    assert math.isnan(epoch.images_per_s)


def test_job_runs_in_the_background_and_can_be_stopped(tmp_path, monkeypatch):
    data = tiny_data(6, 2)
    config = transfer.ComparisonConfig(source="shipped_cnn", target="folder", epochs=50, batch_size=2, shots=None)
    source = cnnviz.build_model("mnist_cnn", seed=0)
    # a toy source instead of the shipped checkpoint
    monkeypatch.setattr(transfer.compare, "load_source", lambda *a, **k: (source, {"mean": [0.3], "std": [0.3], "info": "toy"}))
    job = transfer.ComparisonJob(config, user_data=data, root=tmp_path).start()
    for _ in range(1200):
        p = job.snapshot()
        if p.phase == "training" and p.history is not None and p.history.step > 0:
            break
        job.join(0.05)
    assert job.running
    job.stop()
    assert job.join(60)
    assert job.error is None
    assert job.result.status == "stopped" and len(job.result.runs) == 1
    assert job.result.source_info == "toy"  # the patched source was the one used
    assert job.result.path and transfer.load_comparison(job.result.path).status == "stopped"


def test_plots_draw_results():
    from cnnviz.plots import transfer as tplots

    pts = (EpochRecord(1, 1.0, 0.5, 1.0, 0.6, 2.0), EpochRecord(2, 0.8, 0.7, 0.9, 0.7, 4.0))
    runs = tuple(transfer.StrategyResult(s, "finished", "", pts, transfer.ParamCounts(10, 5),
                                         (transfer.LayerChange("backbone.features.0", "Conv2d", 8,
                                                               0.0 if s == "frozen" else 0.1, s != "frozen"),),
                                         0.25) for s in ("scratch", "frozen"))
    result = transfer.ComparisonResult(transfer.ComparisonConfig(), runs, ("a", "b"), 4, 4, "toy", "finished")
    fig = tplots.accuracy_figure(result, x="time")
    assert [list(t.x) for t in fig.data] == [[0, 2.0, 4.0]] * 2 and list(fig.data[0].y) == [0.25, 0.6, 0.7]
    overlay = tplots.accuracy_figure([result, result], labels=["A", "B"])
    assert len(overlay.data) == 4 and overlay.data[2].line.dash == "dash"
    heat = tplots.weight_change_figure(result)
    assert np.asarray(heat.data[0].z).tolist() == [[0.1], [0.0]]
    assert not math.isnan(heat.data[0].z[0][0])


# ---------------------------------------------------------------------------- sources and targets


def test_heldout_source_is_trained_on_its_classes_only_and_cached(tmp_path):
    model, meta = transfer.heldout_source((0, 1), epochs=1, images=16, seed=0, cache_dir=tmp_path)
    assert meta["cached"] is False and meta["source_classes"] == [0, 1] and meta["train_images"] == 16
    assert model.classifier[-1].out_features == 2  # a 2-class source: it has no output for the other classes
    again, meta2 = transfer.heldout_source((1, 0), epochs=1, images=16, seed=0, cache_dir=tmp_path)
    assert meta2["cached"] is True and meta2["path"] == meta["path"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match="2 to 9"):
        transfer.heldout_source((3,), cache_dir=tmp_path)


def test_prepare_target_holds_out_the_source_classes():
    config = transfer.ComparisonConfig(source_classes=(0, 2, 4, 6, 8), shots=3, test_per_class=2)
    train, test = transfer.prepare_target(config)
    assert train.classes == tuple(cnnviz.DATASETS["fashion_mnist"].classes[i] for i in (1, 3, 5, 7, 9))
    assert len(train) == 15 and len(test) == 10 and train.input_shape == (1, 28, 28)
    with pytest.raises(ValueError, match="at least 2 others"):
        transfer.prepare_target(transfer.ComparisonConfig(source_classes=tuple(range(9))))
    vgg = transfer.ComparisonConfig(source="vgg16", target="fashion_mnist", shots=1, test_per_class=1, image_size=48)
    train, _ = transfer.prepare_target(vgg)
    assert train.input_shape == (3, 48, 48) and len(train) == 10


def test_missing_datasets_say_what_to_do(tmp_path, monkeypatch):
    import cnnviz.data.paths

    monkeypatch.setattr(cnnviz.data.paths, "DEFAULT_ROOT", tmp_path)  # where every reader of the data root reads it
    config = transfer.ComparisonConfig(source="resnet18", target="cifar10")
    with pytest.raises(cnnviz.DatasetUnavailable, match="Download it once"):
        transfer.prepare_target(config, download=False)


def test_shipped_source_loads_when_present():
    from cnnviz.training import pretrained_checkpoints

    if not pretrained_checkpoints():
        pytest.skip("the shipped checkpoints are not there yet")
    model, meta = transfer.load_source("shipped_cnn")
    assert len(meta["mean"]) == 1 and "all 10" in meta["info"]
    net = transfer.build_transfer_model("mnist_cnn", "frozen", num_classes=3, input_shape=(1, 28, 28), source=model)
    assert torch.equal(net.backbone.features[0].weight, model.features[0].weight)


def test_shots_figure_puts_each_strategy_against_the_number_of_labels():
    from cnnviz.plots import transfer as tplots

    def result(shots: int, acc: float) -> transfer.ComparisonResult:
        pts = (EpochRecord(1, 1.0, 0.5, 1.0, acc, 2.0),)
        runs = tuple(transfer.StrategyResult(s, "finished", "", pts, transfer.ParamCounts(10, 5)) for s in ("scratch", "frozen"))
        return transfer.ComparisonResult(transfer.ComparisonConfig(shots=shots), runs, ("a", "b"), 4, 4, "toy", "finished")

    fig = tplots.shots_figure([result(50, 0.9), result(5, 0.6)])
    assert [t.name for t in fig.data] == ["From scratch", "Frozen backbone + new head"]
    assert list(fig.data[0].x) == [5, 50] and list(fig.data[0].y) == [0.6, 0.9]
    with pytest.raises(ValueError, match="two different"):
        tplots.shots_figure([result(5, 0.6)])


def test_a_tiny_transfer_run_from_the_bundled_imagenet_backbone():
    """EfficientNet-Lite0 (installed with cnnviz) to Fashion-MNIST with 3 labels per class; the frozen strategy
    trains its head on features computed once, so its epochs cost a fraction of fine-tuning's."""
    cfg = transfer.ComparisonConfig(source="efficientnet_lite0", target="fashion_mnist",
                                    strategies=("frozen", "full"), shots=3, epochs=2, batch_size=8, lr=1e-3,
                                    image_size=32, test_per_class=5)
    result = transfer.run_comparison(cfg)
    assert result.status == "finished" and len(result.classes) == 10 and result.train_size == 30
    frozen, full = result.runs
    assert frozen.strategy == "frozen" and frozen.counts.trainable == 1280 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert all(c.relative == 0 for c in frozen.changes if not c.name.startswith("head"))  # the base never moved
    assert any(c.relative > 0 for c in full.changes if not c.name.startswith("head"))
    assert "ImageNet" in result.source_info
