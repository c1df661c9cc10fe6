"""The trainer: fit, stop/resume, NaN handling, checkpoints, background jobs, the `cnnviz train` command."""

from __future__ import annotations

import json
import math
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnviz
from cnnviz import training
from cnnviz.training import History, TrainJob, fit


def tiny_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


@pytest.fixture(scope="module")
def data():
    train = cnnviz.load_fashion_mnist(train=True).subset(300, seed=0)
    test = cnnviz.load_fashion_mnist(train=False).subset(100, seed=0)
    return train, test


def params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_fit_trains_records_and_matches_evaluate(data):
    train, test = data
    model = tiny_net()
    seen: list[History] = []
    h = fit(model, train, test, epochs=2, batch_size=32, lr=3e-3, callback=seen.append, log_every=3, threads=1)
    assert h.status == "finished" and h.total_epochs == 2
    assert [e.epoch for e in h.epochs] == [1, 2]
    assert h.step == 2 * math.ceil(300 / 32) and h.steps[-1].step == h.step
    assert all(a.step < b.step for a, b in zip(h.steps, h.steps[1:]))
    assert seen and seen[-1].epochs == h.epochs and all(s.status == "running" for s in seen)
    assert h.epochs[-1].train_loss < h.epochs[0].train_loss or h.epochs[-1].test_acc > 0.3
    # oracle: the recorded test metrics are those of the final weights on the test set
    mean, std = training.channel_stats(train)
    x = (test.images.float() / 255 - mean[0]) / std[0]
    with torch.no_grad():
        logits = model.eval()(x)
    assert h.epochs[-1].test_acc == pytest.approx(float((logits.argmax(1) == test.labels).float().mean()))
    assert h.epochs[-1].test_loss == pytest.approx(float(F.cross_entropy(logits, test.labels)), rel=1e-4)


def test_fit_trains_only_unfrozen_parameters_and_keeps_frozen_batchnorm(data):
    train, test = data
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 10))
    for p in list(model[0].parameters()) + list(model[1].parameters()):
        p.requires_grad_(False)
    before = params(model)
    model.eval()
    h = fit(model, train, test, epochs=1, batch_size=50, threads=1)
    after = params(model)
    assert h.status == "finished"
    for k in ("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"):
        assert torch.equal(before[k], after[k]), k
    assert not torch.equal(before["5.weight"], after["5.weight"])
    assert not model.training  # the caller's mode is restored


def test_stop_and_resume_lose_no_step(data, tmp_path):
    train, test = data
    kw = dict(epochs=2, batch_size=32, lr=3e-3, seed=3, augment=True, threads=1, log_every=1)
    ref = tiny_net()
    full = fit(ref, train, test, checkpoint_dir=tmp_path / "full", **kw)

    model = tiny_net()
    stop = threading.Event()

    def stop_mid_epoch_2(h: History) -> None:
        if h.step >= 14:  # epoch 2 starts at step 11
            stop.set()

    first = fit(model, train, test, checkpoint_dir=tmp_path / "run", stop=stop, callback=stop_mid_epoch_2, **kw)
    assert first.status == "stopped" and "resume" in first.message
    assert training.resume_point(tmp_path / "run") == (1, 14 - 10)
    fresh = tiny_net(seed=99)  # weights come from the saved state, not from the model passed in
    second = fit(fresh, train, test, checkpoint_dir=tmp_path / "run", resume=True, **kw)
    assert second.status == "finished"
    assert [s.step for s in second.steps] == [s.step for s in full.steps]
    assert [s.loss for s in second.steps] == pytest.approx([s.loss for s in full.steps], rel=1e-4)
    for k, v in params(ref).items():
        assert torch.allclose(v, params(fresh)[k], atol=1e-5), k
    saved = History.load(tmp_path / "run" / "history.json")
    assert saved.status == "finished" and len(saved.epochs) == 2


def test_restart_from_an_epoch_checkpoint(data, tmp_path):
    train, test = data
    # plain SGD has no optimizer state, so a restart from the epoch-1 weights continues exactly
    kw = dict(epochs=2, batch_size=50, threads=1, checkpoint_dir=tmp_path, optimizer="sgd", lr=0.05, momentum=0.0)
    ref = tiny_net()
    full = fit(ref, train, test, **kw)
    again = tiny_net(seed=5)
    h = fit(again, train, test, start_epoch=1, **kw)
    assert h.status == "finished" and [e.epoch for e in h.epochs] == [1, 2]
    assert h.epochs[1].test_acc == pytest.approx(full.epochs[1].test_acc)
    for k, v in params(ref).items():
        assert torch.allclose(v, params(again)[k], atol=1e-5), k


