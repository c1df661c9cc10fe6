"""A daemon thread with a stop flag and a lock: the shared base of TrainJob and ComparisonJob.

The thread never touches the UI; a dashboard page keeps the job in its session state and polls it.
"""

from __future__ import annotations

import threading
from typing import Any

from . import i18n

__all__ = ["BackgroundWork"]


class BackgroundWork:
    """Subclasses implement ``_run(*args)`` and call ``_launch(name, *args)`` to start it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.language = i18n.get_language()  # the starting session's: the worker's messages are written in it

    def _launch(self, name: str, *args: Any) -> None:
        self._thread = threading.Thread(target=self._in_language, args=args, name=name, daemon=True)
        self._thread.start()

    def _in_language(self, *args: Any) -> None:
        with i18n.language(self.language):
            self._run(*args)

    def _run(self, *args: Any) -> None:  # pragma: no cover - always overridden
        raise NotImplementedError

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
