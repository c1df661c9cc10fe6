"""The network overview: every layer's cell arithmetic equals what PyTorch computed, for every layer type drawn."""

from __future__ import annotations

import json

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz import overview
from cnnviz.plots import overview as ov_plots


def _every_cell(trace, j):
    c = trace.columns[j]
    ch, h, w = c.values.shape
    for k in range(ch):
        for r in range(h):
            for q in range(w):
                yield k, r, q


def _check_all(trace):
    """Every cell of every column: the arithmetic gives PyTorch's value."""
    for j in range(1, len(trace.columns)):
        for k, r, q in _every_cell(trace, j):
            step = overview.cell_arithmetic(trace, j, k, r, q)
            assert step.shown == pytest.approx(float(trace.columns[j].values[k, r, q]))
            assert step.value == pytest.approx(step.shown, rel=1e-5, abs=1e-5), (trace.columns[j].name, k, r, q)


def _bn(c: int, seed: int) -> nn.BatchNorm2d:
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(c)
    bn.weight.data = torch.rand(c, generator=g) + 0.5
    bn.bias.data = torch.randn(c, generator=g)
    bn.running_mean = torch.randn(c, generator=g)
    bn.running_var = torch.rand(c, generator=g) + 0.2
    return bn


def test_every_layer_type_equals_pytorch():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), _bn(4, 1), nn.ReLU(inplace=True),  # inplace: the input must be kept
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2), nn.LeakyReLU(0.1),
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        nn.Conv2d(6, 6, 3, padding="same", groups=3), nn.Tanh(), nn.ReLU6(),
        nn.AvgPool2d(2, padding=1), nn.Sigmoid(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(24, 7), nn.ReLU(), nn.Linear(7, 3)).eval()
    trace = overview.trace_network(model, torch.randn(2, 13, 11))
    kinds = [c.kind for c in trace.columns]
    assert kinds == ["input", "conv", "batchnorm", "activation", "maxpool", "conv", "activation", "avgpool", "conv",
                     "activation", "activation", "avgpool", "activation", "adaptive_avgpool", "linear", "activation",
                     "linear"]
    assert all(c.chained for c in trace.columns[1:])
    _check_all(trace)
    assert trace.prediction.probs == pytest.approx(torch.softmax(model(torch.zeros(0, 2, 13, 11)).new_tensor(
        trace.columns[-1].values.flatten().tolist()), 0).tolist())


def test_conv_window_kernel_and_sum_against_f_conv2d():
    """Each input channel's window × kernel, summed, plus the bias: the same number as F.conv2d, term by term."""
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 2, (3, 5), stride=(2, 1), padding=(1, 2))
    x = torch.randn(1, 3, 9, 8)
    trace = overview.trace_network(nn.Sequential(conv).eval(), x[0])
    step = overview.cell_arithmetic(trace, 1, 1, 0, 0)  # a corner: the window is half padding
    assert [t.channel for t in step.terms] == [0, 1, 2]
    assert step.origin == (-1, -2)
    assert np.isnan(step.terms[0].window[0]).all()
    for t in step.terms:  # channel k's part is F.conv2d of that channel alone with that kernel slice
        alone = F.conv2d(x[:, t.channel:t.channel + 1].double(), conv.weight[1:2, t.channel:t.channel + 1].detach().double(),
                         stride=(2, 1), padding=(1, 2))
        assert t.total == pytest.approx(float(alone[0, 0, 0, 0]))
        np.testing.assert_allclose(t.product, np.nan_to_num(t.window) * t.kernel)
    assert step.bias == pytest.approx(float(conv.bias[1]))
    assert step.value == pytest.approx(float(F.conv2d(x, conv.weight, conv.bias, stride=(2, 1), padding=(1, 2))[0, 1, 0, 0]),
                                       abs=1e-5)


def test_hand_set_weights_give_exact_numbers():
    conv = nn.Conv2d(1, 1, 3, padding=1)
    conv.weight.data.fill_(1.0)
    conv.bias.data.fill_(0.5)
    x = torch.arange(16.0).view(1, 4, 4)
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2)).eval()
    trace = overview.trace_network(model, x)
    chain = overview.cell_chain(trace, 1, 0, 1, 1)
    conv_step, relu_step, pool_step = chain
    assert conv_step.value == 0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10 + 0.5
    assert relu_step.value == conv_step.value
    assert (pool_step.row, pool_step.col) == (0, 0)  # the pooling cell whose 2×2 window holds (1, 1)
    window = pool_step.terms[0].window
    assert window.shape == (2, 2) and window[1, 1] == conv_step.value
    assert pool_step.value == pool_step.shown == float(trace.columns[3].values[0, 0, 0])


