"""Same seed, same curves: every random draw of a run (initial weights, order, augmentation, dropout) comes from the
run's own generators, so two runs with one seed give bit-identical histories, also while another run trains in
another thread, and a stopped run that resumes continues the same streams."""

from __future__ import annotations

import threading
from dataclasses import astuple

import pytest
import torch

import cnnviz
from cnnviz import runs
from cnnviz.models import seeded


@pytest.fixture(scope="module")
def data():
    train = cnnviz.load_fashion_mnist(train=True).subset(48, seed=0)
    test = cnnviz.load_fashion_mnist(train=False).subset(16, seed=0)
    return train, test


def config(model: str, seed: int = 3, **more) -> runs.RunConfig:
    return runs.RunConfig(model=model, train_size=48, test_size=16, optimizer="adam", lr=1e-3, batch_size=16,
                          epochs=2, augment=True, seed=seed, **more)


def train(folder, cfg, data, *, stop_after: int | None = None):
    """Build and train ``cfg`` on one thread; returns (history, final weights). ``stop_after``: stop at that step,
    then resume the run from its folder (a fresh job, as after a reload) to the end."""
    tr, te = data
    job = runs.new_run_job(folder, cfg, train=tr, test=te, threads=1)
    if stop_after is not None:  # the Stop button, pressed exactly when the run reports that step
        publish = job._publish
        job._publish = lambda h: (publish(h), h.step >= stop_after and job._stop.set())
    job.start()
    if stop_after is not None:
        assert job.join(120) and job.status == "stopped", job.history.message
        job = runs.resume_run_job(job.options["checkpoint_dir"], train=tr, test=te, threads=1)
        job.start(resume=True)
    assert job.join(120) and job.status == "finished", job.history.message
    return job.history, {k: v.clone() for k, v in job.model.state_dict().items()}


def same_curves(a, b) -> None:
    assert [astuple(e)[:5] for e in a.epochs] == [astuple(e)[:5] for e in b.epochs]  # losses, accuracies: exact


def same_weights(a, b) -> None:
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("model", ["bn_convnet", "tf_mnist"])
def test_same_seed_gives_bit_identical_histories_also_beside_another_run(model, data, tmp_path):
    first, w1 = train(tmp_path / "a", config(model), data)
    out = {}  # the second, while a run of another seed (with dropout too) is built and trains in another thread
    other = threading.Thread(target=lambda: out.setdefault("other", train(tmp_path / "c", config(model, seed=11), data)))
    other.start()
    second, w2 = train(tmp_path / "b", config(model), data)
    other.join(120)
    assert [(s.step, s.loss, s.accuracy) for s in first.steps] == [(s.step, s.loss, s.accuracy) for s in second.steps]
    same_curves(first, second)
    same_weights(w1, w2)
    assert out["other"][0].epochs[-1].train_loss != first.epochs[-1].train_loss  # another seed: another run


def test_a_stopped_and_resumed_run_continues_the_same_streams(data, tmp_path):
    """Resume restores the weights, the optimizer, the position and the epoch's sums; order, augmentation and
    dropout depend only on (seed, epoch, batch), so the resumed run ends exactly where an unbroken one does."""
    whole, w1 = train(tmp_path / "a", config("tf_mnist"), data)
    resumed, w2 = train(tmp_path / "b", config("tf_mnist"), data, stop_after=2)
    assert resumed.step == whole.step
    same_curves(whole, resumed)
    same_weights(w1, w2)


def test_dropout_draws_from_the_run_not_from_the_global_generator(data):
    """A run draws nothing from torch's global generator: its state is the same before and after the run."""
    tr, te = data
    model = cnnviz.build_model("tf_mnist", seed=0)
    before = torch.random.get_rng_state()
    cnnviz.training.fit(model, tr, te, epochs=1, batch_size=32, augment=True, threads=1)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(type(m).forward is m.forward.__func__ for m in model.modules() if hasattr(m.forward, "__func__"))


def test_a_layer_stack_is_built_inside_the_seeded_block():
    """While another thread draws from a seeded global generator, a stack build waits for it (it used to reseed the
    generator in the middle of that thread's build)."""
    spec = ({"type": "conv", "out_channels": 4, "kernel": 3, "stride": 1, "padding": 1, "dilation": 1,
             "activation": "relu"}, {"type": "flatten"}, {"type": "linear", "out_features": 10, "activation": None})
    cfg = runs.RunConfig(model="stack", spec=spec, input_shape=(1, 8, 8), seed=5)
    reference = cfg.build_model(10).state_dict()
    inside, release, built = threading.Event(), threading.Event(), {}

    def hold():
        with seeded(1):
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(10)
    builder = threading.Thread(target=lambda: built.setdefault("w", cfg.build_model(10).state_dict()))
    builder.start()
    builder.join(0.3)
    waited = builder.is_alive()
    release.set()
    holder.join(10)
    builder.join(10)
    assert waited, "the stack was built while another seeded block was drawing"
    same_weights(reference, built["w"])
