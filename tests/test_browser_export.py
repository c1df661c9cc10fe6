"""Figures for slides in a real browser: a chart's toolbar downloads it as a PNG twice its size on screen and as an SVG
whose title is in the page's language. (tests/test_browser.py renders every page, the new ones too.)"""

from __future__ import annotations

import re
import struct

import pytest

pytestmark = pytest.mark.browser


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def download(page, chart, button_title: str) -> bytes:
    chart.hover()
    button = chart.locator(f".modebar-btn[data-title='{button_title}']")
    button.wait_for(timeout=10_000)
    with page.expect_download(timeout=30_000) as info:
        button.click()
    path = info.value.path()
    with open(path, "rb") as f:
        return f.read()


def test_a_chart_downloads_as_png_at_twice_its_size_and_as_svg_in_korean(browser_page, dashboard_url):
    page = browser_page
    page.goto(f"{dashboard_url}/weights_gradients?lang=ko")
    page.settle()
    chart = page.locator("[data-testid=stPlotlyChart] .js-plotly-plot").first
    chart.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    width, height = chart.evaluate("gd => [gd._fullLayout.width, gd._fullLayout.height]")
    png = download(page, chart, "Download plot as a PNG")
    assert png_size(png) == (2 * width, 2 * height)
    svg = download(page, chart, "SVG로 그림 내려받기").decode("utf-8")
    assert svg.lstrip().startswith("<svg") and "학습 동안의 가중치" in svg  # the ridge chart's Korean title
    title = re.search(r'<text class="gtitle".*?</text>', svg, re.S)
    assert title and "학습 동안의" in re.sub(r"<[^>]+>", "", title.group(0))  # the title itself, not a label
    assert not page.js_errors
