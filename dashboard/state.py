"""Every st.cache_* wrapper and session-state key of the dashboard, in one place.

Resources cached here are shared by all sessions: treat them as read-only. Anything that trains or
edits a model takes ``copy.deepcopy`` of it first (see ``private_copy``).
"""

from __future__ import annotations

import copy
import functools
import threading

import streamlit as st

import cnnviz
from cnnviz import i18n
from cnnviz.i18n import N_, _

# ---------------------------------------------------------------------------- session-state keys
STACK_KEY = "cnnviz.stack"  # (spec: list[dict], input_shape: tuple[int, int, int]) sent from the layer-stack page
LANG_KEY = "cnnviz.lang"  # the session's language code, "ko" or "en"
LANG_SWITCH_KEY = "cnnviz.lang_switch"  # the sidebar's language widget


# ---------------------------------------------------------------------------- language


def spinner(message: str):
    """Decorator: show ``_(message)`` while a cached function computes.

    Streamlit's ``show_spinner="…"`` text is fixed when the module is imported, before a session's language is
    known; this one is translated at call time. (st.spinner shows only after a short delay, so cache hits stay quiet.)
    """

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with st.spinner(_(message)):
                return fn(*args, **kwargs)

        inner.clear = fn.clear  # type: ignore[attr-defined]
        return inner

    return wrap


def _session_language() -> str | None:
    """The language of the Streamlit session this thread runs for (None outside a script run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    return st.session_state.get(LANG_KEY)


def use_language() -> str:
    """Decide this run's language (?lang= in the URL, else the session's choice, else the browser's) and use it.

    Keeps the choice in the URL, so a reload or a shared link keeps the language. Call first in every script run.
    """
    lang = i18n.normalize(st.query_params.get("lang"))
    if lang is None:
        lang = st.session_state.get(LANG_KEY) or i18n.normalize(st.context.locale) or i18n.DEFAULT_LANGUAGE
    st.session_state[LANG_KEY] = lang
    if st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    i18n.set_resolver(_session_language)  # fragments re-run without the app script: they ask the session
    i18n.set_language(lang)
    return lang


def _on_language_switch() -> None:
    choice = st.session_state.get(LANG_SWITCH_KEY)
    if choice in i18n.LANGUAGES:
        st.session_state[LANG_KEY] = choice
        st.query_params["lang"] = choice


PRESENTER_KEY = "cnnviz.presenter"  # presenter mode on/off (also ?present=1 in the URL)
PRESENTER_SWITCH_KEY = "cnnviz.presenter_switch"
PRESENTER_FONT = 20  # figure text in presenter mode (plotly's default is 12)
PRESENTER_CSS = """<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 20px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stWidgetLabel"] p, [data-testid="stCaptionContainer"] { font-size: 1.15rem; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 1.9rem; }
[data-testid="stMetricLabel"] * { white-space: normal !important; }
h1 { font-size: 2rem !important; padding: 0 0 0.3rem !important; }
h2 { font-size: 1.6rem !important; } h3 { font-size: 1.35rem !important; }
[data-testid="stHeader"], [data-testid="stToolbar"] { height: 3rem; min-height: 3rem; }
[data-testid="stMainBlockContainer"] { padding: 3.1rem 1.5rem 3rem; max-width: none; }
[data-testid="stTable"] td, [data-testid="stTable"] th { font-size: 1.05rem; }
</style>"""


# Always on: long page-link labels (Home's tour) and long metric values wrap instead of being cut off at the column's
# edge, which matters most on a phone; Korean breaks lines between words, not inside them (Latin text is unaffected).
LAYOUT_CSS = """<style>
[data-testid="stMain"] :is(h1, h2, h3, h4, p, li) { word-break: keep-all; overflow-wrap: break-word; }
[data-testid="stMain"] [data-testid="stPageLink-NavLink"] span,
[data-testid="stMain"] [data-testid="stPageLink-NavLink"] p {
  white-space: normal; overflow: visible; line-height: 1.35;
}
[data-testid="stMetricValue"] > div, [data-testid="stMetricValue"] p { white-space: normal; overflow-wrap: anywhere; }
</style>"""


def use_presenter() -> bool:
    """Presenter mode (larger text and figure labels, for a projector) from the session or ?present=1."""
    given = st.query_params.get("present")
    on = given == "1" if given in ("0", "1") else bool(st.session_state.get(PRESENTER_KEY, False))
    st.session_state[PRESENTER_KEY] = on
    st.html(LAYOUT_CSS)
    if on:
        st.query_params["present"] = "1"
        st.html(PRESENTER_CSS)
    elif "present" in st.query_params:
        del st.query_params["present"]
    return on


def presenter() -> bool:
    """True in presenter mode: pages may choose larger views."""
    return bool(st.session_state.get(PRESENTER_KEY, False))


def _on_presenter_switch() -> None:
    on = bool(st.session_state.get(PRESENTER_SWITCH_KEY))
    st.session_state[PRESENTER_KEY] = on
    st.query_params["present"] = "1" if on else "0"


def presenter_switch() -> None:
    st.session_state[PRESENTER_SWITCH_KEY] = presenter()
    st.toggle(_("Presenter mode"), key=PRESENTER_SWITCH_KEY, on_change=_on_presenter_switch,
              help=_("Larger text and figure labels, for a projector. Kept in the page's address."))


MAIN_FIGURE_KEY = "main_figure"  # a page's main figure sits in st.container(key=…): CSS class st-key-main_figure


def main_figure(where=None):
    """The container for a page's main figure (the thing being taught). A browser test checks that it starts in the
    first screen of a 1280×720 projector in presenter mode."""
    return (where if where is not None else st).container(key=MAIN_FIGURE_KEY)


def figure_first(where=None):
    """``(figure, rest)``: containers for a page's main figure and for what normally comes before it (formulas,
    numbers, explanations). In presenter mode the figure's comes first, so a projector shows it without scrolling;
    otherwise the page keeps its reading order."""
    box = where if where is not None else st
    if presenter():
        figure = main_figure(box)
        return figure, box.container()
    rest = box.container()
    return main_figure(box), rest


def explanation(label: str):
    """The container for a page's opening explanation: in place normally, folded into an expander titled ``label``
    in presenter mode (the figure must reach a projector's first screen; the teacher says it aloud)."""
    return st.expander(label) if presenter() else st.container()


def table(data, *, where=None, counts=(), **dataframe_kwargs):
    """A read-only table: ``st.dataframe`` normally; in presenter mode an HTML ``st.table``, whose text grows with the
    projector's larger type (the data grid draws on a canvas at a fixed size). ``counts`` names the columns of whole
    numbers, written there with thousands separators."""
    box = where if where is not None else st
    if not presenter():
        return box.dataframe(data, hide_index=True, width="stretch", **dataframe_kwargs)
    import pandas as pd

    shown = data.copy()
    for column in shown.columns:  # st.table reads cells as Markdown: "1. conv" is no list
        if column not in counts and not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].astype(str).str.replace(r"^(\d+)\.", r"\1\\.", regex=True)
        elif column in counts:
            shown[column] = pd.to_numeric(shown[column])
    formats = {c: "{:,.0f}" for c in counts}
    formats.update({c: "{:g}" for c in shown.columns if c not in formats and shown[c].dtype.kind == "f"})
    return box.table(shown.style.format(formats, na_rep="—"), hide_index=True)


