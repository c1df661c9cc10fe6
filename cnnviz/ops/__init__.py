"""Convolution, pooling, activations, softmax/losses and im2col on small arrays, for the teaching views.

Everything here is written out in numpy so that a student can read how it works; the tests check
each function against PyTorch (``F.conv2d``, ``F.max_pool2d``, ``F.avg_pool2d``, autograd).
Arrays are float64 ``C×H×W`` (or ``H×W`` for one channel); results are frozen dataclasses.
One module per page of the lab: ``conv`` (the sliding window, im2col), ``pooling``, ``activations``, ``losses``,
``kernels`` (classic kernels on photos); ``arrays`` holds what they share.
"""

from .activations import ACTIVATION_LABELS, ACTIVATIONS, GradientFlow, activation, gradient_flow
from .arrays import pad2d
from .conv import (
    EXAMPLE_PATTERNS,
    PATTERN_LABELS,
    Im2Col,
    Window,
    conv2d,
    conv_window,
    example_grid,
    im2col,
    im2col_conv,
)
from .kernels import KERNEL_LABELS, KERNELS, KernelResult, apply_kernel, photo_to_array
from .losses import binary_cross_entropy, cross_entropy, mse, mse_onehot_curve, parse_logits, softmax
from .pooling import ShiftTest, pool2d, shift_test

__all__ = [
    "ACTIVATION_LABELS",
    "ACTIVATIONS",
    "EXAMPLE_PATTERNS",
    "KERNEL_LABELS",
    "KERNELS",
    "PATTERN_LABELS",
    "GradientFlow",
    "Im2Col",
    "KernelResult",
    "ShiftTest",
    "Window",
    "activation",
    "apply_kernel",
    "binary_cross_entropy",
    "conv2d",
    "conv_window",
    "cross_entropy",
    "example_grid",
    "gradient_flow",
    "im2col",
    "im2col_conv",
    "mse",
    "mse_onehot_curve",
    "pad2d",
    "parse_logits",
    "photo_to_array",
    "pool2d",
    "shift_test",
    "softmax",
]
