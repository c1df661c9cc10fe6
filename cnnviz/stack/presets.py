"""Ready-made layer stacks: the lecture notes' networks, layer by layer, as the convolution lab offers them."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from ..i18n import N_, _

__all__ = ["PRESETS", "StackPreset", "preset"]


@dataclass(frozen=True)
class StackPreset:
    name: str  # same name as the model in cnnviz.models' zoo
    title: str
    input_shape: tuple[int, int, int]
    spec: tuple[dict, ...]
    note: str


def _conv(out: int, k: int, p: int | str = 0, act: str | None = "relu") -> dict:
    return {"type": "conv", "out_channels": out, "kernel": k, "stride": 1, "padding": p, "dilation": 1,
            "activation": act}


def _pool(mode: str = "max", k: int = 2) -> dict:
    return {"type": "pool", "mode": mode, "kernel": k, "stride": k, "padding": 0}


def _fc(out: int, act: str | None = "relu") -> dict:
    return {"type": "linear", "out_features": out, "activation": act}


FLAT = {"type": "flatten"}
_LENET = (_conv(6, 5, 0, "tanh"), _pool("avg"), _conv(16, 5, 0, "tanh"), _pool("avg"), FLAT, _fc(120, "tanh"),
          _fc(84, "tanh"), _fc(10, None))

PRESETS: dict[str, StackPreset] = {p.name: p for p in [
    StackPreset("mnist_cnn", N_("PyTorch MNIST CNN (3 conv)"), (1, 28, 28),
                (_conv(32, 5, 2), _pool(), _conv(64, 5, 2), _pool(), _conv(128, 5, 2), _pool(), FLAT, _fc(128),
                 _fc(10, None)),
                N_("The notes apply max-pool then ReLU; ReLU then max-pool gives the same numbers (both keep the largest).")),
    StackPreset("keras_cifar10", N_("Keras CIFAR-10 CNN"), (3, 32, 32),
                (_conv(32, 3, 1), _pool(), _conv(64, 3, 1), _pool(), _conv(64, 3, 1), FLAT, _fc(128),
                 _fc(10, None)),
                N_("Keras's padding='same' with a 3×3 kernel is padding 1.")),
    StackPreset("simple_convnet", "SimpleConvNet", (1, 28, 28),
                (_conv(30, 5, 0), _pool(), FLAT, _fc(100), _fc(10, None)),
                N_("conv(30 filters, 5×5, no padding) - ReLU - pool - affine 100 - ReLU - affine 10.")),
    StackPreset("tf_mnist", N_("TensorFlow MNIST CNN (fc1024)"), (1, 28, 28),
                (_conv(32, 5, 2), _pool(), _conv(64, 5, 2), _pool(), FLAT, _fc(1024),
                 {"type": "dropout", "p": 0.5}, _fc(10, None)),
                N_("Almost all of its 3.3 million parameters sit in the 3136 → 1024 fully connected layer.")),
    StackPreset("lenet5", N_("LeNet-5 (classic, 32×32)"), (1, 32, 32), _LENET,
                N_("LeCun 1998: tanh and average pooling, on 32×32 input.")),
    StackPreset("lenet5_28", N_("LeNet-5 (28×28 variant)"), (1, 28, 28),
                (_conv(6, 5, 2, "tanh"),) + _LENET[1:],
                N_("Padding 2 on the first conv lets 28×28 MNIST in unchanged.")),
]}


def preset(name: str) -> tuple[list[dict], tuple[int, int, int]]:
    """A fresh copy of a preset's (spec, input_shape). Raises ``ValueError`` for an unknown name."""
    if name not in PRESETS:
        raise ValueError(_("unknown preset {name!r}; choose one of {join_presets}").format(name=name, join_presets=', '.join(PRESETS)))
    p = PRESETS[name]
    return copy.deepcopy(list(p.spec)), p.input_shape