def chart_in(where, fig, *, key: str | None = None, **kwargs):
    """``chart`` drawn in a column or container: ``chart_in(col, fig, key=…)``."""
    return chart(fig, key=key, where=where, **kwargs)


def chart(fig, *, key: str | None = None, where=None, **kwargs):
    """``st.plotly_chart`` with the dashboard's figure defaults: the toolbar beside the plot (never over a title, also
    on a phone), and larger labels in presenter mode. Returns what st.plotly_chart returns (selection events)."""
    import re

    import plotly.graph_objects as go

    fig = go.Figure(fig)  # a copy: cached figures stay as they are
    fig.update_layout(modebar={"orientation": "v"})
    if presenter():
        fig.update_layout(font={"size": PRESENTER_FONT}, title_font_size=PRESENTER_FONT + 4,
                          legend_font_size=PRESENTER_FONT - 2)
        fig.update_annotations(font_size=PRESENTER_FONT - 2)
        if fig.layout.title.text:  # a subtitle written as <span style='font-size:11px'> in the title grows too
            fig.update_layout(title_text=re.sub(
                r"font-size:\s*(\d+)px", lambda m: "font-size:{}px".format(max(int(m[1]), PRESENTER_FONT - 2)),
                fig.layout.title.text))
            # the larger title needs a larger top margin, or its lines run into the plot (the plot keeps its size)
            lines = fig.layout.title.text.count("<br>") + 1
            need = int((PRESENTER_FONT + 4) * 1.3 * lines) + 16
            top = fig.layout.margin.t
            if top is not None and top < need:
                fig.update_layout(margin_t=need, height=(fig.layout.height or 450) + need - top)
        # the dashboard's plotly theme sets tick and axis-title sizes of its own: override them too
        fig.update_xaxes(tickfont_size=PRESENTER_FONT - 2, title_font_size=PRESENTER_FONT)
        fig.update_yaxes(tickfont_size=PRESENTER_FONT - 2, title_font_size=PRESENTER_FONT)
        for trace in fig.data:
            if "colorbar" in trace:
                trace.colorbar.tickfont.size = PRESENTER_FONT - 2
        for trace in fig.data:  # numbers written in heatmap cells: as large as the cells allow, up to 18 px
            if trace.type == "heatmap" and trace.texttemplate and trace.z is not None and len(trace.z):
                margin = fig.layout.margin
                inner = (fig.layout.height or 450) - (margin.t or 0) - (margin.b or 0)
                cell = inner / len(trace.z)
                trace.textfont.size = max(trace.textfont.size or 12, min(PRESENTER_FONT - 2, int(0.5 * cell)))
    kwargs.setdefault("config", {"displaylogo": False})
    return (where if where is not None else st).plotly_chart(fig, key=key, **kwargs)


