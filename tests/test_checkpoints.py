"""Checkpoints: round trip, refusing files that would run code, damaged files, architecture mismatches."""

from __future__ import annotations

import io

import pytest
import torch

import cnnviz
from cnnviz import checkpoints


@pytest.fixture
def saved(tmp_path):
    model = cnnviz.build_model("mnist_cnn", seed=0)
    path = cnnviz.save_checkpoint(tmp_path / "m.pt", model, model_name="mnist_cnn", input_shape=(1, 28, 28),
                                  classes=[str(i) for i in range(10)], meta={"epoch": 2, "mean": [0.29], "std": [0.35]})
    return model, path


def test_round_trip_keeps_weights_and_facts(saved):
    model, path = saved
    ckpt = cnnviz.load_checkpoint(path)
    assert (ckpt.model_name, ckpt.num_classes, ckpt.input_shape, ckpt.epoch) == ("mnist_cnn", 10, (1, 28, 28), 2)
    assert ckpt.meta["mean"] == [0.29]
    again = cnnviz.model_from_checkpoint(ckpt)
    assert not again.training
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(cnnviz.load_checkpoint(path.read_bytes()).state_dict["features.0.weight"],
                       model.features[0].weight.detach())


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # would create a file when unpickled


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": RunsCode(marker)}, buf)
    with pytest.raises(cnnviz.CheckpointError, match="refused.*run code"):
        cnnviz.load_checkpoint(buf.getvalue())
    assert not marker.exists()


def test_a_pickled_whole_model_is_refused_with_advice():
    buf = io.BytesIO()
    torch.save(cnnviz.build_model("lenet5"), buf)
    with pytest.raises(cnnviz.CheckpointError, match="state_dict"):
        cnnviz.load_checkpoint(buf.getvalue())


@pytest.mark.parametrize("payload, message", [(b"", "empty"), (b"not a checkpoint at all", "not a readable")])
def test_empty_and_foreign_files(payload, message):
    with pytest.raises(cnnviz.CheckpointError, match=message):
        cnnviz.load_checkpoint(payload)


def test_truncated_checkpoint(saved):
    _, path = saved
    with pytest.raises(cnnviz.CheckpointError, match="damaged or truncated"):
        cnnviz.load_checkpoint(path.read_bytes()[:20_000])
    with pytest.raises(cnnviz.CheckpointError, match="no checkpoint file"):
        cnnviz.load_checkpoint(path.with_name("missing.pt"))


def test_bare_state_dict_needs_and_checks_the_architecture():
    model = cnnviz.build_model("simple_convnet")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    ckpt = cnnviz.load_checkpoint(buf.getvalue())
    assert ckpt.model_name is None
    with pytest.raises(cnnviz.CheckpointError, match="choose the architecture"):
        cnnviz.model_from_checkpoint(ckpt)
    rebuilt = cnnviz.model_from_checkpoint(ckpt, model_name="simple_convnet")
    assert torch.equal(rebuilt.features[0].weight, model.features[0].weight)
    with pytest.raises(cnnviz.CheckpointError, match="does not match the mnist_cnn architecture.*missing"):
        cnnviz.model_from_checkpoint(ckpt, model_name="mnist_cnn")


def test_no_weights_inside():
    buf = io.BytesIO()
    torch.save({"epoch": 3, "lr": 0.1}, buf)
    with pytest.raises(cnnviz.CheckpointError, match="no model weights"):
        cnnviz.load_checkpoint(buf.getvalue())


def test_save_is_atomic(saved, monkeypatch):
    model, path = saved
    before = path.read_bytes()

    def dies_half_way(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # the run was stopped mid-write

    monkeypatch.setattr(checkpoints.storage.torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        cnnviz.save_checkpoint(path, model, model_name="mnist_cnn", input_shape=(1, 28, 28))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def peak_memory_growth(run) -> int:
    """Bytes the process's resident memory grew by at its highest while ``run()`` ran (sampled every millisecond
    from /proc/self/statm): what torch allocates and fills counts, unlike tracemalloc, which sees only Python's
    own allocations (a 200 MB tensor read as 0.00008 MB there)."""
    import os
    import threading

    page = os.sysconf("SC_PAGE_SIZE")

    def resident() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    base, peak, done = resident(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident())
            done.wait(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run()
    finally:
        done.set()
        sampler.join()
        peak[0] = max(peak[0], resident())
    return peak[0] - base


def test_metadata_is_checked_against_the_weights_before_anything_is_built(tmp_path):
    """num_classes=4,000,000 in a 5 KB file cost 2.5 GB and 12 s; input_shape 1×100000×100000 grew to 21 GB."""
    import time

    assert peak_memory_growth(lambda: torch.ones(25_000_000).sum()) > 90e6  # the probe sees torch's 100 MB
    state = cnnviz.build_model("mnist_cnn", seed=0).state_dict()
    lying = cnnviz.Checkpoint(state_dict=state, model_name="mnist_cnn", num_classes=4_000_000)

    def refused() -> None:
        with pytest.raises(cnnviz.CheckpointError, match="4,000,000 classes, but its last layer has 10 outputs"):
            cnnviz.model_from_checkpoint(lying)

    t = time.perf_counter()
    grew = peak_memory_growth(refused)
    assert grew < 20e6 and time.perf_counter() - t < 5, grew  # refused before building (loose bounds)
    huge = cnnviz.Checkpoint(state_dict=state, model_name="mnist_cnn", input_shape=(1, 100_000, 100_000))
    with pytest.raises(cnnviz.CheckpointError, match="at most 1024×1024"):
        cnnviz.model_from_checkpoint(huge)


def test_same_seed_runs_started_together_get_the_same_weights():
    import threading

    results = {}

    def build(i):
        results[i] = cnnviz.build_model("simple_convnet", seed=7).state_dict()

    threads = [threading.Thread(target=build, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(1, 4):
        assert all(torch.equal(results[0][k], results[i][k]) for k in results[0])
