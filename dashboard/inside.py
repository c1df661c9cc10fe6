"""Caches of the Inside-a-CNN pages: which models can be looked inside (the bundled ImageNet network, the shipped
Fashion-MNIST and MNIST CNNs, the zoo, this session's runs, an upload), the shared read-only models, and one photo's
view, maps and Grad-CAM computed once for the whole class. Draw and predict's model choice too.
"""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz import i18n
from cnnviz.i18n import N_, _
from dashboard.data import decoded_image
from dashboard.layout import spinner
from dashboard.session import training_runs_folder

# A folder of epoch_*.pt to use instead of the shipped Fashion-MNIST ones, and its sub-folder mnist/ instead of the
# shipped MNIST ones (tests)
INSIDE_CKPT_ENV = "CNNVIZ_INSIDE_CHECKPOINTS"
INSIDE_TRAINED = "trained"  # the option key of the bundled trained Fashion-MNIST CNN (labels: inside_model_label)
INSIDE_TRAINED_MNIST = "trained_mnist"  # … and of the bundled trained MNIST (digits) CNN
SHIPPED_DATASETS = {INSIDE_TRAINED: "fashion_mnist", INSIDE_TRAINED_MNIST: "mnist"}  # option key -> its dataset
INSIDE_UPLOAD = "upload"


def shipped_option(key: str) -> tuple[str, str]:
    """(kind, name) of a shipped CNN's option key, as ``inside_model`` takes it: ("trained", "") for Fashion-MNIST's,
    ("trained", "mnist") for MNIST's."""
    return "trained", "" if key == INSIDE_TRAINED else SHIPPED_DATASETS[key]


def inside_checkpoints(dataset: str = "fashion_mnist") -> list[str]:
    """The shipped CNN's checkpoints for ``dataset`` ("fashion_mnist" or "mnist"; epoch_00.pt = before training …
    last), sorted by epoch."""
    import os
    from pathlib import Path

    from cnnviz.training import rundir

    folder = os.environ.get(INSIDE_CKPT_ENV)
    if folder:
        paths = rundir.epoch_checkpoints(folder if dataset == "fashion_mnist" else Path(folder) / dataset)
    else:
        paths = rundir.pretrained_checkpoints(dataset)
    return [str(p) for p in paths]


def inside_checkpoint_sets() -> dict[str, list[str]]:
    """Key -> checkpoint paths (by epoch) of every training run with at least two: the bundled models' ("trained",
    "trained_mnist"), then this session's runs from the training page ("run:<folder name>")."""
    sets = {key: paths for key, dataset in SHIPPED_DATASETS.items()
            if len(paths := inside_checkpoints(dataset)) >= 2}
    try:
        from cnnviz import runs

        for run in reversed(runs.list_runs(training_runs_folder())):
            if not run.problem and len(run.checkpoints) >= 2:  # a damaged folder is offered for deletion only
                sets[f"run:{run.name}"] = [str(p) for p in run.checkpoints]
    except (ImportError, OSError, ValueError):  # no runs yet, or an unreadable folder
        pass
    return sets


def inside_checkpoint_set_label(key: str) -> str:
    """What the run chooser shows for a key of ``inside_checkpoint_sets``, in the reader's language."""
    if key in SHIPPED_DATASETS:
        return inside_model_label(key)
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
    for key, dataset in SHIPPED_DATASETS.items():
        if inside_checkpoints(dataset):
            opts[key] = shipped_option(key)
    for key, paths in inside_checkpoint_sets().items():  # this session's training runs
        if key not in SHIPPED_DATASETS:
            opts[key] = ("run", paths[-1])
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
    if key == INSIDE_TRAINED_MNIST:
        return _("MNIST digits CNN (trained, bundled)")
    if key == INSIDE_UPLOAD:
        return _("Uploaded checkpoint (weights only)")
    if key.startswith("run:"):
        return inside_checkpoint_set_label(key)
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

    if kind == "trained":  # name: the dataset it was trained on ("" for Fashion-MNIST)
        path = inside_checkpoints(name or "fashion_mnist")[-1]
        return inside_checkpoint_model(path, os.path.getmtime(path))
    if kind == "run":  # a training run's last checkpoint (``name`` is its path)
        return inside_checkpoint_model(name, os.path.getmtime(name))
    if kind == "imagenet":
        return inside_imagenet_model(name)
    if kind == "upload":
        if not upload:
            raise ValueError(_("Upload a checkpoint file (.pt) first."))
        return inside_uploaded_model(upload, name or None)
    return inside_zoo_model(name)


