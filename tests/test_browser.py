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
    assert not browser_page.outside_requests, f"requests left this machine: {browser_page.outside_requests[:5]}"


def test_home_renders_the_summary(browser_page):
    browser_page.goto_page("")
    assert browser_page.get_by_text("cnnviz: see how a CNN works").is_visible()
    browser_page.get_by_text("Total params").first.wait_for()
    assert browser_page.get_by_text("582,026").first.is_visible()


def test_language_switch_in_the_sidebar(browser_page):
    from cnnviz.i18n import has_hangul

    browser_page.goto_page("?lang=en")
    assert not has_hangul(browser_page.locator("h1").first.inner_text())
    browser_page.locator("[data-testid=stSidebar]").get_by_text("한국어", exact=True).click()
    browser_page.settle()
    browser_page.wait_for_function("() => /[\\uac00-\\ud7a3]/.test(document.querySelector('h1').innerText)")
    assert has_hangul(browser_page.locator("h1").first.inner_text())
    assert "lang=ko" in browser_page.url
    browser_page.reload()  # the choice is in the URL: a reload keeps it
    browser_page.settle()
    assert has_hangul(browser_page.locator("h1").first.inner_text())
    assert not browser_page.outside_requests
