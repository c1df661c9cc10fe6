"""The convolution-lab pages under AppTest: move the widgets, check the numbers against PyTorch."""

from __future__ import annotations

import base64
import io
import json
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import cnnviz
from cnnviz import ops, stack


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def run(widget):
    at = widget.run()
    assert not at.exception, at.exception
    return at


def plotly_array(value) -> np.ndarray:
    """A plotly JSON array: plain lists, or plotly's base64 typed-array form {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return arr.reshape([int(v) for v in str(shape).split(",")]) if shape else arr
    return np.asarray(value)


def png_bytes(w: int = 40, h: int = 30) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------- output size


def latex(at) -> list[str]:
    """The typeset formulas as written (st.latex wraps them in $$ … $$)."""
    return [el.value.strip().strip("$").strip() for el in at.get("latex")]


def test_output_size_page_shows_the_rule_with_the_numbers(app_at):
    at = app_at("10_output_size.py")
    assert not at.exception
    run(at.number_input(key="os_h").set_value(28))
    run(at.number_input(key="os_w").set_value(20))
    run(at.slider(key="os_k").set_value(5))
    at = run(at.radio(key="os_pad_mode").set_value("same"))
    m = metrics(at)
    assert (m["Output height"], m["Output width"]) == ("28", "20")
    shown = latex(at)
    assert sum("H_{out}" in t for t in shown) == 1 and sum("W_{out}" in t for t in shown) == 1  # each once
    assert any(r"\frac{28 + 2\cdot 2 - 5}{1}" in t and t.endswith("= 28") for t in shown)
    at = run(at.radio(key="os_kind").set_value("pool"))
    at = run(at.radio(key="os_pad_mode").set_value("valid"))
    k, s = at.slider(key="os_k").value, at.slider(key="os_s").value
    expected = F.max_pool2d(torch.zeros(1, 1, 28, 20), k, s).shape[-2:]
    m = metrics(at)
    assert (int(m["Output height"]), int(m["Output width"])) == tuple(expected)
    at = run(at.checkbox(key="os_ceil").check())  # ceil_mode, against PyTorch
    expected = F.max_pool2d(torch.zeros(1, 1, 28, 20), k, s, ceil_mode=True).shape[-2:]
    m = metrics(at)
    assert (int(m["Output height"]), int(m["Output width"])) == tuple(expected)


def test_dilated_formula_keeps_its_brackets_as_rendered(app_at):
    """N=7, p=3, k=4, d=2, s=2: (7 + 6 − 7)/2 = 3 → 4; without the brackets it would read as 5."""
    at = app_at("10_output_size.py")
    run(at.radio(key="os_pad_mode").set_value("custom"))
    run(at.slider(key="os_p").set_value(3))
    run(at.slider(key="os_k").set_value(4))
    run(at.slider(key="os_d").set_value(2))
    at = run(at.slider(key="os_s").set_value(2))
    h = next(t for t in latex(at) if "H_{out}" in t)
    assert r"- \left(2\cdot(4-1)+1\right)" in h and h.endswith("= 4")
    assert metrics(at)["Output height"] == str(cnnviz.conv_output_size(7, 4, stride=2, padding=3, dilation=2)) == "4"
    assert not any("-th" in md.value for md in at.markdown)
    assert any("reads one cell, then skips 1" in md.value for md in at.markdown)


def test_output_size_page_names_never_read_rows_and_impossible_combinations(app_at):
    at = app_at("10_output_size.py")
    run(at.radio(key="os_pad_mode").set_value("valid"))
    run(at.number_input(key="os_h").set_value(8))
    run(at.slider(key="os_k").set_value(5))
    at = run(at.slider(key="os_s").set_value(2))
    assert metrics(at)["Output height"] == str(cnnviz.conv_output_size(8, 5, stride=2))
    assert any("never read" in w.value and ": 7." in w.value for w in at.warning)
    at = run(at.slider(key="os_k").set_value(11))
    assert at.error and "Impossible" in at.error[0].value
    at = run(at.slider(key="os_k").set_value(4))  # and the page recovers
    assert not at.error


def test_same_padding_with_an_even_kernel_pads_one_more_after_like_keras(app_at):
    at = app_at("10_output_size.py")
    run(at.number_input(key="os_h").set_value(7))
    run(at.slider(key="os_k").set_value(4))
    at = run(at.radio(key="os_pad_mode").set_value("same"))
    assert metrics(at)["Output height"] == "7"  # 'same' at stride 1 keeps the size, as torch's padding='same'
    ref = torch.nn.Conv2d(1, 1, 4, padding="same")(torch.zeros(1, 1, 7, 7))
    assert ref.shape[-1] == 7
    notes = [i.value for i in at.info]
    assert any("right and at the bottom" in n and "1 and 2" in n for n in notes)
    assert len(at.warning) + len(at.info) <= 2  # one explanation, not a stack of messages
    at = run(at.slider(key="os_s").set_value(2))  # stride 2: ceil(7 / 2) = 4, as in TensorFlow
    assert metrics(at)["Output height"] == "4"


def test_transposed_convolution_matches_torch(app_at):
    at = app_at("10_output_size.py")
    at = run(at.radio(key="os_kind").set_value("transposed"))
    run(at.number_input(key="os_h").set_value(4))
    run(at.number_input(key="os_w").set_value(4))
    run(at.slider(key="os_k").set_value(3))
    at = run(at.slider(key="os_s").set_value(2))
    ref = torch.nn.ConvTranspose2d(1, 1, 3, stride=2)(torch.zeros(1, 1, 4, 4)).shape[-2:]
    m = metrics(at)
    assert (int(m["Output height"]), int(m["Output width"])) == tuple(ref)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    z = plotly_array(spec["data"][0]["z"])
    assert z.shape == (4 * 2 - 1 + 2 * 2,) * 2  # (N−1)s+1 cells with d(k−1) − p = 2 zeros around


def test_output_size_window_steps_and_plays(app_at):
    at = app_at("10_output_size.py")
    assert at.radio(key="os_pad_mode").value == "same"  # the page opens with padding 1 on show
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    z = plotly_array(spec["data"][0]["z"])
    assert z.shape == (9, 9) and np.isin(z, [0, 4]).sum() == 9 * 9 - 7 * 7  # the padding ring is drawn...
    assert (z == 4).sum() == 5  # ...and the first window covers 5 of its cells
    at = run(at.radio(key="os_pad_mode").set_value("valid"))
    cells = at.select_slider(key="os_pos")
    assert cells.options[:2] == ["(0, 0)", "(0, 1)"] and cells.value == 0  # numbered like the cells: from (0, 0)
    at = run(cells.set_value(6))  # 7x7 input, k3: 5x5 output -> the seventh cell is (1, 1)
    assert any("Output cell **(1, 1)** reads input rows 1…3 and columns 1…3" in md.value for md in at.markdown)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    z = plotly_array(spec["data"][0]["z"])
    assert (z == 3).sum() == 9 and (z[1:4, 1:4] == 3).all()  # the 3x3 window is painted
    at = run(at.toggle(key="os_play").set_value(True))
    first = at.session_state["os_pos"]
    at = run(at)
    assert at.session_state["os_pos"] == (first + 1) % 25  # each run moves the window by one
    at = run(at.number_input(key="os_h").set_value(200))
    assert any("too large to draw" in i.value for i in at.info)


# ---------------------------------------------------------------------------- sliding window


def test_sliding_window_value_is_f_conv2d(app_at):
    at = app_at("11_sliding_window.py")
    run(at.selectbox(key="sw_kernel").set_value("Laplacian (all edges)"))
    run(at.selectbox(key="sw_pattern").set_value("random digits"))
    run(at.slider(key="sw_padding").set_value(1))
    run(at.slider(key="sw_stride").set_value(2))
    at = run(at.select_slider(key="sw_pos").set_value(4))
    x = ops.example_grid(6, 6, pattern="random digits")
    k = ops.KERNELS["Laplacian (all edges)"]
    ref = F.conv2d(torch.from_numpy(x)[None, None], torch.from_numpy(k)[None, None], stride=2, padding=1)[0, 0]
    r, c = divmod(4, ref.shape[1])
    assert at.select_slider(key="sw_pos").options[4] == f"({r}, {c})"
    label = f"Output cell ({r}, {c})"
    assert float(metrics(at)[label]) == pytest.approx(float(ref[r, c]))
    assert any(md.value.startswith("**Multiply-add:**") for md in at.markdown)


# ---------------------------------------------------------------------------- layer stack


@pytest.mark.parametrize("name", ["mnist_cnn", "tf_mnist", "lenet5"])
def test_layer_stack_presets_are_verified_by_pytorch(app_at, name):
    at = app_at("12_layer_stack.py")
    at = run(at.selectbox(key="ls_preset").set_value(name))
    spec, shape = stack.preset(name)
    built = sum(p.numel() for p in stack.build_stack(spec, shape).parameters())
    assert metrics(at)["Total parameters"] == f"{built:,}"
    assert any("Verified by PyTorch" in s.value for s in at.success)


def test_layer_stack_marks_the_first_impossible_layer_and_sends_to_training(app_at):
    at = app_at("12_layer_stack.py")
    at = run(at.selectbox(key="ls_preset").set_value("lenet5"))
    at = run(at.number_input(key="ls_h_lenet5").set_value(10))
    assert at.error and "layer 3 (conv) is impossible" in at.error[0].value
    assert any("PyTorch fails at the same layer" in c.value for c in at.caption)
    at = run(at.number_input(key="ls_h_lenet5").set_value(32))
    at = run(at.button(key="ls_send").click())
    spec, shape = at.session_state["cnnviz.stack"]
    assert shape == (1, 32, 32) and spec == stack.preset("lenet5")[0]


# ---------------------------------------------------------------------------- pooling


def test_pooling_page_numbers_and_bad_upload(app_at):
    at = app_at("13_pooling.py")
    run(at.slider(key="pl_k").set_value(3))
    at = run(at.slider(key="pl_s").set_value(1))
    grid = ops.example_grid(6, 6, pattern="random digits", seed=0)
    mx = F.max_pool2d(torch.from_numpy(grid)[None], 3, 1)[0]
    av = F.avg_pool2d(torch.from_numpy(grid)[None], 3, 1)[0]
    m = metrics(at)
    assert m["Output size"] == f"{mx.shape[0]} × {mx.shape[1]}" and m["Parameters"] == "0"
    assert m["Top-left max / average"] == f"{float(mx[0, 0]):g} / {float(av[0, 0]):.2f}"
    assert m["Channels in → out"] == "3 → 3"
    at.file_uploader(key="pl_upload").set_value(("notes.png", b"not an image", "image/png"))
    at = run(at)
    assert at.error and "not an image" in at.error[0].value
    at.file_uploader(key="pl_upload").set_value(("small.png", png_bytes(), "image/png"))
    at = run(at)
    assert not at.error and metrics(at)["Channels in → out"] == "3 → 3"


def huge_bmp(side: int = 20_000) -> bytes:
    """A header-only BMP that claims side×side pixels (a decompression bomb in a few bytes)."""
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 1, 0, 0, 2835, 2835, 2, 0)
    return b"BM" + struct.pack("<IHHI", 70, 0, 0, 62) + info + b"\0\0\0\0\xff\xff\xff\0" + b"\0" * 8


def test_pooling_page_refuses_a_huge_photo_and_keeps_working(app_at):
    at = app_at("13_pooling.py")
    at.file_uploader(key="pl_upload").upload("bomb.bmp", huge_bmp(), "image/bmp")
    at = run(at)
    assert at.error and "too large" in at.error[0].value
    at = run(at.slider(key="pl_k").set_value(3))  # the grid part above the photo still works
    assert metrics(at)["Parameters"] == "0"


# ---------------------------------------------------------------------------- activations, softmax, losses


def test_activation_page_values_match_torch(app_at):
    at = app_at("14_activations.py")
    run(at.slider(key="ac_slope").set_value(0.2))
    at = run(at.slider(key="ac_probe").set_value(-1.5))
    t = torch.tensor(-1.5, requires_grad=True)
    m = metrics(at)
    assert float(m["sigmoid"].removeprefix("f = ")) == pytest.approx(torch.sigmoid(t).item(), abs=1e-4)
    assert float(m["Leaky ReLU"].removeprefix("f = ")) == pytest.approx(F.leaky_relu(t, 0.2).item(), abs=1e-4)
    assert all(not el.proto.delta for el in at.metric)  # no ↑/↓ badges: a slope is not an increase
    torch.sigmoid(t).backward()
    assert any(f"{t.grad.item():.4f}" in c.value for c in at.caption)  # the slope, as a plain number
    at = run(at.slider(key="ac_depth").set_value(20))
    m = metrics(at)
    assert float(m["Layer 1 ÷ layer N gradient, sigmoid"]) < 1e-6 < float(m["Layer 1 ÷ layer N gradient, ReLU"])


def test_activation_figure_keeps_overlapping_curves_visible_and_labelled(app_at):
    at = app_at("14_activations.py")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    left = [t for t in spec["data"] if t.get("xaxis", "x") == "x"]
    right = [t for t in spec["data"] if t.get("xaxis") == "x2"]
    assert len({t["line"]["dash"] for t in left}) == len(left)  # relu, leaky relu and elu coincide for x > 0
    assert len({t["line"]["width"] for t in left}) == len(left)
    assert all(t.get("legend") == "legend2" and t.get("showlegend", True) for t in right)  # the derivatives' legend
    layout = spec["layout"]
    assert layout["xaxis"]["title"]["text"] == "x" and layout["yaxis2"]["title"]["text"] == "f′(x)"


def test_softmax_page_matches_torch_and_reads_bad_logits(app_at):
    at = app_at("15_softmax_losses.py")
    run(at.text_input(key="sm_logits").input("1, 3, 0.5"))
    at = run(at.slider(key="sm_temp").set_value(2.0))
    p = torch.softmax(torch.tensor([1.0, 3.0, 0.5]) / 2, dim=0)
    m = metrics(at)
    assert m["Predicted class"] == "class 1" and float(m["Its probability"]) == pytest.approx(p[1].item(), abs=1e-3)
    at = run(at.selectbox(key="sm_true").set_value(2))
    ce = F.cross_entropy(torch.tensor([[1.0, 3.0, 0.5]]) / 2, torch.tensor([2])).item()
    assert float(metrics(at)["Cross-entropy  −log p(correct)"]) == pytest.approx(ce, abs=1e-4)
    at = run(at.text_input(key="sm_logits").input("1, two, 3"))
    assert at.error and "Cannot read" in at.error[0].value


def test_softmax_mse_number_and_curve_agree(app_at):
    """One definition of MSE: the metric and the curve at the dashed line are the same number."""
    at = app_at("15_softmax_losses.py")
    at = run(at.selectbox(key="sm_true").set_value(1))
    shown = float(metrics(at)["MSE against the one-hot target"])
    probs = torch.softmax(torch.tensor([2.0, 1.0, 0.1, -1.0]), dim=0)
    assert shown == pytest.approx(F.mse_loss(probs, torch.eye(4)[1]).item(), abs=1e-4)
    spec = json.loads(at.get("plotly_chart")[1].proto.spec)
    curve = next(t for t in spec["data"] if t["name"].startswith("MSE"))
    x, y = plotly_array(curve["x"]), plotly_array(curve["y"])
    marker = spec["layout"]["shapes"][0]["x0"]
    assert marker == pytest.approx(probs[1].item())
    assert float(np.interp(marker, x, y)) == pytest.approx(shown, abs=2e-3)


def test_cross_entropy_of_a_certain_answer_is_zero_not_minus_zero(app_at):
    at = app_at("15_softmax_losses.py")
    at = run(at.text_input(key="sm_logits").input("1000, 0, -1000"))
    assert metrics(at)["Cross-entropy  −log p(correct)"] == "0.0000"


# ---------------------------------------------------------------------------- im2col and classic kernels


def test_im2col_page_agrees_with_conv2d(app_at):
    at = app_at("16_im2col.py")
    run(at.slider(key="ic_c").set_value(3))
    run(at.slider(key="ic_k").set_value(3))
    at = run(at.slider(key="ic_s").set_value(2))
    m = metrics(at)
    assert float(m["Max |im2col − F.conv2d|"]) == 0
    windows = cnnviz.conv_output_size(4, 3, stride=2) ** 2
    assert int(m["Numbers in the im2col matrix"]) == windows * 3 * 3 * 3 and int(m["Numbers in the input"]) == 48
    run(at.slider(key="ic_size").set_value(3))
    at = run(at.slider(key="ic_k").set_value(4))
    assert at.error and "Impossible" in at.error[0].value


def test_classic_kernels_output_size_follows_stride_and_padding(app_at):
    at = app_at("17_classic_kernels.py")
    run(at.slider(key="ck_stride").set_value(3))
    at = run(at.slider(key="ck_padding").set_value(2))
    c, h, w = (int(v) for v in metrics(at)["Input"].split(" × "))
    assert c == 3
    expected = (cnnviz.conv_output_size(h, 3, stride=3, padding=2), cnnviz.conv_output_size(w, 3, stride=3, padding=2))
    assert metrics(at)["Output"] == f"{expected[0]} × {expected[1]}"
    assert len(at.get("plotly_chart")) == 6  # input, output, R, G, B, sum
    at = run(at.toggle(key="ck_colour").set_value(False))
    assert metrics(at)["Input"].startswith("1 × ") and len(at.get("plotly_chart")) == 2
    at.file_uploader(key="ck_upload").upload("fake.jpg", b"\xff\xd8 broken", "image/jpeg")
    at = run(at)
    assert at.error and "Cannot use this file" in at.error[0].value


def test_layer_stack_compares_a_depthwise_separable_pair_with_a_plain_conv(app_at):
    at = app_at("12_layer_stack.py")
    table = next(d.value for d in at.dataframe if "multiply-adds per image" in list(d.value.columns))
    plain = torch.nn.Conv2d(32, 64, 3)
    depth = torch.nn.Conv2d(32, 32, 3, groups=32)
    point = torch.nn.Conv2d(32, 64, 1)
    counts = [sum(p.numel() for p in m.parameters()) for m in (plain, depth, point)]
    assert list(table["parameters"]) == counts
    assert list(table["multiply-adds per image"]) == [m.weight.numel() * 56 * 56 for m in (plain, depth, point)]
    assert "fewer parameters" in metrics(at)["Depthwise + pointwise against the plain conv"]
