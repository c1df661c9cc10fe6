"""Look inside a CNN: feature maps through context-managed hooks, filters, predictions.

Hooks only exist inside ``capture`` and are removed in ``finally`` (also after an exception); every
module's train/eval flag is restored; captured tensors are detached CPU *clones*, so an in-place ReLU
that runs after a conv cannot overwrite the conv output you are shown. A per-model lock keeps two
sessions from seeing each other's hooks on a model shared by the whole app. Model cards and
preprocessing (``ModelCard``, ``prepare_image``, ...) live in ``cnnviz.cards``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from .i18n import _
from .errors import model_input_error

__all__ = [
    "FeatureMaps",
    "FilterGrid",
    "Prediction",
    "capture",
    "conv_layers",
    "feature_maps",
    "feature_maps_many",
    "filter_delta",
    "filter_grid",
    "model_lock",
    "overview_layers",
    "predict",
    "run",
    "viewable_layers",
]

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Hardswish)
POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)

_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """The lock held while hooks sit on ``model`` (one per model object)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


class _Done(Exception):
    """Raised by a hook once every wanted layer is captured: the rest of the forward pass is skipped."""


@contextmanager
def capture(model: nn.Module, layers: Sequence[str], *, stop_early: bool = False) -> Iterator[dict[str, Tensor]]:
    """Hook ``layers`` (dotted module names) and yield a dict that fills with their outputs.

    Outputs are stored as detached CPU clones. A module called several times keeps its last output.
    With ``stop_early`` the forward pass stops after the last wanted layer (so a conv part runs on an
    input the classifier would refuse); call the model through ``run`` then. Hooks are removed and each
    module's train/eval flag restored on exit, also after an exception. Raises ``ValueError`` for
    unknown layer names.
    """
    modules = dict(model.named_modules())
    if missing := [n for n in layers if n not in modules]:
        raise ValueError(_("unknown layers {missing}; choose from cnnviz.viewable_layers(model)").format(missing=missing))
    wanted = set(layers)
    store: dict[str, Tensor] = {}

    def keeper(name: str):
        def hook(_module, _inputs, output):
            if isinstance(output, Tensor):
                store[name] = output.detach().to("cpu", copy=True)
                if stop_early and wanted <= store.keys():
                    raise _Done
        return hook

    lock = model_lock(model)
    with lock:
        modes = [(m, m.training) for m in model.modules()]
        handles = [modules[n].register_forward_hook(keeper(n)) for n in dict.fromkeys(layers)]
        try:
            yield store
        finally:
            for h in handles:
                h.remove()
            for m, mode in modes:
                m.training = mode


def run(model: nn.Module, x: Tensor) -> Tensor | None:
    """``model(x)`` in eval mode without gradients (each module's mode is put back after); None when a
    ``stop_early`` capture ended it."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            return model(x)
    except _Done:
        return None
    finally:
        for m, mode in modes:
            m.training = mode


def _batch(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(_("expected an image tensor C×H×W, got {type_x_name}").format(type_x_name=type(x).__name__))
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(_("expected one image C×H×W (or 1×C×H×W), got shape {tuple_x_shape}").format(tuple_x_shape=tuple(x.shape)))
    return x.float()


def _first_param_device(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


# ---------------------------------------------------------------------------- feature maps


@dataclass(frozen=True)
class FeatureMaps:
    """One layer's output for one image: ``maps`` C×H×W float32 on the CPU."""

    layer: str
    kind: str  # the module's class name, e.g. "Conv2d"
    maps: Tensor
    input_size: tuple[int, int]  # (H, W) of the image the model was run on

    @property
    def channels(self) -> int:
        return int(self.maps.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.maps.shape[1]), int(self.maps.shape[2])

    def strength(self) -> Tensor:
        """Each channel's mean activation (how strongly it responded overall)."""
        return self.maps.mean(dim=(1, 2))

    def top_k(self, k: int) -> list[int]:
        """The ``k`` channels with the highest mean activation, strongest first."""
        k = max(1, min(int(k), self.channels))
        return torch.topk(self.strength(), k).indices.tolist()


