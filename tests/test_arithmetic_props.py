"""The convolution lab's arithmetic and operations against PyTorch over wide input spaces (Hypothesis), and the whole
small space of pooling exhaustively: sizes, ceil_mode, transposed convolution, never-read cells, the typeset rule.

A fixed number of examples per property, no example database, derandomized: CI runs the same cases every time.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnviz
from cnnviz import arithmetic, ops
from torch_oracles import conv_length, latex_value, pool_length, ranges, read_cells, transposed_length

FAST = settings(max_examples=200, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(FAST, max_examples=80)


def ours(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return None


sizes = st.one_of(st.integers(1, 40), st.integers(41, 5000))


@FAST
@given(n=sizes, k=st.integers(1, 40), s=st.integers(1, 20), before=st.integers(0, 20), extra=st.integers(0, 1),
       d=st.integers(1, 8))
def test_conv_output_size_is_pytorchs(n, k, s, before, extra, d):
    """Symmetric padding and Keras's uneven 'same' (one more zero after)."""
    got = ours(cnnviz.conv_output_size, n, k, stride=s, padding=before, dilation=d, padding_after=before + extra)
    assert got == conv_length(n, k, s, (before, before + extra), d)


@FAST
@given(n=sizes, k=st.integers(1, 24), s=st.integers(1, 16), p=st.integers(0, 12), d=st.integers(1, 4),
       ceil_mode=st.booleans())
def test_pool_output_size_is_pytorchs(n, k, s, p, d, ceil_mode):
    got = ours(cnnviz.pool_output_size, n, k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
    assert got == pool_length(n, k, s, p, d, ceil_mode=ceil_mode, mode="max")
    if d == 1:
        assert got == pool_length(n, k, s, p, ceil_mode=ceil_mode, mode="avg")


def test_pool_output_size_agrees_with_pytorch_on_the_whole_small_space(one_torch_thread):
    """Every pooling the Output size page can set on up to 12 cells (kernels to 11, strides to 6, padding to 6),
    with and without ceil_mode, max and average: the same size, or both refuse."""
    disagree = []
    for n, k, s, p, ceil_mode in itertools.product(range(1, 13), range(1, 12), range(1, 7), range(0, 7),
                                                   (False, True)):
        got = ours(cnnviz.pool_output_size, n, k, stride=s, padding=p, ceil_mode=ceil_mode)
        for mode in ("max", "avg"):
            if got != pool_length(n, k, s, p, ceil_mode=ceil_mode, mode=mode):
                disagree.append((mode, n, k, s, p, ceil_mode, got))
    assert not disagree, disagree[:10]
    assert cnnviz.pool_output_size(4, kernel=6, stride=4, ceil_mode=True) == 1  # a window hanging off the end


@FAST
@given(n=sizes, k=st.integers(1, 12), s=st.integers(1, 8), p=st.integers(0, 12), d=st.integers(1, 4),
       op=st.integers(0, 8))
def test_transposed_output_size_is_pytorchs(n, k, s, p, d, op):
    got = ours(arithmetic.transposed_output_size, n, k, stride=s, padding=p, dilation=d, output_padding=op)
    assert got == transposed_length(n, k, s, p, d, op)


@SLOW
@given(n=st.integers(1, 600), k=st.integers(1, 15), s=st.integers(1, 8), d=st.integers(1, 4))
def test_same_padding_keeps_n_over_s_like_keras_and_pytorch(n, k, s, d):
    before, after = arithmetic.same_padding_tf(n, k, stride=s, dilation=d)
    assert after - before in (0, 1)
    assert conv_length(n, k, s, (before, after), d) == -(-n // s)
    if s == 1:
        with warnings.catch_warnings():  # PyTorch warns that an even span needs a padded copy: that is the point
            warnings.simplefilter("ignore", UserWarning)
            ref = torch.nn.Conv2d(1, 1, (1, k), padding="same", dilation=(1, d))(torch.zeros(1, 1, 1, n))
        assert ref.shape[-1] == n


@SLOW
@given(n=st.integers(1, 60), k=st.integers(1, 9), s=st.integers(1, 9), p=st.integers(0, 6), d=st.integers(1, 4),
       kind=st.sampled_from(["conv", "same", "pool", "pool ceil"]))
def test_explained_size_rule_and_never_read_cells_are_pytorchs(n, k, s, p, d, kind):
    """The typeset rule evaluates to the output, which is PyTorch's; the never-read cells are exactly the cells that
    get no gradient from any window; the text lists them all as ranges, or the first ones, the last and the totals."""
    pooling = kind.startswith("pool")
    if kind == "same":
        pads = arithmetic.same_padding_tf(n, k, stride=s, dilation=d)
        info = ours(cnnviz.explain_output_size, n, k, stride=s, padding=pads[0], padding_after=pads[1], dilation=d)
    elif pooling:
        pads, d = (p, p), 1
        info = ours(arithmetic.explain_pool_output_size, n, k, stride=s, padding=p, ceil_mode=kind == "pool ceil")
    else:
        pads = (p, p)
        info = ours(cnnviz.explain_output_size, n, k, stride=s, padding=p, dilation=d)
    want = (pool_length(n, k, s, p, ceil_mode=kind == "pool ceil", mode="avg") if pooling
            else conv_length(n, k, s, pads, d))
    assert (info.output if info else None) == want
    if info is None:
        return
    value, stated = latex_value(info.latex)
    assert stated == want and value == want, info.latex
    never = set(range(n)) - read_cells(n, k, s, pads, d, pooling=pooling, ceil_mode=kind == "pool ceil")
    assert info.uncovered == tuple(sorted(never))
    assert (info.unread_count, info.unread_ranges) == (len(never), len(ranges(never)))
    text = arithmetic.describe_ranges(info)
    listed = [tuple(int(v.replace(",", "")) for v in part.split("–")) for part in text.split(" (")[0].split(", ")
              if part and part != "…"]
    listed = [(r[0], r[-1]) for r in listed]
    want_ranges = ranges(never)
    if len(want_ranges) <= arithmetic.MAX_LISTED_RANGES:
        assert listed == want_ranges
    else:
        assert listed == want_ranges[:arithmetic.MAX_LISTED_RANGES - 1] + want_ranges[-1:]
        assert f"({len(want_ranges):,} ranges, {len(never):,} cells in all)" in text
    assert "too many" not in text


@FAST
@given(n=st.integers(4_000_001, 10**9), k=st.integers(1, 9), s=st.integers(1, 10**6), p=st.integers(0, 8))
def test_never_read_cells_of_huge_inputs_are_counted_like_the_periodic_rule(n, k, s, p):
    """Past four million cells the gaps are worked out arithmetically: count them the long way, window by window
    (for up to 20,000 windows), and check the ranges kept."""
    info = cnnviz.explain_output_size(n, k, stride=s, padding=p)
    assert info.output == (n + 2 * p - k) // s + 1  # the notes' rule (PyTorch's on smaller inputs: above)
    if info.output <= 20_000:
        read = 0  # the union of the windows' input parts, each [o·s − p, o·s − p + k − 1] ∩ [0, n − 1]
        end = -1
        for o in range(info.output):
            a, b = max(o * s - p, end + 1), min(o * s - p + k - 1, n - 1)
            if b >= a:
                read += b - a + 1
                end = b
        assert info.unread_count == n - read
    assert len(info.unread) == min(info.unread_ranges, arithmetic.MAX_STORED_RANGES)
    kept = [*info.unread, *([info.unread_last] if info.unread_last else [])]
    assert all(0 <= a <= b < n for a, b in kept) and (info.unread_last is None) == (info.unread_ranges == 0)
    assert all(b1 + 1 < a2 for (_, b1), (a2, _) in zip(info.unread, info.unread[1:]))  # sorted, apart
    assert sum(b - a + 1 for a, b in info.unread) <= info.unread_count


@SLOW
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 3), o=st.integers(1, 3), k=st.integers(1, 4),
       s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_conv2d_and_im2col_are_f_conv2d(h, w, c, o, k, s, p, d, seed):
    rng = np.random.default_rng(seed)
    x, wt = rng.normal(size=(c, h, w)), rng.normal(size=(o, c, k, k))
    ref = ours(lambda: F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(wt), stride=s, padding=p,
                                dilation=d)[0].numpy()) if conv_length(min(h, w), k, s, (p, p), d) else None
    got = ours(ops.conv2d, x, wt, stride=s, padding=p, dilation=d)
    assert (got is None) == (ref is None)
    if ref is not None:
        np.testing.assert_allclose(got, ref, atol=1e-9)
        np.testing.assert_allclose(ops.im2col_conv(x, wt, stride=s, padding=p, dilation=d).output, ref, atol=1e-9)