def test_nan_loss_fails_with_a_clear_message(data, tmp_path):
    train, test = data
    h = fit(tiny_net(), train, test, epochs=3, optimizer="sgd", lr=1e4, momentum=0.9, threads=1, checkpoint_dir=tmp_path)
    assert h.status == "failed"
    assert "learning rate" in h.message and ("NaN" in h.message or "infinite" in h.message)
    failed_epoch = int(h.message.split("(epoch ")[1].split(")")[0])
    assert not (tmp_path / f"epoch_{failed_epoch:02d}.pt").exists()  # no checkpoint of the broken epoch
    for path in tmp_path.glob("epoch_*.pt"):
        assert all(torch.isfinite(v).all() for v in cnnviz.load_checkpoint(path).state_dict.values())
    assert History.load(tmp_path / "history.json").status == "failed"


def test_checkpoint_round_trip(data, tmp_path):
    train, test = data
    model = cnnviz.build_model("simple_convnet", seed=0)
    h = fit(model, train, test, epochs=1, batch_size=64, checkpoint_dir=tmp_path, threads=1, dataset="fashion_mnist")
    files = sorted(p.name for p in tmp_path.glob("epoch_*.pt"))
    assert files == ["epoch_00.pt", "epoch_01.pt"]
    ckpt = cnnviz.load_checkpoint(tmp_path / "epoch_01.pt")
    assert ckpt.model_name == "simple_convnet" and ckpt.epoch == 1 and ckpt.classes == train.classes
    mean, std = training.channel_stats(train)
    assert ckpt.meta["mean"] == mean and ckpt.meta["std"] == std
    assert ckpt.meta["test_accuracy"] == pytest.approx(h.epochs[0].test_acc)
    loaded = cnnviz.model_from_checkpoint(ckpt)
    loss, acc = training.evaluate(loaded, test, mean=mean, std=std)
    assert acc == pytest.approx(h.epochs[0].test_acc) and loss == pytest.approx(h.epochs[0].test_loss, rel=1e-5)
    initial = cnnviz.load_checkpoint(tmp_path / "epoch_00.pt")
    assert initial.epoch == 0
    assert not all(torch.equal(initial.state_dict[k], ckpt.state_dict[k]) for k in ckpt.state_dict)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp file


