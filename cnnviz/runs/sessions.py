"""Whose runs these are: the runs folder, a session's secret token, its folder, and read-only share links."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import secrets
from pathlib import Path

from ..i18n import _

__all__ = ["LOCAL", "TRUSTED_PROXY_ENV", "SHARE_ID", "client_address", "is_session_token", "new_session_token", "runs_root", "session_folder", "session_id_for",
           "session_tag", "shared_folder"]

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def runs_root() -> Path:
    """The runs folder: ``$CNNVIZ_RUNS`` or ``./runs``."""
    return Path(os.environ.get("CNNVIZ_RUNS") or "runs")


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
SHARE_ID = re.compile(r"^[0-9a-f]{12,64}$")


def new_session_token() -> str:
    """A new secret that owns a session's runs (kept in the browser's cookie, never in a URL)."""
    return secrets.token_urlsafe(32)


def is_session_token(token: str) -> bool:
    return isinstance(token, str) and bool(_TOKEN.match(token))


def session_id_for(token: str) -> str:
    """The runs folder name of the session that holds ``token``: a one-way digest, so the folder's name (which the
    read-only share link carries) never gives the token, the right to resume or delete, away. Raises ValueError."""
    if not is_session_token(token):
        raise ValueError(_("that is not a session token"))
    return hashlib.sha256(("cnnviz-runs:" + token).encode("ascii")).hexdigest()[:24]


_TAG_LETTERS = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, no 1/I: read aloud in class without a doubt


def session_tag(session_id: str) -> str:
    """A short tag of a session (e.g. "K7QF"), shown beside every name of its runs so that nobody can pass a run off
    as a classmate's: stable for the session, derived one way from its id, so it gives away neither the id (the
    read-only share link) nor the token (the cookie). Four letters: one in a million, a class rarely sees two alike."""
    digest = hashlib.sha256(("cnnviz-tag:" + str(session_id)).encode("utf-8")).digest()
    return "".join(_TAG_LETTERS[b % 32] for b in digest[:4])


TRUSTED_PROXY_ENV = "CNNVIZ_TRUSTED_PROXY"  # "1": the server sits behind a proxy the teacher trusts
LOCAL = "local"  # the key of a client on the server's own machine (or behind a proxy on it)


def client_address(peer: str | None, forwarded_for: str | None = None, *, trusted_proxy: bool = False) -> str:
    """The address the training queue counts a client's runs by (its second key after the session).

    ``peer`` is the connection's address as the web server reports it (None on the server's own machine: LOCAL).
    Only when the teacher says the proxy in front is trusted (``trusted_proxy``) is ``forwarded_for`` (the
    X-Forwarded-For header) read, and then only its last entry, the one that proxy added: a client can write any
    address into the header, but not into the last place.
    """
    if trusted_proxy and forwarded_for:
        last = forwarded_for.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass  # not an address: the connection's own then
    if not peer:
        return LOCAL
    try:
        return str(ipaddress.ip_address(peer))
    except ValueError:
        return LOCAL


def shared_folder(share_id: str, *, root: str | Path | None = None) -> Path | None:
    """The runs folder a read-only share link (``?share=<folder name>``) points to, or None when there is none."""
    if not isinstance(share_id, str) or not SHARE_ID.match(share_id):
        return None
    folder = session_folder(share_id, root=root)
    return folder if folder.is_dir() else None


def session_folder(session_id: str, *, root: str | Path | None = None) -> Path:
    """The runs folder of one dashboard session. Raises ValueError for an id that is not a plain name."""
    if not _SESSION_ID.match(session_id):
        raise ValueError(_("session id {session_id!r} must be 1-64 letters, digits, '-' or '_'").format(session_id=session_id))
    return (Path(root) if root is not None else runs_root()) / "sessions" / session_id
