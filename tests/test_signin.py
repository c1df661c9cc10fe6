"""The teacher's sign-in: 34 wrong passwords in 20 s from one tab once met no delay, no lockout and no log line, and
every reload asked for the password again in front of the class. Waits are tested with an injected clock."""

from __future__ import annotations

import logging

import pytest

from cnnviz import signin


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_passwords_cost_growing_waits_then_a_lockout_per_client():
    clock = Clock()
    throttle = signin.Throttle(clock=clock)
    waits = []
    for _ in range(9):
        assert throttle.check("10.0.0.7").allowed
        after = throttle.failed("10.0.0.7")
        waits.append(after.wait_s)
        clock.now += after.wait_s  # wait exactly as long as told
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32]
    refused = throttle.check("10.0.0.7")
    assert refused.allowed  # the 32 s are over
    after = throttle.failed("10.0.0.7")  # the 10th: locked out for 15 minutes
    assert not after.allowed and after.wait_s == 900 and "closed here for 15 minutes" in after.message
    clock.now += 899
    assert not throttle.check("10.0.0.7").allowed
    assert throttle.check("10.0.0.8").allowed  # a classmate's computer is not locked out
    clock.now += 1
    assert throttle.check("10.0.0.7").allowed


def test_an_attempt_before_its_time_is_refused_unchecked_and_says_how_long():
    clock = Clock()
    throttle = signin.Throttle(clock=clock)
    for _ in range(5):
        clock.now += 100
        throttle.failed("x")
    verdict = throttle.check("x")  # after the 5th failure: 2 s
    assert not verdict.allowed and verdict.message == "Too many wrong passwords: wait 2 seconds before trying again."
    clock.now += 1.5
    assert throttle.check("x").message == "Too many wrong passwords: wait 1 second before trying again."
    throttle.succeeded("x")
    assert throttle.check("x").allowed


def test_many_clients_together_close_signing_in_for_everyone():
    """Cookie-less tabs from many addresses: after 50 failures in 15 minutes the whole server stops checking."""
    clock = Clock()
    throttle = signin.Throttle(clock=clock)
    for i in range(50):
        throttle.failed(f"10.0.{i}.1")
        clock.now += 1
    verdict = throttle.check("10.9.9.9")
    assert not verdict.allowed and "closed for everyone" in verdict.message
    clock.now += 900
    assert throttle.check("10.9.9.9").allowed


def test_every_failure_is_logged_without_the_password(caplog):
    throttle = signin.Throttle(clock=Clock())
    with caplog.at_level(logging.INFO, logger="cnnviz.signin"):
        throttle.failed("10.0.0.7", "K7QF")
        throttle.succeeded("10.0.0.7", "K7QF")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("wrong teacher password from 10.0.0.7 (K7QF): 1 failures from there")
    assert lines[1] == "teacher signed in from 10.0.0.7 (K7QF)"
    assert caplog.records[0].levelno == logging.WARNING


def test_the_pass_is_signed_expires_and_ends_with_a_new_password(tmp_path):
    secret = signin.server_secret(tmp_path)
    assert signin.server_secret(tmp_path) == secret and (tmp_path / ".teacher-secret").stat().st_mode & 0o077 == 0
    token = signin.issue_pass("lesson-42", secret, now=1_000_000)
    assert "lesson-42" not in token and len(token) < 120
    assert signin.pass_is_valid(token, "lesson-42", secret, now=1_000_000 + 11 * 3600)
    assert not signin.pass_is_valid(token, "lesson-42", secret, now=1_000_000 + 12 * 3600)  # a school day, then ends
    assert not signin.pass_is_valid(token, "lesson-43", secret, now=1_000_001)  # a new password ends every pass
    assert not signin.pass_is_valid(token, "lesson-42", b"x" * 64, now=1_000_001)  # another server's secret
    stamp, rand, mac = token.split(".")
    forged = f"{int(stamp) + 86_400}.{rand}.{mac}"  # a later time with the old signature
    assert not signin.pass_is_valid(forged, "lesson-42", secret, now=1_000_000 + 20 * 3600)
    for junk in (None, "", "a.b", "1.2.3.4", "x" * 500, "é.é.é"):
        assert not signin.pass_is_valid(junk, "lesson-42", secret)


# ---------------------------------------------------------------------------- the Class page


@pytest.fixture
def class_page(tmp_path, monkeypatch):
    """Opens the Class page with a password set and an empty class; the server-wide throttle starts afresh."""
    from dashboard import classroom as teacher

    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path))
    monkeypatch.setenv("CNNVIZ_TEACHER_PASSWORD", "lesson-42")
    clear = teacher.sign_in_throttle.clear
    clear()
    teacher._revoked_passes.clear()
    cookies: dict[str, str] = {}
    monkeypatch.setattr(teacher, "_browser_cookie", lambda name: cookies.get(name))

    def open_page():
        from streamlit.testing.v1 import AppTest

        from conftest import APP

        at = AppTest.from_file(str(APP), default_timeout=60)
        at.query_params["lang"] = "en"
        at.run()
        at.switch_page("../pages/50_class.py")
        return at.run()

    open_page.cookies = cookies
    yield open_page
    clear()  # no failures left over for the next test's page


def test_wrong_passwords_on_the_page_meet_a_wait(class_page, monkeypatch):
    from dashboard import classroom as teacher

    clock = Clock()
    throttle = signin.Throttle(clock=clock)
    monkeypatch.setattr(teacher, "sign_in_throttle", lambda: throttle)  # the server's one throttle, on this clock
    at = class_page()
    for i in range(4):
        at.text_input[0].set_value(f"guess-{i}")
        at.button[0].click().run()
        assert not at.exception
    assert at.error[0].value == ("That is not the password. Too many wrong passwords: wait 1 second before trying "
                                 "again.")
    at.text_input[0].set_value("lesson-42")  # even the right password waits its turn: it is not checked
    at.button[0].click().run()
    assert "wait 1 second" in at.error[0].value and not at.metric
    clock.now += 1
    at.button[0].click().run()
    assert not at.error and at.metric


def test_the_browser_keeps_a_pass_a_new_tab_opens_the_page_and_sign_out_ends_it(class_page):
    at = class_page()
    at.text_input[0].set_value("lesson-42")
    at.button[0].click().run()
    assert at.metric and not at.exception
    scripts = [h.proto.body for h in at.get("html")]
    given = next(s for s in scripts if "cnnviz_teacher=" in s)
    assert "max-age=43200" in given and "samesite=strict" in given
    value = given.split("cnnviz_teacher=", 1)[1].split(";", 1)[0]
    class_page.cookies["cnnviz_teacher"] = value  # the browser sends it with its next connection

    tab = class_page()  # a reload, a new tab, presenter mode: no password asked
    assert tab.metric and not tab.text_input
    next(b for b in tab.button if b.label == "Sign out").click().run()
    assert tab.text_input and not tab.metric  # the old pass the connection carries is not taken again
    assert any("cnnviz_teacher=; path=/; max-age=0" in h.proto.body for h in tab.get("html"))
    copy = class_page()  # a copy of the pass, kept elsewhere, opens nothing on this server
    assert copy.text_input and not copy.metric


def test_a_forged_or_expired_pass_opens_nothing(class_page):
    class_page.cookies["cnnviz_teacher"] = "9999999999.abc.0123"
    at = class_page()
    assert at.text_input and not at.metric
