"""Who this browser is and what it reads in: the session's language, its runs identity (a secret kept in a cookie)
and the read-only share link. Every page's first lines use it (dashboard/main.py); pages read the runs folder here.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import i18n
from cnnviz.i18n import _

LANG_KEY = "cnnviz.lang"  # the session's language code, "ko" or "en"
LANG_SWITCH_KEY = "cnnviz.lang_switch"  # the sidebar's language widget


def _session_language() -> str | None:
    """The language of the Streamlit session this thread runs for (None outside a script run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    return st.session_state.get(LANG_KEY)


def use_language() -> str:
    """Decide this run's language (?lang= in the URL, else the session's choice, else the browser's) and use it.

    Keeps the choice in the URL, so a reload or a shared link keeps the language. Call first in every script run.
    """
    lang = i18n.normalize(st.query_params.get("lang"))
    if lang is None:
        lang = st.session_state.get(LANG_KEY) or i18n.normalize(st.context.locale) or i18n.DEFAULT_LANGUAGE
    st.session_state[LANG_KEY] = lang
    if st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    i18n.set_resolver(_session_language)  # fragments re-run without the app script: they ask the session
    i18n.set_language(lang)
    return lang


def _on_language_switch() -> None:
    choice = st.session_state.get(LANG_SWITCH_KEY)
    if choice in i18n.LANGUAGES:
        st.session_state[LANG_KEY] = choice
        st.query_params["lang"] = choice


def language_switch() -> None:
    """The sidebar's 한국어 / English switch (the label stays bilingual, so either reader finds it)."""
    st.session_state[LANG_SWITCH_KEY] = st.session_state.get(LANG_KEY, i18n.DEFAULT_LANGUAGE)
    st.segmented_control("언어 · Language", list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.get,
                         key=LANG_SWITCH_KEY, on_change=_on_language_switch)


# ---------------------------------------------------------------------------- the runs identity
TRAIN_SESSION_KEY = "cnnviz.training.session"  # this session's runs sub-folder id
TRAIN_TOKEN_KEY = "cnnviz.training.token"  # the secret that owns this session's runs (the browser keeps it in a cookie)
TRAIN_TOKEN_NEW_KEY = "cnnviz.training.token_new"  # True until the browser has been asked to keep the token
RUNS_COOKIE = "cnnviz_runs"
RUNS_COOKIE_DAYS = 180


def training_session_id() -> str:
    """This browser's runs id. It is derived from a secret the browser keeps in a cookie (sent with every new
    connection, so a reload finds the runs) and never from the URL: a link someone sees opens nothing of theirs.
    The read-only share link (``?share=``) is separate (``shared_runs_folder``)."""
    from cnnviz import runs

    if TRAIN_SESSION_KEY not in st.session_state:
        try:
            token = st.context.cookies.get(RUNS_COOKIE, "")
        except Exception:  # no browser behind this session (tests, scripts)
            token = ""
        st.session_state[TRAIN_TOKEN_NEW_KEY] = not runs.is_session_token(token)
        if st.session_state[TRAIN_TOKEN_NEW_KEY]:
            token = runs.new_session_token()
        st.session_state[TRAIN_TOKEN_KEY] = token
        st.session_state[TRAIN_SESSION_KEY] = runs.session_id_for(token)
        try:
            remember_session(st.sidebar)
        except st.errors.StreamlitAPIException:  # called inside a fragment: the next full rerun does it
            pass
    return st.session_state[TRAIN_SESSION_KEY]


def remember_session(where=None) -> None:
    """Ask the browser to keep a new session's runs token in a cookie (an invisible script; ``where`` defaults to
    the current container). Done on every rerun until the browser sends the cookie back on a new connection."""
    if not st.session_state.get(TRAIN_TOKEN_NEW_KEY):
        return
    set_browser_cookie(RUNS_COOKIE, st.session_state[TRAIN_TOKEN_KEY], max_age=RUNS_COOKIE_DAYS * 86_400, where=where)


def set_browser_cookie(name: str, value: str, *, max_age: int, where=None) -> None:
    """Ask this browser to keep a cookie for the whole server (an invisible script in ``where``, default the current
    container); ``max_age`` 0 deletes it. Same-site only, and https-only when the page came over https."""
    import json

    try:
        secure = str(st.context.url or "").startswith("https:")
    except Exception:  # no browser behind this session
        secure = False
    cookie = "{}={}; path=/; max-age={}; samesite=strict{}".format(name, value, int(max_age),
                                                                  "; secure" if secure else "")
    (where or st).html("<script>document.cookie = {};</script>".format(json.dumps(cookie)),
                       unsafe_allow_javascript=True)


def client_address() -> str:
    """The address this browser connects from, the training queue's second key after the session (a student who
    drops the cookie is still one computer). Streamlit's server already takes it from X-Forwarded-For when the
    connection comes from a proxy on this machine; behind a proxy elsewhere, the teacher sets
    CNNVIZ_TRUSTED_PROXY=1 and the address that proxy added last counts. "local" on the server's own machine."""
    import os

    from cnnviz import runs

    try:
        peer, forwarded = st.context.ip_address, st.context.headers.get("X-Forwarded-For")
    except Exception:  # no browser behind this session (tests, scripts)
        peer, forwarded = None, None
    return runs.client_address(peer, forwarded, trusted_proxy=os.environ.get(runs.TRUSTED_PROXY_ENV) == "1")


def session_tag() -> str:
    """This session's short tag, as the teacher's Class page shows it beside each of its runs."""
    from cnnviz import runs

    return runs.session_tag(training_session_id())


def training_runs_folder():
    """This session's runs folder: $CNNVIZ_RUNS (or ./runs) / sessions / <training_session_id()>."""
    from cnnviz import runs

    return runs.session_folder(training_session_id())


def shared_runs_folder():
    """The runs folder of a read-only share link (``?share=<id>``) when the URL has a valid one (else None)."""
    from cnnviz import runs

    share = st.query_params.get("share", "")
    folder = runs.shared_folder(share)
    return folder if folder is not None and folder != training_runs_folder() else None


def share_link(page_slug: str) -> str:
    """A read-only link to this session's runs on ``page_slug``: the server's address as this browser sees it."""
    try:
        url = st.context.url
        base = url.split("?")[0].rsplit("/", 1)[0] if isinstance(url, str) else ""
    except Exception:  # no browser behind this session
        base = ""
    return "{}/{}?share={}".format(base or ".", page_slug, training_session_id())


def share_box(page_slug: str) -> None:
    """An expander with this session's read-only link (what a student sends the teacher or a friend)."""
    with st.expander(_("Share these runs (read-only)"), icon=":material/share:"):
        st.caption(_("Whoever opens this link sees your runs and their curves but cannot start, resume or delete "
                     "anything. Your own access stays in this browser (a cookie), never in a link."))
        st.code(share_link(page_slug), language=None)
