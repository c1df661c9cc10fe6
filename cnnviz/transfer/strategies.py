"""Model surgery: a pretrained conv base under a new dense head, frozen as a strategy says.

``build_transfer_model`` cuts the conv base off an architecture of the zoo (``_split`` knows where
each one's base and last block are), puts a new 128-64-k head under it and sets ``requires_grad``
for one of the four ``STRATEGIES``.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import model_input_error
from ..i18n import N_, _
from ..models import ZOO, build_model, seeded

IMAGENET_BACKBONES = ("efficientnet_lite0", "vgg16", "mobilenet_v2", "resnet18", "resnet50")
SMALL_NETS = ("mnist_cnn", "keras_cifar10", "simple_convnet", "tf_mnist", "lenet5", "lenet5_28")


@dataclass(frozen=True)
class Strategy:
    key: str
    title: str
    description: str


STRATEGIES: dict[str, Strategy] = {
    s.key: s
    for s in [
        Strategy("scratch", N_("From scratch"),
                 N_("The same network with random weights; every layer learns from the target data alone.")),
        Strategy("frozen", N_("Frozen backbone + new head"),
                 N_("The pretrained convolutional base is frozen; only the new dense head learns (the notes' "
                    "recipe).")),
        Strategy("last_block", N_("Fine-tune the last block"),
                 N_("The pretrained base is frozen except its last block, which learns together with the new head.")),
        Strategy("full", N_("Fine-tune everything"), N_("Every weight learns, starting from the pretrained ones.")),
    ]
}


class TransferNet(nn.Module):
    """A convolutional ``backbone`` followed by a new dense ``head``.

    ``arch`` names the architecture the backbone came from; ``last_block`` lists the backbone's
    sub-modules (dotted names) that form its last block.
    """

    def __init__(self, backbone: nn.Module, head: nn.Sequential, *, arch: str, last_block: Sequence[str]) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.arch = arch
        self.last_block = tuple(last_block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def _split(model: nn.Module, arch: str) -> tuple[nn.Sequential, tuple[str, ...]]:
    """The conv base of ``model`` as a named Sequential, and the names of its last block's modules."""
    if arch in SMALL_NETS or arch in ("vgg16", "alexnet"):
        features = model.features
        convs = [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)]
        if arch == "vgg16":
            pools = [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)]
            start = pools[-2] + 1  # block 5: the three 512-filter convs after the fourth pool
        else:
            start = convs[-1]
        backbone = nn.Sequential(OrderedDict(features=features))
        with_weights = [i for i in range(start, len(features)) if any(True for _ in features[i].parameters())]
        return backbone, tuple(f"features.{i}" for i in with_weights)
    if arch == "mobilenet_v2":
        backbone = nn.Sequential(OrderedDict(features=model.features, pool=nn.AdaptiveAvgPool2d(1)))
        n = len(model.features)
        return backbone, (f"features.{n - 2}", f"features.{n - 1}")
    if arch == "efficientnet_lite0":  # timm: conv_stem, bn1, blocks (7 stages), conv_head, bn2, global_pool
        parts = OrderedDict((name, m) for name, m in model.named_children() if name != "classifier")
        return nn.Sequential(parts), ("blocks.6", "conv_head", "bn2")
    if arch in ("resnet18", "resnet50"):
        parts = OrderedDict((name, m) for name, m in model.named_children() if name != "fc")
        return nn.Sequential(parts), ("layer4",)
    raise ValueError(_("no transfer recipe for {arch!r}; use one of {join_small_nets_imagenet}").format(arch=arch, join_small_nets_imagenet=', '.join(SMALL_NETS + IMAGENET_BACKBONES)))


def _head(in_features: int, hidden: Sequence[int], num_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        if h < 1:
            raise ValueError(_("head layer sizes must be positive, got {list_hidden}").format(list_hidden=list(hidden)))
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def build_transfer_model(
    arch: str,
    strategy: str,
    *,
    num_classes: int,
    input_shape: tuple[int, int, int],
    source: nn.Module | None = None,
    head: Sequence[int] = (128, 64),
    seed: int = 0,
) -> TransferNet:
    """``arch``'s conv base under a new dense ``head`` (e.g. 128-64-``num_classes``), frozen as ``strategy`` says.

    ``source`` is the pretrained model (e.g. ``load_source(...)``) whose base is copied (never changed);
    without it, or for ``scratch``, the base is freshly initialised (enough to count parameters). The
    head's initial weights depend only on ``seed``, so every strategy starts from the same head.
    Raises ``ValueError`` for an unknown architecture/strategy or an input the base cannot take.
    """
    if strategy not in STRATEGIES:
        raise ValueError(_("unknown strategy {strategy!r}; choose one of {join_strategies}").format(strategy=strategy, join_strategies=', '.join(STRATEGIES)))
    if num_classes < 2:
        raise ValueError(_("a classifier needs at least 2 classes, got {num_classes}").format(num_classes=num_classes))
    if arch not in ZOO:
        raise ValueError(_("unknown architecture {arch!r}; the zoo has: {join_zoo}").format(arch=arch, join_zoo=', '.join(ZOO)))
    if strategy == "scratch" or source is None:
        base = build_model(arch, num_classes=num_classes, in_channels=input_shape[0], seed=seed + 1)
    else:
        base = copy.deepcopy(source)
    backbone, last_block = _split(base, arch)
    with torch.no_grad():
        was = backbone.training
        backbone.eval()
        try:
            out = backbone(torch.zeros(1, *input_shape))
        except RuntimeError as err:
            raise model_input_error(input_shape, err, model=arch) from None
        backbone.train(was)
    with seeded(seed):
        new_head = _head(out[0].numel(), head, num_classes)
    model = TransferNet(backbone, new_head, arch=arch, last_block=last_block)
    set_strategy(model, strategy)
    return model


def set_strategy(model: TransferNet, strategy: str) -> None:
    """Set ``requires_grad`` on ``model`` as ``strategy`` says (every weight first, then freeze the base)."""
    for p in model.parameters():
        p.requires_grad_(True)
    if strategy in ("frozen", "last_block"):
        for p in model.backbone.parameters():
            p.requires_grad_(False)
    if strategy == "last_block":
        for name in model.last_block:
            for p in model.backbone.get_submodule(name).parameters():
                p.requires_grad_(True)