def test_tensorflow_same_padding_of_timm():
    from timm.layers import Conv2dSame

    torch.manual_seed(2)
    conv = Conv2dSame(3, 4, 3, stride=2, bias=False)
    trace = overview.trace_network(nn.Sequential(conv, nn.ReLU6()).eval(), torch.randn(3, 10, 9))
    _check_all(trace)
    assert overview.same_padding(10, 3, 2, 1) == (0, 1)  # TensorFlow puts the extra pixel after
    assert ov_plots.operation(trace.columns[1]) == "conv 3×3, stride 2, 'same'"


def test_timm_batchnorm_with_its_activation_is_one_folded_column():
    from timm.layers import BatchNormAct2d

    bn = BatchNormAct2d(3, act_layer=nn.ReLU6)
    bn.running_mean = torch.tensor([0.5, -1.0, 2.0])
    bn.running_var = torch.tensor([4.0, 0.25, 1.0])
    bn.weight.data = torch.tensor([2.0, 1.0, 0.5])
    bn.bias.data = torch.tensor([0.0, 1.0, -1.0])
    trace = overview.trace_network(nn.Sequential(bn).eval(), torch.randn(3, 4, 4) * 5)
    assert [c.kind for c in trace.columns] == ["input", "batchnorm"]
    _check_all(trace)
    step = overview.cell_arithmetic(trace, 1, 0, 0, 0)
    assert step.scale == pytest.approx(2.0 / math.sqrt(4.0 + bn.eps)) and step.function == "ReLU6"


def test_linear_lists_the_largest_contributions_and_adds_the_rest():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(40, 5)).eval()
    trace = overview.trace_network(model, torch.randn(1, 5, 8))
    step = overview.cell_arithmetic(trace, 1, 2)
    assert len(step.terms) == overview.arithmetic.LINEAR_TERMS and step.rest_count == 40 - len(step.terms)
    assert sum(t.total for t in step.terms) + step.rest + step.bias == pytest.approx(step.shown, abs=1e-5)
    sizes = [abs(t.total) for t in step.terms]
    assert sizes == sorted(sizes, reverse=True)


def test_skip_connection_is_not_chained():
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.conv(x) + x)

    trace = overview.trace_network(Res().eval(), torch.randn(2, 5, 5))
    assert [c.chained for c in trace.columns[1:]] == [True, False]
    _check_all(trace)  # the ReLU's own input (the sum) is used
    assert len(overview.cell_chain(trace, 1, 0, 2, 2)) == 1  # the chain stops where the skip adds in


