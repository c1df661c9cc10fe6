"""The model zoo: every network of the lecture notes and torchvision's backbones, by name, built fresh.

Parameter counts (10 classes) are the notes' own and are tested: mnist_cnn 405,898; keras_cifar10
582,026; simple_convnet 433,890; tf_mnist 3,274,634; lenet5 61,706. torchvision's AlexNet, VGG16,
MobileNetV2, ResNet-18 and ResNet-50 come through torchvision (their ImageNet weights: ``cnnviz.models.imagenet``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..i18n import N_, _
from .deep import DeepNet

__all__ = ["ZOO", "ModelSpec", "build_model", "input_shape_for", "layer_names", "model_spec", "seeded"]


# ---------------------------------------------------------------------------- the lecture notes' networks


class _FeaturesThenClassifier(nn.Module):
    """The shape every network of the notes has: ``features`` (convolutions and pooling), then ``classifier``."""

    features: nn.Sequential
    classifier: nn.Sequential

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _conv_relu_pool(cin: int, cout: int, kernel: int, *, pool: bool = True) -> list[nn.Module]:
    """The Keras/TensorFlow notes' block: a 'same'-padded convolution, ReLU, then (usually) a 2×2 max-pool."""
    return [nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.ReLU(), *([nn.MaxPool2d(2)] if pool else [])]


class MnistCNN(_FeaturesThenClassifier):
    """The notes' 3-conv PyTorch MNIST net: conv(5×5, pad 2) → max-pool 2 → ReLU, three times; fc 1152→128→10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate([(in_channels, 32), (32, 64), (64, 128)], start=1):
            layers += [nn.Conv2d(cin, cout, 5, padding=2), nn.MaxPool2d(2), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(128 * 3 * 3, 128), nn.ReLU(), nn.Linear(128, num_classes))


class KerasCifar10(_FeaturesThenClassifier):
    """The notes' Keras CIFAR-10 net: conv32-pool-conv64-pool-conv64 (3×3 same, ReLU), dense128, dense10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(*_conv_relu_pool(in_channels, 32, 3), *_conv_relu_pool(32, 64, 3),
                                      *_conv_relu_pool(64, 64, 3, pool=False))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 8 * 64, 128), nn.ReLU(), nn.Linear(128, num_classes))


class SimpleConvNet(_FeaturesThenClassifier):
    """The notes' SimpleConvNet: conv(30 filters, 5×5, no padding) - ReLU - pool 2 - affine 100 - ReLU - affine 10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, 30, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, num_classes))


class BNConvNet(_FeaturesThenClassifier):
    """Not from the notes: a small VGG-style net with batch normalization, the studio's accurate preset.
    Two blocks of two 3×3 convolutions (32, then 64 filters; batch norm and ReLU after each) and a 2×2 max-pool,
    then dropout 0.25, fc 3136→128, ReLU, dropout 0.25, fc 128→10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()

        def conv(cin: int, cout: int) -> list[nn.Module]:  # no bias: the batch norm's shift replaces it
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(*conv(in_channels, 32), *conv(32, 32), nn.MaxPool2d(2),
                                      *conv(32, 64), *conv(64, 64), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 128),
                                        nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, num_classes))


class TFMnist(_FeaturesThenClassifier):
    """The notes' TensorFlow MNIST net: conv32 5×5 same - pool - conv64 5×5 same - pool - fc1024 - dropout - fc10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(*_conv_relu_pool(in_channels, 32, 5), *_conv_relu_pool(32, 64, 5))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, num_classes)
        )


class LeNet5(_FeaturesThenClassifier):
    """LeNet-5 (LeCun 1998): conv6 5×5 - avg-pool - conv16 5×5 - avg-pool - fc120 - fc84 - fc10, tanh.

    ``padding=2`` gives the 28×28 variant (MNIST as it comes); the classic takes 32×32.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=padding), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes)
        )


