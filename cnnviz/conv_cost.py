"""Parameters and multiply-adds of a 2-D convolution layer, grouped and depthwise ones included (MobileNet's saving)."""

from __future__ import annotations

from dataclasses import dataclass

from .arithmetic import _check_int
from .i18n import _

__all__ = ["ConvCost", "conv_cost"]


@dataclass(frozen=True)
class ConvCost:
    """Parameters and multiply-adds of one 2-D convolution layer (``groups`` splits the channels)."""

    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    groups: int
    output_hw: tuple[int, int]
    weights: int
    biases: int

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def macs(self) -> int:
        """Multiply-adds for one image: every weight once per output position."""
        return self.weights * self.output_hw[0] * self.output_hw[1]


def conv_cost(in_channels: int, out_channels: int, kernel: int | tuple[int, int], output_hw: tuple[int, int], *,
              groups: int = 1, bias: bool = True) -> ConvCost:
    """Parameters and multiply-adds of ``nn.Conv2d(in, out, kernel, groups=groups)`` producing ``output_hw``.

    ``groups == in_channels == out_channels`` is a depthwise convolution (MobileNet). Raises ValueError when the
    channels do not divide into the groups (PyTorch's rule).
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("kernel", kh), ("kernel", kw)):
        _check_int(name, v, minimum=1)
    groups = _check_int("groups", groups, minimum=1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(_("{cin} input and {cout} output channels do not split into {g} groups: both must be "
                           "multiples of the groups").format(cin=in_channels, cout=out_channels, g=groups))
    weights = out_channels * (in_channels // groups) * kh * kw
    return ConvCost(in_channels, out_channels, (kh, kw), groups, tuple(output_hw), weights,
                    out_channels if bias else 0)
