"""Where does the model look? Four answers side by side (captum's implementations) and a sanity check.

* Grad-CAM (Selvaraju et al. 2017): a conv layer's maps weighted by their average gradient: coarse, per class.
* Saliency (Simonyan et al. 2014): the gradient of the class score with respect to each pixel: sharp, noisy.
* Integrated Gradients (Sundararajan et al. 2017): gradients summed along a straight path from a baseline image (the
  all-zero input: the average image, after normalisation) to this one; the pixels' shares add up to the score's
  change.
* Occlusion (Zeiler & Fergus 2014): cover one square at a time with the baseline and measure how far the score falls.

``randomization_check`` is the model-parameter randomization test of Adebayo et al. 2018 ("Sanity Checks for
Saliency Maps"): re-initialise the last layer's weights and compare each map before and after by Spearman rank
correlation. A map that explains the model must change (low similarity); an edge detector, which never looks at the
model, stays the same (similarity 1). Every computation runs on a private copy of the model, so a model shared by
the whole class is never touched.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .capture import _batch
from .errors import model_input_error
from .i18n import N_, _

__all__ = ["METHODS", "METHOD_NOTES", "METHOD_TITLES", "Attribution", "Attributions", "SanityCheck", "attributions",
           "edge_map", "last_layer", "randomization_check", "spearman"]

METHODS = ("gradcam", "saliency", "integrated_gradients", "occlusion")
METHOD_TITLES = {"gradcam": N_("Grad-CAM"), "saliency": N_("Saliency (plain gradients)"),
                 "integrated_gradients": N_("Integrated Gradients"), "occlusion": N_("Occlusion")}
METHOD_NOTES = {
    "gradcam": N_("How much each region of the last conv layer's maps raises the class score: as coarse as that "
                  "layer's grid, and specific to the class."),
    "saliency": N_("How much a tiny change of each pixel would change the class score (the gradient): sharp but "
                   "noisy, and often just the edges."),
    "integrated_gradients": N_("Gradients added up along the way from an average grey image to this one: each "
                               "pixel's share of the score's change (the shares add up to it)."),
    "occlusion": N_("Cover one square at a time with grey and measure how far the score falls: slow, needs no "
                    "gradient, and as coarse as the square."),
}


@dataclass(frozen=True)
class Attribution:
    """One method's answer: ``heat`` H×W in [0, 1] at the input's size (what is drawn and compared), ``raw`` the
    method's own output (captum's attribution 1×C×H×W; Grad-CAM's map at its layer's resolution)."""

    method: str
    heat: Tensor
    raw: Tensor
    seconds: float


@dataclass(frozen=True)
class Attributions:
    """The four maps of one image for one class (``target``), with its probability."""

    target: int
    probability: float
    maps: tuple[Attribution, ...]

    def get(self, method: str) -> Attribution:
        return next(m for m in self.maps if m.method == method)

    def agreement(self) -> np.ndarray:
        """Spearman rank correlation between every two methods' heat maps (methods in ``maps`` order)."""
        n = len(self.maps)
        out = np.eye(n)
        for i in range(n):
            for j in range(i + 1, n):
                out[i, j] = out[j, i] = spearman(self.maps[i].heat, self.maps[j].heat)
        return out


@dataclass(frozen=True)
class SanityCheck:
    """The maps with the trained weights (``before``) and with ``layer``'s weights re-initialised (``after``);
    ``similarity`` per method (Spearman, 1 = unchanged), ``edges`` the edge detector's (always 1)."""

    layer: str
    before: Attributions
    after: Attributions
    similarity: dict
    edges: float


