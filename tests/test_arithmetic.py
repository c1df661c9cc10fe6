"""cnnviz.arithmetic against PyTorch itself: nn.Conv2d / pooling shapes, and where PyTorch refuses."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnviz
from cnnviz import arithmetic


# Thousands of tiny convolutions: PyTorch's thread pool only adds overhead (and the machine is shared).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _torch_conv_shape(h: int, w: int, k: int, s: int, p: int, d: int) -> tuple[int, int] | None:
    """nn.Conv2d's output (H, W), or None when PyTorch raises (at construction or forward)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zero-element weights warn before they fail
            conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
            out = conv(torch.zeros(1, 1, h, w))
    except (RuntimeError, ValueError):
        return None
    return tuple(out.shape[-2:])  # type: ignore[return-value]


def _ours(n: int, k: int, s: int, p: int, d: int) -> int | None:
    try:
        return cnnviz.conv_output_size(n, k, stride=s, padding=p, dilation=d)
    except ValueError:
        return None


GRID = list(itertools.product(range(1, 10), range(0, 6), range(0, 4), range(-1, 4), range(0, 4)))


def test_conv_output_size_matches_nn_conv2d_everywhere():
    checked = refused = 0
    with torch.no_grad():
        for n, k, s, p, d in GRID:
            expected = _torch_conv_shape(n, n + 3, k, s, p, d)
            got = (_ours(n, k, s, p, d), _ours(n + 3, k, s, p, d))
            if expected is None:
                assert got[0] is None or got[1] is None, f"PyTorch refuses n={n} k={k} s={s} p={p} d={d}, we gave {got}"
                refused += 1
            else:
                assert got == expected, f"n={n} k={k} s={s} p={p} d={d}"
                checked += 1
    assert checked > 1000 and refused > 1000  # both sides of the boundary are really exercised


@pytest.mark.parametrize("kwargs, word", [
    (dict(size=5, kernel=7), "kernel"),
    (dict(size=5, kernel=3, stride=0), "stride"),
    (dict(size=5, kernel=3, padding=-1), "padding"),
    (dict(size=5, kernel=3, dilation=0), "dilation"),
    (dict(size=5, kernel=0), "kernel"),
    (dict(size=0, kernel=1), "size"),
    (dict(size=5, kernel=3, dilation=3), "dilation"),
])
def test_impossible_combinations_raise_value_error_with_a_hint(kwargs, word):
    with pytest.raises(ValueError, match=word):
        cnnviz.conv_output_size(**kwargs)


@pytest.mark.parametrize("bad", [2.5, "3", None, True])
def test_non_integers_raise_type_error(bad):
    with pytest.raises(TypeError):
        cnnviz.conv_output_size(5, bad)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_output_size_matches_torch_pooling(mode):
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    for n, k, s, p in itertools.product(range(1, 9), range(1, 5), range(1, 4), range(0, 4)):
        try:
            expected = tuple(pool(torch.zeros(1, 1, n, n), k, stride=s, padding=p).shape[-2:])
        except RuntimeError:
            expected = None
        try:
            got = cnnviz.pool_output_size(n, k, stride=s, padding=p)
        except ValueError:
            got = None
        assert (got, got) == expected if expected else got is None, f"{mode} n={n} k={k} s={s} p={p}"


def test_pool_stride_defaults_to_kernel():
    assert cnnviz.pool_output_size(28, 2) == tuple(nn.MaxPool2d(2)(torch.zeros(1, 1, 28, 28)).shape)[-1] == 14


def test_formula_substitutes_the_numbers():
    info = cnnviz.explain_output_size(28, 5, padding=2)
    assert info.formula == "⌊(28 + 2·2 − 5)/1⌋ + 1 = 28"
    assert info.output == 28 and info.exact and info.uncovered == ()


def test_uncovered_cells_are_exactly_those_without_gradient():
    """Oracle: an input cell no window reads gets zero gradient from sum(conv(x)) with an all-ones kernel."""
    for n, k, s, p, d in itertools.product(range(3, 10), range(1, 4), range(1, 4), range(0, 2), range(1, 3)):
        try:
            info = cnnviz.explain_output_size(n, k, stride=s, padding=p, dilation=d)
        except ValueError:
            continue
        x = torch.zeros(1, 1, 1, n, requires_grad=True)
        F.conv2d(x, torch.ones(1, 1, 1, k), stride=(1, s), padding=(0, p), dilation=(1, d)).sum().backward()
        never = tuple(int(i) for i in torch.nonzero(x.grad[0, 0, 0] == 0).flatten())
        assert info.uncovered == never, f"n={n} k={k} s={s} p={p} d={d}"
        assert info.exact == ((n + 2 * p - info.span) % s == 0)


def test_inexact_division_reports_remainder_and_unread_rows():
    info = cnnviz.explain_output_size(8, 5, stride=2)
    assert (info.output, info.remainder, info.uncovered, info.exact) == (2, 1, (7,), False)


def test_same_padding_keeps_the_size_like_torch_same():
    for k, d in itertools.product(range(1, 8), range(1, 4)):
        span = d * (k - 1) + 1
        if span % 2 == 0:
            with pytest.raises(ValueError, match="odd"):
                arithmetic.same_padding(k, dilation=d)
            continue
        p = arithmetic.same_padding(k, dilation=d)
        ref = nn.Conv2d(1, 1, k, padding="same", dilation=d)(torch.zeros(1, 1, 20, 20)).shape[-1]
        assert cnnviz.conv_output_size(20, k, padding=p, dilation=d) == ref == 20


def test_window_cells_follow_stride_and_dilation():
    assert arithmetic.window_cells(2, kernel=3, stride=2, dilation=2) == (4, 6, 8)
    assert arithmetic.window_cells(0, kernel=1) == (0,)
