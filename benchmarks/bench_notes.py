"""The lecture notes' two MNIST runs, as the notes run them, with cnnviz's trainer on the bundled MNIST.

    python benchmarks/bench_notes.py                   # both runs in full (each 5-10 minutes on a quiet 2-core CPU)
    python benchmarks/bench_notes.py --only tf_mnist   # one of them
    python benchmarks/bench_notes.py --short           # a subset: checks the mechanics, not the accuracy (seconds)
    python benchmarks/bench_notes.py --save DIR        # also keep each run's history.json in DIR

- ``pytorch_mnist``: the PyTorch notes' ``myCNN`` (the zoo's mnist_cnn), SGD 0.01 momentum 0.5, batch 64, 10 epochs;
  training and test loss and test accuracy after every epoch.
- ``tf_mnist``: the TensorFlow notes' network, Adam 1e-4, exactly 10,000 steps of 50 images (the run ends in the
  middle of its 9th epoch); training accuracy every 100 steps, test accuracy at the end.

Each line gives the test accuracy the notes reach (at least 99 %), the one measured, the wall time (test passes
included), the training speed, the seed and the CPU (``torch.backends.cpu.get_cpu_capability()``, threads). In
``--short`` mode each run trains on 1,000 images and is tested on 500: the PyTorch run for 2 of its epochs, the
TensorFlow run for 45 steps (ending inside its third epoch, a training accuracy every 10 steps); the figures are then
no measure of accuracy, only a check that each run ends where it should and records what its notes plot.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cnnviz  # noqa: E402
from cnnviz import training  # noqa: E402
from cnnviz.training.cpu import cpu_capability  # noqa: E402

SHORT = {"train_size": 1_000, "test_size": 500, "pytorch_mnist": {"epochs": 2},
         "tf_mnist": {"max_steps": 45, "log_every": 10}}


@dataclass(frozen=True)
class NotesResult:
    preset: str
    history: training.History
    seconds: float
    seed: int

    @property
    def accuracy(self) -> float:
        return self.history.epochs[-1].test_acc if self.history.epochs else float("nan")

    @property
    def images_per_s(self) -> float:
        speeds = [e.images_per_s for e in self.history.epochs if e.images_per_s == e.images_per_s]
        return sum(speeds) / len(speeds) if speeds else float("nan")


def run_notes(preset: str, *, short: bool = False, seed: int = 0, threads: int | None = None) -> NotesResult:
    """Train one of the notes' runs (``PRESETS[preset]``) on MNIST as its preset says; ``short``: on a subset."""
    p = training.PRESETS[preset]
    if short:
        p = replace(p, **SHORT[preset])
    shape = cnnviz.models.input_shape_for(p.model)
    train, test = training.load_train_test(p.dataset, input_shape=shape, seed=seed,
                                           train_size=SHORT["train_size"] if short else p.train_size,
                                           test_size=SHORT["test_size"] if short else None)
    model = cnnviz.build_model(p.model, num_classes=len(train.classes), seed=seed)
    t0 = time.perf_counter()
    history = training.fit(model, train, test, seed=seed, threads=threads, model_name=p.model, dataset=p.dataset,
                           **p.options())
    return NotesResult(preset, history, time.perf_counter() - t0, seed)


def report(result: NotesResult) -> str:
    notes = training.NOTES_RUNS[result.preset]
    h = result.history
    return (f"{result.preset:<14} notes ≥ {notes.notes_accuracy:.0%}  here {result.accuracy:.2%}  "
            f"{h.step:,} steps, {len(h.epochs)} epoch records, {len(h.steps)} step records  "
            f"{result.seconds:,.0f} s  {result.images_per_s:,.0f} images/s  seed {result.seed}  "
            f"[{cpu_capability()}, {torch.get_num_threads()} threads]  {h.message}")


def main(argv: list[str] | None = None) -> list[NotesResult]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=list(training.NOTES_RUNS), choices=list(training.NOTES_RUNS))
    parser.add_argument("--short", action="store_true", help="a subset: the mechanics, not the accuracy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="at most this many CPU threads")
    parser.add_argument("--save", help="a folder to keep each run's history.json in")
    args = parser.parse_args(argv)
    results = []
    for preset in args.only:
        result = run_notes(preset, short=args.short, seed=args.seed, threads=args.threads)
        print(report(result), flush=True)
        if args.save:
            result.history.save(Path(args.save) / f"{preset}_history.json")
        results.append(result)
    return results


if __name__ == "__main__":
    main()
