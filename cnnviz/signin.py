"""The teacher's sign-in on a shared server: wrong passwords cost growing waits and then a lockout, for each client
and for the whole server, each one logged (never the password); a right one gives the browser a signed pass that
expires, so a reload, a new tab or presenter mode does not ask again in front of the class.

Plain Python (the dashboard's Class page draws it): ``Throttle`` counts failures with an injected clock (tests need
no real waits); ``issue_pass`` / ``pass_is_valid`` sign and check the pass with a key only the server knows, made
from the password and a random secret kept in the runs folder, so a new password ends every pass and a stolen pass
tells nothing about the password.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .i18n import ngettext

__all__ = ["PASS_COOKIE", "PASS_HOURS", "SignIn", "Throttle", "issue_pass", "pass_is_valid", "server_secret"]

LOG = logging.getLogger("cnnviz.signin")
PASS_COOKIE = "cnnviz_teacher"
PASS_HOURS = 12  # a school day: the pass ends by itself by the next morning
SECRET_FILE = ".teacher-secret"


@dataclass(frozen=True)
class SignIn:
    """What an attempt may do now: ``allowed``, else ``wait_s`` seconds to wait and the sentence to show."""

    allowed: bool
    wait_s: float = 0.0
    message: str = ""


class Throttle:
    """Failed sign-ins, per client and overall. After ``free`` failures a client waits ``2 ** (k - free)`` seconds
    after its k-th (1, 2, 4 … at most ``max_wait_s``); after ``lock_after`` failures it is locked out for
    ``lockout_s``; after ``server_lock_after`` failures from anyone within ``lockout_s`` every new sign-in is. A
    success clears the client's count. ``clock`` (seconds) is injected so tests need no real waits; waits are never
    slept on the server: an attempt before its time is refused, unchecked."""

    def __init__(self, *, free: int = 3, max_wait_s: float = 60.0, lock_after: int = 10, lockout_s: float = 900.0,
                 server_lock_after: int = 50, clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.max_wait_s, self.lock_after, self.lockout_s = free, max_wait_s, lock_after, lockout_s
        self.server_lock_after, self.clock = server_lock_after, clock
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[int, float]] = {}  # client -> (failures, when its next attempt may come)
        self._recent: list[float] = []  # when each failure happened, any client (within lockout_s)

    def check(self, client: str) -> SignIn:
        """Whether ``client`` may try a password now."""
        now = self.clock()
        with self._lock:
            self._recent = [t for t in self._recent if now - t < self.lockout_s]
            if len(self._recent) >= self.server_lock_after:
                wait = self._recent[0] + self.lockout_s - now
                return SignIn(False, wait, _locked(wait, everyone=True))
            failures, next_at = self._clients.get(client, (0, 0.0))
        if now >= next_at:
            return SignIn(True)
        wait = next_at - now
        return SignIn(False, wait, _locked(wait, everyone=False) if failures >= self.lock_after else _wait(wait))

    def failed(self, client: str, who: str = "") -> SignIn:
        """Record a wrong password from ``client`` (log line: ``who``, never the password); returns what follows."""
        now = self.clock()
        with self._lock:
            failures = self._clients.get(client, (0, 0.0))[0] + 1
            if failures >= self.lock_after:
                wait = self.lockout_s
            elif failures > self.free:
                wait = min(self.max_wait_s, 2.0 ** (failures - self.free - 1))
            else:
                wait = 0.0
            self._clients[client] = (failures, now + wait)
            self._recent.append(now)
            overall = len(self._recent)
            if len(self._clients) > 10_000:  # a flood of made-up clients: forget those that may try again
                self._clients = {c: v for c, v in self._clients.items() if v[1] > now}
        LOG.warning("wrong teacher password from %s (%s): %d failures from there, %d on the server in the last "
                    "%d minutes; next attempt allowed in %.0f s", client, who or "-", failures, overall,
                    self.lockout_s // 60, wait)
        return self.check(client)

    def succeeded(self, client: str, who: str = "") -> None:
        with self._lock:
            self._clients.pop(client, None)
        LOG.info("teacher signed in from %s (%s)", client, who or "-")


def _wait(seconds: float) -> str:
    n = max(1, int(seconds + 0.999))
    return ngettext("Too many wrong passwords: wait {n} second before trying again.",
                    "Too many wrong passwords: wait {n} seconds before trying again.", n).format(n=n)


def _locked(seconds: float, *, everyone: bool) -> str:
    n = max(1, int(seconds / 60 + 0.999))
    if everyone:
        return ngettext("Too many wrong passwords on this server: signing in is closed for everyone for {n} minute. "
                        "A teacher already signed in stays signed in.",
                        "Too many wrong passwords on this server: signing in is closed for everyone for {n} minutes. "
                        "A teacher already signed in stays signed in.", n).format(n=n)
    return ngettext("Too many wrong passwords from this computer: signing in is closed here for {n} minute.",
                    "Too many wrong passwords from this computer: signing in is closed here for {n} minutes.",
                    n).format(n=n)


# ---------------------------------------------------------------------------- the signed pass


def server_secret(folder: str | Path) -> bytes:
    """A random secret kept in ``folder`` (the runs folder) with owner-only permissions, made the first time: passes
    survive a restart of the server, and cannot be forged by anyone who cannot read the server's files."""
    path = Path(folder) / SECRET_FILE
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data[:64]
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f"{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # owner-only from the start
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(64))
    if not path.exists() or path.stat().st_size < 32:  # missing or damaged; if another thread won, keep theirs
        os.replace(temp, path)
    else:
        temp.unlink()
    return path.read_bytes()[:64]


def _key(password: str, secret: bytes) -> bytes:
    return hmac.new(secret, b"cnnviz-teacher-pass:" + password.encode("utf-8"), hashlib.sha256).digest()


def issue_pass(password: str, secret: bytes, *, now: float | None = None) -> str:
    """A pass for the browser: when it was issued, a random part, and their HMAC-SHA256 signature. It proves the
    password was given, without holding it."""
    stamp = int(time.time() if now is None else now)
    body = f"{stamp}.{secrets.token_urlsafe(9)}"
    mac = hmac.new(_key(password, secret), body.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def pass_is_valid(value: str | None, password: str, secret: bytes, *, hours: float = PASS_HOURS,
                  now: float | None = None) -> bool:
    """True for a pass ``issue_pass`` made with this password and secret less than ``hours`` ago."""
    if not isinstance(value, str) or len(value) > 200 or value.count(".") != 2:
        return False
    body, mac = value.rsplit(".", 1)
    expected = hmac.new(_key(password, secret), body.encode("ascii", "replace"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac.encode("ascii", "replace"), expected.encode("ascii")):
        return False
    try:
        age = (time.time() if now is None else now) - int(body.split(".", 1)[0])
    except ValueError:
        return False
    return 0 <= age < hours * 3600
