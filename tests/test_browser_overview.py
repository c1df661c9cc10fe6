"""The whole network, where it looks four ways and the channel atlas in a real Chromium, in English and Korean:
a click on a channel and on a cell of the overview, the sanity check's button, the atlas filling in."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# the page centre of the marker of chart ``nth`` whose trace is named ``name`` and whose customdata is ``data``
POINT_JS = """([nth, name, data]) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[nth];
  const t = gd._fullData.find(d => d.name === name);
  const key = c => JSON.stringify(Array.from(typeof c === 'number' ? [c] : c).slice(0, data.length).map(Number));
  const i = Array.from(t.customdata).findIndex(c => key(c) === JSON.stringify(data));
  if (i < 0) return null;
  const L = gd._fullLayout, box = gd.getBoundingClientRect();
  return [box.left + L.xaxis._offset + L.xaxis.l2p(t.x[i]), box.top + L.yaxis._offset + L.yaxis.l2p(t.y[i])];
}"""


def no_exception(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.locator("[data-testid=stAlertContentError]").count() == 0
    assert not page.js_errors
    assert not page.outside_requests


def click_point(page, nth: int, name: str, data: list) -> None:
    page.locator(".js-plotly-plot").nth(nth).scroll_into_view_if_needed()
    point = page.evaluate(POINT_JS, [nth, name, data])
    assert point is not None, f"no point {data} in the trace {name!r} of chart {nth}"
    x, y = point
    page.mouse.move(x, y)
    page.wait_for_timeout(300)  # plotly picks the point under the mouse on hover, then takes the click
    page.mouse.click(x, y)
    page.settle(120_000)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_overview_click_a_channel_then_a_cell(browser_page, lang):
    page = browser_page
    page.goto_page(f"network_overview?lang={lang}&model=trained")
    heading = {"en": "How the value of", "ko": "의 값은 이렇게 계산됩니다"}[lang]
    page.get_by_text(heading).first.wait_for(timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot')[1]?._fullData", timeout=60_000)
    no_exception(page)
    # a click on features.3's channel 5 in the network chooses it: the arithmetic's heading names it
    index = page.evaluate("() => document.querySelectorAll('.js-plotly-plot')[0]._fullData.find("
                          "d => d.name === 'channels').text.indexOf('features.3')")
    assert index >= 0
    layer = page.evaluate(f"() => document.querySelectorAll('.js-plotly-plot')[0]._fullData.find("
                          f"d => d.name === 'channels').customdata[{index}][0]")
    click_point(page, 0, "channels", [layer, 5])
    page.get_by_text("features.3[5,").first.wait_for(timeout=60_000)
    # a click on a cell of the enlarged map: its row and column become the arithmetic's cell
    click_point(page, 1, "cells", [1, 2])
    page.get_by_text("features.3[5, 1, 2]").first.wait_for(timeout=60_000)
    success = {"en": "Every result equals", "ko": "PyTorch"}[lang]
    assert page.locator("[data-testid=stAlertContentSuccess]").filter(has_text=success).count() == 1
    no_exception(page)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_four_maps_and_the_sanity_button(browser_page, lang):
    page = browser_page
    page.goto_page(f"where_it_looks?lang={lang}&model=trained")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot')[0]?._fullData", timeout=120_000)
    images = page.evaluate("() => document.querySelectorAll('.js-plotly-plot')[0]._fullData"
                           ".filter(d => d.type === 'image').length")
    assert images == 4
    button = {"en": "Randomize the last layer", "ko": "마지막 층"}[lang]
    page.get_by_role("button", name=button).click()
    page.settle(180_000)
    metrics = page.locator("[data-testid=stMetricValue]")
    metrics.nth(4).wait_for(timeout=120_000)
    values = [float(metrics.nth(i).text_content()) for i in range(5)]
    assert values[-1] == 1.0 and min(values[:-1]) < 0.9  # the edge detector never changes; a faithful map does
    no_exception(page)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_atlas_fills_in_and_a_tile_links_to_its_examples(browser_page, lang):
    page = browser_page
    page.goto_page(f"channel_atlas?lang={lang}&model=zoo:simple_convnet")
    start = page.locator("[data-testid=stButton] button").filter(has_text="30")
    done = page.get_by_text("30 of 30" if lang == "en" else "채널 30개 중 30개").first
    start.or_(done).first.wait_for(timeout=120_000)  # the server keeps an atlas: the second language finds it
    if start.count():
        start.click()
        page.settle()
    done.wait_for(timeout=240_000)
    page.settle(120_000)
    click_point(page, 0, "tiles", [7])
    # the click reruns the page for channel 7: wait for it (a link clicked before still leads to channel 0)
    page.get_by_text({"en": "excite channel 7 most", "ko": "채널 7을"}[lang]).first.wait_for(timeout=60_000)
    page.settle(60_000)
    link = page.locator("[data-testid=stMain] a[href*='filter_looks_for']")
    link.first.wait_for(timeout=60_000)
    no_exception(page)
    link.first.click()  # that channel's top examples, of the same model and layer
    page.wait_for_url("**/filter_looks_for?**", timeout=60_000)
    page.settle(120_000)
    assert "channel=7" in page.url and "layer=" in page.url and "model=zoo" in page.url
    assert page.locator("[data-testid=stNumberInput] input").first.input_value() == "7"  # the page took it
    no_exception(page)
