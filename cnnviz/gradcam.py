"""Grad-CAM (Selvaraju et al. 2017) through captum's ``LayerGradCam``: where did the model look?

The heat map is the ReLU of the layer's channels weighted by their average gradient for the class,
upsampled to the input. Gradients come from ``torch.autograd.grad`` inside captum, so no parameter's
``.grad`` is touched: a model shared by all sessions stays as it was (its train/eval flags too).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .capture import _batch, _first_param_device, model_lock
from .errors import model_input_error
from .i18n import _

__all__ = ["GradCam", "default_cam_layer", "grad_cam", "grad_cam_result"]


@dataclass(frozen=True)
class GradCam:
    """A Grad-CAM heat map ``cam`` H×W in [0, 1] (input resolution) and the raw layer-resolution map."""

    cam: Tensor
    raw: Tensor
    layer: str
    target_class: int
    probability: float


# Modules that may follow the last conv and still give spatial maps: Grad-CAM reads after them.
_AFTER_CONV = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.MaxPool2d, nn.AvgPool2d, nn.BatchNorm2d)


def default_cam_layer(model: nn.Module) -> str:
    """The usual Grad-CAM layer: the last conv's maps after its activation and pooling.

    For a ResNet that is ``layer4``; for the notes' small nets, the end of ``features`` (e.g. mnist_cnn's
    ``features.8``, the ReLU after the last conv and pool). Reading straight at a conv whose output is
    still to be pooled and rectified often gives all-zero maps. Raises ``ValueError`` without conv layers.
    """
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    convs = [i for i, (_, m) in enumerate(leaves) if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(_("Grad-CAM needs a conv layer; this model has none"))
    last = leaves[convs[-1]][0]
    top = last.split(".")[0]
    if top.startswith("layer") and hasattr(model, "fc"):  # torchvision ResNets: the whole last stage
        return top
    i = convs[-1]
    while i + 1 < len(leaves) and isinstance(leaves[i + 1][1], _AFTER_CONV):
        i += 1
    return leaves[i][0]


def _layer(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules or not name:
        convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
        raise ValueError(_("unknown layer {name!r}; conv layers are: {join_convs_12}").format(name=name, join_convs_12=', '.join(convs[:12])))
    return modules[name]


def grad_cam_result(model: nn.Module, x: Tensor, target_class: int | None = None, layer: str | None = None,
                    ) -> GradCam:
    """Grad-CAM of one image C×H×W (or 1×C×H×W, normalised as the model expects).

    ``target_class`` None means the predicted class; ``layer`` None means ``default_cam_layer``.
    Raises ``ValueError`` for an unknown layer or class, ``TypeError`` for a non-tensor input.
    """
    from captum.attr import LayerAttribution, LayerGradCam

    xb = _batch(x).to(_first_param_device(model))
    layer = layer or default_cam_layer(model)
    module = _layer(model, layer)
    with model_lock(model):
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            if target_class is None:  # one extra forward pass to find the predicted class
                try:
                    with torch.no_grad():
                        target = int(model(xb)[0].argmax())
                except (RuntimeError, MemoryError) as err:
                    if isinstance(err, MemoryError) or "alloc" in str(err).lower():
                        raise ValueError(_("the server has not enough free memory for Grad-CAM on this model now; "
                                           "try again later or with a smaller model")) from None
                    raise model_input_error(xb.shape[1:], err) from None
            else:
                target = int(target_class)
            logits: list[Tensor] = []
            handle = model.register_forward_hook(lambda _m, _i, out: logits.append(out.detach()))
            try:
                raw = LayerGradCam(model, module).attribute(xb, target=target, relu_attributions=True)
            except (IndexError, RuntimeError, MemoryError) as err:
                n = int(logits[-1].shape[-1]) if logits else "?"
                if logits and not 0 <= target < int(n):
                    raise ValueError(_("target_class must be 0 … {int_n_1}, got {target_class}").format(int_n_1=int(n) - 1, target_class=target_class)) from None
                if isinstance(err, MemoryError) or "alloc" in str(err).lower():  # "DefaultCPUAllocator: can't allocate"
                    raise ValueError(_("the server has not enough free memory for Grad-CAM on this model now; try "
                                       "again later or with a smaller model")) from None
                raise ValueError(_("Grad-CAM cannot be computed at layer {layer} of this model; choose another "
                                   "layer").format(layer=layer)) from None
            finally:
                handle.remove()
            probs = torch.softmax(logits[-1][0].float().cpu(), dim=0)
            if not 0 <= target < probs.numel():
                raise ValueError(_("target_class must be 0 … {probs_numel_1}, got {target_class}").format(probs_numel_1=probs.numel() - 1, target_class=target_class))
        finally:
            for m, mode in modes:
                m.training = mode
    if raw.ndim != 4:
        raise ValueError(_("layer {layer} does not output feature maps (shape {tuple_raw_shape})").format(layer=layer, tuple_raw_shape=tuple(raw.shape)))
    cam = LayerAttribution.interpolate(raw, tuple(xb.shape[2:]), interpolate_mode="bilinear")[0, 0]
    cam = cam.detach().float().cpu().clamp_(min=0)
    top = float(cam.max())
    cam = cam / top if top > 0 else cam
    return GradCam(cam, raw[0, 0].detach().float().cpu(), layer, target, float(probs[target]))


def grad_cam(model: nn.Module, x: Tensor, target_class: int | None = None, layer: str | None = None) -> Tensor:
    """The Grad-CAM heat map H×W (the input's size) scaled to [0, 1]; all zeros when nothing pushes
    the class up. See ``grad_cam_result`` for the arguments and errors.
    """
    return grad_cam_result(model, x, target_class, layer).cam
