"""Every page loads in a real headless Chromium against `streamlit run dashboard/app.py`."""

from __future__ import annotations

import pytest
from conftest import PAGES, page_slug

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("slug", [page_slug(p) for p in PAGES])
def test_page_renders_in_chromium(browser_page, slug):
    browser_page.goto_page(slug)
    assert browser_page.locator("[data-testid=stException]").count() == 0
    assert browser_page.locator("h1").count() >= 1
    assert not browser_page.js_errors


def test_home_renders_the_summary(browser_page):
    browser_page.goto_page("")
    assert browser_page.get_by_text("cnnviz: see how a CNN works").is_visible()
    browser_page.get_by_text("Total params").first.wait_for()
    assert browser_page.get_by_text("582,026").first.is_visible()
