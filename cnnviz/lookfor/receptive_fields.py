"""Receptive fields: which input pixels one cell of a layer's map sees, traced through the model's real forward pass."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .layers import private_copy, run_to

__all__ = ["ReceptiveField", "receptive_field"]


@dataclass(frozen=True)
class ReceptiveField:
    """The input window of one cell of a layer's map, per axis (rows, columns).

    Cell (i, j) sees input rows ``start[0] + i·jump[0]`` … ``+ size[0] − 1`` (and the same for columns). ``start``
    is negative where the window reaches into the padding. ``whole`` when a global pooling lets a cell see all.
    """

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[int, int]
    whole: bool = False

    def box(self, i: int, j: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of cell (i, j)'s window in input pixels; bottom/right exclusive."""
        top = self.start[0] + i * self.jump[0]
        left = self.start[1] + j * self.jump[1]
        return top, left, top + self.size[0], left + self.size[1]

    def centre(self, i: int, j: int) -> tuple[float, float]:
        """The input position (row, column) at the centre of cell (i, j)'s window."""
        top, left, bottom, right = self.box(i, j)
        return (top + bottom - 1) / 2, (left + right - 1) / 2


@dataclass
class _Geo:  # one axis pair of a traced tensor: (size, jump, start) for rows and for columns
    size: list[int]
    jump: list[int]
    start: list[int]
    whole: bool = False


def _pair(v, n: int = 2) -> list[int]:
    if isinstance(v, (list, tuple)):
        return [int(x) for x in v] if len(v) == n else [int(v[0])] * n
    return [int(v)] * n


class _Tracer(TorchFunctionMode):
    """Follows every spatial tensor of a forward pass and the input window of its cell (0, 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.geo: dict[int, _Geo] = {}
        self.keep: list[Tensor] = []  # tensors stay alive during the trace, so their ids are not reused

    def track(self, t: Tensor, g: _Geo) -> None:
        self.geo[id(t)] = g
        self.keep.append(t)

    def of(self, t) -> _Geo | None:
        return self.geo.get(id(t)) if isinstance(t, Tensor) else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        first = out[0] if isinstance(out, (tuple, list)) and out and isinstance(out[0], Tensor) else out
        if not isinstance(first, Tensor) or first.ndim != 4:
            return out
        name = getattr(func, "__name__", "")
        src = args[0] if args else kwargs.get("input")
        g = self.of(src)
        new: _Geo | None = None
        if g is not None and not g.whole and name in ("conv2d", "max_pool2d", "avg_pool2d", "max_pool2d_with_indices"):
            new = self._window(name, g, args, kwargs, src)
        elif g is not None and name == "pad":
            pad = list(args[1] if len(args) > 1 else kwargs["pad"])
            before = [pad[2] if len(pad) > 2 else 0, pad[0]]  # F.pad lists the last axis first
            new = _Geo(list(g.size), list(g.jump), [g.start[a] - before[a] * g.jump[a] for a in range(2)], g.whole)
        elif g is not None and name.startswith("adaptive_") and tuple(first.shape[-2:]) != (1, 1) and \
                tuple(first.shape[-2:]) == tuple(src.shape[-2:]):
            new = _Geo(list(g.size), list(g.jump), list(g.start), g.whole)
        elif name.startswith("adaptive_") or name in ("interpolate", "upsample", "upsample_bilinear2d",
                                                       "upsample_nearest2d", "grid_sampler"):
            new = _Geo([0, 0], [1, 1], [0, 0], whole=True) if g is not None else None
        else:  # element-wise or channel-wise work (activations, batch norm, additions of a skip connection):
            # the union of the windows of every traced input with the same map size
            shapes = tuple(first.shape[-2:])
            inputs = [self.of(a) for a in (*args, *kwargs.values())
                      if isinstance(a, Tensor) and a.ndim == 4 and tuple(a.shape[-2:]) == shapes]
            inputs += [self.of(a) for seq in args if isinstance(seq, (list, tuple)) for a in seq
                       if isinstance(a, Tensor) and a.ndim == 4 and tuple(a.shape[-2:]) == shapes]
            inputs = [x for x in inputs if x is not None]
            if inputs:
                if any(x.whole for x in inputs):
                    new = _Geo([0, 0], [1, 1], [0, 0], whole=True)
                else:
                    start = [min(x.start[a] for x in inputs) for a in range(2)]
                    end = [max(x.start[a] + x.size[a] for x in inputs) for a in range(2)]
                    new = _Geo([end[a] - start[a] for a in range(2)], [max(x.jump[a] for x in inputs)
                                                                       for a in range(2)], start)
        if new is not None:
            self.track(first, new)
        return out

    @staticmethod
    def _window(name: str, g: _Geo, args, kwargs, src: Tensor) -> _Geo:
        def arg(i: int, key: str, default):
            return args[i] if len(args) > i else kwargs.get(key, default)

        if name == "conv2d":
            weight = arg(1, "weight", None)
            k = [int(weight.shape[2]), int(weight.shape[3])]
            s, p, d = _pair(arg(3, "stride", 1)), arg(4, "padding", 0), _pair(arg(5, "dilation", 1))
            if isinstance(p, str):  # 'valid' or 'same' (stride 1): PyTorch puts the odd zero after
                p = [0, 0] if p == "valid" else [d[a] * (k[a] - 1) // 2 for a in range(2)]
            p = _pair(p)
        else:
            k = _pair(arg(1, "kernel_size", 1))
            stride = arg(2, "stride", None)
            s = _pair(stride) if stride not in (None, [], ()) else list(k)
            p = _pair(arg(3, "padding", 0))
            d = _pair(arg(4, "dilation", 1)) if name != "avg_pool2d" else [1, 1]
        return _Geo([g.size[a] + d[a] * (k[a] - 1) * g.jump[a] for a in range(2)],
                    [g.jump[a] * s[a] for a in range(2)],
                    [g.start[a] - p[a] * g.jump[a] for a in range(2)])


def receptive_field(model: nn.Module, layer: str, input_shape: tuple[int, int, int]) -> ReceptiveField:
    """The receptive field of one cell of ``layer``'s maps for an input of ``input_shape`` (C, H, W).

    Traced through one forward pass (no gradients, on a private copy): every conv, pooling and padding on the way,
    the union of both branches where a skip connection adds them. Raises ``ValueError`` for an unknown layer or a
    layer without spatial maps.
    """
    model = private_copy(model)
    x = torch.zeros((1, *input_shape))
    tracer = _Tracer()
    tracer.track(x, _Geo([1, 1], [1, 1], [0, 0]))
    with torch.no_grad():
        out = run_to(model, layer, x, context=tracer)
    g = tracer.of(out)
    if g is None or g.whole:
        return ReceptiveField((int(input_shape[1]), int(input_shape[2])), (1, 1), (0, 0), whole=True)
    return ReceptiveField(tuple(g.size), tuple(g.jump), tuple(g.start))
