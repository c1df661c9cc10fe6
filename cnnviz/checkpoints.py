"""Safe checkpoints: weights plus what is needed to rebuild the model, written atomically.

A cnnviz checkpoint is a ``torch.save``d dict of tensors and plain values only, so it loads with
``torch.load(..., weights_only=True)``: a file that would run code when unpickled is refused.
A bare ``state_dict`` (from any PyTorch script) loads too, given the architecture's name.
"""

from __future__ import annotations

import functools
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
    found = re.search(r"GLOBAL ([\w.]+)", str(err))
    if found:
        return f"it asks to import {found.group(1)}"
    return str(err).splitlines()[0][:160] if str(err) else "unsupported content"


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
        from .stack import build_stack  # the convolution lab's layer stacks (their size is checked by build_stack)

        spec, shape = ckpt.meta.get("spec"), ckpt.input_shape
        if not spec or not shape:
            raise CheckpointError(_("a layer-stack checkpoint needs meta['spec'] and input_shape"))
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
    try:
        model.load_state_dict(ckpt.state_dict)
    except (RuntimeError, TypeError, ValueError):  # e.g. a dtype PyTorch cannot copy into the model
        raise CheckpointError(_("this checkpoint's weights cannot be loaded into the {name} architecture (their "
                                "number types do not fit)").format(name=name)) from None
    return model.eval()


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


MAX_CLASSES = 100_000


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
