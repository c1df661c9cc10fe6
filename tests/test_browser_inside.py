"""The "Inside a CNN" pages in a real Chromium: upload a photo and see the maps (and the heat map) appear."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser


@pytest.fixture
def photo(tmp_path):
    yy, xx = np.mgrid[0:160, 0:240]
    img = np.stack([(xx % 40 < 20) * 255, (yy % 32 < 16) * 200, np.full_like(xx, 90)], axis=-1).astype(np.uint8)
    path = tmp_path / "stripes.png"
    Image.fromarray(img).save(path)
    return path


def plots(page) -> int:
    return page.locator(".js-plotly-plot").count()


def no_exception(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0
    assert not page.js_errors


def test_feature_maps_page_upload_shows_maps(browser_page, photo):
    page = browser_page
    page.goto_page("feature_maps")
    page.get_by_text("One layer's feature maps").wait_for(timeout=60_000)
    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.get_by_text("stripes.png").wait_for(timeout=30_000)
    page.settle()
    page.get_by_text("One layer's feature maps").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").nth(5).wait_for(timeout=60_000)
    assert plots(page) >= 6  # input, prediction, mosaic, input, channel, overview
    assert page.locator("[data-testid=stAlertContentError]").count() == 0
    no_exception(page)


def test_filters_page_loads(browser_page):
    page = browser_page
    page.goto_page("filters")
    warning = page.get_by_text("No training checkpoints")
    page.locator(".js-plotly-plot").nth(2).or_(warning).first.wait_for(timeout=60_000)
    no_exception(page)
    # with checkpoints: three filter grids and more; without: a clear warning
    assert plots(page) >= 3 or page.get_by_text("No training checkpoints").count() == 1


def test_grad_cam_page_upload_shows_heat_map(browser_page, photo):
    page = browser_page
    page.goto_page("grad_cam")
    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.get_by_text("stripes.png").wait_for(timeout=30_000)
    page.settle()
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=60_000)
    assert page.get_by_text("Grad-CAM for").count() >= 1
    no_exception(page)


def test_feature_maps_shows_an_imagenet_prediction_for_the_cat(browser_page):
    """A real photo gets a real answer in the browser: the bundled ImageNet network names the cat."""
    page = browser_page
    page.goto_page("feature_maps?lang=en")
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=60_000)
    page.wait_for_function("() => /cat|tabby/.test(document.querySelectorAll('.js-plotly-plot')[1].textContent)",
                           timeout=60_000)
    text = page.locator(".js-plotly-plot").nth(1).text_content()
    assert any(name in text for name in ("tiger cat", "Egyptian cat", "tabby")), text
    no_exception(page)
    assert not page.outside_requests
