"""``TrainJob``: ``fit`` in a background thread that a dashboard page keeps in its session state and draws."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from ..background import BackgroundWork
from ..data import ImageData
from .cpu import TRAIN_THREAD_NAME, name_os_thread
from .loop import fit
from .records import History
from .rundir import HISTORY_FILE, STATE_FILE, epoch_checkpoints
from ..i18n import _

try:  # a lock the kernel releases when the process dies: "running" on disk is then known to be interrupted
    import fcntl
except ImportError:  # pragma: no cover - not on this platform: only this process's runs are known to be live
    fcntl = None

__all__ = ["LiveLock", "TrainJob", "run_is_live"]

LIVE_LOCK = ".live.lock"  # held (flock) by the process training a run, while it waits or trains
_live_here: set[str] = set()  # run folders live in this process
_live_guard = threading.Lock()
DEFAULT_SPEED = 1_000.0  # images/s, for a waiting run's length before anything is known


def run_is_live(folder: str | Path) -> bool:
    """Whether some process (this one or another on this machine) is training or queueing the run in ``folder``.

    A run whose history says "running" but that nobody holds was interrupted (the server stopped or crashed).
    """
    folder = Path(folder)
    with _live_guard:
        if str(folder.resolve()) in _live_here:
            return True
    lock = folder / LIVE_LOCK
    if fcntl is None or not lock.exists():
        return False
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # someone holds it exclusively: the run is live
        return True
    finally:
        os.close(fd)
    return False


class LiveLock:
    """Marks a run folder live for as long as it is held (an exclusive flock plus this process's own set)."""

    def __init__(self, folder: Path) -> None:
        self.key = str(folder.resolve())
        self.fd: int | None = None
        with _live_guard:
            if self.key in _live_here:
                raise ValueError(_("this run is already training or waiting in this server"))
            _live_here.add(self.key)
        if fcntl is not None:
            try:
                fd = os.open(folder / LIVE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                self.release()
                raise ValueError(_("this run is already training in another process")) from None
            self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None
        with _live_guard:
            _live_here.discard(self.key)


class TrainJob(BackgroundWork):
    """``fit`` in a background thread, with a lock-protected latest ``History`` and a stop button.

    The thread never touches the UI: a page keeps the job (e.g. in ``st.session_state``) and reads
    ``job.history`` to draw it. ``stop()`` asks the run to end after the current step; ``resume()``
    starts a stopped run again from exactly that step (it needs ``checkpoint_dir``).
    """

    def __init__(self, model: nn.Module, train: ImageData, test: ImageData, **fit_options: Any) -> None:
        if "callback" in fit_options or "stop" in fit_options:
            raise TypeError(_("TrainJob sets callback and stop itself"))
        self.model = model
        self.train = train
        self.test = test
        self.options = dict(fit_options)
        super().__init__()
        self._history = History((), (), "running", "starting …", total_epochs=int(fit_options.get("epochs", 0)))
        self.error: BaseException | None = None
        self.expected_speed = DEFAULT_SPEED  # images/s, for estimating a waiting run's length
        self._live: LiveLock | None = None

    # ---- control
    def start(self, *, resume: bool = False) -> TrainJob:
        """Start (or with ``resume=True`` continue) training in a new daemon thread; returns self.

        With a queue (``enqueue``) the run first waits for its turn (status "queued"); QueueFull is raised at once
        when its owner already has a run waiting or training. Resuming a run that never trained starts it; one
        killed before it first saved the trainer's state restarts from its last epoch checkpoint.
        """
        if self.running:
            raise RuntimeError(_("this job is already running"))
        self._stop.clear()
        options = dict(self.options)
        folder = options.get("checkpoint_dir")
        if resume:
            if folder is None:
                raise ValueError(_("resuming needs a checkpoint_dir"))
            options.pop("start_epoch", None)
            if (Path(folder) / STATE_FILE).is_file():
                options["resume"] = True
            else:  # killed before its first save of the trainer's state: from its last epoch's weights, if any
                saved = epoch_checkpoints(folder)
                last = int(saved[-1].stem.split("_", 1)[1]) if saved else 0
                if last > 0:
                    options["start_epoch"] = min(last, int(options.get("epochs", last)))
        live = LiveLock(Path(folder)) if folder is not None else None
        before = self.history
        on_disk = Path(folder) / HISTORY_FILE if folder is not None else None
        was_on_disk = on_disk is not None and on_disk.is_file()
        with self._lock:
            self._history = replace(self._history, status="queued" if self.queue is not None else "running",
                                    message="starting …")
        if on_disk is not None and self.queue is not None:
            self.history.save(on_disk)  # the class's lists show it waiting
        self._live = live
        try:
            self._launch("cnnviz-train", options)
        except BaseException:  # e.g. QueueFull: the run stays as it was, on disk too
            self._ended()
            self._publish(before)
            if on_disk is not None and self.queue is not None:
                if was_on_disk:
                    before.save(on_disk)
                else:
                    on_disk.unlink(missing_ok=True)
            raise
        return self

    def resume(self) -> TrainJob:
        """Continue a stopped run from where it stopped (no step lost)."""
        return self.start(resume=True)

    def stop(self, *, wait: float | None = None) -> None:
        """Ask the run to stop after the current step (or leave the queue if it waits); wait up to ``wait`` s."""
        self._stop.set()
        self._wake_queue()
        if wait is not None:
            self.join(wait)

    # ---- state
    @property
    def history(self) -> History:
        with self._lock:
            return self._history

    @property
    def status(self) -> str:
        return self.history.status

    def estimate_s(self) -> float | None:
        """Seconds until this run ends: its time left while it trains, its whole length while it waits.

        The images left divided by a speed, plus a test pass per epoch (~5 %): the run's own pace once it has
        trained a whole epoch or enough steps of this one, before that ``expected_speed`` (measured on this
        computer by the page that started it): the first steps' pace, slowed by warming up and the first test
        pass, would promise far too long."""
        h = self.history
        epochs = max(h.total_epochs or int(self.options.get("epochs", 1)), 1)
        batch = h.batch_size or int(self.options.get("batch_size", 1))
        size = len(self.train) * epochs
        if self.options.get("max_steps"):  # a run that ends at a step count
            size = min(size, int(self.options["max_steps"]) * batch)
        left = max(size - h.step * batch, 0) if not h.total_steps else max(h.total_steps - h.step, 0) * batch
        in_epoch = h.step - len(h.epochs) * h.steps_per_epoch
        settled = bool(h.epochs) or in_epoch >= min(20, max(1, h.steps_per_epoch // 3))
        speed = h.images_per_s if settled and not self.queued and h.images_per_s else self.expected_speed
        return left / max(speed or 0.0, 1.0) * 1.05

    def _cancelled(self) -> None:
        h = replace(self.history, status="stopped", message=_("cancelled while waiting; nothing was trained"))
        self._publish(h)
        folder = self.options.get("checkpoint_dir")
        if folder is not None and not (Path(folder) / HISTORY_FILE).is_file():
            h.save(Path(folder) / HISTORY_FILE)  # so the folder reads "stopped" (Resume starts it), not "interrupted"

    def _ended(self) -> None:
        if self._live is not None:
            self._live.release()
            self._live = None

    def _publish(self, history: History) -> None:
        with self._lock:
            self._history = history

    def _run(self, options: dict[str, Any]) -> None:
        name_os_thread(TRAIN_THREAD_NAME)  # before its first parallel op: PyTorch's OpenMP threads take the name too
        self._publish(replace(self.history, status="running"))
        folder = options.get("checkpoint_dir")
        if folder is not None and self.queue is not None:
            try:  # its turn came: the class's lists stop saying "waiting"
                self.history.save(Path(folder) / HISTORY_FILE)
            except OSError:
                pass
        try:
            final = fit(self.model, self.train, self.test, callback=self._publish, stop=self._stop, **options)
        except Exception as err:  # shown on the page, never lost in a thread
            self.error = err
            final = replace(self.history, status="failed", message=f"{type(err).__name__}: {err}")
        folder = options.get("checkpoint_dir")
        if folder is not None and final.status == "finished":
            try:  # e.g. a resumed run that had nothing left to train: the disk must not keep saying "running"
                final.save(Path(folder) / HISTORY_FILE)
            except OSError:
                pass
        self._publish(final)
