"""PyTorch as the oracle of the convolution lab's tests: output lengths along one axis (a 1×N row of zeros through
the real layer on the CPU, so any size is cheap), never-read and window cells from autograd, and the typeset formula
evaluated back into a number.

Each function answers None where PyTorch refuses the setting (it raises), never our own code's opinion.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import torch
import torch.nn.functional as F


def _length(run) -> int | None:
    try:
        with torch.no_grad():
            return int(run().shape[-1])
    except RuntimeError:
        return None


def conv_length(n: int, k: int, s: int = 1, p: tuple[int, int] = (0, 0), d: int = 1) -> int | None:
    """Output length of a convolution along one axis, zeros ``p[0]`` before and ``p[1]`` after (F.pad, as Keras's
    'same' pads), or None where PyTorch refuses."""
    x = F.pad(torch.zeros(1, 1, 1, n), (p[0], p[1]))
    return _length(lambda: F.conv2d(x, torch.zeros(1, 1, 1, k), stride=(1, s), dilation=(1, d)))


def pool_length(n: int, k: int, s: int, p: int = 0, d: int = 1, *, ceil_mode: bool = False,
                mode: str = "max") -> int | None:
    """Output length of F.max_pool2d / F.avg_pool2d along one axis (avg pooling has no dilation)."""
    x = torch.zeros(1, 1, 1, n)
    if mode == "max":
        return _length(lambda: F.max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode=ceil_mode))
    assert d == 1
    return _length(lambda: F.avg_pool2d(x, (1, k), (1, s), (0, p), ceil_mode=ceil_mode))


def transposed_length(n: int, k: int, s: int = 1, p: int = 0, d: int = 1, op: int = 0) -> int | None:
    x = torch.zeros(1, 1, 1, n)
    return _length(lambda: F.conv_transpose2d(x, torch.zeros(1, 1, 1, k), stride=(1, s), padding=(0, p),
                                              output_padding=(0, op), dilation=(1, d)))


def read_cells(n: int, k: int, s: int, p: tuple[int, int] = (0, 0), d: int = 1, *, pooling: bool = False,
               ceil_mode: bool = False, window: int | None = None) -> set[int]:
    """Input cells (0-based, unpadded) that window ``window`` reads, or that any window reads (None): the cells
    with a gradient. A convolution with an all-ones kernel, or average pooling (which spreads its gradient over
    every cell of a window, where max pooling would pick one)."""
    x = torch.zeros(1, 1, 1, n, dtype=torch.float64, requires_grad=True)
    if pooling:
        assert p[0] == p[1]
        y = F.avg_pool2d(x, (1, k), (1, s), (0, p[0]), ceil_mode=ceil_mode)
    else:
        y = F.conv2d(F.pad(x, (p[0], p[1])), torch.ones(1, 1, 1, k, dtype=torch.float64), stride=(1, s),
                     dilation=(1, d))
    (y.sum() if window is None else y[0, 0, 0, window]).backward()
    return {int(i) for i in torch.nonzero(x.grad[0, 0, 0]).flatten()}


def ranges(cells: set[int] | list[int]) -> list[tuple[int, int]]:
    """Inclusive runs of consecutive cells."""
    out: list[tuple[int, int]] = []
    for c in sorted(cells):
        if out and c == out[-1][1] + 1:
            out[-1] = (out[-1][0], c)
        else:
            out.append((c, c))
    return out


def latex_value(tex: str) -> tuple[Fraction, int]:
    """(the left side evaluated, the stated result) of a typeset rule such as
    ``H_{out} = \\left\\lfloor \\frac{28 + 2\\cdot 2 - 5}{1} \\right\\rfloor + 1 = 28`` (floor, ceil, fractions,
    products and brackets; the transposed rule too)."""
    tex = tex.strip().strip("$").strip()
    body = tex.split("=", 1)[1] if re.match(r"^[A-Za-z]_\{out\}\s*=", tex) else tex
    lhs, rhs = body.rsplit("=", 1)
    expr = lhs
    for a, b in ((r"\left\lfloor", " floor("), (r"\right\rfloor", ")"), (r"\left\lceil", " ceil("),
                 (r"\right\rceil", ")"), (r"\left(", "("), (r"\right)", ")"), (r"\cdot", "*"), (r"\,", "")):
        expr = expr.replace(a, b)
    expr = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"Fraction(\1, \2)", expr)
    if "\\" in expr or "{" in expr:
        raise AssertionError(f"cannot read the typeset formula {tex!r}")
    names = {"floor": math.floor, "ceil": math.ceil, "Fraction": Fraction}
    value = eval(expr, {"__builtins__": {}}, names)  # noqa: S307 - digits, + − · ( ) and these three names only
    return Fraction(value), int(rhs.strip())
