"""Convolution, pooling, activations, softmax/losses and im2col on small arrays, for the teaching views.

Everything here is written out in numpy so that a student can read how it works; the tests check
each function against PyTorch (``F.conv2d``, ``F.max_pool2d``, ``F.avg_pool2d``, autograd).
Arrays are float64 ``C×H×W`` (or ``H×W`` for one channel); results are frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .arithmetic import conv_output_size, pool_output_size
from .i18n import N_, _

__all__ = [
    "ACTIVATIONS", "EXAMPLE_PATTERNS", "KERNELS", "GradientFlow", "Im2Col", "KernelResult", "ShiftTest", "Window",
    "activation", "apply_kernel", "binary_cross_entropy", "conv2d", "conv_window", "cross_entropy",
    "example_grid", "gradient_flow", "im2col", "im2col_conv", "mse", "mse_onehot_curve", "pad2d", "photo_to_array", "pool2d", "shift_test", "softmax",
]


def _array(x: object, *, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in ndim:
        want = " or ".join(f"{n}-D" for n in ndim)
        raise ValueError(_("{name} must be a {want} array, got shape {arr_shape}").format(name=name, want=want, arr_shape=arr.shape))
    if arr.size == 0:
        raise ValueError(_("{name} is empty").format(name=name))
    if not np.isfinite(arr).all():
        raise ValueError(_("{name} contains NaN or infinite values").format(name=name))
    return arr


def pad2d(x: np.ndarray, padding: int, *, value: float = 0.0) -> np.ndarray:
    """Pad the last two axes with ``padding`` cells of ``value`` on every side."""
    if padding < 0:
        raise ValueError(_("padding must be >= 0, got {padding}").format(padding=padding))
    x = np.asarray(x, dtype=np.float64)
    width = [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2
    return np.pad(x, width, constant_values=value)


def _windows(x: np.ndarray, kernel: int, stride: int, padding: int, dilation: int, *, fill: float = 0.0) -> np.ndarray:
    """C×H'×W'×k×k view of every window (checked sizes, PyTorch's rules)."""
    h_out = conv_output_size(x.shape[-2], kernel, stride=stride, padding=padding, dilation=dilation)
    w_out = conv_output_size(x.shape[-1], kernel, stride=stride, padding=padding, dilation=dilation)
    span = dilation * (kernel - 1) + 1
    padded = pad2d(x, padding, value=fill)
    win = sliding_window_view(padded, (span, span), axis=(-2, -1))
    return win[..., ::stride, ::stride, ::dilation, ::dilation][..., :h_out, :w_out, :, :]


# ---------------------------------------------------------------------------- convolution


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
    x = _array(x, name="input", ndim=(2,))
    kernel = _array(kernel, name="kernel", ndim=(2,))
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
    x = _array(x, name="input", ndim=(2, 3))
    weight = _array(weight, name="weights", ndim=(2, 4))
    single = x.ndim == 2 and weight.ndim == 2
    if x.ndim == 2:
        x = x[None]
    if weight.ndim == 2:
        weight = weight[None, None]
    if weight.shape[1] != x.shape[0]:
        raise ValueError(_("each filter has {weight_shape_1} channels but the input has {x_shape_0}: a filter needs as many channels as its input").format(weight_shape_1=weight.shape[1], x_shape_0=x.shape[0]))
    if weight.shape[2] != weight.shape[3]:
        raise ValueError(_("kernels must be square, got {weight_shape_2}×{weight_shape_3}").format(weight_shape_2=weight.shape[2], weight_shape_3=weight.shape[3]))
    win = _windows(x, weight.shape[2], stride, padding, dilation)  # C×H'×W'×k×k
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
    x = _array(x, name="input", ndim=(3,))
    win = _windows(x, kernel, stride, padding, dilation)  # C×H'×W'×k×k
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

    x = _array(x, name="input", ndim=(3,))
    weights = _array(weights, name="weights", ndim=(4,))
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


# ---------------------------------------------------------------------------- pooling


def pool2d(x: np.ndarray, *, mode: str = "max", kernel: int = 2, stride: int | None = None,
           padding: int = 0) -> np.ndarray:
    """Max or average pooling of H×W or C×H×W, as ``F.max_pool2d``/``F.avg_pool2d`` (padding counts as 0 in the average).

    Each channel is pooled on its own, so the channel count stays. Raises ``ValueError`` for an unknown
    mode or an impossible size combination.
    """
    if mode not in ("max", "avg"):
        raise ValueError(_("mode must be 'max' or 'avg', got {mode!r}").format(mode=mode))
    x = _array(x, name="input", ndim=(2, 3))
    stride = kernel if stride is None else stride
    for n in x.shape[-2:]:
        pool_output_size(n, kernel, stride=stride, padding=padding)
    win = _windows(x, kernel, stride, padding, 1, fill=-np.inf if mode == "max" else 0.0)
    return win.max(axis=(-2, -1)) if mode == "max" else win.mean(axis=(-2, -1))


@dataclass(frozen=True)
class ShiftTest:
    """Pooling of an input and of the same input shifted by a pixel: how much of the output stays the same."""

    shifted: np.ndarray
    max_before: np.ndarray
    max_after: np.ndarray
    avg_before: np.ndarray
    avg_after: np.ndarray

    @property
    def max_unchanged(self) -> float:
        return float(np.isclose(self.max_before, self.max_after).mean())

    @property
    def avg_unchanged(self) -> float:
        return float(np.isclose(self.avg_before, self.avg_after).mean())


def shift_test(x: np.ndarray, *, dx: int = 1, dy: int = 0, kernel: int = 2, stride: int | None = None) -> ShiftTest:
    """Shift H×W (or C×H×W) by (dy, dx) pixels (edges repeat) and pool both with max and average."""
    x = _array(x, name="input", ndim=(2, 3))
    h, w = x.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        raise ValueError(_("a shift of ({dy}, {dx}) moves the {h}×{w} input out of view").format(dy=dy, dx=dx, h=h, w=w))
    pad = [(0, 0)] * (x.ndim - 2) + [(max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0))]
    big = np.pad(x, pad, mode="edge")
    shifted = big[..., max(-dy, 0):max(-dy, 0) + h, max(-dx, 0):max(-dx, 0) + w]
    kw = dict(kernel=kernel, stride=stride)
    return ShiftTest(shifted, pool2d(x, mode="max", **kw), pool2d(shifted, mode="max", **kw),
                     pool2d(x, mode="avg", **kw), pool2d(shifted, mode="avg", **kw))


