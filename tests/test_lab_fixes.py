"""What the sweep of the convolution lab met, each pinned by a test: the ResNet shortcut's traceback, never-read cells
of any count, one numbering of window positions, pooling windows that hang off the end in ceil_mode, logits too
large for the temperature, uploads of any file type, stray tick marks, polyline curves and "None" cells."""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F

import cnnviz
from cnnviz import arithmetic
from cnnviz.cli import main as cli_main
from cnnviz.plots import conv as plots
from test_pages_conv import metrics, plotly_array, run
from torch_oracles import pool_length


def set_state(at, **values) -> None:
    for key, value in values.items():
        at.session_state[key] = value


def charts(at) -> dict[str, dict]:
    return {el.key: json.loads(el.proto.spec) for el in at.get("plotly_chart")}


def test_the_resnet_shortcut_1x1_stride_2_on_28x28_lists_every_never_read_row(app_at):
    at = app_at("10_output_size.py")
    run(at.radio(key="os_pad_mode").set_value("valid"))
    run(at.number_input(key="os_h").set_value(28))
    run(at.number_input(key="os_w").set_value(28))
    run(at.slider(key="os_k").set_value(1))
    at = run(at.slider(key="os_s").set_value(2))
    ref = torch.nn.Conv2d(64, 128, 1, stride=2)(torch.zeros(1, 64, 28, 28)).shape[-2:]
    m = metrics(at)
    assert (int(m["Output height"]), int(m["Output width"])) == tuple(ref) == (14, 14)
    odd = ", ".join(str(i) for i in range(1, 28, 2))
    assert [w.value for w in at.warning if odd in w.value] == [  # all 14 ranges, no "too many to list"
        "Along the rows and columns the division is not exact: 27 is not a multiple of the stride 2 (remainder 1). "
        f"Input rows and columns never read by any window (counting from 0): {odd}."]
    grid = plotly_array(charts(at)["os_grid"]["data"][0]["z"])
    assert (grid[1::2, :] == 2).all() and (grid[:, 1::2] == 2).all()  # painted red: every odd row and column


def test_never_read_ranges_of_any_count_are_listed_first_ones_last_one_and_totals(capsys):
    info = cnnviz.explain_output_size(28, 1, stride=2)
    assert arithmetic.describe_ranges(info) == ", ".join(str(i) for i in range(1, 28, 2))
    assert info.uncovered == tuple(range(1, 28, 2))
    many = cnnviz.explain_output_size(400, 1, stride=2)  # 200 ranges
    text = arithmetic.describe_ranges(many)
    first = ", ".join(str(i) for i in range(1, 30, 2))
    assert text == f"{first}, …, 399 (200 ranges, 200 cells in all)"
    assert len(many.uncovered) == 200  # every cell, also past the ranges written out
    huge = cnnviz.explain_output_size(1_000_000_000, 3, stride=100_000_000)  # worked out arithmetically
    assert arithmetic.describe_ranges(huge).endswith(", 900,000,003–999,999,999")  # ten ranges: all of them
    assert cli_main(["outsize", "400", "--kernel", "1", "--stride", "2"]) == 0
    assert "…, 399 (200 ranges, 200 cells in all)" in capsys.readouterr().out  # the CLI says the same


def test_ceil_mode_keeps_a_window_that_hangs_off_the_end_like_pytorch():
    assert cnnviz.pool_output_size(4, kernel=6, stride=4, ceil_mode=True) == 1
    assert pool_length(4, 6, 4, ceil_mode=True) == pool_length(4, 6, 4, ceil_mode=True, mode="avg") == 1
    info = arithmetic.explain_pool_output_size(4, 6, stride=4, ceil_mode=True)
    assert (info.output, info.overhang, info.dropped, info.formula) == (1, 2, False, "⌈(4 + 2·0 − 6)/4⌉ + 1 = 1")
    dropped = arithmetic.explain_pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True)  # 6 + 1 windows?
    assert dropped.output == pool_length(5, 2, 2, 1, ceil_mode=True) == 3 and dropped.dropped
    assert dropped.formula == "⌈(5 + 2·1 − 2)/2⌉ + 1 − 1 = 3"


