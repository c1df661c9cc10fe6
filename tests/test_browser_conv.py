"""The convolution-lab pages in headless Chromium: each loads, its main interaction works, no exception shows."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser


def no_exception(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0
    assert not page.js_errors, page.js_errors


def press_slider(page, label: str, key: str = "ArrowRight", times: int = 1) -> None:
    thumb = page.locator("[data-testid=stSlider]").filter(has_text=label).get_by_role("slider")
    thumb.focus()
    for _ in range(times):
        thumb.press(key)
    page.settle()


def expect_text(page, text: str, timeout: float = 20_000) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout)


@pytest.fixture
def png_file(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(path)
    return path


def test_output_size_window_moves(browser_page):
    browser_page.goto_page("output_size")
    expect_text(browser_page, "Output height")
    press_slider(browser_page, "Output cell (row, column)", times=2)
    expect_text(browser_page, "reads input rows -1…1 and columns 1…3")  # 'same' padding: row -1 is padding
    no_exception(browser_page)


def test_sliding_window_steps(browser_page):
    browser_page.goto_page("sliding_window")
    expect_text(browser_page, "Output cell (0, 0)")
    press_slider(browser_page, "Output cell (row, column)")
    expect_text(browser_page, "Output cell (0, 1)")
    no_exception(browser_page)


def test_layer_stack_verified_then_impossible(browser_page):
    browser_page.goto_page("layer_stack")
    expect_text(browser_page, "Verified by PyTorch")
    box = browser_page.get_by_label("Input height H")
    box.fill("6")
    box.press("Enter")
    browser_page.settle()
    expect_text(browser_page, "is impossible")
    box.fill("28")
    box.press("Enter")
    browser_page.settle()
    expect_text(browser_page, "Verified by PyTorch")
    browser_page.get_by_role("button", name="Send to training").click()
    browser_page.settle()
    expect_text(browser_page, "Stack sent")
    no_exception(browser_page)
    browser_page.get_by_test_id("stPageLink-NavLink").filter(has_text="Open the Training studio").click()
    browser_page.settle()
    assert "/training_studio" in browser_page.url
    no_exception(browser_page)


def test_pooling_upload(browser_page, png_file):
    browser_page.goto_page("pooling")
    browser_page.locator("input[type=file]").first.set_input_files(str(png_file))
    browser_page.settle()
    expect_text(browser_page, "Photo 3 × 30 × 40")
    no_exception(browser_page)


def test_activations_depth(browser_page):
    browser_page.goto_page("activations")
    expect_text(browser_page, "Vanishing gradient")
    press_slider(browser_page, "Depth N", times=3)
    expect_text(browser_page, "13 fully connected layers")
    no_exception(browser_page)


def test_softmax_logits(browser_page):
    browser_page.goto_page("softmax_losses")
    box = browser_page.get_by_label("Logits z")
    box.fill("0, 5, 1")
    box.press("Enter")
    browser_page.settle()
    expect_text(browser_page, "0.976")  # softmax([0, 5, 1])[1]
    no_exception(browser_page)


def test_im2col_matches(browser_page):
    browser_page.goto_page("im2col")
    expect_text(browser_page, "equals PyTorch's F.conv2d exactly")
    press_slider(browser_page, "Stride")
    expect_text(browser_page, "equals PyTorch's F.conv2d exactly")
    no_exception(browser_page)


def test_classic_kernels_upload(browser_page, png_file):
    browser_page.goto_page("classic_kernels")
    browser_page.locator("input[type=file]").first.set_input_files(str(png_file))
    browser_page.settle()
    expect_text(browser_page, "3 × 30 × 40")
    expect_text(browser_page, "28 × 38")
    no_exception(browser_page)