# ---------------------------------------------------------------------------- activations, softmax, losses

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
ACTIVATION_LABELS = {"sigmoid": N_("sigmoid"), "tanh": "tanh", "relu": "ReLU", "leaky_relu": "Leaky ReLU",
                     "elu": "ELU"}  # shown as _(ACTIVATION_LABELS[name])


def activation(name: str, x: np.ndarray, *, slope: float = 0.01, alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(value, derivative) of an activation at ``x``; at 0 the derivative follows PyTorch's autograd.

    ``slope`` is leaky ReLU's negative slope, ``alpha`` ELU's. Raises ``ValueError`` for an unknown name.
    """
    x = np.asarray(x, dtype=np.float64)
    if name == "sigmoid":
        y = 0.5 * (1 + np.tanh(0.5 * x))  # stable for large |x|
        return y, y * (1 - y)
    if name == "tanh":
        y = np.tanh(x)
        return y, 1 - y**2
    if name == "relu":
        return np.maximum(x, 0), (x > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(x > 0, x, slope * x), np.where(x > 0, 1.0, slope)
    if name == "elu":
        e = alpha * np.expm1(np.minimum(x, 0))
        return np.where(x > 0, x, e), np.where(x > 0, 1.0, e + alpha)
    raise ValueError(_("unknown activation {name!r}; choose one of {join_activations}").format(name=name, join_activations=', '.join(ACTIVATIONS)))


@dataclass(frozen=True)
class GradientFlow:
    """Size of the gradient that reaches each layer's weights in a deep stack (layer 1 = closest to the input)."""

    activation: str
    depth: int
    grad_norms: tuple[float, ...]

    @property
    def first_to_last(self) -> float:
        """How much of the last layer's gradient size is left at the first layer."""
        return self.grad_norms[0] / self.grad_norms[-1] if self.grad_norms[-1] else 0.0


def gradient_flow(depth: int, *, activation: str = "sigmoid", width: int = 32, batch: int = 64,
                  seed: int = 0) -> GradientFlow:
    """Backpropagate through ``depth`` Linear+activation layers (He-initialised) and measure each layer's
    weight-gradient norm. Raises ``ValueError`` for depth < 1 or an unknown activation."""
    import torch
    from torch import nn

    acts = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}
    if activation not in acts:
        raise ValueError(_("unknown activation {activation!r}; choose one of {join_acts}").format(activation=activation, join_acts=', '.join(acts)))
    if depth < 1:
        raise ValueError(_("depth must be at least 1, got {depth}").format(depth=depth))
    gen = torch.Generator().manual_seed(seed)
    layers = []
    for _layer in range(depth):
        lin = nn.Linear(width, width)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(width, width, generator=gen) * (2 / width) ** 0.5)
            lin.bias.zero_()
        layers += [lin, acts[activation]()]
    net = nn.Sequential(*layers)
    x = torch.randn(batch, width, generator=gen)
    net(x).sum().backward()
    norms = tuple(float(m.weight.grad.norm()) for m in net if isinstance(m, nn.Linear))
    return GradientFlow(activation, depth, norms)