def _as_maps(name: str, kind: str, t: Tensor, input_size: tuple[int, int]) -> FeatureMaps:
    t = t[0] if t.ndim >= 1 and t.shape[0] == 1 else t
    if t.ndim != 3:
        raise ValueError(_("layer {name} ({kind}) outputs shape {tuple_t_shape}, not feature maps C×H×W; pick a conv, activation or pooling layer").format(name=name, kind=kind, tuple_t_shape=tuple(t.shape)))
    return FeatureMaps(name, kind, t.float().contiguous(), input_size)


def feature_maps_many(model: nn.Module, image: Tensor, layers: Sequence[str], *,
                      stop_early: bool = True) -> list[FeatureMaps]:
    """Feature maps of several layers from ONE forward pass, in the order given.

    With ``stop_early`` (default) the pass stops after the last wanted layer, so the conv part of a
    small net also runs on a photo larger than the net's input. Raises ``ValueError`` for unknown
    layers, layers without C×H×W output, or an input the layers cannot take.
    """
    x = _batch(image).to(_first_param_device(model))
    kinds = {n: type(m).__name__ for n, m in model.named_modules()}
    with capture(model, layers, stop_early=stop_early) as store:
        try:
            run(model, x)
        except RuntimeError as err:
            if not set(layers) <= store.keys():
                raise model_input_error(x.shape[1:], err) from None
    if lost := [n for n in layers if n not in store]:
        raise ValueError(_("layers {lost} were not run by the model's forward pass").format(lost=lost))
    size = (int(x.shape[2]), int(x.shape[3]))
    return [_as_maps(n, kinds[n], store[n], size) for n in layers]


def feature_maps(model: nn.Module, image_tensor: Tensor, layer: str, *, stop_early: bool = True) -> FeatureMaps:
    """All channels of ``layer``'s output for one (already normalised) image C×H×W.

    Raises ``ValueError``/``TypeError`` as ``feature_maps_many``.
    """
    return feature_maps_many(model, image_tensor, [layer], stop_early=stop_early)[0]


def viewable_layers(model: nn.Module) -> list[str]:
    """Layers whose outputs are feature maps, in forward order: leaf conv, batch-norm, activation and
    pooling layers, plus the stages of ``overview_layers`` (e.g. a ResNet's ``layer1``)."""
    kinds = (nn.Conv2d, nn.BatchNorm2d, *ACTIVATIONS, *POOLS)
    head = [n for n, m in model.named_children()
            if list(m.children()) and not any(isinstance(x, nn.Conv2d) for x in m.modules())]  # e.g. classifier
    stages = set(overview_layers(model, max_stages=1000))
    return [n for n, m in model.named_modules() if n in stages or (
        n and not list(m.children()) and isinstance(m, kinds) and n.split(".")[0] not in head)]