def test_channel_stats_and_normalize_match_torch():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20, 3, 5, 7), dtype=torch.uint8, generator=g)
    d = cnnviz.ImageData("x", images, torch.zeros(20, dtype=torch.long), ("a",), "test")
    mean, std = training.channel_stats(d, chunk=6)
    x = images.double() / 255
    assert mean == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-6)
    assert std == pytest.approx(x.std(dim=(0, 2, 3), unbiased=False).tolist(), abs=1e-6)
    z = training.normalize(images, mean=mean, std=std)
    ref = (images.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(z, ref, atol=1e-5)


def test_augment_batch_shifts_and_flips_whole_images():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(1, 256, (16, 2, 6, 6), dtype=torch.uint8, generator=g)
    out = training.augment_batch(images, generator=torch.Generator().manual_seed(1), shift=2, flip=True)
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = F.pad(images, (2, 2, 2, 2))
    for i in range(16):
        candidates = [padded[i, :, dy : dy + 6, dx : dx + 6] for dy in range(5) for dx in range(5)]
        candidates += [c.flip(2) for c in candidates]
        assert any(torch.equal(out[i], c) for c in candidates)
    same = training.augment_batch(images, generator=torch.Generator().manual_seed(1), shift=2, flip=True)
    assert torch.equal(out, same)  # seeded: reproducible


def test_fit_images_converts_channels_and_size():
    d = cnnviz.ImageData("x", torch.full((3, 1, 28, 28), 200, dtype=torch.uint8), torch.zeros(3, dtype=torch.long),
                         ("a",), "t")
    out = training.fit_images(d, (3, 32, 32))
    assert out.images.shape == (3, 3, 32, 32) and int(out.images.min()) == 200 == int(out.images.max())
    assert training.fit_images(d, (1, 28, 28)) is d


def test_bad_settings_raise_with_hints(data):
    train, test = data
    with pytest.raises(ValueError, match="optimizer"):
        fit(tiny_net(), train, test, epochs=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="learning rate"):
        fit(tiny_net(), train, test, epochs=1, lr=0)
    with pytest.raises(ValueError, match="epochs"):
        fit(tiny_net(), train, test, epochs=0)
    with pytest.raises(TypeError, match="unknown fit option"):
        fit(tiny_net(), train, test, epochs=1, colour="red")
    with pytest.raises(ValueError, match="checkpoint_dir"):
        fit(tiny_net(), train, test, epochs=1, resume=True)


def test_label_smoothing_changes_the_training_loss_only(data):
    """Oracle: one full-batch SGD step by hand with PyTorch's own label-smoothed cross-entropy."""
    train, test = data
    model, by_hand = tiny_net(), tiny_net()
    h = fit(model, train, test, epochs=1, batch_size=len(train), optimizer="sgd", lr=0.1, momentum=0.0,
            label_smoothing=0.1, threads=1, log_every=1)
    mean, std = training.channel_stats(train)
    x = (train.images.float() / 255 - mean[0]) / std[0]
    loss = F.cross_entropy(by_hand(x), train.labels, label_smoothing=0.1)
    loss.backward()
    with torch.no_grad():
        for p in by_hand.parameters():
            p -= 0.1 * p.grad
    assert h.steps[0].loss == pytest.approx(loss.item(), rel=1e-5)
    for (name, a), b in zip(model.state_dict().items(), by_hand.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name
    with torch.no_grad():  # the test loss stays the plain cross-entropy
        logits = model.eval()((test.images.float() / 255 - mean[0]) / std[0])
    assert h.epochs[0].test_loss == pytest.approx(float(F.cross_entropy(logits, test.labels)), rel=1e-4)
    with pytest.raises(ValueError, match="label smoothing"):
        fit(tiny_net(), train, test, epochs=1, label_smoothing=1.0)


def test_history_json_round_trip_keeps_nan():
    h = History((training.StepRecord(1, 1, 2.5, 0.1), training.StepRecord(2, 1, 2.0, 0.2, 0.5)),
                (training.EpochRecord(1, 2.2, 0.3, 2.1, 0.35, 0.5, 1000.0),), "finished", "ok",
                total_epochs=1, steps_per_epoch=2, step=2, elapsed_s=0.5, batch_size=32, train_size=64)
    text = json.dumps(h.to_dict())
    back = History.from_dict(json.loads(text))
    assert math.isnan(back.steps[0].accuracy) and back.steps[1] == h.steps[1]
    assert back.epochs == h.epochs and back.status == "finished" and back.total_steps == 2
    with pytest.raises(ValueError):
        History.from_dict({"steps": [[1]], "epochs": [], "status": "x"})


def test_two_background_jobs_run_at_once_and_stay_apart(data, tmp_path):
    train, test = data
    threads_before = torch.get_num_threads()
    a = TrainJob(tiny_net(1), train, test, epochs=2, batch_size=16, checkpoint_dir=tmp_path / "a", seed=1)
    b = TrainJob(tiny_net(2), train, test, epochs=2, batch_size=16, checkpoint_dir=tmp_path / "b", seed=2)
    a.start(), b.start()
    assert a.join(120) and b.join(120)
    assert a.status == b.status == "finished", (a.history.message, b.history.message)
    assert a.history.epochs != b.history.epochs
    assert {p.name for p in (tmp_path / "a").iterdir()} == {p.name for p in (tmp_path / "b").iterdir()}
    assert History.load(tmp_path / "a" / "history.json").epochs == a.history.epochs
    assert torch.get_num_threads() == threads_before  # the shared thread budget is given back


def test_job_stop_then_resume(data, tmp_path):
    train, test = data
    job = TrainJob(tiny_net(), train, test, epochs=40, batch_size=8, checkpoint_dir=tmp_path, threads=1,
                   log_every=1).start()
    while job.running and job.history.step < 5:
        job.join(0.02)
    job.stop(wait=30)
    assert job.status == "stopped"
    stopped_at = job.history.step
    job.resume()
    while job.running and job.history.step <= stopped_at + 3:
        job.join(0.02)
    job.stop(wait=30)
    steps = [s.step for s in job.history.steps]
    assert steps == list(range(1, steps[-1] + 1))  # every step once: none lost, none repeated
    assert steps[-1] > stopped_at


def test_job_reports_errors_instead_of_dying(data):
    train, test = data
    job = TrainJob(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), train, test, epochs=1, lr=-1.0).start()
    job.join(30)
    assert job.status == "failed" and job.error is not None and job.history.message


def test_presets_are_valid_settings():
    for p in training.PRESETS.values():
        assert p.model in cnnviz.ZOO and p.optimizer in training.OPTIMIZERS
    notes = training.PRESETS["pytorch_mnist"]
    assert (notes.model, notes.optimizer, notes.lr, notes.momentum, notes.batch_size, notes.epochs) == \
        ("mnist_cnn", "sgd", 0.01, 0.5, 64, 10)
    assert training.PRESETS["tf_mnist"].log_every == 100 and training.PRESETS["tf_mnist"].batch_size == 50
    accurate = training.PRESETS["accurate"]  # ours: every setting it needs reaches fit
    assert accurate.model == "bn_convnet" and accurate.label_smoothing == 0.1 and accurate.augment
    assert {"label_smoothing", "weight_decay", "schedule"} <= set(accurate.options())


def test_cli_train_writes_checkpoints_and_reports(tmp_path, capsys):
    from cnnviz.cli import main

    out = tmp_path / "cli"
    code = main(["train", "simple_convnet", "--dataset", "fashion_mnist", "--train-size", "200", "--test-size", "100",
                 "--epochs", "2", "--batch-size", "50", "--out", str(out), "--save-initial", "--quiet"])
    text = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in out.glob("epoch_*.pt")) == ["epoch_00.pt", "epoch_02.pt"]
    assert not (out / "trainer_state.pt").exists()
    last = text.strip().splitlines()[-1]
    assert "test accuracy" in last and "images/s" in last
    h = History.load(out / "history.json")
    assert f"{h.epochs[-1].test_acc:.2%}" in last  # percentages, as everywhere
    assert cnnviz.load_checkpoint(out / "epoch_02.pt").meta["dataset"] == "fashion_mnist"


