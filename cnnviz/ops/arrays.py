"""Checked float64 arrays, padding and sliding-window views: what convolution and pooling by hand share."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..arithmetic import conv_output_size
from ..i18n import _

__all__ = ["checked_array", "pad2d", "windows"]


def checked_array(x: object, *, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    """``x`` as float64 with ``ndim`` axes; ValueError naming ``name`` for another shape, no values, NaN or inf."""
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


def windows(x: np.ndarray, kernel: int, stride: int, padding: int, dilation: int, *, fill: float = 0.0) -> np.ndarray:
    """C×H'×W'×k×k view of every window (checked sizes, PyTorch's rules)."""
    h_out = conv_output_size(x.shape[-2], kernel, stride=stride, padding=padding, dilation=dilation)
    w_out = conv_output_size(x.shape[-1], kernel, stride=stride, padding=padding, dilation=dilation)
    span = dilation * (kernel - 1) + 1
    padded = pad2d(x, padding, value=fill)
    win = sliding_window_view(padded, (span, span), axis=(-2, -1))
    return win[..., ::stride, ::stride, ::dilation, ::dilation][..., :h_out, :w_out, :, :]
