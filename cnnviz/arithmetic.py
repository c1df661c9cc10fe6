"""Convolution arithmetic: output sizes and the checks PyTorch would make.

Pure integer math, no torch needed. The rule taught in the lecture notes is

    N_out = floor((N + 2p - k) / s) + 1

and with dilation d the kernel spans d*(k-1)+1 cells, which is what PyTorch computes:

    N_out = floor((N + 2p - d*(k-1) - 1) / s) + 1
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["conv_output_size", "pool_output_size", "OutputSize", "explain_output_size", "same_padding", "window_cells"]


def _check_int(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        hint = {
            "size": "an input needs at least one row and column",
            "kernel": "a kernel covers at least one cell",
            "stride": "the window moves at least one cell at a time",
            "padding": "padding adds zeros around the input; it cannot remove any",
            "dilation": "dilation 1 means an ordinary, dense kernel",
        }.get(name, "")
        raise ValueError(f"{name} must be >= {minimum}, got {value}" + (f": {hint}" if hint else ""))
    return value


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis, exactly as ``nn.Conv2d`` computes it.

    Raises ``ValueError`` (with a hint) for anything PyTorch would reject: a kernel wider than the
    padded input, stride or dilation below 1, negative padding; ``TypeError`` for non-integers.
    """
    size = _check_int("size", size, minimum=1)
    kernel = _check_int("kernel", kernel, minimum=1)
    stride = _check_int("stride", stride, minimum=1)
    padding = _check_int("padding", padding, minimum=0)
    dilation = _check_int("dilation", dilation, minimum=1)
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    if span > padded:
        dil = f" (dilation {dilation} makes it span {span} cells)" if dilation > 1 else ""
        raise ValueError(
            f"kernel {kernel}{dil} does not fit an input of {size} cells with padding {padding}: "
            f"need kernel span <= input + 2*padding = {padded}"
        )
    return (padded - span) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int | None = None, padding: int = 0, dilation: int = 1) -> int:
    """Output length of ``nn.MaxPool2d``/``nn.AvgPool2d`` (floor mode); stride defaults to the kernel.

    PyTorch also demands padding <= kernel // 2 for pooling; that is checked here too.
    """
    stride = kernel if stride is None else stride
    out = conv_output_size(size, kernel, stride=stride, padding=padding, dilation=dilation)
    if padding > kernel // 2:
        raise ValueError(f"pooling padding {padding} is too large for kernel {kernel}: PyTorch allows at most kernel//2 = {kernel // 2}")
    return out


@dataclass(frozen=True)
class OutputSize:
    """One axis of a convolution, worked out the way the lecture notes write it."""

    size: int
    kernel: int
    stride: int
    padding: int
    dilation: int
    span: int  # cells one window covers: dilation*(kernel-1)+1
    output: int
    remainder: int  # (N + 2p - span) mod s: padded cells past the last window
    uncovered: tuple[int, ...]  # input indices (0-based, unpadded) that no window reads

    @property
    def exact(self) -> bool:
        return self.remainder == 0

    @property
    def formula(self) -> str:
        """The rule with the numbers substituted, e.g. ⌊(28 + 2·2 − 5)/1⌋ + 1 = 28."""
        k = str(self.kernel) if self.dilation == 1 else f"({self.dilation}·({self.kernel}−1)+1)"
        return f"⌊({self.size} + 2·{self.padding} − {k})/{self.stride}⌋ + 1 = {self.output}"


def explain_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> OutputSize:
    """``conv_output_size`` plus the working: formula text, remainder and the never-read input cells."""
    out = conv_output_size(size, kernel, stride=stride, padding=padding, dilation=dilation)
    span = dilation * (kernel - 1) + 1
    remainder = (size + 2 * padding - span) % stride
    read: set[int] = set()
    for o in range(out):
        start = o * stride - padding
        read.update(start + dilation * i for i in range(kernel))
    uncovered = tuple(i for i in range(size) if i not in read)
    return OutputSize(size, kernel, stride, padding, dilation, span, out, remainder, uncovered)


def same_padding(kernel: int, *, dilation: int = 1) -> int:
    """Padding that keeps the size unchanged at stride 1 ("same"): (span − 1) / 2 with span = d·(k−1)+1.

    Raises ``ValueError`` when the window spans an even number of cells: equal padding on both sides
    cannot keep the size then (PyTorch's ``padding="same"`` pads one side more in that case).
    """
    kernel = _check_int("kernel", kernel, minimum=1)
    dilation = _check_int("dilation", dilation, minimum=1)
    span = dilation * (kernel - 1) + 1
    if span % 2 == 0:
        raise ValueError(
            f"'same' needs an odd window: kernel {kernel} with dilation {dilation} spans {span} cells, so equal "
            "padding on both sides cannot keep the size; use an odd kernel"
        )
    return (span - 1) // 2


def window_cells(out_index: int, *, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, ...]:
    """Padded-grid positions (0-based, padding included) that output cell ``out_index`` reads along one axis."""
    start = out_index * stride
    return tuple(start + dilation * i for i in range(kernel))
