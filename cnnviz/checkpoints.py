"""Safe checkpoints: weights plus what is needed to rebuild the model, written atomically.

A cnnviz checkpoint is a ``torch.save``d dict of tensors and plain values only, so it loads with
``torch.load(..., weights_only=True)``: a file that would run code when unpickled is refused.
A bare ``state_dict`` (from any PyTorch script) loads too, given the architecture's name.
"""

from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .files import atomic_write
from .models import ZOO, build_model
from .i18n import _

__all__ = ["Checkpoint", "CheckpointError", "load_checkpoint", "model_from_checkpoint", "save_checkpoint"]

FORMAT = "cnnviz-checkpoint-1"


class CheckpointError(ValueError):
    """A checkpoint cannot be used: unsafe, damaged, or not matching the architecture. The message says which."""


@dataclass(frozen=True)
class Checkpoint:
    """Weights and the facts needed to rebuild and use them.

    ``model_name`` is a zoo name, ``"stack"`` (a layer stack whose spec is ``meta["spec"]``) or None for
    a bare state dict. ``meta`` holds plain values only, e.g. ``epoch``, ``dataset``, ``mean``/``std``
    (per channel, the normalisation used in training), ``history``.
    """

    state_dict: dict[str, torch.Tensor]
    model_name: str | None = None
    num_classes: int | None = None
    input_shape: tuple[int, int, int] | None = None
    classes: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def epoch(self) -> int | None:
        return self.meta.get("epoch")


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    model_name: str,
    input_shape: tuple[int, int, int],
    classes: tuple[str, ...] | list[str] = (),
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights and metadata to ``path`` atomically (a temp file, then a rename).

    A run stopped mid-write never leaves a half-written checkpoint behind. Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    out_features = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)]
    payload = {
        "format": FORMAT,
        "model_name": model_name,
        "num_classes": len(classes) if classes else (out_features[-1] if out_features else None),
        "input_shape": list(input_shape),
        "classes": list(classes),
        "meta": dict(meta or {}),
        "state_dict": state,
    }
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(source: str | Path | bytes) -> Checkpoint:
    """Load a checkpoint from a path or from bytes (an upload) with ``weights_only=True``.

    Raises ``CheckpointError`` for a file that would run code when loaded, an empty, damaged or
    non-PyTorch file, and one that holds no weights.
    """
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise CheckpointError(_("the checkpoint file is empty (0 bytes)"))
        stream: Any = io.BytesIO(source)
        label = "the uploaded file"
    else:
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(_("no checkpoint file at {path}").format(path=path))
        if path.stat().st_size == 0:
            raise CheckpointError(_("{path_name} is empty (0 bytes)").format(path_name=path.name))
        stream, label = path, path.name
    try:
        obj = torch.load(stream, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" not in str(err) and "global" not in str(err):  # garbage bytes, not a disallowed object
            raise CheckpointError(_("{label} is not a readable PyTorch checkpoint (damaged, or another kind of file)").format(label=label)) from None
        raise CheckpointError(
            _("{label} was refused: loading it would run code or build Python objects that are not plain weights ({unsafe_reason_err}). Save only `model.state_dict()` and load that instead.").format(label=label, unsafe_reason_err=_unsafe_reason(err))
        ) from None
    except Exception as err:  # torch raises many types for damaged files: RuntimeError, EOFError, struct.error, …
        raise CheckpointError(_("{label} is not a readable PyTorch checkpoint (damaged or truncated?): {str_err_200}").format(label=label, str_err_200=str(err)[:200])) from None
    return _from_object(obj, label)


def _unsafe_reason(err: Exception) -> str:
    found = re.search(r"GLOBAL ([\w.]+)", str(err))
    if found:
        return f"it asks to import {found.group(1)}"
    return str(err).splitlines()[0][:160] if str(err) else "unsupported content"


def _from_object(obj: Any, label: str) -> Checkpoint:
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        shape = obj.get("input_shape")
        return Checkpoint(
            state_dict=obj["state_dict"],
            model_name=obj.get("model_name"),
            num_classes=obj.get("num_classes"),
            input_shape=tuple(shape) if shape else None,
            classes=tuple(obj.get("classes") or ()),
            meta=dict(obj.get("meta") or {}),
        )
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # a common wrapper: {"state_dict": ..., "epoch": ...}
    if isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        return Checkpoint(state_dict=obj)
    raise CheckpointError(_("{label} holds no model weights (expected a state_dict: layer names mapped to tensors)").format(label=label))


def model_from_checkpoint(ckpt: Checkpoint, *, model_name: str | None = None) -> nn.Module:
    """Rebuild the model a checkpoint was saved from and load its weights (strictly), in eval mode.

    ``model_name`` is needed for a bare state dict. Raises ``CheckpointError`` when the weights do not
    match the architecture, saying which layers are missing, unexpected or of another shape.
    """
    name = model_name or ckpt.model_name
    if name is None:
        raise CheckpointError(_("this is a bare state_dict: choose the architecture it belongs to"))
    if name == "stack":
        from .stack import build_stack  # the convolution lab's layer stacks

        spec, shape = ckpt.meta.get("spec"), ckpt.input_shape
        if not spec or not shape:
            raise CheckpointError(_("a layer-stack checkpoint needs meta['spec'] and input_shape"))
        model = build_stack(spec, tuple(shape))
    elif name in ZOO:
        _check_metadata(ckpt)  # before anything is built: a 5 KB file once claimed 4,000,000 classes
        in_channels = ckpt.input_shape[0] if ckpt.input_shape else _guess_in_channels(ckpt)
        num_classes = ckpt.num_classes or _guess_num_classes(ckpt) or 10
        try:
            model = build_model(name, num_classes=num_classes, in_channels=in_channels)
        except ValueError as err:
            raise CheckpointError(_("cannot build {name} for this checkpoint: {err}").format(name=name, err=err)) from None
    else:
        raise CheckpointError(_("unknown architecture {name!r}; the zoo has: {join_zoo}").format(name=name, join_zoo=', '.join(ZOO)))
    expected = model.state_dict()
    missing = [k for k in expected if k not in ckpt.state_dict]
    unexpected = [k for k in ckpt.state_dict if k not in expected]
    wrong = [f"{k} {tuple(ckpt.state_dict[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if k in ckpt.state_dict and ckpt.state_dict[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} ({', '.join(unexpected[:3])}{', …' if len(unexpected) > 3 else ''})")
        if wrong:
            parts.append(f"other shapes: {'; '.join(wrong[:3])}{'; …' if len(wrong) > 3 else ''}")
        raise CheckpointError(_("this checkpoint does not match the {name} architecture: {details}").format(
            name=name, details="; ".join(parts)))
    model.load_state_dict(ckpt.state_dict)
    return model.eval()


MAX_CLASSES = 100_000


def _check_metadata(ckpt: Checkpoint) -> None:
    """A checkpoint's claims (classes, input shape) checked against sane limits and its own weights, before any
    model or input is built. Raises CheckpointError with one sentence."""
    if ckpt.num_classes is not None:
        guess = _guess_num_classes(ckpt)
        if not 1 <= int(ckpt.num_classes) <= MAX_CLASSES or (guess is not None and guess != int(ckpt.num_classes)):
            raise CheckpointError(_("the checkpoint claims {n:,} classes, but its last layer has {k} outputs").format(
                n=int(ckpt.num_classes), k=guess if guess is not None else "?"))
    if ckpt.input_shape is not None:
        from .cards import check_input_shape

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
