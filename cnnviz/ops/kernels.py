"""Classic hand-made kernels (Sobel, Laplacian, blur, sharpen) applied to every channel of a photo."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import conv_output_size
from ..i18n import N_, _
from .arrays import checked_array, pad2d

__all__ = ["KERNELS", "KERNEL_LABELS", "KernelResult", "apply_kernel", "photo_to_array"]


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
    image = checked_array(image, name="image", ndim=(2, 3))
    if image.ndim == 2:
        image = image[None]
    kernel = checked_array(kernel, name="kernel", ndim=(2,))
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
    from ..data import image_to_tensor

    return image_to_tensor(img, channels=channels, max_side=max_side).numpy().astype(np.float64)
