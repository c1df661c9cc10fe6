"""The teacher's view of a class on one server: every session's training runs, a leaderboard, the teacher's
password check. Plain Python over the runs folder (see ``cnnviz.runs``); the dashboard's Class page draws it."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .i18n import _
from .runs import RunInfo, list_runs, runs_root, session_tag

__all__ = ["ClassRun", "PASSWORD_ENV", "QueueEntry", "check_password", "class_runs", "leaderboard", "queue_entries",
           "teacher_password"]

PASSWORD_ENV = "CNNVIZ_TEACHER_PASSWORD"
SECRET_KEY = "teacher_password"  # in .streamlit/secrets.toml
MIN_PASSWORD = 6


@dataclass(frozen=True)
class ClassRun:
    """One run of one session, as the teacher's table shows it."""

    session: str  # the session's runs folder name (never shown: it is the read-only share link)
    info: RunInfo

    @property
    def student(self) -> str:
        """The session's short tag (``cnnviz.runs.session_tag``): stable, shown beside every run name, so two
        students who give their runs the same name are told apart and nobody passes for a classmate."""
        return session_tag(self.session)

    @property
    def key(self) -> str:
        """The run's identity in the whole class: session and folder (two students' runs never share it)."""
        return f"{self.session}/{self.info.name}"

    @property
    def problem(self) -> str:
        """Why the run's folder is damaged ("" when it is not)."""
        return self.info.problem

    @property
    def label(self) -> str:
        return (self.info.config.label if self.info.config else "") or ""

    @property
    def model(self) -> str:
        return self.info.config.model if self.info.config else "?"

    @property
    def settings(self) -> str:
        c = self.info.config
        if c is None:
            return ""
        return f"{c.optimizer} lr={c.lr:g} batch={c.batch_size} epochs={c.epochs}" + (" aug" if c.augment else "")

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def best_accuracy(self) -> float | None:
        return self.info.history.best_test_acc if self.info.history else None

    @property
    def epochs_done(self) -> int:
        return len(self.info.history.epochs) if self.info.history else 0

    @property
    def updated(self) -> float:
        try:
            return (self.info.path / "history.json").stat().st_mtime
        except OSError:  # no history yet (or the run was just deleted)
            return self.info.created


@dataclass(frozen=True)
class QueueEntry:
    """One job in the server's training queue: ``where`` is "running" or "waiting" (``place`` 1 = next)."""

    where: str
    place: int
    student: str
    title: str


def queue_entries(jobs) -> list[QueueEntry]:
    """``WorkQueue.jobs()`` as the teacher's table shows it (students by their session's tag)."""
    out, waiting = [], 0
    for job, owner, where in jobs:
        waiting += where == "waiting"
        folder = getattr(job, "options", {}).get("checkpoint_dir")
        config = getattr(job, "config", None)
        title = Path(folder).name if folder is not None else (getattr(config, "title", "") or type(job).__name__)
        out.append(QueueEntry(where, waiting if where == "waiting" else 0, session_tag(owner) if owner else "?",
                              str(title)))
    return out


def class_runs(root: str | Path | None = None) -> list[ClassRun]:
    """Every run of every session under ``root`` (default: the runs folder), newest first."""
    sessions = (Path(root) if root is not None else runs_root()) / "sessions"
    if not sessions.is_dir():
        return []
    try:
        folders = sorted(f for f in sessions.iterdir() if f.is_dir() and not f.is_symlink())
    except OSError:
        return []
    out = [ClassRun(folder.name, info) for folder in folders for info in list_runs(folder)]
    return sorted(out, key=lambda r: r.updated, reverse=True)


def leaderboard(runs: list[ClassRun], n: int = 10) -> list[ClassRun]:
    """The ``n`` runs with the best test accuracy (runs with no finished epoch are left out), best first."""
    scored = [r for r in runs if r.best_accuracy is not None]
    return sorted(scored, key=lambda r: (-(r.best_accuracy or 0.0), r.updated))[:n]


def teacher_password(secrets: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The teacher's password: ``$CNNVIZ_TEACHER_PASSWORD``, else ``teacher_password`` in Streamlit's secrets.

    None when neither is set (the Class page then stays closed). Raises ValueError for a password that is too short.
    """
    env = os.environ if environ is None else environ
    value = env.get(PASSWORD_ENV) or (str(secrets.get(SECRET_KEY) or "") if secrets else "")
    if not value:
        return None
    if len(value) < MIN_PASSWORD:
        raise ValueError(_("The teacher's password must have at least {n} characters; set a longer one in "
                           "{var}.").format(n=MIN_PASSWORD, var=PASSWORD_ENV))
    return value


def check_password(given: str, expected: str) -> bool:
    """True when ``given`` is the password (compared in constant time)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
