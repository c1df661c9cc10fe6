"""Arithmetic beyond the notes, each against PyTorch: uneven 'same', ceil_mode, transposed and grouped convolution,
non-square kernels; the typeset formula; never-read cells of huge inputs summarised, not listed."""

from __future__ import annotations

import itertools
import random
import re
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnviz
from cnnviz import arithmetic, conv_cost


def _evaluate(formula: str) -> int:
    """Evaluate the text formula ⌊(a + 2·p − (d·(k−1)+1))/s⌋ + 1 = out with Python, ignoring the stated result."""
    lhs = formula.split("=")[0]
    expr = lhs.replace("⌊", "(").replace("⌋", ")").replace("·", "*").replace("−", "-")
    expr = re.sub(r"\)/(\d+)\)", r")//\1)", expr)
    return eval(expr)  # noqa: S307 - our own digits and operators only


def test_formula_with_dilation_keeps_its_brackets_and_evaluates_to_the_output():
    info = cnnviz.explain_output_size(7, 4, stride=2, padding=3, dilation=2)
    assert info.formula == "⌊(7 + 2·3 − (2·(4−1)+1))/2⌋ + 1 = 4"
    assert r"\left(2\cdot(4-1)+1\right)" in info.latex and info.latex.endswith("= 4")
    for n, k, s, p, d in itertools.product((5, 7, 12), (1, 2, 3, 4), (1, 2, 3), (0, 1, 3), (1, 2, 3)):
        try:
            info = cnnviz.explain_output_size(n, k, stride=s, padding=p, dilation=d)
        except ValueError:
            continue
        assert _evaluate(info.formula) == info.output, info.formula


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("n,k,s,d", [(7, 4, 1, 1), (8, 2, 1, 1), (9, 4, 1, 1), (10, 3, 1, 2), (6, 6, 1, 1)])
def test_same_padding_tf_matches_torch_same(n, k, s, d):
    before, after = arithmetic.same_padding_tf(n, k, stride=s, dilation=d)
    ref = nn.Conv2d(1, 1, (1, k), padding="same", dilation=(1, d), bias=False)
    nn.init.normal_(ref.weight)
    x = torch.randn(1, 1, 1, n)
    ours = F.conv2d(F.pad(x, (before, after)), ref.weight, dilation=(1, d))
    torch.testing.assert_close(ours, ref(x))
    assert cnnviz.conv_output_size(n, k, stride=s, padding=before, padding_after=after, dilation=d) == n
    assert after - before in (0, 1)  # the extra zero goes after: right and bottom


