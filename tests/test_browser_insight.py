"""The training-insight pages in a real Chromium: Vanishing gradients shows a browser's own sigmoid/ReLU pair (its
runs found through the cookie), and a click on a dot of Feature space shows that test image and opens it on Feature
maps. (test_browser_export.py downloads a Weights and gradients chart; test_browser.py renders every page.)"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from cnnviz import runs

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def runs_cookie(dashboard_url):
    """A runs token whose session folder on the live server holds a tiny run and a tiny vanishing pair."""
    from conftest import RUNS_BY_URL
    from test_pages_insight import seed_runs

    token = runs.new_session_token()
    seed_runs(runs.session_folder(runs.session_id_for(token), root=RUNS_BY_URL[dashboard_url]))
    return {"name": "cnnviz_runs", "value": token, "domain": "127.0.0.1", "path": "/"}


def test_vanishing_gradients_shows_the_pair_in_korean(browser_page, runs_cookie):
    page = browser_page
    page.context.add_cookies([runs_cookie])
    page.goto_page("vanishing_gradients?lang=ko")
    page.get_by_text("ReLU ÷ 시그모이드").first.wait_for(timeout=60_000)
    ratio = page.locator("[data-testid=stMetric]").filter(has_text="ReLU ÷ 시그모이드")
    value = ratio.locator("[data-testid=stMetricValue]").inner_text()
    assert float(value.rstrip("×").replace(",", "")) >= 10  # the first layer's gradient: ReLU's ≫ sigmoid's
    chart = page.locator("[data-testid=stPlotlyChart] .js-plotly-plot").first
    chart.wait_for(timeout=30_000)
    layout = chart.evaluate("gd => ({title: gd._fullLayout.title.text, y: gd._fullLayout.yaxis.type, "
                            "panels: gd._fullLayout.annotations.map(a => a.text)})")
    assert "시그모이드" in layout["title"] and layout["y"] == "log"
    assert layout["panels"] == ["sigmoid", "ReLU"]
    assert chart.locator(".legendtext").first.text_content() == "1. Conv2d"  # first layer, shown
    assert page.locator("[data-testid=stException]").count() == 0
    assert not page.js_errors


def test_a_click_on_the_feature_space_opens_the_image_on_feature_maps(browser_page):
    page = browser_page
    page.goto_page("feature_space")  # no runs of its own: the shipped network, before and after training
    after = page.locator("[data-testid=stPlotlyChart] .js-plotly-plot").nth(1)
    after.wait_for(timeout=120_000)
    dot = after.locator(".scatterlayer .trace .points path").first
    dot.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    dot.click(force=True)
    page.settle()
    shown = page.locator("[data-testid=stMarkdownContainer] p").filter(has_text=re.compile(r"Test image #\d+")).first
    shown.wait_for(timeout=60_000)
    number = re.search(r"#(\d+)", shown.inner_text()).group(1)
    assert "the network after epoch" in shown.inner_text()
    link = page.get_by_role("link", name="Open it on Feature maps")
    query = parse_qs(urlparse(link.get_attribute("href")).query)
    assert query["test_image"] == [f"fashion_mnist:{number}"]
    link.click()
    page.wait_for_url(re.compile(r"/feature_maps\?"), timeout=30_000)
    page.settle()
    page.wait_for_timeout(500)
    page.settle()
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text(f"Test image #{number} of").count() >= 1  # Feature maps shows the linked image
    assert not page.js_errors
