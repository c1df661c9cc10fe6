"""Running a model up to one of its layers, on a private copy: the layer's maps, its channel count, a channel check."""

from __future__ import annotations

import contextlib
import copy
from collections import OrderedDict

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import model_input_error
from ..i18n import _

__all__ = ["channel_count", "check_channel", "fold_batchnorms", "private_copy", "run_to"]


class _Stop(Exception):
    """Raised by a hook once the wanted layer has run: the rest of the forward pass is skipped."""


def _layer_module(model: nn.Module, layer: str) -> nn.Module:
    modules = dict(model.named_modules())
    if layer not in modules or not layer:
        raise ValueError(_("unknown layer {layer!r}; choose one of the model's layers, e.g. {examples}").format(
            layer=layer, examples=", ".join(list(modules)[1:4])))
    return modules[layer]


def _no_maps(layer: str, module: nn.Module, shape) -> ValueError:
    return ValueError(_("layer {layer} ({kind}) has no feature maps: its output has shape {shape}, not "
                        "channels × height × width. Pick a conv, pooling or activation layer.").format(
        layer=layer, kind=type(module).__name__, shape=tuple(shape)))


def run_to(model: nn.Module, layer: str, x: Tensor, *, context=None) -> Tensor:
    """What ``layer`` returns for the batch ``x``: the forward pass stops right after it (inside ``context``, e.g.
    ``torch.no_grad()``; gradients kept if on). Raises ``ValueError`` for an input the model cannot take or a layer
    it never runs."""
    module = _layer_module(model, layer)
    got: list = []

    def hook(_m, _i, output):
        got.append(output)
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        with context if context is not None else contextlib.nullcontext():
            model(x)
    except _Stop:
        pass
    except RuntimeError as err:
        raise model_input_error(x.shape[1:], err) from None
    finally:
        handle.remove()
    if not got:
        raise ValueError(_("layer {layer} is not run by the model's forward pass").format(layer=layer))
    out = got[0]
    if not isinstance(out, Tensor) or out.ndim != 4:
        raise _no_maps(layer, module, out.shape if isinstance(out, Tensor) else (type(out).__name__,))
    return out


def private_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy without parameter gradients: hooks and autograd on it never touch a shared model.

    Copied under the model's capture lock, so no other session's hooks are on it (or copied) meanwhile."""
    from ..capture import model_lock

    with model_lock(model):
        copied = copy.deepcopy(model)
    copied.eval()
    for p in copied.parameters():
        p.requires_grad_(False)
    return copied


def _bn_after_folding(bn: nn.Module) -> nn.Module | None:
    """What remains of a batch norm once its affine map moved into the convolution before it: nothing for
    torch's BatchNorm2d, the dropout and activation for timm's BatchNormAct2d; None for any other kind (not folded)."""
    if not isinstance(bn, nn.BatchNorm2d) or bn.running_mean is None or bn.running_var is None:
        return None
    if type(bn) is nn.BatchNorm2d:
        return nn.Identity()
    if type(bn).__name__ == "BatchNormAct2d" and isinstance(getattr(bn, "act", None), nn.Module) \
            and isinstance(getattr(bn, "drop", None), nn.Module):
        return nn.Sequential(OrderedDict(drop=bn.drop, act=bn.act))  # "….bn1.act" stays a layer one can pick
    return None


@torch.no_grad()
def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    scale = bn.running_var.add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale + (bn.bias if bn.bias is not None else 0)
    if conv.bias is not None:
        shift = shift + conv.bias * scale
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    conv.bias = nn.Parameter(shift.to(conv.weight.dtype), requires_grad=False)


def fold_batchnorms(model: nn.Module, layer: str, input_shape: tuple[int, int, int]) -> nn.Module:
    """An eval-mode copy (``private_copy``'s) whose batch norms are folded into the convolutions before them, for
    optimizing images through it: the same maps at ``layer`` with a third less work per step (a batch norm's forward
    and backward cost as much as a depthwise convolution's). A convolution that is ``layer`` itself keeps its batch
    norm (its own maps are asked for). Pairs are a Conv2d child directly followed by its BatchNorm2d sibling; the
    result is checked against ``model`` at ``layer`` on a random input, and ``model`` is returned when they differ
    (a network whose order of children is not its order of computation)."""
    folded = copy.deepcopy(model)
    done = 0
    for parent_name, parent in list(folded.named_modules()):
        children = list(parent.named_children())
        for (conv_name, conv), (bn_name, bn) in zip(children, children[1:]):
            qualified = f"{parent_name}.{conv_name}" if parent_name else conv_name
            rest = _bn_after_folding(bn)
            if not isinstance(conv, nn.Conv2d) or rest is None or qualified == layer \
                    or conv.out_channels != bn.num_features:
                continue
            _fold(conv, bn)
            setattr(parent, bn_name, rest)
            done += 1
    if not done:
        return model
    x = torch.rand((2, *input_shape), generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            want, got = run_to(model, layer, x), run_to(folded, layer, x)
    except ValueError:  # the layer is no longer reachable the same way: keep the network as it is
        return model
    close = want.shape == got.shape and torch.allclose(got, want, rtol=1e-3,
                                                       atol=1e-4 * max(1.0, float(want.abs().max())))
    return folded if close else model


def channel_count(model: nn.Module, layer: str, input_shape: tuple[int, int, int]) -> int:
    """How many channels ``layer`` outputs for an input of ``input_shape``; ValueError when it has no maps."""
    with torch.no_grad():
        out = run_to(private_copy(model), layer, torch.zeros((1, *input_shape)))
    return int(out.shape[1])


def check_channel(channel: int, channels: int, layer: str) -> int:
    """``channel`` as an int when ``layer`` has it; else ValueError in one sentence."""
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= int(channel) < channels:
        raise ValueError(_("channel {channel} does not exist: layer {layer} has {n} channels, numbered 0 to "
                           "{last}").format(channel=channel, layer=layer, n=channels, last=channels - 1))
    return int(channel)
