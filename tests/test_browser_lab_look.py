"""What the convolution lab looks like in Chromium, where AppTest cannot see it: the home summary table has no empty
row, activation curves are drawn through every point (no polylines), photos have no tick marks under them."""

from __future__ import annotations

import re

import pytest

import cnnviz

pytestmark = pytest.mark.browser


def test_home_summary_table_ends_with_its_last_row(browser_page):
    browser_page.goto_page("")
    rows = len(cnnviz.summarize("keras_cifar10").rows)  # the model Home opens with
    grid = browser_page.locator("[data-testid=stDataFrame]").first
    grid.wait_for(timeout=60_000)
    height = grid.bounding_box()["height"]
    assert height <= 35 * (rows + 1) + 8, (height, rows)  # the header and the rows (35 px each), no empty row


def test_activation_curves_are_smooth(browser_page):
    browser_page.goto_page("activations")
    lines = browser_page.locator("[data-testid=stPlotlyChart] g.trace.scatter path.js-line")
    lines.first.wait_for(timeout=60_000)  # plotly draws after the script has run
    for i in range(2):  # sigmoid and tanh, the curved ones
        points = len(re.findall(r"[ML]", lines.nth(i).get_attribute("d") or ""))
        assert points >= 300, points  # 401 points in; plotly's simplification kept ~20 of a wide line


def test_photos_have_no_tick_marks(browser_page):
    for slug in ("pooling", "classic_kernels"):
        browser_page.goto_page(slug)
        photos = browser_page.locator("[data-testid=stPlotlyChart]").filter(
            has=browser_page.locator("g.imagelayer image"))
        photos.first.wait_for(timeout=60_000)
        assert photos.count() >= 2
        for i in range(photos.count()):
            assert photos.nth(i).locator("path.ticks").count() == 0, slug
