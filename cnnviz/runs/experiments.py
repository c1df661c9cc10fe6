"""Ready-made experiments of several runs trained side by side as one job of the class's queue.

``VANISHING``: the vanishing-gradient experiment of the lecture notes, in a real training run. The same deep CNN
(zoo ``deep_sigmoid`` / ``deep_relu``: nine layers with weights, the same He-initialised weights), the same data and
settings, once with sigmoid and once with ReLU. Each run records every layer's gradient norm at every step
(``cnnviz.training.probes``): with sigmoid the first layers' gradients are thousands of times smaller than the last
layer's and the network hardly learns; with ReLU they stay within a factor of a few and it learns.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..background import BackgroundWork
from ..data import ImageData
from ..i18n import _
from ..training import HISTORY_FILE, History, TrainJob, load_train_test
from ..training.probes import Probes
from .store import RunConfig, RunInfo, new_run_job

__all__ = ["VANISHING", "PairJob", "first_layer_ratio", "latest_pair", "vanishing_job"]

_COMMON = dict(dataset="fashion_mnist", train_size=5_000, test_size=1_000, optimizer="sgd", lr=0.02, momentum=0.9,
               batch_size=64, epochs=3, seed=0)
VANISHING = (RunConfig(model="deep_sigmoid", label="sigmoid", **_COMMON),
             RunConfig(model="deep_relu", label="ReLU", **_COMMON))


class PairJob(BackgroundWork):
    """Runs (``TrainJob``s, not started) trained at the same time, waiting for one place in the queue together.

    ``stop()`` stops them all; ``histories`` are their latest snapshots, in order.
    """

    def __init__(self, jobs: list[TrainJob]) -> None:
        super().__init__()
        self.jobs = list(jobs)
        self.expected_speed = 1_000.0  # images/s of each run, for the queue's estimate before any is measured

    @property
    def histories(self) -> list[History]:
        return [job.history for job in self.jobs]

    @property
    def folders(self) -> list[Path]:
        return [Path(job.options["checkpoint_dir"]) for job in self.jobs]

    def start(self) -> PairJob:
        """Wait for a place in the queue (if any), then train every run at once. Raises QueueFull at once when the
        owner already has a run waiting or training."""
        if self.running:
            raise RuntimeError(_("this job is already running"))
        self._stop.clear()
        self._launch("cnnviz-pair")
        return self

    def stop(self, *, wait: float | None = None) -> None:
        self._stop.set()
        for job in self.jobs:
            if job.running:
                job.stop()
        self._wake_queue()
        if wait is not None:
            self.join(wait)

    def estimate_s(self) -> float | None:
        """Seconds until the last run ends (all of them while they wait)."""
        ends = [job.estimate_s() for job in self.jobs]
        if any(e is None for e in ends):
            return None
        return max(ends) if ends else 0.0

    def _run(self) -> None:
        for job in self.jobs:
            job.expected_speed = self.expected_speed
            job.start()
        while any(job.running for job in self.jobs):
            if self._stop.is_set():
                for job in self.jobs:
                    job.stop()
            time.sleep(0.2)

    def _cancelled(self) -> None:
        for job, folder in zip(self.jobs, self.folders):
            h = replace(job.history, status="stopped", message=_("cancelled while waiting; nothing was trained"))
            job._publish(h)
            try:
                h.save(folder / HISTORY_FILE)
            except OSError:
                pass


def vanishing_job(folder: str | Path, *, train: ImageData | None = None, test: ImageData | None = None,
                  configs: tuple[RunConfig, ...] = VANISHING) -> PairJob:
    """The vanishing-gradient pair as one job (not started): a run folder for each config in ``folder``.
    ``train``/``test`` default to the configs' data (the same for both). Raises ValueError for bad data."""
    if train is None or test is None:
        c = configs[0]
        train, test = load_train_test(c.dataset, input_shape=c.model_input_shape, train_size=c.train_size,
                                      test_size=c.test_size, seed=c.seed, download=False)
    return PairJob([new_run_job(folder, config, train=train, test=test) for config in configs])


def latest_pair(infos: list[RunInfo], models: tuple[str, str] = ("deep_sigmoid", "deep_relu")) -> list[RunInfo]:
    """The latest run of each of ``models`` among ``infos`` (oldest first, as ``list_runs`` gives them); [] unless
    both are there."""
    found = {}
    for info in infos:
        if info.config is not None and info.config.model in models:
            found[info.config.model] = info
    return [found[m] for m in models] if len(found) == len(models) else []


def first_layer_ratio(weak: Probes, strong: Probes) -> float | None:
    """How many times smaller the first layer's gradient norm is in ``weak`` than in ``strong``: the ratio of their
    medians over the steps both recorded (None without any)."""
    common = np.intersect1d(weak.norm_steps, strong.norm_steps)
    if not len(common) or not weak.layers or not strong.layers:
        return None
    a = np.median(weak.grad_norm[np.isin(weak.norm_steps, common), 0])
    b = np.median(strong.grad_norm[np.isin(strong.norm_steps, common), 0])
    return float(b / a) if a > 0 else float("inf")