def language_switch() -> None:
    """The sidebar's 한국어 / English switch (the label stays bilingual, so either reader finds it)."""
    st.session_state[LANG_SWITCH_KEY] = st.session_state.get(LANG_KEY, i18n.DEFAULT_LANGUAGE)
    st.segmented_control("언어 · Language", list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.get,
                         key=LANG_SWITCH_KEY, on_change=_on_language_switch)


# ---------------------------------------------------------------------------- data


@spinner(N_("Loading Fashion-MNIST …"))
@st.cache_resource(show_spinner=False)
def fashion_mnist(train: bool) -> cnnviz.ImageData:
    return cnnviz.load_fashion_mnist(train=train)


WORK_SIDE = 2048  # uploads are shrunk to this longer side when decoded: no page draws more (≤ 12.6 MB each)


@st.cache_data(max_entries=8, show_spinner=False)
def decoded_image(data: bytes):
    """Decode an upload once per distinct file, shrunk early to WORK_SIDE: at most 8 × 12.6 MB for the whole
    server, whatever is uploaded (full-size 36 MP photos once kept ~116 MB each). Raises cnnviz.ImageError."""
    return cnnviz.decode_image(data, max_side=WORK_SIDE)


@st.cache_data(max_entries=10, show_spinner=False)
def fashion_class_count(cls: int) -> int:
    """How many Fashion-MNIST test images class ``cls`` has."""
    return int((fashion_mnist(False).labels == cls).sum())


@st.cache_data(max_entries=64, show_spinner=False)
def fashion_png(cls: int, nth: int) -> bytes:
    """The ``nth`` Fashion-MNIST test image of class ``cls`` as PNG bytes (28×28 grey)."""
    import io

    from PIL import Image

    test = fashion_mnist(False)
    index = int((test.labels == cls).nonzero()[nth])
    buf = io.BytesIO()
    Image.fromarray(test.images[index, 0].numpy()).save(buf, format="PNG")
    return buf.getvalue()


@st.cache_data(max_entries=16, show_spinner=False)
def sample_bytes(name: str) -> bytes:
    return cnnviz.sample_images()[name].read_bytes()


def private_copy(model):
    """A deep copy a page may train or change without touching the shared cached model."""
    return copy.deepcopy(model)


# ---- home / models


@spinner(N_("Summarising the model …"))
@st.cache_data(max_entries=16, show_spinner=False)
def model_summary(name: str) -> cnnviz.ModelSummary:
    return cnnviz.summarize(name)


# ---- conv lab


@st.cache_data(max_entries=16, show_spinner=False)
def lab_photo(data: bytes, channels: int | None, max_side: int):
    """An upload or sample as float C×H×W in [0, 1], longer side <= max_side; raises cnnviz.ImageError."""
    from cnnviz import ops

    return ops.photo_to_array(decoded_image(data), channels=channels, max_side=max_side)


@st.cache_data(max_entries=64, show_spinner=False)
def lab_gradient_flow(depth: int, activation: str):
    from cnnviz import ops

    return ops.gradient_flow(depth, activation=activation)


