"""A deep plain CNN for the vanishing-gradient experiment: the same nine layers with weights, once with sigmoid and
once with ReLU after every hidden layer (zoo names ``deep_sigmoid`` and ``deep_relu``).

Both start from the same He-initialised weights (seeded builds draw the same numbers), so the activation is the only
difference. Backpropagation multiplies the gradient by the activation's derivative at every layer on its way back:
the sigmoid's is at most 0.25, so the first layers' gradients shrink to almost nothing and they stop learning, while
ReLU's derivative is 1 wherever a unit is active.
"""

from __future__ import annotations

import torch
from torch import nn

from ..i18n import _

__all__ = ["DEEP_ACTIVATIONS", "DeepNet"]

DEEP_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}


class DeepNet(nn.Module):
    """conv 8, conv 8, pool, conv 16, conv 16, pool, conv 16, conv 16 (3×3, padding 1), fc 64, fc 64, fc 10: nine
    layers with weights (63,842 parameters for 10 classes on 1×28×28), ``activation`` after each but the last."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, activation: str = "relu") -> None:
        super().__init__()
        if activation not in DEEP_ACTIVATIONS:
            raise ValueError(_("unknown activation {activation!r}; choose one of {choices}").format(
                activation=activation, choices=", ".join(DEEP_ACTIVATIONS)))
        act = DEEP_ACTIVATIONS[activation]
        layers: list[nn.Module] = []
        cin = in_channels
        for i, cout in enumerate((8, 8, 16, 16, 16, 16)):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), act()]
            if i in (1, 3):
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 64), act(),
                                        nn.Linear(64, 64), act(), nn.Linear(64, num_classes))
        for m in self.modules():  # He initialisation for both: the activation is the only difference
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