def conv_layers(model: nn.Module) -> list[str]:
    """Dotted names of the model's Conv2d layers, in order (the layers that have filters)."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def overview_layers(model: nn.Module, *, max_stages: int = 10) -> list[str]:
    """The stages for a layer-by-layer overview, first conv to last.

    The model's direct children that contain a conv, with a ``features`` (torchvision) or ``blocks`` (timm)
    Sequential opened up: the three convs of mnist_cnn, conv1 and layer1-4 of a ResNet, VGG16's 13 convs,
    MobileNetV2's 19 blocks or EfficientNet-Lite0's stem, 7 stages and head, thinned out evenly (first and last
    kept) to at most ``max_stages``.
    """
    out: list[str] = []
    for name, child in model.named_children():
        opened = name in ("features", "blocks") and isinstance(child, nn.Sequential)  # torchvision's, timm's stages
        parts = child.named_children() if opened else [("", child)]
        for sub, m in parts:
            if any(isinstance(x, nn.Conv2d) for x in m.modules()):
                out.append(f"{name}.{sub}" if sub else name)
    if len(out) > max_stages >= 2:
        out = [out[round(i * (len(out) - 1) / (max_stages - 1))] for i in range(max_stages)]
    return out


# ---------------------------------------------------------------------------- predictions


@dataclass(frozen=True)
class Prediction:
    """Softmax probabilities over ``classes`` for one image."""

    probs: tuple[float, ...]
    classes: tuple[str, ...]

    @property
    def best(self) -> int:
        return int(np.argmax(self.probs))

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(self.probs)[::-1][:k]
        return [(self.classes[i], self.probs[i]) for i in order]


def predict(model: nn.Module, image: Tensor, *, classes: Sequence[str] = ()) -> Prediction:
    """Class probabilities (softmax of the logits) for one image C×H×W at the model's input size.

    Raises ``ValueError`` when the model cannot take the image's shape.
    """
    x = _batch(image).to(_first_param_device(model))
    with capture(model, []):  # the lock and the mode restore
        try:
            logits = run(model, x)
        except RuntimeError as err:
            raise model_input_error(x.shape[1:], err) from None
    probs = torch.softmax(logits[0].float().cpu(), dim=0)
    names = tuple(classes) if len(classes) == len(probs) else tuple(_("class {i}").format(i=i)
                                                                    for i in range(len(probs)))
    return Prediction(tuple(float(p) for p in probs), names)


# ---------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class FilterGrid:
    """A conv layer's weights, ready to draw.

    ``weights`` is out×in×kH×kW (float32 numpy). ``colour`` when the layer reads 3 channels (RGB
    filters drawn as colour images); otherwise ``in_channel`` picks which input channel's slice is shown.
    """

    layer: str
    weights: np.ndarray
    in_channel: int = 0
    label: str = ""
    signed: bool = True  # weights are; |ΔW| is not

    @property
    def colour(self) -> bool:
        return self.weights.shape[1] == 3

    @property
    def count(self) -> int:
        return int(self.weights.shape[0])

    def slices(self) -> np.ndarray:
        """out×kH×kW: the weights that meet input channel ``in_channel``."""
        return self.weights[:, self.in_channel]


def _conv_weight(source: nn.Module | dict, layer: str | None) -> tuple[str, Tensor]:
    if isinstance(source, nn.Module):
        convs = {n: m.weight for n, m in source.named_modules() if isinstance(m, nn.Conv2d)}
    elif isinstance(source, dict):
        convs = {k[: -len(".weight")]: v for k, v in source.items() if k.endswith(".weight") and v.ndim == 4}
    else:
        raise TypeError(_("expected a model or a state_dict, got {type_source_name}").format(type_source_name=type(source).__name__))
    if not convs:
        raise ValueError(_("this model has no conv layers"))
    layer = layer or next(iter(convs))
    if layer not in convs:
        raise ValueError(_("{layer!r} is not a conv layer; choose from {join_convs}").format(layer=layer, join_convs=', '.join(convs)))
    return layer, convs[layer]


def filter_grid(source: nn.Module | dict, layer: str | None = None, *, in_channel: int = 0,
                label: str = "") -> FilterGrid:
    """The filters of a conv layer (the first one by default) of a model or a state_dict.

    Raises ``ValueError`` for a layer that is not a conv or an input channel it does not have.
    """
    layer, w = _conv_weight(source, layer)
    if not 0 <= in_channel < w.shape[1]:
        raise ValueError(_("{layer} reads {w_shape_1} input channels; in_channel must be 0 … {w_shape_1_1}").format(layer=layer, w_shape_1=w.shape[1], w_shape_1_1=w.shape[1] - 1))
    return FilterGrid(layer, w.detach().float().cpu().numpy().copy(), in_channel, label)


def filter_delta(before: FilterGrid, after: FilterGrid) -> FilterGrid:
    """|after − before|: how much training moved each weight. Raises ``ValueError`` on other shapes."""
    if before.weights.shape != after.weights.shape:
        raise ValueError(_("filters of different shapes: {before_weights_shape} vs {after_weights_shape}").format(before_weights_shape=before.weights.shape, after_weights_shape=after.weights.shape))
    return FilterGrid(after.layer, np.abs(after.weights - before.weights), after.in_channel,
                      _("|ΔW|: how far each weight moved"), signed=False)
