"""``TrainJob``: ``fit`` in a background thread that a dashboard page keeps in its session state and draws."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import nn

from ..background import BackgroundWork
from ..data import ImageData
from .loop import fit
from .records import History
from ..i18n import _

__all__ = ["TrainJob"]


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

    # ---- control
    def start(self, *, resume: bool = False) -> TrainJob:
        """Start (or with ``resume=True`` continue) training in a new daemon thread; returns self."""
        if self.running:
            raise RuntimeError(_("this job is already running"))
        self._stop.clear()
        options = dict(self.options)
        if resume:
            if options.get("checkpoint_dir") is None:
                raise ValueError(_("resuming needs a checkpoint_dir"))
            options["resume"] = True
            options.pop("start_epoch", None)
        with self._lock:
            self._history = replace(self._history, status="running", message="starting …")
        self._launch("cnnviz-train", options)
        return self

    def resume(self) -> TrainJob:
        """Continue a stopped run from where it stopped (no step lost)."""
        return self.start(resume=True)

    def stop(self, *, wait: float | None = None) -> None:
        """Ask the run to stop after the current step; wait up to ``wait`` seconds for it."""
        self._stop.set()
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

    def _publish(self, history: History) -> None:
        with self._lock:
            self._history = history

    def _run(self, options: dict[str, Any]) -> None:
        try:
            final = fit(self.model, self.train, self.test, callback=self._publish, stop=self._stop, **options)
        except Exception as err:  # shown on the page, never lost in a thread
            self.error = err
            final = replace(self.history, status="failed", message=f"{type(err).__name__}: {err}")
        self._publish(final)
