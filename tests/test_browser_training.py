"""The training pages in a real browser: start a run, watch it update live, stop it; the other pages load."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def no_exception(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0
    assert not page.js_errors


def test_studio_runs_live_and_stops(browser_page):
    page = browser_page
    page.goto_page("training_studio")
    no_exception(page)
    page.get_by_role("button", name="Start training").click()
    # the live fragment keeps redrawing while the run trains: the step counter moves
    page.get_by_text("step ", exact=False).first.wait_for(timeout=60_000)
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
