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

__all__ = ["FORMAT", "MAX_CHECKPOINT_BYTES", "MAX_CLASSES", "MAX_PICKLE_STEPS", "MAX_TENSORS", "Checkpoint",
           "CheckpointError", "load_checkpoint", "save_checkpoint"]

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
    _check_archive(source if isinstance(source, (bytes, bytearray)) else path, label)
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
# What the file's own index says, checked before anything is unpickled (PyTorch's reader is pure Python: 200,000
# one-number tensors in a 57 MB file once took 74 s of server CPU to load): ResNet-50 has 320 tensors, EfficientNet
# 296, a layer stack at most 200; the largest checkpoint cnnviz writes is under 20,000 pickle steps.
MAX_TENSORS = 4096
MAX_PICKLE_STEPS = 400_000  # about 0.2 s of CPU to count


def _check_archive(source: bytes | Path, label: str) -> None:
    """Refuse, from the file's index and a count of its pickle's steps (nothing is unpickled, nothing built), a
    checkpoint that would cost far more than it is: records that unpack to far more than the file (a 390 kB file once
    unpacked to 400 MB of zeros), more than MAX_TENSORS tensors, or a pickle of more than MAX_PICKLE_STEPS steps."""
    import zipfile

    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else None
    with (data if data is not None else open(source, "rb")) as f:
        entries = _zip_entries(f)
        if entries is None:  # not a zip: the legacy format, a few pickles and the storages after them
            f.seek(0)
            _count_pickle(f, label, pickles=5)
            return
        if entries > MAX_TENSORS + 16:
            raise _too_many(label, entries)
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as zf:
                infos = zf.infolist()
                unpacked = sum(i.file_size for i in infos)
                packed = f.seek(0, io.SEEK_END)
                if unpacked > MAX_CHECKPOINT_BYTES or unpacked > 2 * packed + (1 << 20):
                    raise CheckpointError(_("{label} unpacks to {n:,} MB, far more than its own {m:,} MB; refused "
                                            "(PyTorch writes its files without compression)").format(
                        label=label, n=unpacked >> 20, m=max(1, packed >> 20)))
                pickled = [i for i in infos if i.filename.endswith("/data.pkl") or i.filename == "data.pkl"]
                if len(pickled) == 1:
                    with zf.open(pickled[0]) as pk:
                        _count_pickle(pk, label, pickles=1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as err:
            if isinstance(err, CheckpointError):
                raise
            return  # torch.load says it plainly below


def _too_many(label: str, n: int) -> CheckpointError:
    return CheckpointError(_("{label} has {n:,} or more parts (tensors); a model this dashboard shows has at most "
                             "{limit:,}, so the file is refused before it is read").format(
        label=label, n=n, limit=MAX_TENSORS))


def _zip_entries(f) -> int | None:
    """The number of records a zip file says it holds, from its end record alone (no index read); None when ``f`` is
    no zip file."""
    import struct

    size = f.seek(0, io.SEEK_END)
    tail_start = max(0, size - 65_557)
    f.seek(tail_start)
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    entries = struct.unpack("<H", tail[at + 10:at + 12])[0]
    if entries == 0xFFFF and at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":  # zip64: the count is elsewhere
        offset = struct.unpack("<Q", tail[at - 12:at - 4])[0]
        f.seek(offset)
        record = f.read(56)
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            entries = struct.unpack("<Q", record[32:40])[0]
    return entries


def _count_pickle(f, label: str, *, pickles: int) -> None:
    """Walk the steps of ``pickles`` pickles in ``f`` without running them: refuse more than MAX_TENSORS tensor
    storages or MAX_PICKLE_STEPS steps. A stream that is not a pickle is left to torch.load to name."""
    import pickletools

    steps = tensors = 0
    try:
        for _pickle in range(pickles):
            for op, _arg, _pos in pickletools.genops(f):
                steps += 1
                if op.name in ("BINPERSID", "PERSID"):
                    tensors += 1
                    if tensors > MAX_TENSORS:
                        raise _too_many(label, tensors)
                if steps > MAX_PICKLE_STEPS:
                    raise CheckpointError(_("{label} describes far more objects than a checkpoint holds (over "
                                            "{limit:,} pickle steps); refused before it is read").format(
                        label=label, limit=MAX_PICKLE_STEPS))
    except CheckpointError:
        raise
    except Exception:  # noqa: BLE001 - the end of the pickles, or no pickle: torch.load decides
        return


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
