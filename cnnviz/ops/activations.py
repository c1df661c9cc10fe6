"""Activation functions with their derivatives, and the gradient that reaches each layer of a deep stack."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..i18n import N_, _

__all__ = ["ACTIVATIONS", "ACTIVATION_LABELS", "GradientFlow", "activation", "gradient_flow"]


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
