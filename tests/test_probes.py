"""What a run records about its layers (cnnviz.training.probes): the statistics equal those computed straight from the
checkpoints at the same step, the gradient statistics equal PyTorch's own gradient recomputed from the checkpoint
before that step, a stop and resume leaves one record per step, a damaged file reads as one sentence."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnviz
from cnnviz import training
from cnnviz.training import fit
from cnnviz.training import probes as P

NET = lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),  # noqa: E731
                            nn.Linear(4 * 6 * 6, 16), nn.ReLU(), nn.Linear(16, 10))


def tiny(n_train: int, n_test: int = 40):
    return (cnnviz.load_fashion_mnist(train=True).subset(n_train, seed=0),
            cnnviz.load_fashion_mnist(train=False).subset(n_test, seed=0))


def numpy_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The oracle: numpy's percentiles and histogram of every value."""
    v = values.astype(np.float32).ravel()
    edges = np.linspace(v.min(), v.max(), P.BINS + 1, dtype=np.float32)
    return np.percentile(v, P.PERCENTILES), np.histogram(v, bins=edges)[0]


def test_recorded_statistics_equal_the_checkpoints_at_the_same_step(tmp_path):
    """One batch per epoch, so epoch_NN.pt holds the weights after step NN: the weights recorded at step NN are those;
    the gradients recorded at step NN are PyTorch's gradient of the same loss at epoch_(NN-1).pt's weights."""
    train, test = tiny(48)
    torch.manual_seed(0)
    model = NET()
    fit(model, train, test, epochs=3, batch_size=48, lr=1e-2, seed=0, threads=1, checkpoint_dir=tmp_path)
    rec = P.load_probes(tmp_path)
    assert rec.layers == ("0.weight", "4.weight", "6.weight") and rec.kinds == ("Conv2d", "Linear", "Linear")
    assert list(rec.weight_steps) == [0, 1, 2, 3] and list(rec.grad_steps) == [1, 2, 3]
    assert list(rec.norm_steps) == [1, 2, 3]
    for step in (0, 1, 2, 3):
        ckpt = cnnviz.load_checkpoint(tmp_path / f"epoch_{step:02d}.pt")
        r = list(rec.weight_steps).index(step)
        for i, name in enumerate(rec.layers):
            pct, hist = numpy_stats(ckpt.state_dict[name].numpy())
            np.testing.assert_allclose(rec.weight_pct[r, i], pct, rtol=1e-6, atol=1e-9)
            np.testing.assert_array_equal(rec.weight_hist[r, i], hist)
    mean, std = training.channel_stats(train)
    x = training.normalize(train.images, mean=mean, std=std)
    for step in (1, 2, 3):
        before = cnnviz.load_checkpoint(tmp_path / f"epoch_{step - 1:02d}.pt")
        net = NET()
        net.load_state_dict(before.state_dict)
        F.cross_entropy(net(x), train.labels).backward()
        grads = dict(net.named_parameters())
        r = list(rec.grad_steps).index(step)
        for i, name in enumerate(rec.layers):
            g = grads[name].grad.numpy()
            pct, hist = numpy_stats(g)
            np.testing.assert_allclose(rec.grad_pct[r, i], pct, rtol=1e-4, atol=1e-7)
            assert np.abs(rec.grad_hist[r, i] - hist).sum() <= 2  # a value on a bin's edge may fall either side
            assert rec.grad_norm[step - 1, i] == pytest.approx(float(np.linalg.norm(g)), rel=1e-4)
    from_ckpts = P.probes_from_checkpoints(training.rundir.epoch_checkpoints(tmp_path))
    np.testing.assert_allclose(from_ckpts.weight_pct, rec.weight_pct, rtol=1e-6)
    np.testing.assert_array_equal(from_ckpts.weight_hist, rec.weight_hist)


def test_a_large_tensor_keeps_exact_ends_and_counts():
    values = torch.randn(P.EXACT_LIMIT * 3 + 7, generator=torch.Generator().manual_seed(0))
    pct, hist = P.tensor_stats(values)
    exact_pct, exact_hist = numpy_stats(values.numpy())
    assert pct[0] == exact_pct[0] and pct[-1] == exact_pct[-1]
    np.testing.assert_array_equal(hist, exact_hist)
    np.testing.assert_allclose(pct[1:-1], exact_pct[1:-1], atol=0.01)  # a sample of 262,144 of 786,439 values
    same, counts = P.tensor_stats(torch.full((5,), 2.0))
    assert list(same) == [2.0] * 9 and counts.sum() == 5


