"""The teacher's side: the password, signing in (growing waits after wrong passwords, a signed pass kept by the
browser, signing out), every session's runs, the server's queue, stopping and deleting any run."""

from __future__ import annotations

import streamlit as st

from cnnviz.i18n import _
from dashboard.training import work_queue

TEACHER_KEY = "cnnviz.class.teacher"  # True once this session gave the teacher's password (or its browser a pass)
PASS_KEY = "cnnviz.class.pass"  # the signed pass this session holds
PASS_NEW_KEY = "cnnviz.class.pass_new"  # True while the browser has still to be given the pass (a cookie)
SIGNED_OUT_KEY = "cnnviz.class.signed_out"  # True after Sign out: the pass the browser sent is not taken again


def teacher_password() -> str | None:
    """The teacher's password from $CNNVIZ_TEACHER_PASSWORD or .streamlit/secrets.toml; None when unset."""
    from cnnviz import classroom

    try:
        secrets = dict(st.secrets) if st.secrets.load_if_toml_exists() else {}
    except Exception:  # no secrets file, or one that does not parse: no password from there
        secrets = {}
    return classroom.teacher_password(secrets)


@st.cache_resource
def sign_in_throttle():
    """The server's one count of wrong teacher passwords (per client address and overall)."""
    from cnnviz.signin import Throttle

    return Throttle()


@st.cache_resource
def _revoked_passes() -> set:
    return set()  # passes signed out of on this server (each also ends by itself after PASS_HOURS)


def _server_secret() -> bytes:
    from cnnviz import runs, signin

    return signin.server_secret(runs.runs_root())


def _browser_cookie(name: str) -> str | None:
    """A cookie the browser sent when this session connected (None without a browser: tests, scripts)."""
    try:
        return st.context.cookies.get(name)
    except Exception:  # no browser behind this session
        return None


def teacher_signed_in(password: str) -> bool:
    """True once this session gave the password, or its browser holds a valid pass (a reload, a new tab, presenter
    mode) that this session has not signed out of."""
    from cnnviz import signin

    if st.session_state.get(TEACHER_KEY):
        return True
    if st.session_state.get(SIGNED_OUT_KEY):
        return False  # the browser still sent the old pass with this connection
    given = _browser_cookie(signin.PASS_COOKIE)
    if given and given not in _revoked_passes() and signin.pass_is_valid(given, password, _server_secret()):
        st.session_state[TEACHER_KEY] = True
        st.session_state[PASS_KEY] = given
    return bool(st.session_state.get(TEACHER_KEY))


def sign_in_teacher(given: str, password: str) -> tuple[bool, str]:
    """Check a typed password (unless this client must wait first); (signed in, the sentence to show if not)."""
    from cnnviz import classroom, signin
    from dashboard.session import client_address, session_tag

    throttle, client = sign_in_throttle(), client_address()
    verdict = throttle.check(client)
    if not verdict.allowed:
        return False, verdict.message
    if not classroom.check_password(given, password):
        after = throttle.failed(client, session_tag())
        return False, " ".join(t for t in (_("That is not the password."), after.message) if t)
    throttle.succeeded(client, session_tag())
    st.session_state[TEACHER_KEY] = True
    st.session_state.pop(SIGNED_OUT_KEY, None)
    st.session_state[PASS_KEY] = signin.issue_pass(password, _server_secret())
    st.session_state[PASS_NEW_KEY] = True
    return True, ""


def keep_teacher_pass() -> None:
    """Give this browser its pass (a cookie) after the password was typed here, or take it back after Sign out: an
    invisible script, drawn on every rerun of the Class page until the page is left."""
    from cnnviz import signin
    from dashboard.session import set_browser_cookie

    if st.session_state.get(SIGNED_OUT_KEY):
        set_browser_cookie(signin.PASS_COOKIE, "", max_age=0, where=st.sidebar)
    elif st.session_state.get(PASS_NEW_KEY) and st.session_state.get(PASS_KEY):
        set_browser_cookie(signin.PASS_COOKIE, st.session_state[PASS_KEY], max_age=signin.PASS_HOURS * 3600,
                           where=st.sidebar)


def sign_out_teacher() -> None:
    """End the teacher's pass in this browser (and on this server: a copy of it no longer opens the page)."""
    if st.session_state.get(PASS_KEY):
        _revoked_passes().add(st.session_state[PASS_KEY])
    for key in (TEACHER_KEY, PASS_KEY, PASS_NEW_KEY):
        st.session_state.pop(key, None)
    st.session_state[SIGNED_OUT_KEY] = True


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
