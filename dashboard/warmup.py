"""Warm start: one background thread per server process that fills the caches the first pages read (torch, the home
page's summary and the photo pages' libraries at once; the ImageNet network as soon as the first page has drawn; then,
at low priority and stepping aside while a page runs, plotly's first figures, the shipped CNN, Fashion-MNIST and the
Grad-CAM pages' imports, and last it freezes the heap it loaded out of the garbage collector's sight)."""

from __future__ import annotations

import threading

import streamlit as st

from dashboard.data import fashion_mnist, model_summary
from dashboard.inside import inside_checkpoint_model, inside_checkpoints, inside_imagenet_model

WARM_ENV = "CNNVIZ_NO_WARM_UP"  # set (e.g. in tests) to skip loading the default models in the background
WARM_WAIT_S = 20.0  # the heavy part starts after the first page has drawn, or after this long without a visitor
WARM_YIELD_S = 2.0  # between two heavy steps, wait at most this long for the pages running now to end
_first_page = threading.Event()
_running = {"pages": 0}  # page scripts running now (Python runs one thread at a time: a loader slows them down)
_running_lock = threading.Condition()


@st.cache_resource(show_spinner=False)
def warm_up():
    """Start, once per server process, a background thread that loads what the first pages need, so no student's
    rerun waits for it. Called at server start (dashboard/app.py's lifespan hook) and, when the script runs under
    another server (AppTest, `streamlit run dashboard/main.py`), at the end of a page. Returns the thread (None
    when switched off by $CNNVIZ_NO_WARM_UP).

    First what the home page needs (torch is imported by then, and the model zoo's first summary), at once, and the
    libraries the photo pages' network is built with (timm, torchvision: about 2 s of imports, while the first page
    draws); then, as soon as the first page's script has ended (``page_finished``), the bundled ImageNet network with
    one forward pass, at the usual priority (Feature maps, the page a class opens next, waits for it); then plotly's
    first figures, the shipped CNN, Fashion-MNIST, the Grad-CAM pages' imports and ``freeze_heap`` at low priority,
    so a student's browser comes first, each step waiting (up to ``WARM_YIELD_S``) for the page scripts running now
    to end, so a student's page does not share Python with a loader. Measured with ``benchmarks/bench_class.py
    --only-actions`` (the README)."""
    import os

    if os.environ.get(WARM_ENV):
        return None
    thread = threading.Thread(target=_warm_up, name="cnnviz-warm-up", daemon=True)
    thread.start()
    return thread


def page_started() -> None:
    """Called at the start of every page run (dashboard/main.py)."""
    with _running_lock:
        _running["pages"] += 1


def page_finished() -> None:
    """Called at the end of every page run: the first call lets the warm-up's heavy part begin."""
    with _running_lock:
        _running["pages"] = max(0, _running["pages"] - 1)
        _running_lock.notify_all()
    _first_page.set()


def _wait_for_pages(timeout_s: float) -> None:
    """Wait until no page script runs (at most ``timeout_s``: a busy class never stops the warm-up)."""
    with _running_lock:
        _running_lock.wait_for(lambda: _running["pages"] == 0, timeout=timeout_s)


def _warm_steps():
    """(what the first page needs, what can wait): callables that fill the caches the first pages read."""
    import os

    import torch

    def imagenet():
        model, card = inside_imagenet_model.__wrapped__(WARM_IMAGENET)  # the cache itself, without a spinner
        with torch.no_grad():
            model(torch.zeros(1, *card.input_shape))

    def shipped():  # the Fashion-MNIST CNN, and the MNIST one (Draw and predict's default)
        for dataset in ("fashion_mnist", "mnist"):
            if paths := inside_checkpoints(dataset):
                inside_checkpoint_model(paths[-1], os.path.getmtime(paths[-1]))

    def figures():  # plotly builds each kind of trace's validators on first use: the photo pages' kinds, once
        import numpy as np
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        import cnnviz.plots  # noqa: F401

        fig = make_subplots(rows=1, cols=2)
        fig.add_trace(go.Image(z=np.zeros((2, 2, 3), np.uint8)), row=1, col=1)
        fig.add_trace(go.Heatmap(z=[[0, 1]], colorscale="gray", colorbar=dict(thickness=12)), row=1, col=2)
        fig.add_trace(go.Bar(x=[1], y=["a"], orientation="h"))
        fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers"))
        fig.update_xaxes(visible=False).update_yaxes(scaleanchor="x").update_layout(height=100)
        fig.to_plotly_json()

    def page_modules():  # what the Grad-CAM pages import on their first use
        # not pandas: plotly's validators peek at sys.modules["pandas"], and a page drawing a figure while this thread
        # is half-way through importing it got a partly initialized module (an AttributeError on the page)
        import captum.attr  # noqa: F401

        import cnnviz.gradcam  # noqa: F401

    def photo_libraries():  # what building the photo pages' network imports (timm, torchvision: about 2 s)
        import timm  # noqa: F401
        import torchvision  # noqa: F401

    first = [lambda: model_summary.__wrapped__(WARM_SUMMARY), photo_libraries]
    return first, [imagenet, figures, shipped, lambda: fashion_mnist.__wrapped__(False), page_modules, freeze_heap]


def freeze_heap() -> None:
    """Move everything alive now (modules, models, data: half a million objects) out of the garbage collector's
    sight. Streamlit collects garbage after every script run, and a full collection walks every object: about 0.2–0.4
    CPU-s per rerun with PyTorch loaded, more than a convolution-lab page's own work. Frozen objects are still freed
    when their last reference goes; only cycles among them are no longer looked for."""
    import gc

    gc.collect()
    gc.freeze()


def _warm_up() -> None:
    import os

    def run(step) -> None:
        try:
            step()
        except Exception:  # noqa: BLE001 - a page that needs it will compute it and say what is wrong
            pass

    first, (network, *rest) = _warm_steps()
    for step in first:
        run(step)
    # the photo pages' network: the next page a class opens waits for it, at the usual priority (never
    # torch.set_num_threads here: it also sets the count every thread started later begins with, the pages' and the
    # training runs')
    _first_page.wait(WARM_WAIT_S)
    run(network)
    try:  # the rest leaves the CPU to students' pages and their browsers; Linux: a thread has its own priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # elsewhere it runs at the usual priority
        pass
    for step in rest:
        _wait_for_pages(WARM_YIELD_S)
        run(step)


WARM_IMAGENET = "efficientnet_lite0"  # the photo pages' default model
WARM_SUMMARY = "keras_cifar10"  # the home page's first summary