@spinner(N_("Building the stack in PyTorch …"))
@st.cache_data(max_entries=32, show_spinner=False)
def lab_verify_stack(spec_json: str, input_shape: tuple[int, int, int]):
    """``cnnviz.stack.verify_stack`` on a JSON-encoded spec (hashable); raises ValueError."""
    import json

    from cnnviz import stack

    return stack.verify_stack(json.loads(spec_json), input_shape)


# ---- inside a CNN
INSIDE_CKPT_ENV = "CNNVIZ_INSIDE_CHECKPOINTS"  # a folder of epoch_*.pt to use instead of the shipped ones (tests)
INSIDE_TRAINED = "trained"  # the option key of the bundled trained Fashion-MNIST CNN (labels: inside_model_label)
INSIDE_UPLOAD = "upload"


def inside_checkpoints() -> list[str]:
    """The training checkpoints (epoch_00.pt = before training … last), sorted by epoch."""
    import os
    from pathlib import Path

    folder = os.environ.get(INSIDE_CKPT_ENV)
    if folder:
        paths = sorted(Path(folder).glob("epoch_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    else:
        from cnnviz.training import pretrained_checkpoints

        paths = pretrained_checkpoints()
    return [str(p) for p in paths]


def inside_checkpoint_sets() -> dict[str, list[str]]:
    """Key -> checkpoint paths (by epoch) of every training run with at least two: the bundled model's
    ("trained"), then this session's runs from the training page ("run:<folder name>")."""
    sets = {INSIDE_TRAINED: inside_checkpoints()} if len(inside_checkpoints()) >= 2 else {}
    try:
        from cnnviz import runs

        for run in reversed(runs.list_runs(training_runs_folder())):
            if len(run.checkpoints) >= 2:
                sets[f"run:{run.name}"] = [str(p) for p in run.checkpoints]
    except (ImportError, OSError, ValueError):  # no runs yet, or an unreadable folder
        pass
    return sets


def inside_checkpoint_set_label(key: str) -> str:
    """What the run chooser shows for a key of ``inside_checkpoint_sets``, in the reader's language."""
    if key == INSIDE_TRAINED:
        return _("Fashion-MNIST CNN (trained, bundled)")
    name = key.removeprefix("run:")
    try:
        from cnnviz import runs

        title = runs.load_run(training_runs_folder() / name).title
    except (OSError, ValueError):
        title = name
    return _("Your run: {title} ({name})").format(title=title, name=name)


def inside_model_options() -> dict[str, tuple[str, str]]:
    """Key -> (kind, name) of every model the inside-a-CNN pages can show now (labels: ``inside_model_label``)."""
    from cnnviz import models

    opts: dict[str, tuple[str, str]] = {}
    # A photo deserves a real answer: the bundled ImageNet network comes first (the default), when it is installed
    for name, spec in cnnviz.ZOO.items():
        if spec.bundled and models.imagenet_weights_status(name)[0]:
            opts[f"imagenet:{name}"] = ("imagenet", name)
    if inside_checkpoints():
        opts[INSIDE_TRAINED] = ("trained", "")
    for name, spec in cnnviz.ZOO.items():
        if spec.torchvision and models.imagenet_weights_status(name)[0]:
            opts[f"imagenet:{name}"] = ("imagenet", name)
    for name in cnnviz.ZOO:
        opts[f"zoo:{name}"] = ("zoo", name)
    opts[INSIDE_UPLOAD] = ("upload", "")
    return opts


def inside_model_label(key: str) -> str:
    """What the model chooser shows for a key of ``inside_model_options``."""
    if key == INSIDE_TRAINED:
        return _("Fashion-MNIST CNN (trained, bundled)")
    if key == INSIDE_UPLOAD:
        return _("Uploaded checkpoint (weights only)")
    kind, _sep, name = key.partition(":")
    title = _(cnnviz.ZOO[name].title) if name in cnnviz.ZOO else name
    if kind == "imagenet":
        return _("{model} (ImageNet weights)").format(model=title)
    return _("{model} (untrained: random weights)").format(model=title)


@st.cache_resource(max_entries=24, show_spinner=False)
def inside_checkpoint_model(path: str, mtime: float):
    """(eval-mode model, ModelCard) of a checkpoint file; shared, read-only. Raises CheckpointError."""
    from cnnviz import cards

    ckpt = cnnviz.load_checkpoint(path)
    return cnnviz.model_from_checkpoint(ckpt).eval(), cards.card_for_checkpoint(ckpt)


@spinner(N_("Building the model …"))
@st.cache_resource(max_entries=4, show_spinner=False)
def inside_zoo_model(name: str):
    from cnnviz import cards

    return cnnviz.build_model(name, seed=0).eval(), cards.card_for_zoo(name)


@spinner(N_("Loading ImageNet weights …"))
@st.cache_resource(max_entries=2, show_spinner=False)
def inside_imagenet_model(name: str):
    from cnnviz import cards

    return cnnviz.load_imagenet_model(name, download=False), cards.card_for_imagenet(name)


@spinner(N_("Loading the uploaded checkpoint …"))
@st.cache_resource(max_entries=2, show_spinner=False)
def inside_uploaded_model(data: bytes, arch: str | None):
    """(model, card) of an uploaded checkpoint; raises CheckpointError (a ValueError) with the reason."""
    from cnnviz import cards

    ckpt = cnnviz.load_checkpoint(data)
    model = cnnviz.model_from_checkpoint(ckpt, model_name=arch or None)
    return model.eval(), cards.card_for_checkpoint(ckpt, model_name=arch or None, title=N_("Uploaded checkpoint"))


def inside_model(kind: str, name: str = "", upload: bytes | None = None):
    """(shared read-only model, ModelCard) for an entry of ``inside_model_options``; raises ValueError."""
    import os

    if kind == "trained":
        path = inside_checkpoints()[-1]
        return inside_checkpoint_model(path, os.path.getmtime(path))
    if kind == "imagenet":
        return inside_imagenet_model(name)
    if kind == "upload":
        if not upload:
            raise ValueError(_("Upload a checkpoint file (.pt) first."))
        return inside_uploaded_model(upload, name or None)
    return inside_zoo_model(name)


# ---- one computation per content, shared by the class
# 30 students on the same sample photo, model and layer cost one forward pass, not 30. Keys are the content (bytes are
# hashed by Streamlit) and the language (class names are translated); the entries are few, as maps can be large.


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def inside_photo_view(kind: str, name: str, upload: bytes | None, photo: bytes | None, invert: bool, native: bool,
                      max_side: int, lang: str):
    """(seen, shown, prediction) of ``photo`` through a model of ``inside_model``: the image as the model takes it, as
    the conv layers see it (``native``: at its own resolution up to ``max_side``), and the prediction. Shared and
    read-only. Raises ImageError / ValueError like the steps it runs."""
    from cnnviz import capture, cards

    model, card = inside_model(kind, name, upload)
    img = decoded_image(photo)
    with i18n.language(lang):
        seen = cards.prepare_image(img, card, invert=invert)
        shown = cards.prepare_image(img, card, native=True, max_side=max_side, invert=invert) if native else seen
        prediction = capture.predict(model, seen.tensor, classes=card.display_classes)
    return seen, shown, prediction


@st.cache_resource(max_entries=4, ttl=3600, show_spinner=False)
def inside_photo_maps(kind: str, name: str, upload: bytes | None, photo: bytes | None, invert: bool, native: bool,
                      max_side: int, layers: tuple[str, ...], lang: str):
    """The feature maps of ``layers`` on the ``shown`` image of ``inside_photo_view``. Shared and read-only."""
    from cnnviz import capture

    model, _card = inside_model(kind, name, upload)
    _seen, shown, _prediction = inside_photo_view(kind, name, upload, photo, invert, native, max_side, lang)
    with i18n.language(lang):
        return capture.feature_maps_many(model, shown.tensor, list(layers))


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def inside_grad_cam(kind: str, name: str, upload: bytes | None, photo: bytes | None, invert: bool,
                    target: int | None, layer: str, lang: str):
    """The Grad-CAM result of ``photo`` (as the model takes it) for ``target`` (None: the prediction) at ``layer``."""
    from cnnviz import gradcam

    model, _card = inside_model(kind, name, upload)
    seen, _shown, _prediction = inside_photo_view(kind, name, upload, photo, invert, False, 256, lang)
    with i18n.language(lang):
        return gradcam.grad_cam_result(model, seen.tensor, target, layer)


# ---- warm start
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

    def shipped():
        path = inside_checkpoints()[-1]
        inside_checkpoint_model(path, os.path.getmtime(path))

    first = [lambda: model_summary.__wrapped__(WARM_SUMMARY)]
    return first, [imagenet, shipped, lambda: fashion_mnist.__wrapped__(False)]


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


# ---- training
TRAIN_JOB_KEY = "cnnviz.training.job"  # the session's cnnviz.training.TrainJob (running or last one)
TRAIN_SESSION_KEY = "cnnviz.training.session"  # this session's runs sub-folder id
TRAIN_TOKEN_KEY = "cnnviz.training.token"  # the secret that owns this session's runs (the browser keeps it in a cookie)
TRAIN_TOKEN_NEW_KEY = "cnnviz.training.token_new"  # True until the browser has been asked to keep the token
RUNS_COOKIE = "cnnviz_runs"
RUNS_COOKIE_DAYS = 180


def training_session_id() -> str:
    """This browser's runs id. It is derived from a secret the browser keeps in a cookie (sent with every new
    connection, so a reload finds the runs) and never from the URL: a link someone sees opens nothing of theirs.
    The read-only share link (``?share=``) is separate (``shared_runs_folder``)."""
    from cnnviz import runs

    if TRAIN_SESSION_KEY not in st.session_state:
        try:
            token = st.context.cookies.get(RUNS_COOKIE, "")
        except Exception:  # no browser behind this session (tests, scripts)
            token = ""
        st.session_state[TRAIN_TOKEN_NEW_KEY] = not runs.is_session_token(token)
        if st.session_state[TRAIN_TOKEN_NEW_KEY]:
            token = runs.new_session_token()
        st.session_state[TRAIN_TOKEN_KEY] = token
        st.session_state[TRAIN_SESSION_KEY] = runs.session_id_for(token)
        try:
            remember_session(st.sidebar)
        except st.errors.StreamlitAPIException:  # called inside a fragment: the next full rerun does it
            pass
    return st.session_state[TRAIN_SESSION_KEY]


def remember_session(where=None) -> None:
    """Ask the browser to keep a new session's runs token in a cookie (an invisible script; ``where`` defaults to
    the current container). Done on every rerun until the browser sends the cookie back on a new connection."""
    if not st.session_state.get(TRAIN_TOKEN_NEW_KEY):
        return
    import json

    cookie = "{}={}; path=/; max-age={}; samesite=strict".format(RUNS_COOKIE, st.session_state[TRAIN_TOKEN_KEY],
                                                                RUNS_COOKIE_DAYS * 86_400)
    (where or st).html("<script>document.cookie = {};</script>".format(json.dumps(cookie)),
                       unsafe_allow_javascript=True)


def training_runs_folder():
    """This session's runs folder: $CNNVIZ_RUNS (or ./runs) / sessions / <training_session_id()>."""
    from cnnviz import runs

    return runs.session_folder(training_session_id())


def shared_runs_folder():
    """The runs folder of a read-only share link (``?share=<id>``) when the URL has a valid one (else None)."""
    from cnnviz import runs

    share = st.query_params.get("share", "")
    folder = runs.shared_folder(share)
    return folder if folder is not None and folder != training_runs_folder() else None


def share_link(page_slug: str) -> str:
    """A read-only link to this session's runs on ``page_slug``: the server's address as this browser sees it."""
    try:
        url = st.context.url
        base = url.split("?")[0].rsplit("/", 1)[0] if isinstance(url, str) else ""
    except Exception:  # no browser behind this session
        base = ""
    return "{}/{}?share={}".format(base or ".", page_slug, training_session_id())


def share_box(page_slug: str) -> None:
    """An expander with this session's read-only link (what a student sends the teacher or a friend)."""
    with st.expander(_("Share these runs (read-only)"), icon=":material/share:"):
        st.caption(_("Whoever opens this link sees your runs and their curves but cannot start, resume or delete "
                     "anything. Your own access stays in this browser (a cookie), never in a link."))
        st.code(share_link(page_slug), language=None)


DEFAULT_TRAINING_SPEED = 1_000.0  # images/s of a small CNN on 2 cores, for estimates before any run has a speed


def training_speed(model: str) -> float:
    """This session's measured training speed (images/s) for ``model``: the last epoch of its latest run with that
    model; a rough default before there is one."""
    from cnnviz import runs

    try:
        for run in reversed(runs.list_runs(training_runs_folder())):
            if run.config is not None and run.config.model == model and run.history and run.history.epochs:
                return float(run.history.epochs[-1].images_per_s)
    except (OSError, ValueError):
        pass
    return DEFAULT_TRAINING_SPEED


@st.cache_resource
def work_queue():
    """The server's one training queue: at most $CNNVIZ_MAX_JOBS runs (default: the cores) train at once, one run
    waiting or training per student ($CNNVIZ_JOBS_PER_STUDENT)."""
    from cnnviz.background import WorkQueue

    return WorkQueue()


@st.cache_resource
def _live_jobs() -> dict:
    return {}  # runs id -> that session's job while it waits or trains (lets a reloaded page find it again)


def _prune_live_jobs(jobs: dict) -> None:
    """Ended jobs leave the server-wide table (their runs are on disk): closed sessions leave nothing behind."""
    for sid, job in list(jobs.items()):
        if not getattr(job, "running", False):
            jobs.pop(sid, None)


def training_job():
    """This session's latest cnnviz.training.TrainJob, or None."""
    job = st.session_state.get(TRAIN_JOB_KEY)
    if job is not None:
        return job
    jobs = _live_jobs()
    _prune_live_jobs(jobs)
    job = jobs.get(training_session_id())
    if job is not None:
        st.session_state[TRAIN_JOB_KEY] = job
    return job


def start_training_job(job, *, resume: bool = False):
    """Queue ``job`` for this session (it starts when a slot is free) and keep it; raises QueueFull / ValueError."""
    job.expected_speed = training_speed(job.options.get("model_name") or "")
    job.enqueue(work_queue(), owner=training_session_id())
    job.start(resume=resume)
    st.session_state[TRAIN_JOB_KEY] = job
    jobs = _live_jobs()
    _prune_live_jobs(jobs)
    jobs[training_session_id()] = job
    return job


@spinner(N_("Loading the training data …"))
@st.cache_resource(max_entries=6, show_spinner=False)
def training_data(dataset: str, input_shape: tuple[int, int, int], train_size: int | None, test_size: int | None,
                  seed: int):
    """(train, test) ImageData for a run, converted to the model's input shape; shared, read-only."""
    from cnnviz import training

    return training.load_train_test(dataset, input_shape=input_shape, train_size=train_size, test_size=test_size,
                                    seed=seed, download=False)


@spinner(N_("Classifying the test images …"))
@st.cache_data(max_entries=8, show_spinner=False)
def training_confusion(path: str, mtime: float, dataset: str, test_size: int | None):
    """(ConfusionResult, converted test ImageData) of a checkpoint on a dataset's test set (or a random subset)."""
    from cnnviz import runs

    test = fashion_mnist(False) if dataset == "fashion_mnist" else cnnviz.load_dataset(dataset, train=False, download=False)
    return runs.checkpoint_confusion(path, test.subset(test_size, seed=1))


@spinner(N_("Loading the checkpoint …"))
@st.cache_resource(max_entries=4, show_spinner=False)
def training_checkpoint_model(path: str, mtime: float):
    """(eval-mode model, mean, std) of a checkpoint; shared, read-only. Raises CheckpointError."""
    from cnnviz import runs

    ckpt = cnnviz.load_checkpoint(path)
    model = cnnviz.model_from_checkpoint(ckpt).eval()
    mean, std = runs.checkpoint_norm(ckpt.meta, (ckpt.input_shape or (1,))[0])
    return model, mean, std


# ---- transfer learning
TRANSFER_JOB_KEY = "cnnviz.transfer.job"  # the session's cnnviz.transfer.ComparisonJob (running or last one)


@spinner(N_("Building the model to count its parameters …"))
@st.cache_data(max_entries=16, show_spinner=False)
def transfer_strategy_table(arch: str, num_classes: int, input_shape: tuple[int, int, int], head: tuple[int, ...]):
    """{strategy: TransferSummary} of ``arch`` + a new head; raises ValueError for a shape the base cannot take."""
    from cnnviz import transfer

    return transfer.strategy_table(arch, num_classes=num_classes, input_shape=input_shape, head=head)


@st.cache_resource(max_entries=2, show_spinner=False)
def transfer_notes_keras_table(name: str):
    """``cnnviz.models.notes_keras_table`` (built on the meta device: no weights allocated); shared, read-only."""
    from cnnviz import models

    return models.notes_keras_table(name)


@spinner(N_("Reading your images …"))
@st.cache_data(max_entries=4, show_spinner=False)
def transfer_zip(data: bytes, size: tuple[int, int], channels: int):
    """A labelled ImageData from an uploaded zip (one folder per class); raises ValueError with a plain reason."""
    from cnnviz import transfer

    return transfer.load_image_zip(data, size=size, channels=channels)


@st.cache_data(max_entries=32, show_spinner=False)
def transfer_comparison(path: str, mtime: float):
    """A saved comparison (reloaded when the file changes); raises ValueError."""
    from cnnviz import transfer

    return transfer.load_comparison(path)


# ---- class: the teacher's view
TEACHER_KEY = "cnnviz.class.teacher"  # True once this session gave the teacher's password


def teacher_password() -> str | None:
    """The teacher's password from $CNNVIZ_TEACHER_PASSWORD or .streamlit/secrets.toml; None when unset."""
    from cnnviz import classroom

    try:
        secrets = dict(st.secrets) if st.secrets.load_if_toml_exists() else {}
    except Exception:  # no secrets file, or one that does not parse: no password from there
        secrets = {}
    return classroom.teacher_password(secrets)


def teacher_signed_in() -> bool:
    return bool(st.session_state.get(TEACHER_KEY))


def sign_in_teacher(given: str, password: str) -> bool:
    from cnnviz import classroom

    ok = classroom.check_password(given, password)
    st.session_state[TEACHER_KEY] = ok
    return ok


def class_runs():
    """Every session's runs (read from disk on each rerun: the list changes while students train)."""
    from cnnviz import classroom

    return classroom.class_runs()


def class_queue() -> list:
    """The server's training queue as the teacher sees it (classroom.QueueEntry: running first, then the line)."""
    from cnnviz import classroom

    return classroom.queue_entries(work_queue().jobs())


def _job_for(path) -> object | None:
    from pathlib import Path

    for job, _owner, _where in work_queue().jobs():
        folder = getattr(job, "options", {}).get("checkpoint_dir")
        if folder is not None and Path(folder).resolve() == Path(path).resolve():
            return job
    return None


def stop_class_run(run) -> bool:
    """Ask a running run (any session's, in this server) to stop; False when no job of this server runs it."""
    job = _job_for(run.info.path)
    if job is None or not getattr(job, "running", False):
        return False
    job.stop()
    return True


def delete_class_run(run) -> None:
    """Delete a run of any session (not while it runs); raises ValueError."""
    from cnnviz import runs

    job = _job_for(run.info.path)
    if job is not None and getattr(job, "running", False):
        raise ValueError(_("Stop the run before deleting it."))
    runs.delete_run(run.info.path, folder=run.info.path.parent)


# ---- what a filter looks for
LOOKFOR_SOURCES = {"fashion": N_("Fashion-MNIST test images"), "photos": N_("the bundled sample photos"),
                   "folder": N_("a folder of images on the server")}  # _(LOOKFOR_SOURCES[key])
DRAW_UPLOAD = "upload"


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
        path = inside_checkpoints()[-1]
        return kind, path, os.path.getmtime(path)
    return kind, name, hashlib.sha256(upload).hexdigest() if upload else ""


@spinner(N_("Reading the images …"))
@st.cache_resource(max_entries=4, show_spinner=False)
def lookfor_images(source: str, channels: int, folder: str = "", count: int = 10_000):
    """The ``cnnviz.lookfor.ImageSet`` to search: the first ``count`` Fashion-MNIST test images, the sample photos or
    a folder under the allowed roots; shared, read-only. Raises ValueError."""
    from cnnviz import lookfor

    if source == "fashion":
        test = fashion_mnist(False)
        n = min(count, len(test))
        return lookfor.image_set("fashion", test.images[:n], [f"#{i}" for i in range(n)], whole_images=True)
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


def draw_model_options() -> dict[str, tuple[str, str]]:
    """Key -> (kind, path or name) of the models that take a 28×28 drawing: the bundled Fashion-MNIST CNN, this
    session's training runs on 28×28 grey images (MNIST digits too), an uploaded checkpoint."""
    opts: dict[str, tuple[str, str]] = {}
    for key, paths in inside_checkpoint_sets().items():
        if key == INSIDE_TRAINED:
            opts[key] = ("trained", "")
        else:
            opts[key] = ("run", paths[-1])
    opts[DRAW_UPLOAD] = ("upload", "")
    return opts


def draw_model_label(key: str) -> str:
    if key == DRAW_UPLOAD:
        return inside_model_label(INSIDE_UPLOAD)
    return inside_checkpoint_set_label(key)


def draw_model(kind: str, name: str = "", upload: bytes | None = None):
    """(shared read-only model, ModelCard) for an entry of ``draw_model_options``; raises ValueError."""
    import os

    if kind == "run":
        return inside_checkpoint_model(name, os.path.getmtime(name))
    return inside_model(kind, name, upload)