@SLOW
@given(h=st.integers(1, 12), w=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 5), p=st.integers(0, 3),
       mode=st.sampled_from(["max", "avg"]), seed=st.integers(0, 2**16))
def test_pool2d_is_pytorchs(h, w, k, s, p, mode, seed):
    x = np.random.default_rng(seed).normal(size=(2, h, w))
    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    try:
        ref = fn(torch.from_numpy(x), k, s, p).numpy()
    except RuntimeError:
        ref = None
    got = ours(ops.pool2d, x, mode=mode, kernel=k, stride=s, padding=p)
    assert (got is None) == (ref is None)
    if ref is not None:
        np.testing.assert_allclose(got, ref, atol=1e-12)


finite = st.floats(-1e4, 1e4, allow_nan=False)


@FAST
@given(logits=st.lists(finite, min_size=2, max_size=8), t=st.floats(0.1, 5.0), target=st.integers(0, 7))
def test_softmax_and_losses_are_pytorchs(logits, t, target):
    z = np.array(logits)
    target %= len(z)
    zt = torch.tensor(z, dtype=torch.float64)
    np.testing.assert_allclose(ops.softmax(z, temperature=t), F.softmax(zt / t, dim=0).numpy(), atol=1e-12)
    ce = F.cross_entropy((zt / t)[None], torch.tensor([target])).item()
    assert ops.cross_entropy(z / t, target) == pytest.approx(ce, rel=1e-9, abs=1e-9)
    probs = F.softmax(zt / t, dim=0)
    onehot = torch.eye(len(z), dtype=torch.float64)[target]
    assert ops.mse(probs.numpy(), onehot.numpy()) == pytest.approx(F.mse_loss(probs, onehot).item(), abs=1e-12)