def softmax(logits: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
    """softmax(z / T) along the last axis. Raises ``ValueError`` for T <= 0."""
    if not temperature > 0:
        raise ValueError(_("temperature must be > 0, got {temperature}: it divides the logits").format(temperature=temperature))
    z = _array(logits, name="logits", ndim=(1, 2)) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


_EPS = 1e-12


def binary_cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    """Mean −[y·log p + (1−y)·log(1−p)]: binary classification with a sigmoid output (p clipped to [1e-12, 1−1e-12])."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if ((p < 0) | (p > 1)).any() or ((y < 0) | (y > 1)).any():
        raise ValueError(_("probabilities and targets must lie in [0, 1]"))
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def cross_entropy(logits: np.ndarray, target: int | np.ndarray) -> float:
    """Mean −log softmax(logits)[target]: multi-class classification (as ``F.cross_entropy`` on logits)."""
    z = _array(logits, name="logits", ndim=(1, 2))
    z2 = z[None] if z.ndim == 1 else z
    t = np.atleast_1d(np.asarray(target, dtype=np.int64))
    if len(t) != len(z2) or (t < 0).any() or (t >= z2.shape[1]).any():
        raise ValueError(_("target must hold one class index in 0..{z2_shape_1_1} per row").format(z2_shape_1_1=z2.shape[1] - 1))
    shifted = z2 - z2.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(t)), t].mean()) + 0.0  # + 0.0 turns −0.0 (a certain answer) into 0.0


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error: regression (predicting numbers)."""
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(_("prediction {pred_shape} and target {target_shape} must have the same shape").format(pred_shape=pred.shape, target_shape=target.shape))
    return float(((pred - target) ** 2).mean())


def mse_onehot_curve(probs: np.ndarray, target: int, p: np.ndarray) -> np.ndarray:
    """MSE against the one-hot target (the mean over all K classes, as ``mse``) when the correct class gets
    probability ``p`` and the other classes share 1 − p in the proportions they have in ``probs``.

    At ``p = probs[target]`` this is exactly ``mse(probs, onehot)``: the curve and the number agree.
    """
    probs = _array(probs, name="probabilities", ndim=(1,))
    k = len(probs)
    if not 0 <= target < k:
        raise ValueError(_("the correct class must be one of 0..{last}").format(last=k - 1))
    others = np.delete(probs, target)
    share = others / others.sum() if others.sum() > 0 else np.full(k - 1, 1.0 / (k - 1))
    p = np.asarray(p, dtype=np.float64)
    rest = (1 - p)[..., None] * share  # the other classes' probabilities
    out = ((1 - p) ** 2 + (rest ** 2).sum(axis=-1)) / k
    return out if out.ndim else float(out)


# ---------------------------------------------------------------------------- classic kernels on photos

KERNELS: dict[str, np.ndarray] = {
    "Sobel x (vertical edges)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64),
    "Sobel y (horizontal edges)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64),
    "Laplacian (all edges)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),
    "Gaussian blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16,
    "Sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
    "Box blur": np.full((3, 3), 1 / 9),
    "Identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
}
KERNEL_LABELS = {"Sobel x (vertical edges)": N_("Sobel x (vertical edges)"),
                 "Sobel y (horizontal edges)": N_("Sobel y (horizontal edges)"),
                 "Laplacian (all edges)": N_("Laplacian (all edges)"), "Gaussian blur": N_("Gaussian blur"),
                 "Sharpen": N_("Sharpen"), "Box blur": N_("Box blur"), "Identity": N_("Identity")}


@dataclass(frozen=True)
class KernelResult:
    """One k×k kernel applied to every channel of a C×H×W image, and the 3-D filter's output (their sum)."""

    kernel: np.ndarray
    stride: int
    padding: int
    input_shape: tuple[int, int, int]
    per_channel: np.ndarray  # C×H'×W'
    total: np.ndarray  # H'×W': a C×k×k filter = the sum over channels

    @property
    def output_shape(self) -> tuple[int, int]:
        return self.total.shape  # type: ignore[return-value]


def apply_kernel(image: np.ndarray, kernel: np.ndarray, *, stride: int = 1, padding: int = 0) -> KernelResult:
    """Convolve each channel with ``kernel``; the sum over channels is a C×k×k filter's output.

    Raises ``ValueError`` for a non-square kernel or an impossible stride/padding combination.
    """
    image = _array(image, name="image", ndim=(2, 3))
    if image.ndim == 2:
        image = image[None]
    kernel = _array(kernel, name="kernel", ndim=(2,))
    if kernel.shape[0] != kernel.shape[1]:
        raise ValueError(_("the kernel must be square, got {kernel_shape}").format(kernel_shape=kernel.shape))
    k = kernel.shape[0]
    h_out = conv_output_size(image.shape[1], k, stride=stride, padding=padding)
    w_out = conv_output_size(image.shape[2], k, stride=stride, padding=padding)
    padded = pad2d(image, padding)
    per_channel = np.zeros((image.shape[0], h_out, w_out))
    for i in range(k):  # k·k shifted copies, multiplied and added: far faster on a photo than a window view
        for j in range(k):
            if kernel[i, j]:
                rows = slice(i, i + stride * (h_out - 1) + 1, stride)
                cols = slice(j, j + stride * (w_out - 1) + 1, stride)
                per_channel += kernel[i, j] * padded[:, rows, cols]
    return KernelResult(kernel.copy(), stride, padding, image.shape, per_channel, per_channel.sum(axis=0))


def photo_to_array(img, *, channels: int | None = None, max_side: int | None = None) -> np.ndarray:
    """A PIL image as float64 C×H×W in [0, 1], shrunk so its longer side is at most ``max_side``."""
    from .data import image_to_tensor

    return image_to_tensor(img, channels=channels, max_side=max_side).numpy().astype(np.float64)
