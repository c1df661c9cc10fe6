"""Convolution by hand: one output cell's multiply-add, ``conv2d`` as ``F.conv2d`` computes it, and im2col."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import conv_output_size
from ..i18n import N_, _
from .arrays import checked_array, pad2d, windows

__all__ = ["EXAMPLE_PATTERNS", "PATTERN_LABELS", "Im2Col", "Window", "conv2d", "conv_window", "example_grid", "im2col",
           "im2col_conv"]


@dataclass(frozen=True)
class Window:
    """One output cell of a 2-D convolution, worked out: which cells it reads and the multiply-add."""

    out_row: int
    out_col: int
    rows: tuple[int, ...]  # padded-grid rows the kernel rows read
    cols: tuple[int, ...]
    patch: np.ndarray  # k×k input values under the kernel (zeros where it reads padding)
    kernel: np.ndarray
    bias: float
    value: float

    @property
    def products(self) -> np.ndarray:
        return self.patch * self.kernel

    def expression(self, *, digits: int = 2) -> str:
        """The multiply-add written out, e.g. ``1·0 + 2·(−1) + … + 0 = 3``."""

        def f(v: float) -> str:
            s = f"{v:.{digits}f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))
            s = s.replace("-", "−")
            return f"({s})" if v < 0 else s

        terms = [f"{f(p)}·{f(k)}" for p, k in zip(self.patch.ravel(), self.kernel.ravel())]
        if self.bias:
            terms.append(f(self.bias))
        return " + ".join(terms) + f" = {f(round(self.value, digits))}"


def conv_window(x: np.ndarray, kernel: np.ndarray, *, out_row: int, out_col: int, stride: int = 1, padding: int = 0,
                dilation: int = 1, bias: float = 0.0) -> Window:
    """The multiply-add behind output cell (out_row, out_col) of a one-channel convolution.

    Raises ``ValueError`` for an impossible size combination or an output cell outside the output.
    """
    x = checked_array(x, name="input", ndim=(2,))
    kernel = checked_array(kernel, name="kernel", ndim=(2,))
    if kernel.shape[0] != kernel.shape[1]:
        raise ValueError(_("the kernel must be square, got {kernel_shape}").format(kernel_shape=kernel.shape))
    k = kernel.shape[0]
    h_out = conv_output_size(x.shape[0], k, stride=stride, padding=padding, dilation=dilation)
    w_out = conv_output_size(x.shape[1], k, stride=stride, padding=padding, dilation=dilation)
    if not (0 <= out_row < h_out and 0 <= out_col < w_out):
        raise ValueError(_("output cell ({out_row}, {out_col}) is outside the {h_out}×{w_out} output").format(out_row=out_row, out_col=out_col, h_out=h_out, w_out=w_out))
    rows = tuple(out_row * stride + dilation * i for i in range(k))
    cols = tuple(out_col * stride + dilation * j for j in range(k))
    patch = pad2d(x, padding)[np.ix_(rows, cols)]
    value = float((patch * kernel).sum() + bias)
    return Window(out_row, out_col, rows, cols, patch, kernel.copy(), float(bias), value)


def conv2d(x: np.ndarray, weight: np.ndarray, *, stride: int = 1, padding: int = 0, dilation: int = 1,
           bias: np.ndarray | None = None) -> np.ndarray:
    """Cross-correlation as ``F.conv2d`` computes it: C×H×W input, O×C×k×k weights -> O×H'×W'.

    A H×W input with a k×k kernel gives H'×W'. Raises ``ValueError`` for channel or size mismatches.
    """
    x = checked_array(x, name="input", ndim=(2, 3))
    weight = checked_array(weight, name="weights", ndim=(2, 4))
    single = x.ndim == 2 and weight.ndim == 2
    if x.ndim == 2:
        x = x[None]
    if weight.ndim == 2:
        weight = weight[None, None]
    if weight.shape[1] != x.shape[0]:
        raise ValueError(_("each filter has {weight_shape_1} channels but the input has {x_shape_0}: a filter needs as many channels as its input").format(weight_shape_1=weight.shape[1], x_shape_0=x.shape[0]))
    if weight.shape[2] != weight.shape[3]:
        raise ValueError(_("kernels must be square, got {weight_shape_2}×{weight_shape_3}").format(weight_shape_2=weight.shape[2], weight_shape_3=weight.shape[3]))
    win = windows(x, weight.shape[2], stride, padding, dilation)  # C×H'×W'×k×k
    out = np.einsum("chwij,ocij->ohw", win, weight, optimize=True)
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64).reshape(-1, 1, 1)
    return out[0] if single else out


EXAMPLE_PATTERNS = ("vertical edge", "horizontal edge", "diagonal", "random digits")
PATTERN_LABELS = {"vertical edge": N_("vertical edge"), "horizontal edge": N_("horizontal edge"),
                  "diagonal": N_("diagonal"), "random digits": N_("random digits")}  # shown as _(PATTERN_LABELS[p])


def example_grid(height: int, width: int, *, pattern: str = "vertical edge", seed: int = 0) -> np.ndarray:
    """A small integer grid to convolve by hand: an edge, a diagonal line or random digits 0-9."""
    if height < 1 or width < 1:
        raise ValueError(_("the grid needs at least 1×1 cells, got {height}×{width}").format(height=height, width=width))
    if pattern == "vertical edge":
        return np.tile((np.arange(width) >= width // 2) * 9.0, (height, 1))
    if pattern == "horizontal edge":
        return np.tile(((np.arange(height) >= height // 2) * 9.0)[:, None], (1, width))
    if pattern == "diagonal":
        return np.eye(height, width) * 9.0
    if pattern == "random digits":
        return np.random.default_rng(seed).integers(0, 10, size=(height, width)).astype(np.float64)
    raise ValueError(_("unknown pattern {pattern!r}; choose one of {join_example_patterns}").format(pattern=pattern, join_example_patterns=', '.join(EXAMPLE_PATTERNS)))


# ---------------------------------------------------------------------------- im2col


def im2col(x: np.ndarray, kernel: int, *, stride: int = 1, padding: int = 0, dilation: int = 1) -> np.ndarray:
    """One row per window (row-major over output positions), C·k·k columns in (channel, row, col) order."""
    x = checked_array(x, name="input", ndim=(3,))
    win = windows(x, kernel, stride, padding, dilation)  # C×H'×W'×k×k
    c, h, w = win.shape[:3]
    return np.ascontiguousarray(win.transpose(1, 2, 0, 3, 4)).reshape(h * w, c * kernel * kernel)


@dataclass(frozen=True)
class Im2Col:
    """A convolution done as one matrix product, next to PyTorch's ``F.conv2d``."""

    input: np.ndarray  # C×H×W
    weights: np.ndarray  # O×C×k×k
    columns: np.ndarray  # L×(C·k·k), L = H'·W'
    weight_matrix: np.ndarray  # (C·k·k)×O
    product: np.ndarray  # L×O
    output: np.ndarray  # O×H'×W': the product reshaped
    reference: np.ndarray  # F.conv2d's output
    max_abs_diff: float

    @property
    def input_numbers(self) -> int:
        return int(self.input.size)

    @property
    def column_numbers(self) -> int:
        return int(self.columns.size)

    @property
    def memory_ratio(self) -> float:
        """How many times more numbers the im2col matrix holds than the input."""
        return self.column_numbers / self.input_numbers


