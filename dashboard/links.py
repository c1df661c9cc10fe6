"""Links between pages: the Feature space page opens a test image, with the checkpoint it was seen through, on the
Feature maps page (``?test_image=<dataset>:<number>&checkpoint=<run folder>/<epoch_NN.pt>``).

The checkpoint is looked up by name inside this session's runs folder (or ``shipped/…`` for the network that comes
with cnnviz): an address never reaches any other file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import streamlit as st

import cnnviz
from cnnviz.i18n import _
from dashboard.session import training_runs_folder

IMAGE_PARAM, CHECKPOINT_PARAM = "test_image", "checkpoint"
SHIPPED = "shipped"
_CHECKPOINT = re.compile(r"^([A-Za-z0-9_.-]+)/(epoch_\d{2,4}\.pt)$")


def feature_maps_query(dataset: str, index: int, run_name: str | None, checkpoint: str | None) -> dict[str, str]:
    """The query of a link to Feature maps showing test image ``index`` of ``dataset`` through ``checkpoint`` (a path)
    of ``run_name`` (None: the shipped network)."""
    query = {IMAGE_PARAM: f"{dataset}:{int(index)}"}
    if checkpoint:
        query[CHECKPOINT_PARAM] = f"{run_name or SHIPPED}/{checkpoint.replace(chr(92), '/').rsplit('/', 1)[-1]}"
    return query


@dataclass(frozen=True)
class Opened:
    """What a link opened: the image (PNG bytes), a sentence saying what it is, and the model option it brings
    (key → (kind, path) for ``widgets.model_choice``, with its label), or none."""

    photo: bytes
    caption: str
    models: dict[str, tuple[str, str]]
    labels: dict[str, str]


def _checkpoint(value: str) -> tuple[str, str, str] | None:
    """(key, path, label) of a checkpoint named in a link, or None when it names no such file."""
    from cnnviz.training import pretrained_checkpoints

    match = _CHECKPOINT.match(value or "")
    if not match:
        return None
    run, file = match.groups()
    if run == SHIPPED:
        path = next((p for p in pretrained_checkpoints() if p.name == file), None)
        label = _("Shipped Fashion-MNIST CNN after epoch {epoch}")
    else:
        candidate = training_runs_folder() / run / file
        path = candidate if candidate.is_file() and candidate.parent.parent == training_runs_folder() else None
        label = _("Your run {run} after epoch {epoch}")
    if path is None:
        return None
    epoch = int(file.removeprefix("epoch_").removesuffix(".pt"))
    return f"link:{run}/{file}", str(path), label.format(run=run, epoch=epoch)


def opened_from_link() -> Opened | None:
    """The test image (and checkpoint) the page's address names, or None. A wrong address says so in one line."""
    from dashboard.training import test_image_png

    value = st.query_params.get(IMAGE_PARAM)
    if not value:
        return None
    dataset, _sep, number = value.partition(":")
    try:
        if dataset not in cnnviz.DATASETS or not number.isdigit():
            raise ValueError(_("the address names no test image"))
        photo = test_image_png(dataset, int(number))
    except (ValueError, cnnviz.DatasetUnavailable) as err:
        st.warning(_("Cannot open the linked image: {err}").format(err=err))
        return None
    models, labels = {}, {}
    found = _checkpoint(st.query_params.get(CHECKPOINT_PARAM, ""))
    if found is not None:
        key, path, label = found
        models[key], labels[key] = ("run", path), label
    caption = _("Test image #{number} of {dataset}, opened from the Feature space page.").format(
        number=int(number), dataset=cnnviz.DATASETS[dataset].title)
    return Opened(photo, caption, models, labels)


def forget_link() -> None:
    """Back to choosing a photo: the link's parameters leave the address."""
    for name in (IMAGE_PARAM, CHECKPOINT_PARAM):
        if name in st.query_params:
            del st.query_params[name]
