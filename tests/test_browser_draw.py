"""Chromium draws on the canvas with the mouse and the page answers with a prediction (streamlit-drawable-canvas in a
real browser, the strokes sent back to the server as the canvas sends them): digits for the shipped MNIST CNN (the
page's default), a trouser for the Fashion-MNIST CNN."""

from __future__ import annotations

import math

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


def stroke_through(page, canvas, points) -> None:
    """One press of the pen through ``points`` (canvas pixels), then release: a curve such as a 0."""
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.up()
    page.wait_for_timeout(150)


ZERO = [(140 + 60 * math.sin(t / 24 * 2 * math.pi), 140 - 90 * math.cos(t / 24 * 2 * math.pi)) for t in range(26)]
DIGITS = {  # a digit -> the pen's strokes: lines (x0, y0, x1, y1), or one curve through its points
    "1": [(140, 40, 140, 240)],
    "7": [(70, 50, 210, 50), (210, 50, 125, 245)],
    "0": ZERO,
}


def said(page) -> str:
    page.wait_for_selector("[data-testid=stMetricValue]", timeout=60_000)
    return page.locator("[data-testid=stMetricValue]").first.inner_text().strip()


def test_draw_a_1_a_7_and_a_0_and_see_each_read(browser_page):
    page = browser_page
    for digit, lines in DIGITS.items():
        page.goto_page("draw?lang=en")  # a fresh, empty canvas for each digit
        assert "empty" in page.locator("[data-testid=stAlert]").first.inner_text()
        model = page.locator("[data-testid=stSelectbox] input").first  # a combobox: its value is the input's
        assert model.input_value() == "MNIST digits CNN (trained, bundled)"  # the default
        canvas = page.locator("canvas.upper-canvas").first
        canvas.wait_for(state="visible", timeout=30_000)
        if len(lines[0]) == 4:
            strokes(page, canvas, lines)
        else:
            stroke_through(page, canvas, lines)
        page.settle()
        assert said(page) == digit
    assert not page.js_errors and not page.outside_requests


def test_draw_a_trouser_and_see_the_prediction(browser_page):
    page = browser_page
    page.goto_page("draw?lang=en")
    assert "empty" in page.locator("[data-testid=stAlert]").first.inner_text()
    page.locator("[data-testid=stSelectbox]").first.click()  # the model: the Fashion-MNIST CNN
    page.get_by_role("option", name="Fashion-MNIST CNN (trained, bundled)").click()
    page.settle()
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
