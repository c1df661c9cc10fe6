"""The training pages in a real browser: start a run, watch it update live, stop it; the other pages load."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser
STEPPING = re.compile(r"step [\d,]+ of [\d,]+")  # the live progress line (Playwright trims "step " to "step": the
# set-up's "471 steps; about 0:12" matched it before the run had begun)


def no_exception(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0
    assert not page.js_errors


def test_studio_runs_live_and_stops(browser_page):
    page = browser_page
    page.goto_page("training_studio")
    no_exception(page)
    page.get_by_role("button", name="Start training").click()
    # the live fragment keeps redrawing while the run trains: the step counter moves
    page.get_by_text(STEPPING).first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped at step", exact=False).first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Resume").wait_for(timeout=30_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)  # plotly draws after the script has finished
    assert page.locator(".js-plotly-plot").count() >= 1
    no_exception(page)


@pytest.mark.parametrize("slug", ["compare_runs", "errors"])
def test_other_training_pages_load(browser_page, slug):
    browser_page.goto_page(slug)
    no_exception(browser_page)
    assert browser_page.locator("h1").first.inner_text()


def test_runs_follow_the_browser_not_the_address(browser_page, chromium, dashboard_url):
    """The runs belong to this browser's cookie: a reload finds them; another browser opening the same address does
    not; the read-only link shows them to anyone, without delete."""
    page = browser_page
    page.goto_page("training_studio")
    cookie = []
    for _ in range(100):  # the page sets it from the browser, once its script's last message has been drawn
        if cookie := [c for c in page.context.cookies() if c["name"] == "cnnviz_runs"]:
            break
        page.wait_for_timeout(100)
    assert cookie and len(cookie[0]["value"]) >= 32 and cookie[0]["value"] not in page.url
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(STEPPING).first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped at step", exact=False).first.wait_for(timeout=60_000)
    page.goto_page("compare_runs")  # a new connection: the cookie brings the same runs back
    page.get_by_text("Share these runs (read-only)").first.click()
    link = page.locator("[data-testid=stCode] code").first.inner_text().strip()
    assert "share=" in link and "runs=" not in page.url

    other = chromium.new_context(viewport={"width": 1400, "height": 1000})  # another student's laptop
    try:
        them = other.new_page()
        them.goto(page.url)
        them.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=60_000)
        them.get_by_text("No runs yet", exact=False).first.wait_for(timeout=30_000)
        them.goto(f"{dashboard_url}/compare_runs?share=" + link.split("share=")[1])
        them.get_by_text("read-only", exact=False).first.wait_for(timeout=60_000)
        them.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        assert them.get_by_text("Delete runs").count() == 0
    finally:
        other.close()