def test_cli_train_rejects_unknown_model(capsys):
    from cnnviz.cli import main

    assert main(["train", "nope", "--epochs", "1"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_shipped_pretrained_checkpoints():
    paths = training.pretrained_checkpoints()
    if not paths:
        pytest.skip("assets/pretrained/fashion_mnist_cnn is not there")
    epochs = [cnnviz.load_checkpoint(p).epoch for p in paths]
    assert epochs == list(range(len(paths)))
    last = cnnviz.load_checkpoint(paths[-1])
    assert last.model_name == "mnist_cnn" and len(last.meta["mean"]) == 1 and len(last.meta["std"]) == 1
    assert last.classes == cnnviz.load_fashion_mnist(train=False).classes
    h = History.load(training.PRETRAINED_DIR / "history.json")
    assert h.status == "finished" and h.epochs[-1].test_acc == pytest.approx(last.meta["test_accuracy"])


def test_a_model_that_does_not_fit_the_data_is_refused(data):
    train, test = data
    with pytest.raises(ValueError, match="10 classes"):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(784, 3)), train, test, epochs=1)
    with pytest.raises(ValueError, match="cannot take"):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(100, 10)), train, test, epochs=1)


def test_bf16_fast_math_trains_and_keeps_fp32_weights(data, tmp_path):
    train, test = data
    model = tiny_net()
    h = fit(model, train, test, epochs=2, batch_size=32, lr=3e-3, bf16=True, threads=1, checkpoint_dir=tmp_path)
    assert h.status == "finished" and h.epochs[-1].train_loss < h.epochs[0].train_loss
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(v.dtype == torch.float32 for v in cnnviz.load_checkpoint(tmp_path / "epoch_02.pt").state_dict.values())


def test_load_train_test_from_a_folder_splits_and_resizes(tmp_path):
    from PIL import Image

    for c, colour in (("cats", 40), ("dogs", 220)):
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.new("RGB", (20 + i, 16), (colour, colour, colour)).save(tmp_path / c / f"{i}.png")
    train, test = training.load_train_test(str(tmp_path), input_shape=(1, 28, 28), seed=0)
    assert len(train) == 8 and len(test) == 2 and train.classes == ("cats", "dogs")
    assert train.input_shape == test.input_shape == (1, 28, 28)
    both = torch.cat([train.labels, test.labels])
    assert sorted(both.tolist()) == [0] * 5 + [1] * 5
    with pytest.raises(ValueError, match="unknown dataset"):
        training.load_train_test("no-such-thing", input_shape=(1, 28, 28))
