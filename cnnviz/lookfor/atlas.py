"""A channel atlas, as OpenAI Microscope shows one: every channel of a layer as its optimized input, in one grid.

``AtlasJob`` computes the tiles in the background (a ``BackgroundWork`` that waits its turn in the server's training
queue), a batch of channels at a time (one forward and backward pass per step for the whole batch, see
``visualize_channels``), and writes each tile as a PNG into the atlas's folder as soon as its batch is done:
``<root>/atlas/<model key>/<layer>/`` holds ``atlas.json`` (model, layer, channel count, settings, each tile's
activation) and ``channel_0000.png`` …. ``read_atlas`` reads what is there, so a page shows the atlas as it fills in,
and a later visit (or another student) finds it done. A job that is stopped keeps the tiles it finished and goes on
from there when started again.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from ..background import BackgroundWork
from ..files import atomic_write, atomic_write_text
from ..i18n import _
from .layers import channel_count
from .optimize import visualize_channels

__all__ = ["ATLAS_BATCH", "Atlas", "AtlasJob", "atlas_folder", "read_atlas"]

ATLAS_BATCH = 20  # channels optimized together: past ~20 a bigger batch no longer costs less per channel on a CPU
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def atlas_folder(root: str | Path, model_key: str, layer: str) -> Path:
    """Where the atlas of ``layer`` of the model ``model_key`` lives under ``root`` (the runs folder). Names are
    reduced to letters, digits, '.', '-' and '_'; raises ValueError for an empty one."""
    parts = [_SAFE.sub("_", str(p)).strip("._") for p in (model_key, layer)]
    if not all(parts):
        raise ValueError(_("an atlas needs a model and a layer name"))
    return Path(root) / "atlas" / parts[0] / parts[1]


@dataclass(frozen=True)
class Atlas:
    """What an atlas folder holds now: ``tiles`` channel -> uint8 image (H×W or H×W×3), ``activations`` channel ->
    the tile's strongest activation; ``channels`` the layer's count (``done`` when every tile is there)."""

    layer: str
    channels: int
    tiles: dict
    activations: dict
    settings: dict
    seconds: float

    @property
    def done(self) -> bool:
        return self.channels > 0 and len(self.tiles) >= self.channels


def read_atlas(folder: str | Path) -> Atlas | None:
    """The atlas in ``folder`` as far as it is computed, or None when there is none (or its index is unreadable)."""
    from PIL import Image

    folder = Path(folder)
    try:
        meta = json.loads((folder / "atlas.json").read_text(encoding="utf-8"))
        channels = int(meta["channels"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    tiles, acts = {}, {}
    for ch, value in (meta.get("activations") or {}).items():
        path = folder / f"channel_{int(ch):04d}.png"
        try:
            with Image.open(path) as img:
                tiles[int(ch)] = np.asarray(img.convert("L" if img.mode in ("L", "I", "F") else "RGB"))
        except (OSError, ValueError):
            continue
        acts[int(ch)] = float(value)
    return Atlas(str(meta.get("layer", "")), channels, tiles, acts, dict(meta.get("settings") or {}),
                 float(meta.get("seconds", 0.0)))


class AtlasJob(BackgroundWork):
    """Every channel of ``layer`` optimized in batches of ``batch`` and written to ``folder`` as it goes.

    ``settings`` are ``visualize_channels``' (``default_settings``'); ``model`` is copied privately inside. Progress:
    ``done`` and ``total`` channels, ``error`` (one sentence) when it failed, ``stopped`` when it was stopped."""

    def __init__(self, model: nn.Module, layer: str, folder: str | Path, *, mean, std, settings: dict,
                 batch: int = ATLAS_BATCH, label: str = "") -> None:
        super().__init__()
        self.model, self.layer, self.folder = model, layer, Path(folder)
        self.mean, self.std, self.settings = tuple(mean), tuple(std), dict(settings)
        self.batch = max(1, int(batch))
        self.label = label
        self.total = channel_count(model, layer, tuple(self.settings["input_shape"]))
        self.done = 0
        self.error = ""
        self.stopped = False
        self.started_at: float | None = None
        self._meta_lock = threading.Lock()

    # ---- the life of the job
    def start(self) -> AtlasJob:
        """Start (or wait for a slot in the queue given to ``enqueue``); raises QueueFull before anything starts."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._launch(f"atlas-{self.layer}")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake_queue()

    def estimate_s(self) -> float | None:
        """Seconds left, from the speed so far (None before the first batch)."""
        if not self.started_at or not self.done:
            return None
        rate = self.done / max(1e-6, time.time() - self.started_at)
        return (self.total - self.done) / rate

    def _cancelled(self) -> None:
        self.stopped = True

    def _run(self) -> None:
        self.started_at = time.time()
        meta = self._meta()
        have = {int(c) for c in meta["activations"]}
        todo = [c for c in range(self.total) if c not in have]
        self.done = len(have)
        t0 = time.perf_counter()
        try:
            for i in range(0, len(todo), self.batch):
                if self._stop.is_set():
                    self.stopped = True
                    return
                chunk = todo[i:i + self.batch]
                options = {k: v for k, v in self.settings.items()}
                results = visualize_channels(self.model, self.layer, chunk, mean=self.mean, std=self.std, **options)
                for vis in results:
                    _write_png(self.folder / f"channel_{vis.channel:04d}.png", vis.image)
                    meta["activations"][str(vis.channel)] = round(float(vis.activation), 6)
                meta["seconds"] = round(float(meta.get("seconds", 0.0)) + time.perf_counter() - t0, 3)
                t0 = time.perf_counter()
                self._write_meta(meta)
                self.done += len(chunk)
        except (ValueError, RuntimeError, MemoryError, OSError) as err:
            self.error = str(err) or type(err).__name__

    def _meta(self) -> dict:
        """The folder's index, started anew when it is for other settings or another layer."""
        settings = {k: list(v) if isinstance(v, tuple) else v for k, v in self.settings.items()}
        try:
            meta = json.loads((self.folder / "atlas.json").read_text(encoding="utf-8"))
            if meta.get("settings") == settings and meta.get("channels") == self.total:
                meta.setdefault("activations", {})
                return meta
        except (OSError, ValueError):
            pass
        meta = {"layer": self.layer, "model": self.label, "channels": self.total, "settings": settings,
                "activations": {}, "seconds": 0.0}
        self._write_meta(meta)
        return meta

    def _write_meta(self, meta: dict) -> None:
        with self._meta_lock:
            atomic_write_text(self.folder / "atlas.json", json.dumps(meta, indent=1))


def _write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    atomic_write(path, lambda f: f.write(buf.getvalue()))
