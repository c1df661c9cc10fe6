"""Caches of What a filter looks for: the image sets it searches, and each layer's index, channel count and
optimized inputs, computed once for the whole server (with a progress bar, so kept in a store of their own)."""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz.i18n import N_
from dashboard.data import bundled_dataset
from dashboard.inside import inside_checkpoints, inside_model
from dashboard.layout import spinner

LOOKFOR_SOURCES = {"fashion": N_("Fashion-MNIST test images"), "mnist": N_("MNIST test images"),
                   "photos": N_("the bundled sample photos"),
                   "folder": N_("a folder of images on the server")}  # _(LOOKFOR_SOURCES[key])
LOOKFOR_DATASETS = {"fashion": "fashion_mnist", "mnist": "mnist"}  # the sources that are a bundled test set


@st.cache_resource(show_spinner=False)
def _lookfor_store() -> dict:
    """Indexes and optimized inputs computed by any session (with a progress bar, so not in an st.cache_*
    function: those would replay the bar); the oldest go first."""
    import threading
    from collections import OrderedDict

    return {"lock": threading.Lock(), "items": OrderedDict()}


def _lookfor_cached(key: tuple, compute, *, limit: int = 24, only_cached: bool = False):
    store = _lookfor_store()
    with store["lock"]:
        if key in store["items"]:
            store["items"].move_to_end(key)
            return store["items"][key]
    if only_cached:
        return None
    value = compute()
    with store["lock"]:
        store["items"][key] = value
        while len(store["items"]) > limit:
            store["items"].popitem(last=False)
    return value


def _model_key(kind: str, name: str, upload: bytes | None) -> tuple:
    import hashlib
    import os

    if kind == "trained":
        path = inside_checkpoints(name or "fashion_mnist")[-1]
        return kind, path, os.path.getmtime(path)
    return kind, name, hashlib.sha256(upload).hexdigest() if upload else ""


@spinner(N_("Reading the images …"))
@st.cache_resource(max_entries=4, show_spinner=False)
def lookfor_images(source: str, channels: int, folder: str = "", count: int = 10_000):
    """The ``cnnviz.lookfor.ImageSet`` to search: the first ``count`` Fashion-MNIST or MNIST test images, the sample
    photos or a folder under the allowed roots; shared, read-only. Raises ValueError."""
    from cnnviz import lookfor

    if source in LOOKFOR_DATASETS:
        test = bundled_dataset(LOOKFOR_DATASETS[source], False)
        n = min(count, len(test))
        return lookfor.image_set(source, test.images[:n], [f"#{i}" for i in range(n)], whole_images=True)
    if source == "folder":
        return lookfor.folder_set(folder, channels=channels)
    return lookfor.photo_set(list(cnnviz.sample_images().values()), channels=channels)


def lookfor_index(kind: str, name: str, upload: bytes | None, layer: str, source: str, folder: str = "",
                  count: int = 10_000, progress=None):
    """``cnnviz.lookfor.index_layer`` of a model's layer over an image set, computed once for the whole server;
    ``progress(done, total)`` while it runs. Raises ValueError."""
    from cnnviz import lookfor

    def compute():
        model, card = inside_model(kind, name, upload)
        images = lookfor_images(source, card.input_shape[0], folder, count)
        return lookfor.index_layer(model, layer, images, mean=card.mean, std=card.std, progress=progress)

    return _lookfor_cached(("index", _model_key(kind, name, upload), layer, source, folder, count), compute, limit=12)


def lookfor_visualization(kind: str, name: str, upload: bytes | None, layer: str, channels: tuple[int, ...],
                          settings: tuple, *, compute: bool = True, progress=None, on_snapshot=None):
    """``cnnviz.lookfor.visualize_channels`` (``settings`` as sorted (name, value) pairs), computed once for the
    whole server; with ``compute=False`` only what is already there (else None). Raises ValueError."""
    from cnnviz import lookfor

    def run():
        model, card = inside_model(kind, name, upload)
        return lookfor.visualize_channels(model, layer, list(channels), mean=card.mean, std=card.std,
                                          progress=progress, on_snapshot=on_snapshot, **dict(settings))

    return _lookfor_cached(("vis", _model_key(kind, name, upload), layer, channels, settings), run,
                           only_cached=not compute)


