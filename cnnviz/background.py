"""Work in a daemon thread (the shared base of TrainJob and ComparisonJob) and the bounded queue a class shares.

The thread never touches the UI; a dashboard page keeps the job in its session state and polls it.

On a shared server the jobs go through one ``WorkQueue``: at most ``max_jobs`` run at once (default: the number of
cores, ``$CNNVIZ_MAX_JOBS``), the others wait in the order they came, each owner (a student's session) may have at
most ``per_owner`` jobs waiting or running (``$CNNVIZ_JOBS_PER_STUDENT``, default 1), each client address at most
``per_address`` (``$CNNVIZ_JOBS_PER_ADDRESS``, default 2: a student who drops the cookie is still one computer), at
most ``max_waiting`` jobs wait in all (``$CNNVIZ_MAX_QUEUE``, default 30), and a waiting job can be cancelled. A job
that waits knows its place and an estimate of the wait.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import i18n
from .i18n import ngettext

__all__ = ["BackgroundWork", "QueuePlace", "QueueFull", "WorkQueue", "default_max_jobs"]

MAX_JOBS_ENV = "CNNVIZ_MAX_JOBS"
PER_OWNER_ENV = "CNNVIZ_JOBS_PER_STUDENT"
PER_ADDRESS_ENV = "CNNVIZ_JOBS_PER_ADDRESS"
MAX_WAITING_ENV = "CNNVIZ_MAX_QUEUE"
DEFAULT_PER_ADDRESS = 2
DEFAULT_MAX_WAITING = 30  # a class of 30, each with a run waiting: nobody is ever turned away by the bound itself


class QueueFull(ValueError):
    """The owner, its address or the whole server already has as many jobs as the queue allows (the message says
    which)."""


def _env_int(name: str, default: int, environ=None) -> int:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        return default


def default_max_jobs(environ=None) -> int:
    """``$CNNVIZ_MAX_JOBS``, else the number of cores (at least 1)."""
    return _env_int(MAX_JOBS_ENV, max(1, os.cpu_count() or 1), environ)


@dataclass(frozen=True)
class QueuePlace:
    """Where a waiting job stands: ``position`` (1 = next) of ``waiting``, and the estimated wait in seconds
    (None when no running job can estimate its end)."""

    position: int
    waiting: int
    wait_s: float | None


class WorkQueue:
    """At most ``max_jobs`` jobs run at once; the rest wait first come, first served.

    A job is any object; ``estimate`` (job → seconds left, or None) lets the queue estimate waits: a running job's
    time left, a waiting job's whole length.
    """

    def __init__(self, max_jobs: int | None = None, *, per_owner: int | None = None,
                 per_address: int | None = None, max_waiting: int | None = None,
                 estimate: Callable[[Any], float | None] | None = None) -> None:
        self.max_jobs = max(1, int(max_jobs)) if max_jobs is not None else default_max_jobs()
        self.per_owner = max(1, int(per_owner)) if per_owner is not None else _env_int(PER_OWNER_ENV, 1)
        self.per_address = (max(1, int(per_address)) if per_address is not None
                            else _env_int(PER_ADDRESS_ENV, DEFAULT_PER_ADDRESS))
        self.max_waiting = (max(1, int(max_waiting)) if max_waiting is not None
                            else _env_int(MAX_WAITING_ENV, DEFAULT_MAX_WAITING))
        self._estimate = estimate or (lambda job: getattr(job, "estimate_s", lambda: None)())
        self._cond = threading.Condition()
        self._waiting: list[Any] = []
        self._running: list[Any] = []
        self._owners: dict[int, str | None] = {}
        self._addresses: dict[int, str | None] = {}

    # ---- a job's life: submit → wait_turn → done
    def submit(self, job: Any, owner: str | None = None, address: str | None = None) -> None:
        """Put ``job`` at the end of the line. Raises QueueFull when ``owner`` already has ``per_owner`` jobs, its
        client ``address`` ``per_address`` jobs, or ``max_waiting`` jobs already wait (a free slot is never
        refused)."""
        with self._cond:
            jobs = (*self._waiting, *self._running)
            if owner is not None and sum(self._owners.get(id(j)) == owner for j in jobs) >= self.per_owner:
                raise QueueFull(ngettext(
                    "You already have a run waiting or training; stop it or wait for it to end before starting "
                    "another (at most {n} per student).",
                    "You already have {n} runs waiting or training; stop one or wait for it to end before starting "
                    "another (at most {n} per student).", self.per_owner).format(n=self.per_owner))
            if address is not None and sum(self._addresses.get(id(j)) == address for j in jobs) >= self.per_address:
                raise QueueFull(ngettext(
                    "This computer already has a run waiting or training on the server (at most {n} per computer); "
                    "wait for it to end before starting another.",
                    "This computer already has {n} runs waiting or training on the server (at most {n} per "
                    "computer); wait for one to end before starting another.", self.per_address).format(
                    n=self.per_address))
            if len(self._waiting) >= self.max_waiting and len(self._running) >= self.max_jobs:
                raise QueueFull(ngettext(
                    "The server's training queue is full: {n} run is already waiting. Try again when a run has ended.",
                    "The server's training queue is full: {n} runs are already waiting. Try again when a run has "
                    "ended.", len(self._waiting)).format(n=len(self._waiting)))
            self._owners[id(job)] = owner
            self._addresses[id(job)] = address
            self._waiting.append(job)
            self._cond.notify_all()

    def wait_turn(self, job: Any, cancel: threading.Event | None = None) -> bool:
        """Block until ``job`` may run (True), or until ``cancel`` is set while it waits (False: it leaves the line)."""
        with self._cond:
            while True:
                if cancel is not None and cancel.is_set():
                    self._forget(job)
                    return False
                if len(self._running) < self.max_jobs and self._waiting and self._waiting[0] is job:
                    self._waiting.pop(0)
                    self._running.append(job)
                    self._cond.notify_all()
                    return True
                self._cond.wait(0.2)

    def done(self, job: Any) -> None:
        """``job`` ended (or never started): its slot goes to the next in line."""
        with self._cond:
            self._forget(job)

    def wake(self) -> None:
        """Let waiting jobs look at their cancel flags now (``stop()`` of a waiting job calls this)."""
        with self._cond:
            self._cond.notify_all()

    def _forget(self, job: Any) -> None:
        for line in (self._waiting, self._running):
            if any(j is job for j in line):
                line[:] = [j for j in line if j is not job]
        self._owners.pop(id(job), None)
        self._addresses.pop(id(job), None)
        self._cond.notify_all()

    # ---- what the pages show
    def place(self, job: Any) -> QueuePlace | None:
        """Where ``job`` waits, or None when it is not waiting."""
        with self._cond:
            waiting, running = list(self._waiting), list(self._running)
        ahead = next((i for i, j in enumerate(waiting) if j is job), None)
        if ahead is None:
            return None
        return QueuePlace(ahead + 1, len(waiting), self._wait_estimate(running, waiting[:ahead]))

    def _wait_estimate(self, running: list[Any], ahead: list[Any]) -> float | None:
        """When the slot for the job after ``ahead`` frees up: each job ahead takes the earliest free slot."""
        slots = [self._estimate(j) for j in running]
        if any(s is None for s in slots):
            return None
        slots = sorted(float(s) for s in slots) + [0.0] * (self.max_jobs - len(slots))
        for job in ahead:
            length = self._estimate(job)
            if length is None:
                return None
            slots.sort()
            slots[0] += float(length)
        return min(slots) if slots else 0.0

    def counts(self) -> tuple[int, int]:
        """(running, waiting)."""
        with self._cond:
            return len(self._running), len(self._waiting)

    def jobs(self) -> list[tuple[Any, str | None, str]]:
        """Every job in the queue as (job, owner, "running" | "waiting"), running first then the line in order."""
        with self._cond:
            return ([(j, self._owners.get(id(j)), "running") for j in self._running]
                    + [(j, self._owners.get(id(j)), "waiting") for j in self._waiting])


class BackgroundWork:
    """Subclasses implement ``_run(*args)`` and call ``_launch(name, *args)`` to start it.

    ``enqueue(queue, owner)`` before starting makes the job wait for its turn in a ``WorkQueue`` (``queued`` is
    True meanwhile; ``_cancelled()`` is called when it is stopped before its turn).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.language = i18n.get_language()  # the starting session's: the worker's messages are written in it
        self.queue: WorkQueue | None = None
        self.owner: str | None = None
        self.address: str | None = None
        self._queued = False
        self.submitted_at: float | None = None

    def enqueue(self, queue: WorkQueue | None, owner: str | None = None, address: str | None = None):
        """Run through ``queue`` (None: start at once) on behalf of ``owner`` at client ``address``; returns self."""
        self.queue, self.owner, self.address = queue, owner, address
        return self

    def _launch(self, name: str, *args: Any) -> None:
        if self.queue is not None:
            self.queue.submit(self, self.owner, self.address)  # raises QueueFull before any thread starts
            self._queued = True
        self.submitted_at = time.time()
        self._thread = threading.Thread(target=self._in_language, args=args, name=name, daemon=True)
        self._thread.start()

    def _in_language(self, *args: Any) -> None:
        queue = self.queue
        try:
            with i18n.language(self.language):
                if queue is not None and not queue.wait_turn(self, self._stop):
                    self._queued = False
                    self._cancelled()
                    return
                self._queued = False
                self._run(*args)
        finally:
            self._queued = False
            if queue is not None:
                queue.done(self)
            self._ended()

    def _run(self, *args: Any) -> None:  # pragma: no cover - always overridden
        raise NotImplementedError

    def _cancelled(self) -> None:
        """Called in the worker when the job was stopped while it waited (subclasses record it)."""

    def _ended(self) -> None:
        """Called last in the worker, however the job ended (subclasses release what they hold)."""

    def _wake_queue(self) -> None:
        if self.queue is not None:
            self.queue.wake()

    @property
    def queued(self) -> bool:
        """True while the job waits for its turn in the queue."""
        return self._queued and self.running

    def queue_place(self) -> QueuePlace | None:
        return self.queue.place(self) if self.queue is not None and self.queued else None

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
