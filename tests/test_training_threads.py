"""The thread budget, sampled where it matters: inside the training threads themselves (issue 12)."""

from __future__ import annotations

import threading
import time

import pytest
import torch

import cnnviz
from cnnviz.training import History, fit
from cnnviz.training.cpu import THREADS
from test_training import tiny_net

CORES = torch.get_num_threads()


@pytest.fixture(scope="module")
def data():
    train = cnnviz.load_fashion_mnist(train=True).subset(64, seed=0)
    test = cnnviz.load_fashion_mnist(train=False).subset(16, seed=0)
    return train, test


class Worker:
    """A fit in its own thread that records torch.get_num_threads() in that thread after every step."""

    def __init__(self, data, seed: int, **options) -> None:
        self.samples: list[int] = []
        self.stop = threading.Event()
        self.result: History | None = None
        train, test = data

        def sample(h: History) -> None:
            self.samples.append(torch.get_num_threads())  # the callback runs in the training thread

        def run() -> None:
            self.result = fit(tiny_net(seed), train, test, epochs=1_000, batch_size=8, log_every=1, seed=seed,
                              callback=sample, stop=self.stop, **options)

        self.thread = threading.Thread(target=run, daemon=True)

    def start(self) -> Worker:
        self.thread.start()
        return self

    def wait_for(self, threads: int, timeout: float = 60.0) -> bool:
        """True once a sample taken after now shows ``threads``."""
        start = len(self.samples)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.thread.is_alive():
            if threads in self.samples[start + 1 :]:  # +1: a step that began before now may show the old share
                return True
            time.sleep(0.01)
        return False

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive() and self.result is not None and self.result.status == "stopped"


@pytest.mark.skipif(CORES < 2, reason="needs at least 2 PyTorch threads to share")
def test_two_fits_in_two_threads_share_the_cores_and_the_survivor_gets_them_back(data):
    main_before = torch.get_num_threads()
    a = Worker(data, 1).start()
    try:
        assert a.wait_for(CORES), a.samples[-5:]  # alone: every core
        b = Worker(data, 2).start()
        try:
            assert b.wait_for(CORES // 2), b.samples[-5:]  # both running: half each, in each worker's own thread
            assert a.wait_for(CORES // 2), a.samples[-5:]
            assert THREADS.running() == 2
        finally:
            b.finish()
        assert a.wait_for(CORES), a.samples[-5:]  # the survivor goes back up to all cores
        assert THREADS.running() == 1
    finally:
        a.finish()
    assert THREADS.running() == 0
    assert torch.get_num_threads() == main_before  # the test's own thread was never touched


@pytest.mark.skipif(CORES < 2, reason="needs at least 2 PyTorch threads to share")
def test_a_cap_holds_inside_the_worker_and_a_finished_fit_gives_its_thread_back(data):
    capped = Worker(data, 3, threads=1).start()
    try:
        assert capped.wait_for(1), capped.samples[-5:]
        assert set(capped.samples[1:]) == {1}
    finally:
        capped.finish()
    train, test = data
    torch.set_num_threads(CORES)
    fit(tiny_net(), train, test, epochs=1, batch_size=16, threads=1)  # in this thread: capped at 1, then restored
    assert torch.get_num_threads() == CORES and THREADS.running() == 0


@pytest.mark.skipif(CORES < 2, reason="needs at least 2 PyTorch threads to share")
def test_a_fit_in_a_new_thread_gets_every_core_whatever_another_thread_set_before(data):
    """torch.set_num_threads(1) in some other thread (a server's warm-up once did it) also sets the count that threads
    started later begin with: the budget must not read the machine's cores from the first fit's thread."""
    from cnnviz.training.cpu import MACHINE_THREADS

    assert MACHINE_THREADS == CORES
    other = threading.Thread(target=lambda: torch.set_num_threads(1))
    other.start()
    other.join()
    try:
        worker = Worker(data, 4).start()
        try:
            assert worker.wait_for(CORES), worker.samples[-5:]
        finally:
            worker.finish()
    finally:
        torch.set_num_threads(CORES)
