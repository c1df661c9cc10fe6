"""Warm start: one background thread per server process that fills the caches the first pages read (torch and the
home page's summary at once; the ImageNet network, the shipped CNN and Fashion-MNIST after the first page has drawn,
on one low-priority thread)."""

from __future__ import annotations

import threading

import streamlit as st

from dashboard.data import fashion_mnist, model_summary
from dashboard.inside import inside_checkpoint_model, inside_checkpoints, inside_imagenet_model

WARM_ENV = "CNNVIZ_NO_WARM_UP"  # set (e.g. in tests) to skip loading the default models in the background
WARM_WAIT_S = 20.0  # the heavy part starts after the first page has drawn, or after this long without a visitor
WARM_BROWSER_S = 1.0  # time left to the first browser to draw what it was sent, before the heavy part starts
_first_page = threading.Event()


@st.cache_resource(show_spinner=False)
def warm_up():
    """Start, once per server process, a background thread that loads what the first pages need, so no student's
    rerun waits for it. Called at server start (dashboard/app.py's lifespan hook) and, when the script runs under
    another server (AppTest, `streamlit run dashboard/main.py`), at the end of a page. Returns the thread (None
    when switched off by $CNNVIZ_NO_WARM_UP).

    First what the home page needs (torch is imported by then, and the model zoo's first summary), at once; then,
    a second after the first page has drawn (``first_page_drawn``; its browser is still drawing), the bundled ImageNet
    network with one forward pass, the shipped CNN and Fashion-MNIST — on one thread at low priority, so a student's
    page and browser come first."""
    import os

    if os.environ.get(WARM_ENV):
        return None
    thread = threading.Thread(target=_warm_up, name="cnnviz-warm-up", daemon=True)
    thread.start()
    return thread


def first_page_drawn() -> None:
    """Called at the end of every page run: the first call lets the warm-up's heavy part begin."""
    _first_page.set()


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

    def page_modules():  # what the photo and Grad-CAM pages import on their first use
        # not pandas: plotly's validators peek at sys.modules["pandas"], and a page drawing a figure while this thread
        # is half-way through importing it got a partly initialized module (an AttributeError on the page)
        import captum.attr  # noqa: F401

        import cnnviz.gradcam  # noqa: F401
        import cnnviz.plots  # noqa: F401

    first = [lambda: model_summary.__wrapped__(WARM_SUMMARY)]
    return first, [imagenet, shipped, lambda: fashion_mnist.__wrapped__(False), page_modules, freeze_heap]


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
    import time

    import torch

    first, later = _warm_steps()
    for i, step in enumerate([*first, *later]):
        if i == len(first):  # the rest leaves the CPU to students' pages and their browsers
            if _first_page.wait(WARM_WAIT_S):
                time.sleep(WARM_BROWSER_S)
            torch.set_num_threads(1)  # this thread's own pool only
            try:  # Linux: a thread is a task of its own, with its own priority
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            except (AttributeError, OSError):  # elsewhere it runs at the usual priority
                pass
        try:
            step()
        except Exception:  # noqa: BLE001 - a page that needs it will compute it and say what is wrong
            continue


WARM_IMAGENET = "efficientnet_lite0"  # the photo pages' default model
WARM_SUMMARY = "keras_cifar10"  # the home page's first summary