# ---------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    input_shape: tuple[int, int, int]
    description: str
    builder: Callable[..., nn.Module]
    torchvision: bool = False  # has ImageNet weights through torchvision's weights API
    bundled: bool = False  # ImageNet weights installed with cnnviz (a registry package): always there, offline


def _tv(fn_name: str) -> Callable[..., nn.Module]:
    def build(num_classes: int = 10, in_channels: int = 3) -> nn.Module:
        import torchvision.models as tvm

        if in_channels != 3:
            raise ValueError(_("{fn_name} takes 3-channel (RGB) input; got in_channels={in_channels}").format(fn_name=fn_name, in_channels=in_channels))
        return getattr(tvm, fn_name)(weights=None, num_classes=num_classes)

    return build


def _timm(arch: str) -> Callable[..., nn.Module]:
    def build(num_classes: int = 1000, in_channels: int = 3) -> nn.Module:
        import timm

        if in_channels != 3:
            raise ValueError(_("{fn_name} takes 3-channel (RGB) input; got in_channels={in_channels}").format(
                fn_name=arch, in_channels=in_channels))
        return timm.create_model(arch, pretrained=False, num_classes=num_classes)

    return build


ZOO: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec("mnist_cnn", N_("PyTorch MNIST CNN (3 conv)"), (1, 28, 28),
                  N_("The notes' PyTorch net: three 5×5 convs (32, 64, 128) each with max-pool and ReLU, fc 1152→128→10."),
                  MnistCNN),
        ModelSpec("keras_cifar10", N_("Keras CIFAR-10 CNN"), (3, 32, 32),
                  N_("The notes' Keras net: conv32, pool, conv64, pool, conv64 (3×3 same), dense 128, dense 10."),
                  KerasCifar10),
        ModelSpec("simple_convnet", N_("SimpleConvNet"), (1, 28, 28),
                  N_("The notes' from-scratch net: conv(30, 5×5) - ReLU - pool - affine 100 - ReLU - affine 10."),
                  SimpleConvNet),
        ModelSpec("tf_mnist", N_("TensorFlow MNIST CNN (fc1024)"), (1, 28, 28),
                  N_("The notes' TensorFlow tutorial net: conv32 5×5, pool, conv64 5×5, pool, fc 1024, dropout, fc 10."),
                  TFMnist),
        ModelSpec("bn_convnet", N_("Small VGG-style CNN with batch norm (not from the notes)"), (1, 28, 28),
                  N_("Not from the lecture notes: two blocks of two 3×3 convolutions (32, then 64 filters) with batch "
                     "normalization and ReLU, max-pool after each block, dropout, fc 3136→128→10. The studio's "
                     "accurate preset."),
                  BNConvNet),
        ModelSpec("lenet5", N_("LeNet-5 (classic, 32×32)"), (1, 32, 32),
                  N_("LeCun's LeNet-5: conv6, avg-pool, conv16, avg-pool, fc 120, 84, 10 with tanh."), LeNet5),
        ModelSpec("lenet5_28", N_("LeNet-5 (28×28 variant)"), (1, 28, 28),
                  N_("LeNet-5 with padding 2 on the first conv so that 28×28 MNIST fits unchanged."),
                  lambda num_classes=10, in_channels=1: LeNet5(num_classes, in_channels, padding=2)),
        ModelSpec("deep_sigmoid", N_("Deep CNN, 9 layers, sigmoid (vanishing gradients)"), (1, 28, 28),
                  N_("Not from the notes: six 3×3 convs (8, 8, 16, 16, 16, 16; max-pool after the 2nd and 4th) and fc "
                     "784→64→64→10, sigmoid after every hidden layer, He-initialised. Its first layers hardly learn."),
                  lambda num_classes=10, in_channels=1: DeepNet(num_classes, in_channels, "sigmoid")),
        ModelSpec("deep_relu", N_("Deep CNN, 9 layers, ReLU"), (1, 28, 28),
                  N_("The same nine layers and initial weights as the sigmoid one, with ReLU: its gradient reaches the "
                     "first layer."),
                  lambda num_classes=10, in_channels=1: DeepNet(num_classes, in_channels, "relu")),
        ModelSpec("alexnet", N_("AlexNet"), (3, 224, 224), N_("Krizhevsky et al. 2012, torchvision's version."),
                  _tv("alexnet"), torchvision=True),
        ModelSpec("vgg16", N_("VGG16"), (3, 224, 224), N_("Simonyan & Zisserman 2014: 13 3×3 convs in 5 blocks, 3 fc."),
                  _tv("vgg16"), torchvision=True),
        ModelSpec("mobilenet_v2", N_("MobileNetV2"), (3, 224, 224),
                  N_("Sandler et al. 2018: inverted residual blocks with depthwise separable convs."),
                  _tv("mobilenet_v2"), torchvision=True),
        ModelSpec("resnet18", N_("ResNet-18"), (3, 224, 224), N_("He et al. 2015: residual blocks with skip connections."),
                  _tv("resnet18"), torchvision=True),
        ModelSpec("resnet50", N_("ResNet-50"), (3, 224, 224), N_("He et al. 2015: bottleneck residual blocks, 50 layers."),
                  _tv("resnet50"), torchvision=True),
        ModelSpec("efficientnet_lite0", N_("EfficientNet-Lite0"), (3, 224, 224),
                  N_("Tan & Le 2019, the mobile 'Lite' variant: MobileNetV2-style inverted residual blocks, ReLU6. "
                     "ImageNet weights: bundled (they install with cnnviz)."),
                  _timm("tf_efficientnet_lite0"), bundled=True),
    ]
}


