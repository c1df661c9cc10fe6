"""Chromium draws on the canvas with the mouse and the page answers with a prediction (streamlit-drawable-canvas in a
real browser, the strokes sent back to the server as the canvas sends them)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FASHION_EN = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}


def strokes(page, canvas, lines) -> None:
    """Press, move in ten steps and release along each line (canvas pixels)."""
    box = canvas.bounding_box()
    for ax, ay, bx, by in lines:
        page.mouse.move(box["x"] + ax, box["y"] + ay)
        page.mouse.down()
        for t in range(1, 11):
            page.mouse.move(box["x"] + ax + (bx - ax) * t / 10, box["y"] + ay + (by - ay) * t / 10)
        page.mouse.up()
        page.wait_for_timeout(150)


def test_draw_a_trouser_and_see_the_prediction(browser_page):
    page = browser_page
    page.goto_page("draw?lang=en")
    assert "empty" in page.locator("[data-testid=stAlert]").first.inner_text()
    canvas = page.locator("canvas.upper-canvas").first  # Fabric.js's drawing layer
    canvas.wait_for(state="visible", timeout=30_000)
    # two legs and a waistband, drawn with a thick pen
    strokes(page, canvas, [(110, 30, 100, 250), (170, 30, 180, 250), (105, 30, 175, 30),
                           (125, 40, 115, 240), (155, 40, 165, 240)])
    page.settle()
    page.wait_for_selector("[data-testid=stMetricValue]", timeout=60_000)
    said = page.locator("[data-testid=stMetricValue]").first.inner_text().strip()
    assert said in FASHION_EN, said
    assert said == "Trouser"
    assert page.locator(".js-plotly-plot").count() >= 3  # prediction, preprocessing steps, feature maps
    assert not page.js_errors and not page.outside_requests


def test_draw_on_the_feature_maps_page(browser_page):
    page = browser_page
    page.goto_page("feature_maps?lang=en")
    page.get_by_text("Draw it yourself").click()
    page.settle()
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(state="visible", timeout=30_000)
    strokes(page, canvas, [(60, 40, 220, 40), (220, 40, 120, 250)])  # a 7
    page.settle()
    page.wait_for_selector("text=Model input 28×28", timeout=60_000)
    assert page.locator(".js-plotly-plot").count() >= 4
    assert not page.js_errors
