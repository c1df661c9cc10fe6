"""Shared fixtures: the dashboard under AppTest, and a live server + headless Chromium for browser tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `pytest` as well as `python -m pytest` from the project's root
    sys.path.insert(0, str(ROOT))

from tools.live_server import CHROMIUM, CHROMIUM_ARGS, SETTLED, free_port, start_server  # noqa: E402

APP = ROOT / "dashboard" / "main.py"  # the dashboard script (AppTest runs it)
PAGES = sorted((ROOT / "pages").glob("[0-9]*.py"))
# The test process itself warms nothing up in the background (AppTest runs the script; a loader thread would outlive
# the tests); the live servers below do, as in a class.
WARM_ENV = "CNNVIZ_NO_WARM_UP"
os.environ.setdefault(WARM_ENV, "1")


@pytest.fixture(autouse=True)
def isolated_torch_hub(tmp_path_factory, monkeypatch):
    """Each test sees an empty torch hub cache of its own, never the machine's real one.

    Tests that call torch.hub.set_dir() are undone here too, so a later test's TORCH_HOME still counts.
    """
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


NO_NETWORK = "no network in the tests (the no_network fixture)"


@pytest.fixture
def no_network(monkeypatch):
    """No network, also on a machine that has one, by every route the code can take: urllib (torchvision's
    downloads go through urllib.request.urlopen), torch.hub's own copy of urlopen and its downloader, torchvision's
    download helpers, and a socket's connect for anything else. Each raises a URLError (an OSError) saying so."""
    import socket
    import urllib.error
    import urllib.request

    import torch.hub
    import torchvision.datasets.utils as tv_utils

    def refuse(*args, **kwargs):
        raise urllib.error.URLError(NO_NETWORK)

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(torch.hub, "urlopen", refuse, raising=False)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(tv_utils, "download_url", refuse)
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def one_torch_thread():
    """PyTorch on one thread for the test: for many tiny tensor ops, where a thread pool only adds overhead."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def page_slug(path: Path) -> str:
    """The URL path dashboard/main.py gives a page file: its name without the leading number ("" for the first)."""
    return "" if PAGES and path == PAGES[0] else path.stem.split("_", 1)[-1]


@pytest.fixture
def app_at():
    """Returns a function: page file name (e.g. "10_output_size.py") -> an AppTest already on that page, run once."""
    from streamlit.testing.v1 import AppTest

    def open_page(name: str | None = None, *, timeout: float = 60, query: dict[str, str] | None = None):
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        at.run()
        if name is not None:
            at.switch_page(f"../pages/{name}")
            at.query_params.update(query or {})
            at.run()
        return at

    return open_page


RUNS_BY_URL: dict[str, Path] = {}  # the runs folder of each live test server, by its base URL


@pytest.fixture(scope="session")
def dashboard_url(tmp_path_factory):
    """A running `streamlit run dashboard/app.py` on a free loopback port; yields its base URL.

    Its runs folder is a temporary one (removed by pytest), never a folder in the repository."""
    port = free_port()
    runs = tmp_path_factory.mktemp(f"browser-runs-{port}")
    try:
        proc, _seconds = start_server(port, runs)
    except RuntimeError as err:
        pytest.fail(str(err))
    url = f"http://127.0.0.1:{port}"
    RUNS_BY_URL[url] = runs
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _leaves_machine(url: str) -> bool:
    from urllib.parse import urlparse

    parts = urlparse(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension"):
        return False
    return parts.hostname not in ("127.0.0.1", "localhost", "::1")


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium, dashboard_url):
    """A fresh Chromium tab; ``goto(slug)`` opens a dashboard page and waits until it has finished running."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []  # requests to anywhere but this machine: there must be none (no network in class)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: outside.append(r.url) if _leaves_machine(r.url) else None)

    def settle(timeout_ms: int = 60_000) -> None:
        page.wait_for_timeout(300)  # let a rerun triggered by the last action begin
        page.wait_for_selector(SETTLED, timeout=timeout_ms)

    def goto(slug: str = "") -> None:
        page.goto(f"{dashboard_url}/{slug}")
        settle()

    page.goto_page = goto  # type: ignore[attr-defined]
    page.settle = settle  # type: ignore[attr-defined]
    page.js_errors = errors  # type: ignore[attr-defined]
    page.outside_requests = outside  # type: ignore[attr-defined]
    yield page
    context.close()