def im2col_conv(x: np.ndarray, weights: np.ndarray, *, stride: int = 1, padding: int = 0,
                dilation: int = 1) -> Im2Col:
    """Convolution by im2col + matrix product, checked against ``F.conv2d`` (float64).

    Raises ``ValueError`` for a channel mismatch or an impossible size combination.
    """
    import torch
    import torch.nn.functional as F

    x = checked_array(x, name="input", ndim=(3,))
    weights = checked_array(weights, name="weights", ndim=(4,))
    if weights.shape[1] != x.shape[0]:
        raise ValueError(_("each kernel has {weights_shape_1} channels but the input has {x_shape_0}").format(weights_shape_1=weights.shape[1], x_shape_0=x.shape[0]))
    k = weights.shape[2]
    cols = im2col(x, k, stride=stride, padding=padding, dilation=dilation)
    wmat = weights.reshape(weights.shape[0], -1).T
    product = cols @ wmat
    h = conv_output_size(x.shape[1], k, stride=stride, padding=padding, dilation=dilation)
    w = conv_output_size(x.shape[2], k, stride=stride, padding=padding, dilation=dilation)
    output = product.T.reshape(weights.shape[0], h, w)
    ref = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(weights), stride=stride, padding=padding,
                   dilation=dilation)[0].numpy()
    return Im2Col(x, weights, cols, wmat, product, output, ref, float(np.abs(output - ref).max()))