def test_stop_and_resume_leave_one_record_per_step(tmp_path):
    train, test = tiny(96)
    stop = threading.Event()

    def stop_after_3(h):
        if h.step >= 3:
            stop.set()

    settings = dict(epochs=2, batch_size=16, lr=1e-2, seed=1, threads=1, log_every=1, checkpoint_dir=tmp_path)
    torch.manual_seed(0)
    first = fit(NET(), train, test, stop=stop, callback=stop_after_3, **settings)
    assert first.status == "stopped"
    assert list(P.load_probes(tmp_path).norm_steps) == list(range(1, first.step + 1))
    torch.manual_seed(0)
    fit(NET(), train, test, resume=True, **settings)
    rec = P.load_probes(tmp_path)
    assert list(rec.norm_steps) == list(range(1, 13)) and rec.grad_norm.shape == (12, 3)
    assert list(rec.weight_steps) == sorted(set(rec.weight_steps)) and rec.weight_steps[-1] == 12
    assert np.isfinite(rec.grad_norm).all() and (rec.grad_norm > 0).all()


def test_no_folder_or_probes_off_records_nothing(tmp_path):
    train, test = tiny(32)
    fit(NET(), train, test, epochs=1, batch_size=16, threads=1, checkpoint_dir=tmp_path, probes=False)
    assert not (tmp_path / P.PROBES_FILE).exists()
    with pytest.raises(ValueError, match="no recorded weights"):
        P.load_probes(tmp_path)


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04broken"])
def test_a_damaged_file_is_one_sentence(tmp_path, content):
    (tmp_path / P.PROBES_FILE).write_bytes(content)
    with pytest.raises(ValueError, match="cannot be read") as err:
        P.load_probes(tmp_path)
    assert "\n" not in str(err.value)


def test_arrays_that_do_not_fit_are_damaged(tmp_path):
    good = P.Probes(("a.weight",), ("Linear",), (4,), 1, np.array([0]), np.zeros((1, 1, 9)),
                    np.zeros((1, 1, P.BINS), dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 1, 9)),
                    np.zeros((0, 1, P.BINS), dtype=np.int64), np.array([1, 2]), np.zeros((3, 1), dtype=np.float32))
    good.save(tmp_path / P.PROBES_FILE)
    with pytest.raises(ValueError, match="damaged"):
        P.load_probes(tmp_path)


def test_histogram_counts_values_on_edges_and_tiny_ranges_as_numpy():
    """The histogram's bin arithmetic (with its one-step correction) against numpy's search among the same float32
    edges: values exactly on edges, a range a few float32 steps wide, large values."""
    rng = np.random.default_rng(0)
    cases = [np.arange(-15, 16, dtype=np.float32) / 7,  # many values on an edge
             rng.integers(-3, 4, 1000).astype(np.float32),
             (1000 + rng.integers(0, 3, 500) * np.spacing(np.float32(1000))).astype(np.float32),  # edges round together
             rng.standard_normal(200_003).astype(np.float32) * 100]
    for a in cases:
        lo, hi = float(a.min()), float(a.max())
        edges = np.linspace(lo, hi, P.BINS + 1, dtype=np.float32)
        _pct, hist = P.tensor_stats(torch.from_numpy(a))
        np.testing.assert_array_equal(hist, np.histogram(a, bins=edges)[0])


def test_a_short_run_records_histograms_at_most_one_step_in_min_gap(tmp_path):
    """Besides step 0 and every epoch's last step, no more than one step in MIN_GAP gets histograms (each costs a
    good part of a step); a save with nothing new writes nothing."""
    rec = P.ProbeRecorder(NET(), tmp_path, step=0, total_steps=237, steps_per_epoch=79, resumed=False)
    chosen = [s for s in range(1, 238) if rec.chosen(s)]
    assert {79, 158, 237} <= set(chosen) and len(chosen) <= 237 // P.MIN_GAP + 3
    rec.save()
    written = (tmp_path / P.PROBES_FILE).stat().st_mtime_ns
    rec.save()
    assert (tmp_path / P.PROBES_FILE).stat().st_mtime_ns == written
