"""Convolution arithmetic: output sizes and the checks PyTorch would make.

Pure integer math, no torch needed. The rule taught in the lecture notes is

    N_out = floor((N + 2p - k) / s) + 1

and with dilation d the kernel spans d*(k-1)+1 cells, which is what PyTorch computes:

    N_out = floor((N + 2p - d*(k-1) - 1) / s) + 1

Beyond the notes (the convolution-arithmetic paper): uneven 'same' padding as Keras/TensorFlow do it, pooling with
``ceil_mode``, transposed convolution. The parameters and cost of grouped and depthwise convolution are in
:mod:`cnnviz.conv_cost`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .i18n import _

__all__ = [
    "OutputSize",
    "conv_output_size",
    "describe_ranges",
    "explain_output_size",
    "explain_pool_output_size",
    "pool_output_size",
    "same_padding",
    "same_padding_tf",
    "transposed_output_size",
    "window_cells",
]

MAX_LISTED_RANGES = 16  # never-read ranges written out in full; past this the first ones, "…" and the last one
MAX_STORED_RANGES = 1_000  # never-read ranges an OutputSize keeps (every one of them for any drawable input)
_BRUTE_FORCE_CELLS = 4_000_000  # up to this many input cells the never-read ones are found directly


def _hint(name: str) -> str:
    return {
        "size": _("an input needs at least one row and column"),
        "kernel": _("a kernel covers at least one cell"),
        "stride": _("the window moves at least one cell at a time"),
        "padding": _("padding adds zeros around the input; it cannot remove any"),
        "dilation": _("dilation 1 means an ordinary, dense kernel"),
        "groups": _("groups split the channels into that many parts"),
    }.get(name, "")


def _check_int(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(_("{name} must be a whole number, got {value!r}").format(name=name, value=value))
    value = int(value)
    if value < minimum:
        raise ValueError(_("{name} must be at least {minimum}, got {value}: {hint}").format(
            name=name, minimum=minimum, value=value, hint=_hint(name)))
    return value


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, *,
                     padding_after: int | None = None) -> int:
    """Output length of a convolution along one axis, exactly as ``nn.Conv2d`` computes it.

    ``padding`` zeros go before the input and ``padding_after`` (default: the same) after it. Raises ``ValueError``
    (with a hint) for anything PyTorch would reject: a kernel wider than the padded input, stride or dilation below
    1, negative padding; ``TypeError`` for non-integers.
    """
    size = _check_int("size", size, minimum=1)
    kernel = _check_int("kernel", kernel, minimum=1)
    stride = _check_int("stride", stride, minimum=1)
    padding = _check_int("padding", padding, minimum=0)
    after = padding if padding_after is None else _check_int("padding", padding_after, minimum=0)
    dilation = _check_int("dilation", dilation, minimum=1)
    span = dilation * (kernel - 1) + 1
    padded = size + padding + after
    if span > padded:
        if dilation > 1:
            msg = _("kernel {k} with dilation {d} spans {span} cells and does not fit an input of {n} cells with "
                    "padding {p}: the span must be at most input + padding on both sides = {padded}")
        else:
            msg = _("kernel {k} does not fit an input of {n} cells with padding {p}: the kernel must be at most "
                    "input + padding on both sides = {padded}")
        raise ValueError(msg.format(k=kernel, d=dilation, span=span, n=size, p=padding, padded=padded))
    return (padded - span) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int | None = None, padding: int = 0, dilation: int = 1, *,
                     ceil_mode: bool = False) -> int:
    """Output length of ``nn.MaxPool2d``/``nn.AvgPool2d`` as PyTorch computes it; stride defaults to the kernel.

    ``ceil_mode=True`` rounds up instead of down: a last window may hang off the end of the (padded) input, as long as
    it starts inside the input or the left padding; one that would start in the right padding is dropped. The kernel
    may then even be longer than the padded input. PyTorch also demands padding <= kernel // 2 for pooling. Raises
    ``ValueError`` (with a hint) for what PyTorch rejects, ``TypeError`` for non-integers.
    """
    size = _check_int("size", size, minimum=1)
    kernel = _check_int("kernel", kernel, minimum=1)
    stride = kernel if stride is None else _check_int("stride", stride, minimum=1)
    padding = _check_int("padding", padding, minimum=0)
    dilation = _check_int("dilation", dilation, minimum=1)
    if padding > kernel // 2:
        raise ValueError(_("pooling padding {p} is too large for kernel {k}: PyTorch allows at most kernel // 2 = "
                           "{limit}").format(p=padding, k=kernel, limit=kernel // 2))
    if not ceil_mode:
        return conv_output_size(size, kernel, stride=stride, padding=padding, dilation=dilation)
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * padding - span + stride - 1) // stride + 1  # rounded up (// rounds down, also below 0)
    if (out - 1) * stride >= size + padding:  # the last window would start in the right padding
        out -= 1
    if out < 1:
        raise ValueError(_("kernel {k} spans {span} cells: even with ceil_mode it does not fit an input of {n} cells "
                           "with padding {p} and stride {s}; a window that hangs off the end must still reach the "
                           "input, so the span can be at most input + 2·padding + stride − 1 = {limit}").format(
            k=kernel, span=span, n=size, p=padding, s=stride, limit=size + 2 * padding + stride - 1))
    return out


def transposed_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                           output_padding: int = 0) -> int:
    """Output length of ``nn.ConvTranspose2d``: (N − 1)·s − 2p + d·(k − 1) + output_padding + 1."""
    size = _check_int("size", size, minimum=1)
    kernel = _check_int("kernel", kernel, minimum=1)
    stride = _check_int("stride", stride, minimum=1)
    padding = _check_int("padding", padding, minimum=0)
    dilation = _check_int("dilation", dilation, minimum=1)
    output_padding = _check_int("output_padding", output_padding, minimum=0)
    if output_padding >= max(stride, dilation):
        raise ValueError(_("output_padding {op} must be smaller than the stride or the dilation ({limit})").format(
            op=output_padding, limit=max(stride, dilation)))
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(_("padding {p} removes more than the transposed convolution produces: the output would "
                           "have {out} cells").format(p=padding, out=out))
    return out


@dataclass(frozen=True)
class OutputSize:
    """One axis of a convolution or pooling layer, worked out the way the lecture notes write it.

    ``unread`` lists the input cells (0-based, unpadded) that no window reads, as inclusive ranges: all of them, up
    to ``MAX_STORED_RANGES`` (then the first ones; ``unread_last`` is always the last), ``unread_count`` cells in
    ``unread_ranges`` ranges in all. ``ceil_mode``: pooling that rounds up (PyTorch's ``ceil_mode=True``).
    """

    size: int
    kernel: int
    stride: int
    padding: int
    dilation: int
    span: int  # cells one window covers: dilation*(kernel-1)+1
    output: int
    remainder: int  # (N + p_before + p_after - span) mod s: padded cells past the last window
    unread: tuple[tuple[int, int], ...]
    unread_count: int
    unread_ranges: int
    padding_after: int | None = None  # None: the same as ``padding``
    unread_last: tuple[int, int] | None = None
    ceil_mode: bool = False

    @property
    def after(self) -> int:
        return self.padding if self.padding_after is None else self.padding_after

    @property
    def exact(self) -> bool:
        return self.remainder == 0

    @property
    def padded(self) -> int:
        return self.size + self.padding + self.after

    @property
    def rounded(self) -> int:
        """What the rule gives before ceil_mode drops a window that would start in the right padding."""
        top = self.padded - self.span
        return (-(-top // self.stride) if self.ceil_mode else top // self.stride) + 1

    @property
    def dropped(self) -> bool:
        """ceil_mode: the rounded-up rule asked for one more window, but it would start in the right padding."""
        return self.rounded != self.output

    @property
    def overhang(self) -> int:
        """Cells the last window reaches past the end of the padded input (ceil_mode only; else 0)."""
        return max(0, (self.output - 1) * self.stride + self.span - self.padded)

    @property
    def uncovered(self) -> tuple[int, ...]:
        """Every never-read input cell, one by one (for up to 100,000 of them; else ValueError: see ``unread``)."""
        if self.unread_ranges > len(self.unread) or self.unread_count > 100_000:
            raise ValueError(_("{n:,} input cells are never read: too many to list one by one; OutputSize.unread "
                               "holds them as ranges").format(n=self.unread_count))
        return tuple(i for a, b in self.unread for i in range(a, b + 1))

    def _parts(self, *, latex: bool) -> tuple[str, str]:
        dot, minus = (r"\cdot ", "-") if latex else ("·", "−")
        if self.dilation == 1:
            k = str(self.kernel)
        elif latex:
            k = rf"\left({self.dilation}\cdot({self.kernel}-1)+1\right)"
        else:
            k = f"({self.dilation}·({self.kernel}−1)+1)"
        pad = f"2{dot}{self.padding}" if self.after == self.padding else f"{self.padding} + {self.after}"
        return f"{self.size} + {pad} {minus} {k}", ("" if not self.dropped else f" {minus} 1")

    @property
    def formula(self) -> str:
        """The rule with the numbers substituted, e.g. ⌊(28 + 2·2 − 5)/1⌋ + 1 = 28; a dilated kernel's span in
        brackets: ⌊(7 + 2·3 − (2·(4−1)+1))/2⌋ + 1 = 4; ceil_mode rounds up: ⌈(5 + 2·0 − 2)/2⌉ + 1 = 3
        (and "− 1" when the last window would start in the right padding)."""
        top, drop = self._parts(latex=False)
        left, right = ("⌈", "⌉") if self.ceil_mode else ("⌊", "⌋")
        return f"{left}({top})/{self.stride}{right} + 1{drop} = {self.output}"

    @property
    def latex(self) -> str:
        """The same substitution as LaTeX (for st.latex)."""
        top, drop = self._parts(latex=True)
        left, right = (r"\left\lceil", r"\right\rceil") if self.ceil_mode else (r"\left\lfloor", r"\right\rfloor")
        return rf"{left} \frac{{{top}}}{{{self.stride}}} {right} + 1{drop} = {self.output}"


def explain_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, *,
                        padding_after: int | None = None) -> OutputSize:
    """``conv_output_size`` plus the working: formula, remainder and the never-read input cells (as ranges).

    Works for any size (a billion cells included): the never-read cells are found arithmetically, never listed
    one by one. Raises ValueError like ``conv_output_size``.
    """
    out = conv_output_size(size, kernel, stride=stride, padding=padding, dilation=dilation,
                           padding_after=padding_after)
    return _explained(size, kernel, stride, padding, dilation, out, padding_after=padding_after)


def explain_pool_output_size(size: int, kernel: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
                             *, ceil_mode: bool = False) -> OutputSize:
    """``pool_output_size`` plus the working, as ``explain_output_size`` gives it for a convolution; with
    ``ceil_mode`` the formula rounds up and ``overhang``/``dropped`` say what happened to the last window.
    Raises ValueError like ``pool_output_size``."""
    out = pool_output_size(size, kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    return _explained(size, kernel, kernel if stride is None else stride, padding, dilation, out, ceil_mode=ceil_mode)


def _explained(size: int, kernel: int, stride: int, padding: int, dilation: int, out: int, *,
               padding_after: int | None = None, ceil_mode: bool = False) -> OutputSize:
    after = padding if padding_after is None else padding_after
    span = dilation * (kernel - 1) + 1
    remainder = (size + padding + after - span) % stride
    listed, count, n_ranges, last = _unread(size, kernel, stride, padding, dilation, out)
    return OutputSize(size, kernel, stride, padding, dilation, span, out, remainder, listed, count, n_ranges,
                      padding_after, last, bool(ceil_mode))


def _ranges_of(mask_unread: np.ndarray, offset: int = 0) -> list[tuple[int, int]]:
    """Inclusive (start, end) runs of True in a boolean array."""
    if not mask_unread.any():
        return []
    padded = np.concatenate(([False], mask_unread, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a) + offset, int(b) - 1 + offset) for a, b in zip(edges[::2], edges[1::2])]


Unread = tuple[tuple[tuple[int, int], ...], int, int, "tuple[int, int] | None"]


def _unread(size: int, kernel: int, stride: int, padding: int, dilation: int, out: int) -> Unread:
    """(stored ranges, cells never read, number of ranges, the last range). Window o reads x = o·s − p + d·i, i < k
    (a window that hangs off the end in ceil_mode simply reads fewer cells)."""
    if size <= _BRUTE_FORCE_CELLS:
        read = np.zeros(size, dtype=bool)
        for i in range(kernel):
            first = dilation * i - padding  # the cell window 0's tap i reads
            o0 = max(0, -(-(-first) // stride)) if first < 0 else 0  # first window whose tap lands at x >= 0
            start = first + o0 * stride
            if o0 < out and start < size:
                stop = min(size, first + (out - 1) * stride + 1)
                read[start:stop:stride] = True
        ranges = _ranges_of(~read)
        return (tuple(ranges[:MAX_STORED_RANGES]), int(size - read.sum()), len(ranges),
                ranges[-1] if ranges else None)
    if dilation == 1:
        return _unread_dense_kernel(size, kernel, stride, padding, out)
    raise ValueError(_("the input is too long ({n:,} cells) to work out which cells a dilated kernel skips; "
                       "the output size is {out:,}").format(n=size, out=out))


def _unread_dense_kernel(size: int, kernel: int, stride: int, padding: int, out: int) -> Unread:
    """Never-read cells for a kernel without holes: the gaps between windows when the stride is longer than the
    kernel (the same gap after every window, clipped at the input's ends), and the cells after the last window."""
    listed: list[tuple[int, int]] = []
    count = n_ranges = 0
    last: tuple[int, int] | None = None

    def add(a: int, b: int) -> None:
        nonlocal count, n_ranges, last
        if a > b:
            return
        if len(listed) < MAX_STORED_RANGES:
            listed.append((a, b))
        count += b - a + 1
        n_ranges += 1
        last = (a, b)

    if stride > kernel:  # the gap after window o: [o·s − p + k, (o+1)·s − p − 1], for o = 0 … out − 2
        s, p, k = stride, padding, kernel
        o_lo = max(0, -(-(p + 1) // s) - 1)  # first gap that reaches cell 0
        o_full_lo = max(o_lo, -(-(p - k) // s))  # first gap that starts at or after cell 0
        o_full_hi = min(out - 2, (size + p) // s - 1)  # last gap that ends inside the input
        for o in range(o_lo, min(o_full_lo, out - 1)):  # a gap across cell 0 (at most one)
            add(max(0, o * s - p + k), min(size - 1, (o + 1) * s - p - 1))
        if o_full_hi >= o_full_lo:
            first = o_full_lo * s - p + k
            for j in range(min(o_full_hi - o_full_lo + 1, MAX_STORED_RANGES - len(listed))):
                listed.append((first + j * s, first + j * s + s - k - 1))
            full = o_full_hi - o_full_lo + 1
            count += full * (s - k)
            n_ranges += full
            last = (first + (full - 1) * s, first + (full - 1) * s + s - k - 1)
        o = max(o_full_hi + 1, o_full_lo)
        if o <= out - 2:  # a gap that runs past the input's end
            add(o * s - p + k, size - 1)
    tail = (out - 1) * stride - padding + kernel  # first cell after the last window
    if tail < size:
        add(max(0, tail), size - 1)
    return tuple(listed), count, n_ranges, last


def describe_ranges(info: OutputSize, *, limit: int = MAX_LISTED_RANGES) -> str:
    """The never-read cells as ranges: "7", "2–3, 7–8"; past ``limit`` ranges the first ones, "…", the last one
    and the totals: "1, 3, 5, …, 999 (500 ranges, 500 cells in all)"."""

    def text(a: int, b: int) -> str:
        return f"{a:,}" if a == b else f"{a:,}–{b:,}"

    if info.unread_ranges <= min(limit, len(info.unread)):
        return ", ".join(text(a, b) for a, b in info.unread)
    head = ", ".join(text(a, b) for a, b in info.unread[:max(1, limit - 1)])
    tail = text(*info.unread_last) if info.unread_last is not None else ""
    return f"{head}, …, {tail} " + _("({ranges:,} ranges, {cells:,} cells in all)").format(
        ranges=info.unread_ranges, cells=info.unread_count)


def same_padding(kernel: int, *, dilation: int = 1) -> int:
    """Padding that keeps the size unchanged at stride 1 ("same"): (span − 1) / 2 with span = d·(k−1)+1.

    Raises ``ValueError`` when the window spans an even number of cells: equal padding on both sides cannot keep
    the size then (see ``same_padding_tf`` for what Keras, TensorFlow and PyTorch do instead).
    """
    kernel = _check_int("kernel", kernel, minimum=1)
    dilation = _check_int("dilation", dilation, minimum=1)
    span = dilation * (kernel - 1) + 1
    if span % 2 == 0:
        raise ValueError(_("'same' with equal padding needs an odd window: kernel {k} with dilation {d} spans {span} "
                           "cells").format(k=kernel, d=dilation, span=span))
    return (span - 1) // 2


def same_padding_tf(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """(before, after) zeros of Keras/TensorFlow ``padding='same'``: the output has ⌈N / s⌉ cells, and when the
    padding needed is odd the extra zero goes after (right, bottom). PyTorch's ``padding='same'`` (stride 1) pads the
    same way."""
    size = _check_int("size", size, minimum=1)
    kernel = _check_int("kernel", kernel, minimum=1)
    stride = _check_int("stride", stride, minimum=1)
    dilation = _check_int("dilation", dilation, minimum=1)
    span = dilation * (kernel - 1) + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def window_cells(out_index: int, *, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, ...]:
    """Padded-grid positions (0-based, padding included) that output cell ``out_index`` reads along one axis."""
    start = out_index * stride
    return tuple(start + dilation * i for i in range(kernel))
