"""A checkpoint file: written atomically, read with ``weights_only`` and every claim in it checked, so a file that
would run code, unpack to far more than it is, or lie about its tensors is refused in one sentence."""

from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..files import atomic_write
from ..i18n import _

__all__ = ["FORMAT", "MAX_CHECKPOINT_BYTES", "MAX_CLASSES", "Checkpoint", "CheckpointError", "load_checkpoint",
           "save_checkpoint"]

FORMAT = "cnnviz-checkpoint-1"
MAX_CLASSES = 100_000  # class names a checkpoint may list (and classes a model may be rebuilt with)


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
        label = _("the uploaded file")
    else:
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(_("no checkpoint file at {path}").format(path=path))
        if path.stat().st_size == 0:
            raise CheckpointError(_("{path_name} is empty (0 bytes)").format(path_name=path.name))
        stream, label = path, path.name
    _check_packed_size(source if isinstance(source, (bytes, bytearray)) else path, label)
    try:
        obj = torch.load(stream, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" not in str(err) and "global" not in str(err):  # garbage bytes, not a disallowed object
            raise CheckpointError(_("{label} is not a readable PyTorch checkpoint (damaged, or another kind of file)").format(label=label)) from None
        raise CheckpointError(
            _("{label} was refused: loading it would run code or build Python objects that are not plain weights ({unsafe_reason_err}). Save only `model.state_dict()` and load that instead.").format(label=label, unsafe_reason_err=_unsafe_reason(err))
        ) from None
    except MemoryError:
        raise CheckpointError(_("the server has not enough free memory to load {label} now").format(label=label)) from None
    except Exception as err:  # torch raises many types for damaged files: RuntimeError, EOFError, struct.error, …
        if "allocat" in str(err).lower():  # "DefaultCPUAllocator: can't allocate memory"
            raise CheckpointError(_("the server has not enough free memory to load {label} now").format(
                label=label)) from None
        raise CheckpointError(_("{label} is not a readable PyTorch checkpoint: it is damaged or truncated, or another "
                                "kind of file").format(label=label)) from None
    return _from_object(obj, label)


MAX_CHECKPOINT_BYTES = 400 * 1024 * 1024  # what a checkpoint may unpack to (Streamlit's uploads stop at 200 MB)


def _check_packed_size(source: bytes | Path, label: str) -> None:
    """A PyTorch file is a zip whose records are stored, not compressed: refuse one whose records unpack to far
    more than the file (a 390 kB file once unpacked to 400 MB of zeros) before torch reads any of them."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except Exception:  # not a zip: the legacy format (its sizes are checked against the file while reading)
        return
    packed = len(source) if isinstance(source, (bytes, bytearray)) else Path(source).stat().st_size
    if unpacked > MAX_CHECKPOINT_BYTES or unpacked > 2 * packed + (1 << 20):
        raise CheckpointError(_("{label} unpacks to {n:,} MB, far more than its own {m:,} MB; refused (PyTorch "
                                "writes its files without compression)").format(
            label=label, n=unpacked >> 20, m=max(1, packed >> 20)))


def _unsafe_reason(err: Exception) -> str:
    """Why PyTorch's safe loader refused a file, in our words (never PyTorch's own text)."""
    found = re.search(r"GLOBAL ([\w.]+)", str(err))
    if found:
        return _("it asks to import {name}").format(name=found.group(1))
    return _("it holds objects other than tensors, numbers, strings, lists and dicts")


def _from_object(obj: Any, label: str) -> Checkpoint:
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        state = obj.get("state_dict")
        if not _is_state_dict(state):
            raise CheckpointError(_("{label} holds no model weights (expected a state_dict: layer names mapped to tensors)").format(label=label))
        ckpt = Checkpoint(
            state_dict=state,
            model_name=_plain(obj.get("model_name"), str, label, "model_name"),
            num_classes=_plain(obj.get("num_classes"), int, label, "num_classes"),
            input_shape=_shape(obj.get("input_shape"), label),
            classes=_class_names(obj.get("classes"), label),
            meta=_plain(obj.get("meta"), dict, label, "meta") or {},
        )
    else:
        if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]  # a common wrapper: {"state_dict": ..., "epoch": ...}
        if not _is_state_dict(obj):
            raise CheckpointError(_("{label} holds no model weights (expected a state_dict: layer names mapped to tensors)").format(label=label))
        ckpt = Checkpoint(state_dict=obj)
    for key, t in ckpt.state_dict.items():
        # torch.save keeps a view's shape and strides: a 1.5 kB file can hold an expanded 4,000,000×128 "tensor"
        if t.numel() and t.untyped_storage().nbytes() < t.numel() * t.element_size():
            raise CheckpointError(_("{label} is not a plain checkpoint: its tensor {key} claims {n:,} numbers but "
                                    "the file holds only {m:,} of them").format(
                label=label, key=key[:80], n=t.numel(), m=t.untyped_storage().nbytes() // max(1, t.element_size())))
    return ckpt


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _plain(value: Any, kind: type, label: str, what: str) -> Any:
    """``value`` if it is None or of ``kind`` (an int for int, also a bool-free one); else CheckpointError."""
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise CheckpointError(_("{label} has a {what} entry that is not what a checkpoint holds; save it again with "
                            "cnnviz or save only `model.state_dict()`").format(label=label, what=what))


def _shape(value: Any, label: str) -> tuple[int, int, int] | None:
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise CheckpointError(_("the checkpoint's input shape is not three whole numbers (C, H, W)"))
    return tuple(value)  # type: ignore[return-value]


def _class_names(value: Any, label: str) -> tuple[str, ...]:
    if not value:
        return ()
    if not isinstance(value, (list, tuple)) or len(value) > MAX_CLASSES or not all(
            isinstance(v, str) and len(v) <= 200 for v in value):
        raise CheckpointError(_("{label} has class names that are not a list of at most {n:,} short texts").format(
            label=label, n=MAX_CLASSES))
    return tuple(value)
