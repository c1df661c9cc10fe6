"""What a comparison is: the sources and targets to choose from, and ``ComparisonConfig`` (plain, saved values)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..models import ZOO
from ..training.settings import check_epochs
from .strategies import IMAGENET_BACKBONES, STRATEGIES
from ..i18n import N_, _

# name -> (title, architecture)
SOURCES: dict[str, tuple[str, str]] = {
    "heldout_cnn": (N_("cnnviz CNN pretrained here on some Fashion-MNIST classes (offline)"), "mnist_cnn"),
    "shipped_cnn": (N_("cnnviz CNN shipped with the project (all 10 Fashion-MNIST classes, offline)"), "mnist_cnn"),
    "efficientnet_lite0": (N_("EfficientNet-Lite0, ImageNet weights (bundled, offline)"), "efficientnet_lite0"),
    "vgg16": (N_("VGG16, ImageNet weights"), "vgg16"),
    "mobilenet_v2": (N_("MobileNetV2, ImageNet weights"), "mobilenet_v2"),
    "resnet18": (N_("ResNet-18, ImageNet weights"), "resnet18"),
    "resnet50": (N_("ResNet-50, ImageNet weights"), "resnet50"),
}

SHORT_NAMES: dict[str, str] = {
    "heldout_cnn": N_("cnnviz CNN (held-out classes)"), "efficientnet_lite0": N_("EfficientNet-Lite0"), "shipped_cnn": N_("shipped cnnviz CNN"), "vgg16": N_("VGG16"),
    "mobilenet_v2": N_("MobileNetV2"), "resnet18": N_("ResNet-18"), "resnet50": N_("ResNet-50"),
    "fashion_heldout": N_("unseen Fashion-MNIST classes"), "folder": N_("your images"), "cifar10": N_("CIFAR-10"),
    "mnist": N_("MNIST"), "fashion_mnist": N_("Fashion-MNIST"),
}

TARGETS: dict[str, str] = {
    "fashion_heldout": N_("Fashion-MNIST classes the source never saw"),
    "folder": N_("Your own images (a zip of one folder per class)"),
    "cifar10": N_("CIFAR-10 (a few images per class)"),
    "mnist": N_("MNIST digits (a few images per class)"),
    "fashion_mnist": N_("Fashion-MNIST, all 10 classes (a few images per class)"),
}


@dataclass(frozen=True)
class ComparisonConfig:
    """Everything that defines a comparison; plain values only (saved with its result)."""

    source: str = "heldout_cnn"
    target: str = "fashion_heldout"
    strategies: tuple[str, ...] = ("scratch", "frozen", "last_block", "full")
    source_classes: tuple[int, ...] = (0, 1, 2, 3, 4)
    target_classes: tuple[int, ...] | None = None  # default: every class not in source_classes / all of the dataset
    shots: int | None = 20  # labelled training images per target class
    test_per_class: int | None = 100
    epochs: int = 10
    batch_size: int = 16
    optimizer: str = "adam"
    lr: float = 1e-3
    head: tuple[int, ...] = (128, 64)
    image_size: int = 32  # input side for ImageNet backbones
    seed: int = 0
    source_epochs: int = 2
    source_images: int | None = 12_000

    def __post_init__(self) -> None:
        for name in ("strategies", "source_classes", "head"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.target_classes is not None:
            object.__setattr__(self, "target_classes", tuple(self.target_classes))

    @property
    def arch(self) -> str:
        return SOURCES[self.source][1]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        if self.arch in IMAGENET_BACKBONES:
            return (3, self.image_size, self.image_size)
        return ZOO[self.arch].input_shape

    def validate(self) -> None:
        """Raise ``ValueError`` saying what is wrong with the settings."""
        if self.source not in SOURCES:
            raise ValueError(_("unknown source {self_source!r}; choose one of {join_sources}").format(self_source=self.source, join_sources=', '.join(SOURCES)))
        if self.target not in TARGETS:
            raise ValueError(_("unknown target {self_target!r}; choose one of {join_targets}").format(self_target=self.target, join_targets=', '.join(TARGETS)))
        if not self.strategies or any(s not in STRATEGIES for s in self.strategies):
            raise ValueError(_("choose at least one strategy of {join_strategies}; got {list_self_strategies}").format(join_strategies=', '.join(STRATEGIES), list_self_strategies=list(self.strategies)))
        if self.target == "fashion_heldout" and self.source != "heldout_cnn":
            raise ValueError(_("held-out Fashion-MNIST classes need a source that has not seen them: choose the CNN "
                             "pretrained here on the other classes (the shipped one saw all 10)"))
        if self.target == "fashion_heldout":
            held = self.target_classes or [c for c in range(10) if c not in self.source_classes]
            if len(set(self.source_classes)) < 2 or len(set(held)) < 2:
                raise ValueError(_("pretrain the source on at least 2 Fashion-MNIST classes and leave at least 2 others out for the target (source classes now: {sorted_self_source_class})").format(sorted_self_source_class=sorted(self.source_classes)))
        if self.arch in IMAGENET_BACKBONES and self.target == "fashion_heldout":
            raise ValueError(_("ImageNet backbones have no held-out Fashion-MNIST classes: choose 'fashion_mnist'"))
        if self.arch not in IMAGENET_BACKBONES and self.target in ("cifar10", "fashion_mnist"):
            raise ValueError(_("the offline CNN transfers to held-out Fashion-MNIST classes, MNIST digits or your "
                               "images, not {target}").format(target=self.target))
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(_("epochs, batch size and learning rate must be positive"))
        check_epochs(self.epochs)  # the one bound of every run's epochs
        check_epochs(self.source_epochs, name="source_epochs")
        if self.shots is not None and self.shots < 1:
            raise ValueError(_("at least 1 labelled image per class is needed, got {self_shots}").format(self_shots=self.shots))
        if self.image_size < 16 or self.image_size > 256:
            raise ValueError(_("image size must be between 16 and 256 pixels, got {self_image_size}").format(self_image_size=self.image_size))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComparisonConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known})
