"""Runs on disk (config, history, checkpoints), deleting, resuming, and the confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import cnnviz
from cnnviz import runs, training


@pytest.fixture(scope="module")
def data():
    train = cnnviz.load_fashion_mnist(train=True).subset(200, seed=0)
    test = cnnviz.load_fashion_mnist(train=False).subset(100, seed=0)
    return train, test


def small_config(**kw) -> runs.RunConfig:
    base = dict(model="simple_convnet", train_size=200, test_size=100, epochs=1, batch_size=50, log_every=1)
    return runs.RunConfig(**{**base, **kw})


def test_runs_root_and_session_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path))
    assert runs.runs_root() == tmp_path
    assert runs.session_folder("abc123") == tmp_path / "sessions" / "abc123"
    assert runs.session_folder("a", root=tmp_path / "x") == tmp_path / "x" / "sessions" / "a"
    for bad in ("../etc", "a/b", "", "x" * 65):
        with pytest.raises(ValueError):
            runs.session_folder(bad)
    monkeypatch.delenv("CNNVIZ_RUNS")
    assert str(runs.runs_root()) == "runs"


def test_run_config_validates_and_round_trips():
    c = small_config(label="adam", augment=True)
    assert runs.RunConfig.from_dict(c.to_dict()) == c
    assert "adam" in c.title and "aug" in c.title
    with pytest.raises(ValueError, match="optimizer"):
        small_config(optimizer="adagrad")
    with pytest.raises(ValueError, match="unknown model"):
        small_config(model="nope")
    with pytest.raises(ValueError, match="spec"):
        small_config(model="stack")
    assert c.fit_options()["model_name"] == "simple_convnet"


def test_new_run_is_listed_loaded_and_deleted(data, tmp_path):
    train, test = data
    job = runs.new_run_job(tmp_path, small_config(label="first"), train=train, test=test).start()
    assert job.join(60) and job.status == "finished", job.history.message
    job2 = runs.new_run_job(tmp_path, small_config(label="second", optimizer="sgd", lr=0.01), train=train, test=test)
    listed = runs.list_runs(tmp_path)
    assert [r.config.label for r in listed] == ["first", "second"]
    first = listed[0]
    assert first.status == "finished" and first.history.epochs == job.history.epochs
    assert [p.name for p in first.checkpoints] == ["epoch_00.pt", "epoch_01.pt"]
    assert listed[1].status == "new" and job2.status == "running"  # created, not started
    with pytest.raises(ValueError):
        runs.delete_run(first.path, folder=tmp_path / "elsewhere")
    with pytest.raises(ValueError):
        runs.delete_run(tmp_path, folder=tmp_path.parent)  # the folder itself is not a run
    runs.delete_run(first.path, folder=tmp_path)
    assert [r.config.label for r in runs.list_runs(tmp_path)] == ["second"]
    assert runs.list_runs(tmp_path / "missing") == []


def test_resume_a_stopped_run_from_disk(data, tmp_path):
    train, test = data
    config = small_config(epochs=3, batch_size=10)
    job = runs.new_run_job(tmp_path, config, train=train, test=test).start()
    while job.running and job.history.step < 25:
        job.join(0.02)
    job.stop(wait=30)
    assert job.status == "stopped"
    run_dir = runs.list_runs(tmp_path)[0].path
    later = runs.resume_run_job(run_dir, train=train, test=test)  # e.g. after a server restart
    assert later.history.status == "stopped"
    later.resume()
    assert later.join(120) and later.status == "finished"
    steps = [s.step for s in later.history.steps]
    assert steps == list(range(1, 3 * 20 + 1))


def test_stack_run_uses_the_lab_spec(data, tmp_path):
    pytest.importorskip("cnnviz.stack")
    train, test = data
    spec = ({"type": "conv", "out_channels": 4, "kernel": 3, "stride": 1, "padding": 1, "dilation": 1,
             "activation": "relu"}, {"type": "pool", "mode": "max", "kernel": 2, "stride": 2}, {"type": "flatten"},
            {"type": "linear", "out_features": 10, "activation": None})
    config = small_config(model="stack", spec=spec, input_shape=(1, 28, 28))
    job = runs.new_run_job(tmp_path, config, train=train, test=test).start()
    assert job.join(60) and job.status == "finished", job.history.message
    ckpt = cnnviz.load_checkpoint(runs.list_runs(tmp_path)[0].checkpoints[-1])
    assert ckpt.model_name == "stack" and ckpt.meta["spec"] == [dict(s) for s in spec]
    model = cnnviz.model_from_checkpoint(ckpt)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_confusion_matches_a_hand_count():
    class Fixed(nn.Module):  # predicts class = first pixel value (0..2), whatever the normalisation
        def forward(self, x):
            return torch.nn.functional.one_hot(x[:, 0, 0, 0].round().long(), 3).float() * 10

    labels = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    preds = [0, 1, 1, 1, 0, 2, 1]
    images = torch.zeros(7, 1, 2, 2, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.tensor(preds, dtype=torch.uint8)
    d = cnnviz.ImageData("x", images, labels, ("a", "b", "c"), "t")
    res = runs.confusion(Fixed(), d, mean=[0.0], std=[1 / 255])
    expected = np.zeros((3, 3), int)
    for t, p in zip(labels.tolist(), preds):
        expected[t, p] += 1
    assert (res.matrix == expected).all()
    assert res.accuracy == pytest.approx(4 / 7)
    assert res.cell(2, 1).tolist() == [6] and res.cell(0, 1).tolist() == [1]
    assert res.top_confusions(2) == [(0, 1, 1), (2, 0, 1)]
    assert res.probs.shape == (7, 3) and np.allclose(res.probs.sum(1), 1, atol=1e-5)
    with pytest.raises(ValueError):
        res.cell(3, 0)


def test_checkpoint_confusion_uses_the_saved_normalisation(data, tmp_path):
    train, test = data
    model = cnnviz.build_model("simple_convnet", seed=0)
    training.fit(model, train, test, epochs=1, batch_size=50, checkpoint_dir=tmp_path, threads=1)
    res, converted = runs.checkpoint_confusion(tmp_path / "epoch_01.pt", test)
    h = training.History.load(tmp_path / "history.json")
    assert res.accuracy == pytest.approx(h.epochs[0].test_acc)
    assert res.matrix.sum() == len(test) and converted.input_shape == (1, 28, 28)
    other = cnnviz.ImageData("x", test.images, test.labels, tuple("abcdefghij"), "t")
    with pytest.raises(ValueError, match="other classes"):
        runs.checkpoint_confusion(tmp_path / "epoch_01.pt", other)
