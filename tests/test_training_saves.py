"""Mid-epoch saves (issue 15): a run killed outright loses at most the steps since the last save, leaves nothing
corrupt and no stray temp file, and resumes exactly from the saved step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from torch import nn

import cnnviz
from cnnviz import training
from cnnviz.files import atomic_write_text, sweep_temp_files
from cnnviz.training import History, fit
from cnnviz.training import loop as training_loop

NET = "nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))"
SETTINGS = dict(epochs=3, batch_size=8, lr=3e-3, seed=5, augment=True, threads=1, log_every=4)


def tiny_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return eval(NET)


def datasets():
    return (cnnviz.load_fashion_mnist(train=True).subset(400, seed=0),
            cnnviz.load_fashion_mnist(train=False).subset(50, seed=0))


SCRIPT = textwrap.dedent(f"""
    import sys, torch
    from torch import nn
    import cnnviz
    from cnnviz.training import fit
    train = cnnviz.load_fashion_mnist(train=True).subset(400, seed=0)
    test = cnnviz.load_fashion_mnist(train=False).subset(50, seed=0)
    torch.manual_seed(0)
    model = {NET}
    def slow(h):  # a slow machine: the parent has time to kill it mid-epoch
        import time; time.sleep(0.05)
    fit(model, train, test, checkpoint_dir=sys.argv[1], callback=slow, save_every_steps=8, **{SETTINGS!r})
""")


def test_a_run_killed_mid_epoch_resumes_from_its_last_save(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    saved = None
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            point = training.resume_point(run)
            if point is not None and point[0] == 1 and point[1] >= 16:  # saved mid-way through epoch 2
                saved = point
                break
            time.sleep(0.01)
        assert saved is not None, proc.stderr.read().decode() if proc.poll() is not None else "no mid-epoch save"
        time.sleep(0.3)  # let it train (and maybe start writing) a little further
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    # nothing corrupt: every file loads; the history says the run was under way at the saved step
    state = torch.load(run / "trainer_state.pt", weights_only=True)
    step = int(state["step"])
    steps_per_epoch = 50
    assert int(state["epoch"]) * steps_per_epoch + int(state["batch"]) == step
    assert int(state["batch"]) > 0  # mid-epoch
    h = History.load(run / "history.json")
    assert h.status == "running" and h.step >= step and [e.epoch for e in h.epochs] == [1]  # written first
    for ckpt in run.glob("epoch_*.pt"):
        cnnviz.load_checkpoint(ckpt)

    # resume: continues from the saved step, the temp files of the killed writer are swept
    train, test = datasets()
    resumed_from = []
    resumed = fit(tiny_net(9), train, test, checkpoint_dir=run, resume=True,
                  callback=lambda h: resumed_from.append(h.step), **SETTINGS)
    assert resumed.status == "finished"
    assert step < resumed_from[0] <= step + SETTINGS["log_every"]  # the next step record after the saved step
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]

    # and the result is the run that was never killed
    full = fit(tiny_net(0), train, test, checkpoint_dir=tmp_path / "full", **SETTINGS)
    assert [s.step for s in resumed.steps] == [s.step for s in full.steps]
    assert [s.loss for s in resumed.steps] == pytest.approx([s.loss for s in full.steps], rel=1e-4)
    assert [e.train_loss for e in resumed.epochs] == pytest.approx([e.train_loss for e in full.epochs], rel=1e-4)
    assert [e.test_acc for e in resumed.epochs] == pytest.approx([e.test_acc for e in full.epochs])
    a, b = cnnviz.load_checkpoint(run / "epoch_03.pt"), cnnviz.load_checkpoint(tmp_path / "full" / "epoch_03.pt")
    for k, v in b.state_dict.items():
        assert torch.allclose(a.state_dict[k], v, atol=1e-5), k


def test_saves_come_every_save_every_s_seconds_of_training(tmp_path, monkeypatch):
    """A simulated clock at 1 s a step, 50 steps an epoch: with save_every_s=30 the run saves at steps 30, 50 (the
    epoch's end) and 80, so one that dies at step 95 resumes from step 80."""
    clock = [0.0]

    class Clocked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = tiny_net(0)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            clock[0] += 1.0 if self.training else 0.0
            return self.net(x)

    monkeypatch.setattr(training_loop, "_clock", lambda: clock[0])
    train, test = datasets()

    def crash(h: History) -> None:
        if h.step >= 95:
            raise RuntimeError("the machine went down")

    with pytest.raises(RuntimeError, match="went down"):
        fit(Clocked(), train, test, checkpoint_dir=tmp_path, callback=crash, save_every_s=30.0,
            **{**SETTINGS, "log_every": 1, "epochs": 2})
    assert training.resume_point(tmp_path) == (1, 30)  # step 80 = epoch 2, batch 30
    assert History.load(tmp_path / "history.json").status == "failed"
    again = fit(Clocked(), train, test, checkpoint_dir=tmp_path, resume=True, **{**SETTINGS, "log_every": 1, "epochs": 2})
    assert again.status == "finished" and [s.step for s in again.steps] == list(range(1, 101))


def test_stray_temp_files_of_dead_writers_are_swept_and_live_ones_kept(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(done.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stray = tmp_path / f".history.json.{dead}.abc123.tmp"
        other = tmp_path / f".history.json.{alive.pid}.def456.tmp"
        mine = tmp_path / f".config.json.{os.getpid()}.ghi789.tmp"
        legacy_old = tmp_path / ".epoch_01.pt.x1y2z3.tmp"
        legacy_new = tmp_path / ".epoch_02.pt.x1y2z3.tmp"
        for p in (stray, other, mine, legacy_old, legacy_new):
            p.write_bytes(b"half a file")
        os.utime(legacy_old, (time.time() - 3600, time.time() - 3600))
        atomic_write_text(tmp_path / "history.json", json.dumps({"ok": 1}))  # a write sweeps its own name
        assert not stray.exists() and other.exists()
        assert sorted(p.name for p in sweep_temp_files(tmp_path)) == [legacy_old.name]
        assert other.exists() and mine.exists() and legacy_new.exists()
        assert json.loads((tmp_path / "history.json").read_text()) == {"ok": 1}
    finally:
        alive.kill()
        alive.wait()
    assert sweep_temp_files(tmp_path) == [other]