def test_a_big_network_keeps_its_first_and_last_layers():
    model = nn.Sequential(*[m for _ in range(6) for m in (nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())],
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()
    trace = overview.trace_network(model, torch.randn(8, 6, 6), big=True, first=3, last=2, max_channels=5)
    assert trace.total_layers == 14 and trace.hidden == 9 and trace.gap_after == 3
    assert [c.name for c in trace.columns] == ["input", "0", "1", "2", "12", "14"]  # 13 is the Flatten
    assert not trace.columns[4].chained and all(len(c.shown) <= 5 for c in trace.columns)


def test_bad_cells_and_models_get_one_sentence():
    trace = overview.trace_network(nn.Sequential(nn.Conv2d(1, 2, 3)).eval(), torch.randn(1, 5, 5))
    with pytest.raises(ValueError, match="outside"):
        overview.cell_arithmetic(trace, 1, 0, 3, 0)
    with pytest.raises(ValueError, match="given"):
        overview.cell_arithmetic(trace, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="cannot|expects|input"):
        overview.trace_network(nn.Sequential(nn.Conv2d(3, 2, 3)).eval(), torch.randn(1, 5, 5))


def test_network_figure_one_image_per_column_and_lines_to_what_a_channel_reads():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1),
                          nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 3)).eval()
    trace = overview.trace_network(model, torch.randn(1, 8, 8), classes=("cat", "dog", "cow"))
    fig = ov_plots.network_figure(trace, selected=(4, 2))
    images = [t for t in fig.data if t.type == "image"]
    assert len(images) == len(trace.columns) - 1  # the last linear layer is drawn as bars
    bars = next(t for t in fig.data if t.type == "bar")
    assert list(bars.text) == ["cat", "dog", "cow"]
    markers = next(t for t in fig.data if t.name == "channels")
    assert len(markers.customdata) == sum(len(c.shown) for c in trace.columns[:-1])
    # a click lands on the tile under it: no marker is wider than a tile (1 unit of the x axis) drawn at 1150 px
    unit_px = 1150 / (fig.layout.xaxis.range[1] - fig.layout.xaxis.range[0])
    assert markers.marker.size <= max(3.0, unit_px)
    narrow = ov_plots.network_figure(trace, width=150)  # small tiles: small markers
    tiny = next(t for t in narrow.data if t.name == "channels")
    assert tiny.marker.size < 14
    assert tiny.marker.size <= max(3.0, 150 / (narrow.layout.xaxis.range[1] - narrow.layout.xaxis.range[0]))
    lines = next(t for t in fig.data if t.name == "reads")
    assert len([v for v in lines.x if v is None]) == 4  # the conv reads all 4 channels of the ReLU before it
    texts = " ".join(a.text for a in fig.layout.annotations)
    assert "conv 3×3,<br>pad 1" in texts and "6×4×4" in texts and "max-pool 2×2" in texts
    assert ov_plots.operation(trace.columns[1]) == "conv 3×3, pad 1"
    relu = ov_plots.network_figure(trace, selected=(5, 2))
    assert len([v for v in next(t for t in relu.data if t.name == "reads").x if v is None]) == 1


def test_a_cells_click_carries_its_row_column_and_value_as_a_list():
    """The page reads a click's customdata: a numpy array reached it as {"0": row, "1": column} (so every click
    chose row 0, column 1); markers wider than a cell tied with their neighbours."""
    torch.manual_seed(2)
    trace = overview.trace_network(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1)).eval(), torch.randn(1, 14, 14))
    fig = ov_plots.cell_figure(trace.columns[1], 1, height=380)
    cells = json.loads(fig.to_json())["data"][1]
    assert cells["name"] == "cells" and isinstance(cells["customdata"], list)
    row, col, value = cells["customdata"][16]
    assert (row, col) == (1, 2) and value == pytest.approx(float(trace.columns[1].values[1, 1, 2]))
    assert cells["marker"]["size"] <= (380 - 50) / 14  # the square plot's side over the cells per side
    assert "value %{customdata[2]" in cells["hovertemplate"] and fig.data[0].hoverinfo == "skip"


def test_arithmetic_figure_writes_the_real_numbers():
    conv = nn.Conv2d(2, 1, 2)
    conv.weight.data = torch.tensor([[[[1.0, -1.0], [0.5, 2.0]], [[0.0, 1.0], [1.0, 0.0]]]])
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]])
    trace = overview.trace_network(nn.Sequential(conv).eval(), x)
    step = overview.cell_arithmetic(trace, 1, 0, 0, 0)
    assert [t.total for t in step.terms] == [1 - 2 + 1.5 + 8, 6 + 7]
    fig = ov_plots.arithmetic_figure(step)
    text = [v for row in fig.data[0].text for v in row if v]
    assert "9.50" not in text and "13.00" not in text  # sums are written beside, not in cells
    assert {"1.00", "2.00", "-1.00", "0.50", "-2.00", "1.50", "8.00", "6.00", "7.00"} <= set(text)
    assert any("Σ = 8.500" in a.text for a in fig.layout.annotations)


def test_another_threads_pass_on_the_shared_model_is_not_traced():
    import threading

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).eval()
    started, go_on = threading.Event(), threading.Event()

    class Slow(nn.Module):  # holds the traced pass inside the model while another thread runs it too
        def forward(self, x):
            if threading.current_thread() is threading.main_thread():
                started.set()
                go_on.wait(10)
            return x

    model.append(Slow())
    other = threading.Thread(target=lambda: (started.wait(10), model(torch.randn(1, 1, 9, 9)), go_on.set()))
    other.start()
    trace = overview.trace_network(model, torch.randn(1, 5, 5))
    other.join()
    assert [c.name for c in trace.columns] == ["input", "0", "1"]
    assert trace.columns[1].values.shape == (2, 3, 3)
