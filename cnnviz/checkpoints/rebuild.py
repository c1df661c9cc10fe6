"""The model a checkpoint was saved from, rebuilt and loaded: its claims checked against limits on PyTorch's meta
device (no memory) before anything real is built."""

from __future__ import annotations

import functools

import torch
from torch import nn

from ..i18n import _, ngettext
from ..models import ZOO, build_model
from .storage import MAX_CLASSES, Checkpoint, CheckpointError

__all__ = ["MAX_ACTIVATIONS", "model_from_checkpoint"]


def model_from_checkpoint(ckpt: Checkpoint, *, model_name: str | None = None) -> nn.Module:
    """Rebuild the model a checkpoint was saved from and load its weights (strictly), in eval mode.

    ``model_name`` is needed for a bare state dict. Raises ``CheckpointError`` when the weights do not
    match the architecture, saying which layers are missing, unexpected or of another shape.
    """
    name = model_name or ckpt.model_name
    if name is None:
        raise CheckpointError(_("this is a bare state_dict: choose the architecture it belongs to"))
    _check_metadata(ckpt)  # before anything is built: a 5 KB file once claimed 4,000,000 classes
    if name == "stack":
        from ..stack import build_stack  # the convolution lab's layer stacks (their size is checked by build_stack)

        from ..stack.analysis import MAX_STACK_LAYERS

        spec, shape = ckpt.meta.get("spec"), ckpt.input_shape
        if not spec or not shape:
            raise CheckpointError(_("a layer-stack checkpoint needs meta['spec'] and input_shape"))
        if not isinstance(spec, (list, tuple)):
            raise CheckpointError(_("the checkpoint's layer stack is not a list of layers"))
        if len(spec) > MAX_STACK_LAYERS:  # counted before anything is built
            raise CheckpointError(_("the checkpoint's layer stack has {n:,} layers, more than the {limit} this "
                                    "dashboard builds").format(n=len(spec), limit=MAX_STACK_LAYERS))
        build = functools.partial(build_stack, spec, tuple(shape))
    elif name in ZOO:
        in_channels = ckpt.input_shape[0] if ckpt.input_shape else _guess_in_channels(ckpt)
        num_classes = ckpt.num_classes or _guess_num_classes(ckpt) or 10
        build = functools.partial(build_model, name, num_classes=num_classes, in_channels=in_channels)
    else:
        raise CheckpointError(_("unknown architecture {name!r}; the zoo has: {join_zoo}").format(name=name, join_zoo=', '.join(ZOO)))
    skeleton = _on_meta_device(build)  # the model without memory: how many numbers it needs, what input it takes
    if skeleton is not None:
        needed = sum(v.numel() for v in skeleton.state_dict().values())
        held = sum(t.numel() for t in ckpt.state_dict.values())
        if needed > held:
            raise CheckpointError(_("this checkpoint does not match the {name} architecture: it needs {n:,} weights "
                                    "and the file holds {m:,}").format(name=name, n=needed, m=held))
        if ckpt.input_shape:
            shape_text = "×".join(str(v) for v in ckpt.input_shape)
            fits, numbers = _forward_on_meta(skeleton, tuple(ckpt.input_shape))
            if not fits:
                raise CheckpointError(_("the checkpoint says its input is {shape}, but the {name} architecture cannot "
                                        "take an input of that size").format(shape=shape_text, name=name))
            if numbers > MAX_ACTIVATIONS:  # ResNet-50 on 3×1024×1024 once meant 2.7 GB for one image's maps
                raise CheckpointError(_("the checkpoint says its input is {shape}: the {name} network would compute "
                                        "{n:,} numbers for one image, more than the {limit:,} this shared server "
                                        "allows; save it with a smaller input size").format(
                    shape=shape_text, name=name, n=numbers, limit=MAX_ACTIVATIONS))
    try:
        model = build()
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
        if isinstance(err, ValueError):  # build_model's or build_stack's own sentence (a bad count, a layer too big)
            raise CheckpointError(_("cannot build {name} for this checkpoint: {err}").format(name=name, err=err)) from None
        raise CheckpointError(_("cannot build {name} for this checkpoint: its description of the layers is not one "
                                "this dashboard can build").format(name=name)) from None
    except (MemoryError, RuntimeError):
        raise CheckpointError(_("the server has not enough free memory to build this model now")) from None
    expected = model.state_dict()
    missing = [k for k in expected if k not in ckpt.state_dict]
    unexpected = [k for k in ckpt.state_dict if k not in expected]
    wrong = [_("{key} is {got} in the file but {want} in the model").format(
                 key=k, got=tuple(ckpt.state_dict[k].shape), want=tuple(v.shape))
             for k, v in expected.items() if k in ckpt.state_dict and ckpt.state_dict[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(ngettext("{n} weight missing from the file ({names})",
                                  "{n} weights missing from the file ({names})", len(missing)).format(
                n=len(missing), names=_first_few(missing)))
        if unexpected:
            parts.append(ngettext("{n} weight in the file that the model does not have ({names})",
                                  "{n} weights in the file that the model does not have ({names})",
                                  len(unexpected)).format(
                n=len(unexpected), names=_first_few(unexpected)))
        parts.extend(wrong[:3] + (["…"] if len(wrong) > 3 else []))
        raise CheckpointError(_("this checkpoint does not match the {name} architecture: {details}").format(
            name=name, details="; ".join(parts)))
    try:
        model.load_state_dict(ckpt.state_dict)
    except (RuntimeError, TypeError, ValueError):  # e.g. a dtype PyTorch cannot copy into the model
        raise CheckpointError(_("this checkpoint's weights cannot be loaded into the {name} architecture (their "
                                "number types do not fit)").format(name=name)) from None
    return model.eval()


def _first_few(names: list[str]) -> str:
    return ", ".join(names[:3]) + (", …" if len(names) > 3 else "")


def _on_meta_device(build) -> nn.Module | None:
    """``build()`` made on PyTorch's meta device (shapes only, no memory), in eval mode; None when it cannot be."""
    try:
        with torch.device("meta"):
            return build().eval()
    except Exception:  # noqa: BLE001 - the real build reports what is wrong, in a plain sentence
        return None


MAX_ACTIVATIONS = 100_000_000  # numbers all layers output for one image (400 MB); ResNet-50 at 224×224: 32 million


def _forward_on_meta(model: nn.Module, shape: tuple[int, ...]) -> tuple[bool, int]:
    """Whether a meta-device model runs on one input of ``shape`` (PyTorch's own shape rules, no arithmetic, no
    memory), and how many numbers its layers output for it (0 when an op has no meta support: no verdict then)."""
    total = 0

    def count(_module, _inputs, output) -> None:
        nonlocal total
        total += output.numel() if isinstance(output, torch.Tensor) else 0

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():
            model(torch.empty((1, *shape), device="meta"))
    except (RuntimeError, ValueError, IndexError, TypeError):
        return False, total
    except Exception:  # noqa: BLE001 - an op without meta support: the real forward pass will tell
        return True, 0
    finally:
        for h in handles:
            h.remove()
    return True, total


def _check_metadata(ckpt: Checkpoint) -> None:
    """A checkpoint's claims (classes, input shape) checked against sane limits and its own weights, before any
    model or input is built. Raises CheckpointError with one sentence."""
    guess = _guess_num_classes(ckpt)
    if ckpt.num_classes is not None:
        if not 1 <= int(ckpt.num_classes) <= MAX_CLASSES or (guess is not None and guess != int(ckpt.num_classes)):
            raise CheckpointError(_("the checkpoint claims {n:,} classes, but its last layer has {k} outputs").format(
                n=int(ckpt.num_classes), k=guess if guess is not None else "?"))
    elif guess is not None and guess > MAX_CLASSES:
        raise CheckpointError(_("the checkpoint's last layer has {n:,} outputs; this dashboard takes at most {limit:,} "
                                "classes").format(n=guess, limit=MAX_CLASSES))
    if ckpt.input_shape is not None:
        from ..cards import check_input_shape

        try:
            check_input_shape(ckpt.input_shape, ckpt.state_dict)
        except ValueError as err:
            raise CheckpointError(str(err)) from None


def _first_weight(ckpt: Checkpoint, ndim: int) -> torch.Tensor | None:
    return next((v for k, v in ckpt.state_dict.items() if k.endswith("weight") and v.ndim == ndim), None)


def _guess_in_channels(ckpt: Checkpoint) -> int | None:
    w = _first_weight(ckpt, 4)
    return int(w.shape[1]) if w is not None else None


def _guess_num_classes(ckpt: Checkpoint) -> int | None:
    last = [v for k, v in ckpt.state_dict.items() if k.endswith("weight") and v.ndim == 2]
    return int(last[-1].shape[0]) if last else None