def lookfor_channels(kind: str, name: str, upload: bytes | None, layer: str) -> int:
    """How many channels a layer has (``cnnviz.lookfor.channel_count``), once per model and layer. Raises
    ValueError for a layer without maps."""
    from cnnviz import lookfor

    def run():
        model, card = inside_model(kind, name, upload)
        return lookfor.channel_count(model, layer, card.input_shape)

    return _lookfor_cached(("channels", _model_key(kind, name, upload), layer), run, limit=64)


def lookfor_stage_row(kind: str, name: str, upload: bytes | None, stages: tuple[str, ...], count: int):
    """``cnnviz.lookfor.stage_row``: the channels the layer-by-layer row shows, once per model."""
    from cnnviz import lookfor

    def run():
        model, card = inside_model(kind, name, upload)
        return lookfor.stage_row(model, stages, count=count, input_shape=card.input_shape)

    return _lookfor_cached(("row", _model_key(kind, name, upload), stages, count), run)


# ---- the channel atlas: computed in the background through the training queue, kept on disk for everyone
def atlas_model_key(kind: str, name: str, upload: bytes | None) -> str:
    """A name for the model an atlas belongs to, stable across restarts: the ImageNet or zoo model's name (a zoo
    model is built with seed 0), or a digest of the checkpoint (its path and time, or the uploaded bytes)."""
    import hashlib
    import os

    if kind in ("imagenet", "zoo"):
        return f"{kind}-{name}"
    if kind in ("trained", "run"):
        path = inside_checkpoints()[-1] if kind == "trained" else name
        digest = hashlib.sha256(f"{os.path.abspath(path)}:{os.path.getmtime(path)}".encode()).hexdigest()[:16]
        return f"{kind}-{digest}"
    return "upload-" + hashlib.sha256(upload or b"").hexdigest()[:16]


def atlas_folder(kind: str, name: str, upload: bytes | None, layer: str):
    """The atlas's folder: $CNNVIZ_RUNS/atlas/<model key>/<layer>/."""
    from cnnviz import runs
    from cnnviz.lookfor import atlas

    return atlas.atlas_folder(runs.runs_root(), atlas_model_key(kind, name, upload), layer)


@st.cache_resource(show_spinner=False)
def _atlas_jobs() -> dict:
    return {}  # atlas folder -> its AtlasJob while it waits or runs: every session sees the same job


def atlas_job(folder):
    """The job computing the atlas in ``folder`` (waiting, running or just ended), or None."""
    return _atlas_jobs().get(str(folder))


def atlas_settings(input_shape: tuple[int, int, int]) -> dict:
    """The atlas's optimization settings: the page's defaults for one channel, in bfloat16 where the CPU has a
    bfloat16 unit; a small net's tiny steps on one thread (more only wait on each other)."""
    from cnnviz import lookfor
    from cnnviz.training.cpu import bf16_fast

    small = max(input_shape[1:]) <= 64
    return {**lookfor.default_settings(input_shape), "bf16": bf16_fast() and not small, "threads": 1 if small else None}


def start_atlas(kind: str, name: str, upload: bytes | None, layer: str):
    """Queue the atlas of ``layer`` in the server's training queue (one job per folder, shared by everyone);
    returns the job. Raises QueueFull (this student already has a run waiting or training) or ValueError."""
    from cnnviz.lookfor.atlas import AtlasJob
    from dashboard.session import training_session_id
    from dashboard.training import work_queue

    folder = atlas_folder(kind, name, upload, layer)
    jobs = _atlas_jobs()
    job = jobs.get(str(folder))
    if job is not None and job.running:
        return job
    model, card = inside_model(kind, name, upload)
    job = AtlasJob(model, layer, folder, mean=card.mean, std=card.std, settings=atlas_settings(card.input_shape),
                   label=atlas_model_key(kind, name, upload))
    job.enqueue(work_queue(), owner=training_session_id())
    job.start()
    jobs[str(folder)] = job
    return job
