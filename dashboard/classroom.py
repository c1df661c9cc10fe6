"""The teacher's side: the password, signing in, every session's runs, the server's queue, stopping and deleting any
run."""

from __future__ import annotations

import streamlit as st

from cnnviz.i18n import _
from dashboard.training import work_queue

TEACHER_KEY = "cnnviz.class.teacher"  # True once this session gave the teacher's password


def teacher_password() -> str | None:
    """The teacher's password from $CNNVIZ_TEACHER_PASSWORD or .streamlit/secrets.toml; None when unset."""
    from cnnviz import classroom

    try:
        secrets = dict(st.secrets) if st.secrets.load_if_toml_exists() else {}
    except Exception:  # no secrets file, or one that does not parse: no password from there
        secrets = {}
    return classroom.teacher_password(secrets)


def teacher_signed_in() -> bool:
    return bool(st.session_state.get(TEACHER_KEY))


def sign_in_teacher(given: str, password: str) -> bool:
    from cnnviz import classroom

    ok = classroom.check_password(given, password)
    st.session_state[TEACHER_KEY] = ok
    return ok


def class_runs():
    """Every session's runs (read from disk on each rerun: the list changes while students train)."""
    from cnnviz import classroom

    return classroom.class_runs()


def class_queue() -> list:
    """The server's training queue as the teacher sees it (classroom.QueueEntry: running first, then the line)."""
    from cnnviz import classroom

    return classroom.queue_entries(work_queue().jobs())


def _job_for(path) -> object | None:
    from pathlib import Path

    for job, _owner, _where in work_queue().jobs():
        folder = getattr(job, "options", {}).get("checkpoint_dir")
        if folder is not None and Path(folder).resolve() == Path(path).resolve():
            return job
    return None


def stop_class_run(run) -> bool:
    """Ask a running run (any session's, in this server) to stop; False when no job of this server runs it."""
    job = _job_for(run.info.path)
    if job is None or not getattr(job, "running", False):
        return False
    job.stop()
    return True


def delete_class_run(run) -> None:
    """Delete a run of any session (not while it runs); raises ValueError."""
    from cnnviz import runs

    job = _job_for(run.info.path)
    if job is not None and getattr(job, "running", False):
        raise ValueError(_("Stop the run before deleting it."))
    runs.delete_run(run.info.path, folder=run.info.path.parent)