def inside_model_or_stop(kind: str, name: str = "", upload: bytes | None = None):
    """``inside_model``, or the page says in one sentence why the model cannot be had and stops there."""
    try:
        return inside_model(kind, name, upload)
    except (ValueError, RuntimeError) as err:  # CheckpointError, WeightsUnavailable
        st.error(str(err))
        st.stop()


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


@st.cache_resource(max_entries=4, ttl=3600, show_spinner=False)
def inside_network_trace(kind: str, name: str, upload: bytes | None, photo: bytes | None, invert: bool, lang: str):
    """``cnnviz.overview.trace_network`` of ``photo`` as the model takes it: every layer's maps, once for the class.
    Shared and read-only. Raises ImageError / ValueError."""
    from cnnviz import overview

    model, card = inside_model(kind, name, upload)
    seen, _shown, _prediction = inside_photo_view(kind, name, upload, photo, invert, False, 256, lang)
    with i18n.language(lang):
        return overview.trace_network(model, seen.tensor, classes=card.display_classes)


@st.cache_resource(max_entries=4, ttl=3600, show_spinner=False)
def inside_attributions(kind: str, name: str, upload: bytes | None, photo: bytes | None, invert: bool,
                        target: int | None, lang: str):
    """``cnnviz.attribution.attributions``: Grad-CAM, saliency, Integrated Gradients and occlusion of ``photo`` (as
    the model takes it) for ``target`` (None: the prediction). Shared and read-only. Raises ValueError."""
    from cnnviz import attribution

    model, _card = inside_model(kind, name, upload)
    seen, _shown, _prediction = inside_photo_view(kind, name, upload, photo, invert, False, 256, lang)
    with i18n.language(lang):
        return attribution.attributions(model, seen.tensor, target)


@st.cache_resource(max_entries=4, ttl=3600, show_spinner=False)
def inside_sanity_check(kind: str, name: str, upload: bytes | None, photo: bytes | None, invert: bool,
                        target: int | None, lang: str):
    """``cnnviz.attribution.randomization_check`` (Adebayo et al. 2018) of the same image and class."""
    from cnnviz import attribution

    model, _card = inside_model(kind, name, upload)
    seen, _shown, _prediction = inside_photo_view(kind, name, upload, photo, invert, False, 256, lang)
    with i18n.language(lang):
        return attribution.randomization_check(model, seen.tensor, target)


# ---- draw and predict
DRAW_UPLOAD = "upload"


def draw_model_options() -> dict[str, tuple[str, str]]:
    """Key -> (kind, path or name) of the models that take a 28×28 drawing: the bundled MNIST CNN (digits: the
    default) and Fashion-MNIST CNN, this session's training runs, an uploaded checkpoint."""
    opts: dict[str, tuple[str, str]] = {}
    sets = inside_checkpoint_sets()
    for key in sorted(sets, key=lambda k: k != INSIDE_TRAINED_MNIST):  # the digits first
        if key in SHIPPED_DATASETS:
            opts[key] = shipped_option(key)
        else:
            opts[key] = ("run", sets[key][-1])
    opts[DRAW_UPLOAD] = ("upload", "")
    return opts


def draw_model_label(key: str) -> str:
    if key == DRAW_UPLOAD:
        return inside_model_label(INSIDE_UPLOAD)
    return inside_checkpoint_set_label(key)


def draw_model(kind: str, name: str = "", upload: bytes | None = None):
    """(shared read-only model, ModelCard) for an entry of ``draw_model_options``; raises ValueError."""
    return inside_model(kind, name, upload)


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def draw_view(kind: str, name: str, upload: bytes | None, png: bytes, lang: str):
    """(prepared input, prediction, feature maps of the overview layers) of a drawing (its 28×28 PNG) through a model
    of ``draw_model``: computed once per drawing and model and shared, so a rerun that changes neither (any other
    click) computes nothing. Raises ValueError like the steps it runs."""
    from cnnviz import capture, cards

    model, card = draw_model(kind, name, upload)
    with i18n.language(lang):
        prepared = cards.prepare_image(decoded_image(png), card)
        prediction = capture.predict(model, prepared.tensor, classes=card.display_classes)
        return prepared, prediction, capture.feature_maps_many(model, prepared.tensor, capture.overview_layers(model))