def model_spec(name: str) -> ModelSpec:
    """The zoo's entry for ``name``. Raises ``ValueError`` naming the zoo's models for an unknown one."""
    if name not in ZOO:
        raise ValueError(_("unknown model {name!r}; the zoo has: {join_zoo}").format(name=name, join_zoo=', '.join(ZOO)))
    return ZOO[name]


def build_model(name: str, *, num_classes: int = 10, in_channels: int | None = None, seed: int | None = None) -> nn.Module:
    """A freshly initialised (untrained) zoo model. ``seed`` makes the initial weights reproducible.

    Raises ``ValueError`` for an unknown name or a bad class/channel count.
    """
    spec = model_spec(name)
    if num_classes < 1:
        raise ValueError(_("num_classes must be at least 1, got {num_classes}").format(num_classes=num_classes))
    in_channels = spec.input_shape[0] if in_channels is None else in_channels
    if in_channels not in (1, 3):
        raise ValueError(_("in_channels must be 1 (grayscale) or 3 (RGB), got {in_channels}").format(in_channels=in_channels))
    if seed is not None:
        with seeded(seed):
            return spec.builder(num_classes=num_classes, in_channels=in_channels)
    return spec.builder(num_classes=num_classes, in_channels=in_channels)


_SEEDED_BUILD = threading.RLock()


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside the block, torch's global generator starts from ``seed`` (and is restored after it): for building
    layers, whose initial weights PyTorch draws from that generator.

    The global generator is shared by every thread: two runs built together with the same seed would take turns
    drawing from it and get different weights. One seeded block at a time (across threads) makes them identical;
    every seeded build (zoo models, layer stacks, transfer heads) goes through here."""
    with _SEEDED_BUILD, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def input_shape_for(name: str, *, in_channels: int | None = None) -> tuple[int, int, int]:
    """The input shape (C, H, W) a zoo model is built for."""
    c, h, w = model_spec(name).input_shape
    return (c if in_channels is None else in_channels, h, w)


def layer_names(model: nn.Module, *, kinds: tuple[type, ...] | None = None) -> list[str]:
    """Dotted names of the model's leaf modules (optionally only of the given types), in order."""
    return [n for n, m in model.named_modules() if n and not list(m.children()) and (kinds is None or isinstance(m, kinds))]
