"""The lecture notes' two MNIST runs: how the notes run and plot them, and what they gave when run here.

The PyTorch notes train their 3-conv ``myCNN`` for 10 epochs (SGD 0.01, momentum 0.5, batch 64) and plot the
training and test loss and the test accuracy after every epoch; the TensorFlow notes train their tutorial network
for exactly 10,000 steps of 50 images (Adam 1e-4), print the training accuracy every 100 steps and the test accuracy
at the end. Both are presets (``PRESETS["pytorch_mnist"]``, ``PRESETS["tf_mnist"]``); each was run once here with
``cnnviz train`` and its history ships in assets/ (the PyTorch run is the shipped MNIST CNN), so the studio can show
the notes' figure beside what this computer measured. ``benchmarks/bench_notes.py`` runs them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data import ASSETS
from .records import History

__all__ = ["NOTES_RUNS", "NotesRun", "SeedResult", "measured_history", "seed_results"]


@dataclass(frozen=True)
class NotesRun:
    """One of the notes' runs: its preset, the kind of plot the notes draw, the test accuracy they reach (the bar
    the issue set: at least 99 %), and where the history of the run made here is, with its seed and CPU."""

    preset: str
    plot: str  # "epochs": loss and test accuracy per epoch (PyTorch); "steps": training accuracy every 100 steps (TF)
    notes_accuracy: float
    history: Path
    seed: int
    cpu: str  # torch.backends.cpu.get_cpu_capability() where it ran
    threads: int  # PyTorch threads it ran on (the 2-core machine was shared with other work)
    command: str  # what made the history
    other_seeds: tuple[tuple[int, Path], ...] = ()  # (seed, history) of the same run made here with other seeds


NOTES_RUNS: dict[str, NotesRun] = {
    r.preset: r
    for r in (
        NotesRun("pytorch_mnist", "epochs", 0.99, ASSETS / "pretrained" / "mnist_cnn" / "history.json", 0, "AVX512", 1,
                 "cnnviz train mnist_cnn --dataset mnist --epochs 10 --batch-size 64 --optimizer sgd --lr 0.01 "
                 "--momentum 0.5 --seed 0 --log-every 50 --save-every-epoch --save-initial --threads 1 "
                 "--out assets/pretrained/mnist_cnn",
                 other_seeds=tuple((n, ASSETS / "notes_runs" / f"pytorch_mnist_seed{n}_history.json") for n in (1, 2, 3))),
        NotesRun("tf_mnist", "steps", 0.99, ASSETS / "notes_runs" / "tf_mnist_history.json", 0, "AVX512", 1,
                 "cnnviz train tf_mnist --dataset mnist --epochs 9 --max-steps 10000 --batch-size 50 --optimizer adam "
                 "--lr 0.0001 --seed 0 --log-every 100 --threads 1 --out RUN_FOLDER"),
    )
}


def _history(path: Path) -> History | None:
    """The history in ``path``, None when the file is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        return History.load(path)
    except ValueError:
        return None


def measured_history(preset: str) -> History | None:
    """The history of the notes' run ``preset`` as it was run here (None when its file is missing or unreadable)."""
    run = NOTES_RUNS.get(preset)
    return None if run is None else _history(run.history)


@dataclass(frozen=True)
class SeedResult:
    """One run of a notes' recipe made here: its seed, the test accuracy after its last epoch and the best one."""

    seed: int
    final: float
    best: float


def seed_results(preset: str) -> list[SeedResult]:
    """Every run of the notes' run ``preset`` made here, its own seed first, then ``other_seeds`` (those whose
    history is missing, unreadable or empty are left out)."""
    run = NOTES_RUNS.get(preset)
    if run is None:
        return []
    found = []
    for seed, path in ((run.seed, run.history), *run.other_seeds):
        h = _history(path)
        if h is not None and h.epochs:
            found.append(SeedResult(seed, h.epochs[-1].test_acc, max(e.test_acc for e in h.epochs)))
    return found