def spearman(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> float:
    """Spearman's rank correlation of two maps of the same size (ties share their mean rank); 0 when either map is
    constant."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(_("maps of different sizes cannot be compared: {a} and {b}").format(a=x.size, b=y.size))
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / den) if den > 0 else 0.0


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v))
    _uniq, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def _normalised(heat: Tensor) -> Tensor:
    heat = heat.detach().float().cpu().clamp(min=0)
    top = float(heat.max())
    return heat / top if top > 0 else heat


def occlusion_window(h: int, w: int) -> tuple[int, int]:
    """The occlusion square's side and stride for an h×w input: about a seventh of the shorter side; the squares
    overlap by half on a small image, not on a photo-sized one (a forward pass of an ImageNet network per square)."""
    side = max(2, round(min(h, w) / 7))
    return side, max(1, side // 2) if min(h, w) <= 64 else side


def _private(model: nn.Module) -> nn.Module:
    from .lookfor.layers import private_copy

    return private_copy(model)


def attributions(model: nn.Module, x: Tensor, target: int | None = None, *, steps: int | None = None,
                 methods: tuple[str, ...] = METHODS, private: bool = True) -> Attributions:
    """The maps of ``methods`` for one image C×H×W (normalised as the model expects) and class ``target`` (None: the
    predicted class). ``steps``: Integrated Gradients' steps along the path (default 32, 16 for photo-sized inputs).
    Raises ``ValueError`` for an input the
    model cannot take, an unknown method or class, ``TypeError`` for a non-tensor."""
    if unknown := [m for m in methods if m not in METHODS]:
        raise ValueError(_("unknown methods {names}; choose from {known}").format(
            names=", ".join(unknown), known=", ".join(METHODS)))
    net = _private(model) if private else model
    xb = _batch(x)
    try:
        with torch.no_grad():
            probs = torch.softmax(net(xb)[0].float(), dim=0)
    except RuntimeError as err:
        raise model_input_error(xb.shape[1:], err) from None
    target = int(probs.argmax()) if target is None else int(target)
    if not 0 <= target < probs.numel():
        raise ValueError(_("class {target} does not exist: the model has {n} classes").format(
            target=target, n=probs.numel()))
    c, h, w = xb.shape[1:]
    steps = steps or (32 if max(h, w) <= 64 else 16)
    from .training.cpu import THREADS

    with THREADS.lease(1 if max(h, w) <= 64 else None):  # a small net's many tiny steps run fastest on one thread
        maps = tuple(_one(net, xb, method, target, steps) for method in methods)
    return Attributions(target, float(probs[target]), maps)


def _one(net: nn.Module, xb: Tensor, method: str, target: int, steps: int) -> Attribution:
    from captum.attr import IntegratedGradients, Occlusion, Saliency

    from .gradcam import grad_cam_result

    c, h, w = xb.shape[1:]
    t0 = time.perf_counter()
    if method == "gradcam":
        cam = grad_cam_result(net, xb, target)
        raw, heat = cam.raw, cam.cam
    elif method == "saliency":
        raw = Saliency(net).attribute(xb.clone().requires_grad_(True), target=target, abs=True).detach()
        heat = raw[0].max(dim=0).values
    elif method == "integrated_gradients":
        raw = IntegratedGradients(net).attribute(xb, baselines=torch.zeros_like(xb), target=target, n_steps=steps,
                                                 internal_batch_size=8).detach()
        heat = raw[0].sum(dim=0).abs()
    else:
        side, stride = occlusion_window(h, w)
        raw = Occlusion(net).attribute(xb, sliding_window_shapes=(c, side, side), strides=(c, stride, stride),
                                       baselines=0.0, target=target, perturbations_per_eval=16).detach()
        heat = raw[0].sum(dim=0)
    return Attribution(method, _normalised(heat), raw, time.perf_counter() - t0)


def last_layer(model: nn.Module) -> str:
    """The name of the model's last layer with weights (its classifier): the one the sanity check re-initialises."""
    named = [n for n, m in model.named_modules() if isinstance(getattr(m, "weight", None), Tensor)
             and m.weight.ndim >= 2]
    if not named:
        raise ValueError(_("this model has no layer with weights to randomize"))
    return named[-1]


def edge_map(x: Tensor) -> Tensor:
    """The control of the sanity check: Sobel edge strength of the image, scaled to [0, 1]. It never looks at the
    model, yet it often looks like an explanation."""
    xb = _batch(x)
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    k = torch.stack([kx, kx.T])[:, None].repeat(1, 1, 1, 1)
    grey = xb.mean(dim=1, keepdim=True)
    g = F.conv2d(F.pad(grey, [1, 1, 1, 1], mode="replicate"), k)
    return _normalised(g.pow(2).sum(dim=1).sqrt()[0])


def randomization_check(model: nn.Module, x: Tensor, target: int | None = None, *, seed: int = 0,
                        steps: int | None = None, methods: tuple[str, ...] = METHODS) -> SanityCheck:
    """Adebayo et al.'s check: the maps before and after re-initialising the last layer (``last_layer``) with random
    weights of the same spread (seeded), for the same class. Raises ``ValueError`` like ``attributions``."""
    before = attributions(model, x, target, steps=steps, methods=methods)
    net = _private(model)
    name = last_layer(net)
    module = dict(net.named_modules())[name]
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        spread = float(module.weight.std()) or 0.01
        module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * spread)
        if getattr(module, "bias", None) is not None:
            module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * spread)
    after = attributions(net, x, before.target, steps=steps, methods=methods, private=False)
    similarity = {m: spearman(before.get(m).heat, after.get(m).heat) for m in methods}
    edges = edge_map(x)
    return SanityCheck(name, before, after, similarity, spearman(edges, edge_map(x)))