@pytest.mark.parametrize("n,k,s", [(7, 3, 2), (8, 2, 2), (10, 4, 3), (5, 5, 2), (224, 7, 2)])
def test_same_padding_tf_with_stride_gives_ceil_n_over_s(n, k, s):
    before, after = arithmetic.same_padding_tf(n, k, stride=s)
    out = cnnviz.conv_output_size(n, k, stride=s, padding=before, padding_after=after)
    assert out == -(-n // s)
    x = torch.zeros(1, 1, 1, n)
    assert F.conv2d(F.pad(x, (before, after)), torch.zeros(1, 1, 1, k), stride=(1, s)).shape[-1] == out


def test_pooling_ceil_mode_matches_torch():
    rng = random.Random(0)
    for _ in range(400):
        n, k = rng.randint(1, 30), rng.randint(1, 6)
        s, p = rng.randint(1, 4), rng.randint(0, k // 2)
        try:
            ours = cnnviz.pool_output_size(n, k, stride=s, padding=p, ceil_mode=True)
        except ValueError:
            continue
        ref = nn.MaxPool2d((1, k), stride=(1, s), padding=(0, p), ceil_mode=True)(torch.zeros(1, 1, 1, n))
        assert ours == ref.shape[-1], (n, k, s, p)


def test_transposed_convolution_matches_torch():
    rng = random.Random(1)
    for _ in range(300):
        n, k, s, p, d = rng.randint(1, 12), rng.randint(1, 5), rng.randint(1, 4), rng.randint(0, 3), rng.randint(1, 3)
        op = rng.randint(0, max(s, d) - 1)
        try:
            ours = arithmetic.transposed_output_size(n, k, stride=s, padding=p, dilation=d, output_padding=op)
        except ValueError:
            with pytest.raises(RuntimeError):
                nn.ConvTranspose2d(1, 1, (1, k), stride=(1, s), padding=(0, p), dilation=(1, d),
                                   output_padding=(0, op))(torch.zeros(1, 1, 1, n))
            continue
        ref = nn.ConvTranspose2d(1, 1, (1, k), stride=(1, s), padding=(0, p), dilation=(1, d),
                                 output_padding=(0, op))(torch.zeros(1, 1, 1, n))
        assert ours == ref.shape[-1], (n, k, s, p, d, op)


@pytest.mark.parametrize("cin,cout,k,groups", [(32, 32, 3, 32), (32, 64, 3, 1), (32, 64, (3, 5), 4), (8, 16, 1, 2)])
def test_grouped_and_depthwise_cost_match_torch(cin, cout, k, groups):
    layer = nn.Conv2d(cin, cout, k, groups=groups, padding="same")
    out = layer(torch.zeros(1, cin, 14, 14))
    cost = conv_cost.conv_cost(cin, cout, k, tuple(out.shape[-2:]), groups=groups)
    assert cost.params == sum(p.numel() for p in layer.parameters())
    assert cost.macs == layer.weight.numel() * 14 * 14


def test_depthwise_separable_is_cheaper_than_a_plain_conv():
    plain = conv_cost.conv_cost(32, 64, 3, (56, 56))
    depthwise = conv_cost.conv_cost(32, 32, 3, (56, 56), groups=32)
    pointwise = conv_cost.conv_cost(32, 64, 1, (56, 56))
    assert depthwise.params + pointwise.params < plain.params / 6
    assert depthwise.macs + pointwise.macs < plain.macs / 6


def test_groups_that_do_not_divide_are_refused_like_torch():
    with pytest.raises(ValueError, match="groups"):
        conv_cost.conv_cost(6, 8, 3, (4, 4), groups=4)
    with pytest.raises(ValueError):
        nn.Conv2d(6, 8, 3, groups=4)


def test_non_square_kernels_per_axis_match_torch():
    rng = random.Random(2)
    for _ in range(200):
        h, w = rng.randint(5, 20), rng.randint(5, 20)
        kh, kw, sh, sw = rng.randint(1, 3), rng.randint(1, 5), rng.randint(1, 3), rng.randint(1, 3)
        ref = nn.Conv2d(1, 1, (kh, kw), stride=(sh, sw))(torch.zeros(1, 1, h, w)).shape[-2:]
        assert (cnnviz.conv_output_size(h, kh, stride=sh), cnnviz.conv_output_size(w, kw, stride=sw)) == tuple(ref)


def test_never_read_cells_of_a_huge_input_are_summarised_fast():
    t = time.perf_counter()
    info = cnnviz.explain_output_size(1_000_000_000, 3, stride=100_000_000)
    assert time.perf_counter() - t < 1.0  # arithmetic, not a list of cells (a loose bound: it takes microseconds)
    assert info.output == 10
    assert info.unread_ranges == 10 and info.unread_count == 1_000_000_000 - 30
    assert arithmetic.describe_ranges(info).startswith("3–99,999,999, 100,000,003–199,999,999")
    with pytest.raises(ValueError, match="too many"):
        info.uncovered


def test_summarised_ranges_agree_with_the_cell_by_cell_answer(monkeypatch):
    cases = [(n, k, s, p) for n, k, s, p in itertools.product((1, 2, 9, 23, 50), (1, 2, 3, 4), (1, 2, 4, 7, 9), (0, 1, 2, 5, 9))
             if k <= n + 2 * p]
    exact = {c: cnnviz.explain_output_size(c[0], c[1], stride=c[2], padding=c[3]) for c in cases}
    monkeypatch.setattr(arithmetic, "_BRUTE_FORCE_CELLS", 0)
    for c, want in exact.items():
        got = cnnviz.explain_output_size(c[0], c[1], stride=c[2], padding=c[3])
        assert (got.unread, got.unread_count, got.unread_ranges) == (want.unread, want.unread_count,
                                                                    want.unread_ranges), c