def test_output_size_page_shows_the_hanging_window_and_says_why(app_at):
    at = app_at("10_output_size.py")
    set_state(at, os_kind="pool", os_h=4, os_w=4, os_k=6, os_s=4, os_pad_mode="valid", os_ceil=True)
    at = run(at)
    assert not at.error
    m = metrics(at)
    ref = F.max_pool2d(torch.zeros(1, 1, 4, 4), 6, 4, ceil_mode=True).shape[-2:]
    assert (int(m["Output height"]), int(m["Output width"])) == tuple(ref) == (1, 1)
    why = [i.value for i in at.info if "hangs 2 cells past the end" in i.value]
    assert len(why) == 1 and "along the rows and columns" in why[0] and "inside the input or the left padding" in why[0]
    grid = plotly_array(charts(at)["os_grid"]["data"][0]["z"])
    assert grid.shape == (6, 6) and (grid[4:, :] == plots.WINDOW_BEYOND).all()  # drawn past the end
    assert any("Pale: past the end" in c.value for c in at.caption)


def test_pooling_same_padding_says_when_pytorch_cannot_pad_like_keras(app_at):
    at = app_at("10_output_size.py")
    set_state(at, os_kind="pool", os_h=5, os_w=5, os_k=2, os_s=1, os_pad_mode="same", os_ceil=False)
    at = run(at)
    assert metrics(at)["Output height"] == str(pool_length(5, 2, 1, 1)) == "6"
    assert any("pads both sides equally" in i.value and "would pad 0 and 1, 0 and 1" in i.value and "⌈N/s⌉ = 5×5"
               in i.value for i in at.info)


def test_softmax_with_logits_too_large_for_the_temperature_is_one_sentence(app_at):
    at = app_at("15_softmax_losses.py")
    run(at.text_input(key="sm_logits").input("1e308, 1"))
    at = run(at.slider(key="sm_temp").set_value(0.1))
    assert not at.exception and len(at.error) == 1 and "too large" in at.error[0].value
    for text, words in (("1, two, 3", "'two' is not a number"), ("nan, 1", "'nan' is not a finite number"),
                        ("1e400, 2", "'1e400' is not a finite number"), ("3", "at least two numbers")):
        at = run(at.text_input(key="sm_logits").input(text))
        assert not at.exception and len(at.error) == 1 and words in at.error[0].value, at.error


def test_lab_photo_uploaders_take_images_only_and_name_a_damaged_one(app_at):
    for page, key in (("13_pooling.py", "pl_upload"), ("17_classic_kernels.py", "ck_upload")):
        at = app_at(page)
        allowed = at.file_uploader(key=key).allowed_type
        assert {".png", ".jpg", ".jpeg"} <= set(allowed) and ".txt" not in allowed and ".pt" not in allowed
        at.file_uploader(key=key).set_value(("photo.jpg", b"\xff\xd8 damaged", "image/jpeg"))
        at = run(at)
        assert len(at.error) == 1 and "Cannot use this file" in at.error[0].value


def test_photos_have_no_tick_marks(app_at):
    for page, keys in (("13_pooling.py", ("pl_photo", "pl_photo_max", "pl_photo_avg")),
                       ("17_classic_kernels.py", ("ck_in", "ck_total", "ck_ch0"))):
        figures = charts(app_at(page))
        for key in keys:
            for axis in ("xaxis", "yaxis"):
                spec = figures[key]["layout"][axis]
                assert spec.get("ticks") == "" and spec.get("showticklabels") is False and not spec.get("showline")


def test_activation_curves_are_drawn_through_every_point(app_at):
    spec = charts(app_at("14_activations.py"))["ac_curves"]
    for trace in spec["data"]:
        assert trace["line"]["simplify"] is False and len(plotly_array(trace["x"])) >= 400, trace["name"]


def test_layer_stack_table_shows_blank_cells_blank(app_at):
    at = app_at("12_layer_stack.py")
    editor = next(d for d in at.data_editor if d.key.startswith("ls_table_"))
    assert editor.proto.HasField("placeholder") and editor.proto.placeholder == ""  # missing: "None" is shown
    assert editor.value.isna().sum().sum() > 0  # there are blank cells to show


def test_the_point_evaluated_stays_inside_a_new_x_range(app_at):
    at = app_at("14_activations.py")
    at = run(at.slider(key="ac_range").set_value((-10.0, -5.0)))  # the probe was at 0.5: outside
    probe = at.slider(key="ac_probe").value
    assert probe == -5.0 and not at.warning
    assert metrics(at)["sigmoid"] == f"f = {torch.sigmoid(torch.tensor(probe)).item():.4f}"
    run(at.slider(key="ac_probe").set_value(-6.0))
    at = run(at.slider(key="ac_range").set_value((-8.0, 6.0)))  # still inside: it stays where it was
    assert at.slider(key="ac_probe").value == -6.0
