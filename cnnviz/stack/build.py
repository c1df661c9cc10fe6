"""A layer stack in PyTorch: built as a named ``nn.Sequential``, verified against the analysis, or handed to PyTorch
unchecked to see which layer it rejects."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..i18n import _
from .analysis import Shape, analyze_stack, walk

__all__ = ["Verification", "build_stack", "torch_failure", "verify_stack"]


def _act_module(name: str):
    from torch import nn

    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}[name]()


def _modules(spec: list[dict], input_shape: tuple[int, int, int]) -> list[tuple[int, str, Any]]:
    from torch import nn

    shape, done, problem = walk(spec, input_shape)
    if problem is not None:
        raise ValueError(str(problem))
    mods: list[tuple[int, str, Any]] = []
    counts: dict[str, int] = {}

    def name(base: str) -> str:
        counts[base] = counts.get(base, 0) + 1
        return f"{base}{counts[base]}"

    for norm, info in done:
        t, i = norm["type"], info.index
        if t == "conv":
            mods.append((i, name("conv"), nn.Conv2d(info.input_shape[0], norm["out_channels"], norm["kernel"],
                                                     stride=norm["stride"], padding=norm["padding"],
                                                     dilation=norm["dilation"])))
        elif t == "pool":
            cls = nn.MaxPool2d if norm["mode"] == "max" else nn.AvgPool2d
            mods.append((i, name("pool"), cls(norm["kernel"], stride=norm["stride"], padding=norm["padding"])))
        elif t == "flatten":
            mods.append((i, name("flatten"), nn.Flatten()))
        elif t == "dropout":
            mods.append((i, name("dropout"), nn.Dropout(norm["p"])))
        else:
            mods.append((i, name("fc"), nn.Linear(info.input_shape[0], norm["out_features"])))
        if norm.get("activation"):
            mods.append((i, name(norm["activation"]), _act_module(norm["activation"])))
    return mods


def build_stack(spec: list[dict], input_shape: tuple[int, int, int]):
    """The stack as a ``torch.nn.Sequential`` with named layers (conv1, relu1, pool1, flatten1, fc1, ...).

    Raises ``ValueError`` naming the first impossible layer and the reason.
    """
    from torch import nn

    return nn.Sequential(OrderedDict((n, m) for _, n, m in _modules(spec, input_shape)))


@dataclass(frozen=True)
class Verification:
    """PyTorch's own shapes and parameter counts for each spec layer, next to the analysis."""

    shapes: tuple[Shape, ...]
    params: tuple[int, ...]
    agrees: bool
    mismatches: tuple[str, ...]

    @property
    def total_params(self) -> int:
        return sum(self.params)


def verify_stack(spec: list[dict], input_shape: tuple[int, int, int]) -> Verification:
    """Build the stack in PyTorch, run a zero batch through it and compare with ``analyze_stack``.

    Runs on PyTorch's meta device: PyTorch's own shape rules and parameter tensors, without the arithmetic
    (on a busy 2-core machine a CPU forward pass of even a tiny batch can take 100+ ms in the thread pool).
    Raises ``ValueError`` naming the first impossible layer.
    """
    import torch

    analysis = analyze_stack(spec, input_shape)
    shapes: dict[int, Shape] = {}
    params: dict[int, int] = {}
    with torch.device("meta"), torch.no_grad():
        mods = _modules(spec, input_shape)
        x = torch.zeros(1, *analysis.input_shape)
        for i, _name, mod in mods:
            mod.eval()
            x = mod(x)
            shapes[i] = tuple(x.shape[1:])
            params[i] = params.get(i, 0) + sum(p.numel() for p in mod.parameters())
    mismatches = []
    for info in analysis.layers:
        if shapes[info.index] != info.output_shape:
            mismatches.append(_("layer {n}: shape {ours} vs PyTorch {theirs}").format(
                n=info.index + 1, ours=info.output_shape, theirs=shapes[info.index]))
        if params[info.index] != info.params:
            mismatches.append(_("layer {n}: {ours} parameters vs PyTorch {theirs}").format(
                n=info.index + 1, ours=info.params, theirs=params[info.index]))
    order = [info.index for info in analysis.layers]
    return Verification(tuple(shapes[i] for i in order), tuple(params[i] for i in order), not mismatches,
                        tuple(mismatches))


def torch_failure(spec: list[dict], input_shape: tuple[int, int, int], *,
                  device: str = "meta") -> tuple[int, str] | None:
    """Build the layers one by one straight in PyTorch (no checks of ours) and push a zero batch through:
    (index, PyTorch's message) of the first layer PyTorch rejects, or None. ``device="cpu"`` really computes."""
    import torch
    from torch import nn

    with torch.device(device):
        x = torch.zeros(1, *input_shape)
    for i, layer in enumerate(spec):
        t = layer.get("type")
        try:
            with torch.device(device), torch.no_grad():
                if t == "conv":
                    mod = nn.Conv2d(x.shape[1], layer["out_channels"], layer["kernel"], stride=layer.get("stride", 1),
                                    padding=layer.get("padding", 0), dilation=layer.get("dilation", 1))
                elif t == "pool":
                    cls = nn.MaxPool2d if layer.get("mode", "max") == "max" else nn.AvgPool2d
                    mod = cls(layer["kernel"], stride=layer.get("stride") or layer["kernel"],
                              padding=layer.get("padding", 0))
                elif t == "flatten":
                    mod = nn.Flatten()
                elif t == "linear":
                    mod = nn.Linear(x.shape[-1], layer["out_features"])
                elif t == "dropout":
                    mod = nn.Dropout(layer.get("p", 0.5)).eval()
                else:
                    return i, _("PyTorch has no layer type {t!r}").format(t=t)
                x = mod(x)
        except Exception as err:  # noqa: BLE001 - PyTorch raises RuntimeError/ValueError/TypeError
            return i, str(err).splitlines()[0]
    return None
