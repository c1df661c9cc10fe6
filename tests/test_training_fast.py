"""The trainer's fast path against plain PyTorch, the bfloat16 guard, the presets' settings, images/s across a stop."""

from __future__ import annotations

import subprocess
import sys
import threading
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnviz
from cnnviz import training
from cnnviz.training import History, fit
from cnnviz.training import cpu as training_cpu
from cnnviz.training import loop as training_loop
from test_training import params as weights


def small_cnn(seed: int = 0) -> nn.Module:
    """The notes' conv → max-pool → ReLU pattern, small."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(6, 8, 3, padding=1),
                         nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 7 * 7, 10))


@pytest.fixture(scope="module")
def data():
    train = cnnviz.load_fashion_mnist(train=True).subset(256, seed=0)
    test = cnnviz.load_fashion_mnist(train=False).subset(64, seed=0)
    return train, test


def plain_loop(model: nn.Module, train, *, epochs: int, batch: int, optimizer: str, lr: float, momentum: float,
               seed: int, mean: float, std: float) -> list[float]:
    """The lecture notes' loop written with nothing but PyTorch, visiting the images in the trainer's order."""
    opt = (torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, foreach=False) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=lr, foreach=False))
    x_all = (train.images.float() / 255 - mean) / std
    losses = []
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        for i in range(0, len(train), batch):
            idx = order[i : i + batch]
            loss = F.cross_entropy(model(x_all[idx]), train.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fast_path_trains_like_plain_pytorch(data, optimizer):
    """channels_last + multi-tensor optimizer (the default) and the plain path both match a hand-written loop."""
    train, test = data
    kw = dict(epochs=2, batch_size=32, optimizer=optimizer, lr=0.01 if optimizer == "sgd" else 1e-3, momentum=0.5,
              seed=4, mean=[0.29], std=[0.35], log_every=1, threads=1)
    fast, plain, oracle = small_cnn(), small_cnn(), small_cnn()
    h_fast = fit(fast, train, test, **kw)
    h_plain = fit(plain, train, test, channels_last=False, foreach=False, **kw)
    losses = plain_loop(oracle, train, epochs=2, batch=32, optimizer=optimizer, lr=kw["lr"], momentum=0.5, seed=4,
                        mean=0.29, std=0.35)
    assert [s.loss for s in h_fast.steps] == pytest.approx(losses, rel=2e-4, abs=2e-5)
    assert [s.loss for s in h_plain.steps] == pytest.approx(losses, rel=2e-4, abs=2e-5)
    for k, v in weights(oracle).items():
        assert torch.allclose(weights(fast)[k], v, atol=2e-4), k
        assert torch.allclose(weights(plain)[k], v, atol=2e-4), k
    assert h_fast.epochs[-1].test_acc == pytest.approx(h_plain.epochs[-1].test_acc, abs=1 / 64 + 1e-9)
    assert all(p.is_contiguous() for p in fast.parameters())  # the caller gets its model back in the usual layout


def test_fast_path_with_augmentation_and_onecycle_matches_the_plain_path(data):
    train, test = data
    kw = dict(epochs=2, batch_size=64, optimizer="adam", lr=3e-3, seed=1, augment=True, schedule="onecycle", threads=1)
    fast, plain = small_cnn(), small_cnn()
    a = fit(fast, train, test, **kw)
    b = fit(plain, train, test, channels_last=False, foreach=False, **kw)
    assert [s.loss for s in a.steps] == pytest.approx([s.loss for s in b.steps], rel=1e-3, abs=1e-4)
    for k, v in weights(plain).items():
        assert torch.allclose(weights(fast)[k], v, atol=1e-3), k


# ---------------------------------------------------------------------------- bfloat16 on a CPU without it


def test_bf16_follows_the_capability_pytorch_is_allowed_to_use():
    code = "from cnnviz.training import bf16_fast; print(bf16_fast())"
    for env in ({"ATEN_CPU_CAPABILITY": "avx2"}, {"ONEDNN_MAX_CPU_ISA": "AVX2"}):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, **env})
        assert out.stdout.strip() == "False", env


def test_bf16_on_a_cpu_without_it_warns_once_and_trains_in_float32(data, monkeypatch):
    train, test = data
    monkeypatch.setattr(training_cpu, "bf16_fast", lambda: False)
    kw = dict(epochs=1, batch_size=32, lr=3e-3, seed=2, threads=1)
    with pytest.warns(RuntimeWarning, match="bfloat16") as caught:
        asked = fit(small_cnn(), train, test, bf16=True, **kw)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    assert "float32" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = fit(small_cnn(), train, test, **kw)
    assert [s.loss for s in asked.steps] == [s.loss for s in plain.steps]  # exactly the float32 run


def test_cli_bf16_on_a_cpu_without_it_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    from cnnviz.cli import main

    monkeypatch.setattr(training, "bf16_fast", lambda: False)
    monkeypatch.setattr(training_cpu, "bf16_fast", lambda: False)
    code = main(["train", "simple_convnet", "--train-size", "100", "--test-size", "50", "--epochs", "1",
                 "--batch-size", "50", "--out", str(tmp_path / "run"), "--quiet", "--bf16"])
    err = capsys.readouterr().err
    assert code == 0
    lines = [line for line in err.splitlines() if "bfloat16" in line]
    assert len(lines) == 1 and "float32" in lines[0]


# ---------------------------------------------------------------------------- presets


def test_the_notes_presets_stay_as_the_notes_ran_them():
    p = training.PRESETS
    assert (p["pytorch_mnist"].model, p["pytorch_mnist"].optimizer, p["pytorch_mnist"].lr, p["pytorch_mnist"].momentum,
            p["pytorch_mnist"].batch_size, p["pytorch_mnist"].epochs) == ("mnist_cnn", "sgd", 0.01, 0.5, 64, 10)
    assert (p["tf_mnist"].model, p["tf_mnist"].optimizer, p["tf_mnist"].lr, p["tf_mnist"].batch_size,
            p["tf_mnist"].epochs, p["tf_mnist"].log_every) == ("tf_mnist", "adam", 1e-4, 50, 9, 100)
    assert (p["simple_convnet"].model, p["simple_convnet"].optimizer, p["simple_convnet"].lr,
            p["simple_convnet"].batch_size, p["simple_convnet"].epochs) == ("simple_convnet", "adam", 1e-3, 100, 20)
    for name in ("pytorch_mnist", "tf_mnist", "simple_convnet"):
        assert p[name].train_size is None and not p[name].augment and p[name].schedule == "constant"


def test_fast_and_accurate_presets_are_runs_fit_accepts(data, monkeypatch):
    train, test = data
    for name in ("fast", "accurate"):
        p = training.PRESETS[name]
        assert p.model in cnnviz.ZOO and p.optimizer in training.OPTIMIZERS and p.schedule in training.SCHEDULES
        # bfloat16 exactly where this CPU computes it natively (float32 elsewhere: the figures are float32's)
        assert p.options()["bf16"] is training.bf16_fast()
        assert p.train_size is None  # all 60,000 images
        # the accurate preset spends bfloat16's speed on epochs (13 where native, 11 in float32: the same ten minutes)
        epochs = {"fast": 6, "accurate": 13 if training.bf16_fast() else 11}[name]
        assert p.options()["epochs"] == p.run_settings()["epochs"] == epochs
        assert p.steps == epochs * -(-60_000 // p.batch_size)
        options = {**p.options(), "epochs": 1}
        model = cnnviz.build_model(p.model, seed=0)
        h = fit(model, train.subset(2 * p.batch_size, seed=0), test, threads=1, **options)
        assert h.status == "finished"
    fast, accurate = training.PRESETS["fast"], training.PRESETS["accurate"]
    assert fast.estimate_s(1000.0) < accurate.estimate_s(1000.0)


def test_the_accurate_preset_runs_13_epochs_in_bfloat16_and_11_in_float32(monkeypatch):
    from cnnviz.training import presets

    accurate = training.PRESETS["accurate"]
    for native, epochs, bf16 in ((True, 13, True), (False, 11, False)):
        monkeypatch.setattr(presets, "bf16_fast", lambda native=native: native)
        assert (accurate.options()["epochs"], accurate.options()["bf16"]) == (epochs, bf16)
        assert accurate.run_settings()["epochs"] == epochs and accurate.steps == epochs * 469
    assert (accurate.epochs_for(True), accurate.epochs_for(False)) == (13, 11)
    assert training.PRESETS["fast"].epochs_for(True) == training.PRESETS["fast"].epochs_for(False) == 6


# ---------------------------------------------------------------------------- images/s, before and after a stop


class Clocked(nn.Module):
    """A model whose every training forward pass costs exactly ``cost`` seconds of a simulated clock."""

    def __init__(self, net: nn.Module, clock: list[float], cost: float) -> None:
        super().__init__()
        self.net, self.clock, self.cost = net, clock, cost

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.clock[0] += self.cost
        else:
            self.clock[0] += 5.0  # a test pass: never counted as training time
        return self.net(x)


def test_images_per_s_is_the_real_pace_before_and_after_a_stop(data, tmp_path, monkeypatch):
    """Issue 11: after Resume the studio showed ~2.5x the real speed. With a simulated clock at exactly 0.5 s a
    step of 32 images, every figure must read 64 images/s, however long the run stood stopped."""
    train, test = data  # 256 images: 8 steps of 32 per epoch
    clock = [1000.0]
    monkeypatch.setattr(training_loop, "_clock", lambda: clock[0])
    kw = dict(epochs=3, batch_size=32, lr=1e-3, seed=0, threads=1, log_every=2, checkpoint_dir=tmp_path,
              save_every_s=None)
    seen: list[History] = []
    stop = threading.Event()

    def watch(h: History) -> None:
        seen.append(h)
        if h.step >= 12:  # epoch 2, batch 4
            stop.set()

    first = fit(Clocked(small_cnn(), clock, 0.5), train, test, stop=stop, callback=watch, **kw)
    assert first.status == "stopped" and first.step == 12
    clock[0] += 3600.0  # the run stands stopped for an hour
    second = fit(Clocked(small_cnn(), clock, 0.5), train, test, resume=True, callback=seen.append, **kw)
    assert second.status == "finished"
    assert [e.images_per_s for e in second.epochs] == pytest.approx([64.0, 64.0, 64.0])
    running = [h.images_per_s for h in seen if h.status == "running"]
    assert running and running == pytest.approx([64.0] * len(running))
    assert History.load(tmp_path / "history.json").images_per_s == pytest.approx(64.0)
    # the elapsed time counts 24 steps of 0.5 s and 1 + 3 test passes (64 images: one batch each) of 5 s, not the hour
    assert second.elapsed_s == pytest.approx(24 * 0.5 + 4 * 5.0)
    assert second.epochs[1].train_loss == pytest.approx(
        sum(s.loss for s in second.steps if s.epoch == 2) / len([s for s in second.steps if s.epoch == 2]))
