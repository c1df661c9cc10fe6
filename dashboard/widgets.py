"""Widget groups that several pages share: a photo (upload or sample) and a model to look inside."""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz.i18n import _
from dashboard import state

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]


def photo_bytes(*, help: str | None = None) -> bytes:
    """An uploaded photo's bytes, or a bundled sample's (the cat by default)."""
    upload = st.file_uploader(_("Upload a photo"), type=IMAGE_TYPES, help=help)
    samples = list(cnnviz.sample_images())
    sample = st.selectbox(_("…or a sample photo"), samples, index=samples.index("cat") if "cat" in samples else 0,
                          disabled=upload is not None, format_func=cnnviz.data.sample_title)
    return upload.getvalue() if upload is not None else state.sample_bytes(sample)


def model_choice(*, help: str | None = None) -> tuple[str, str, bytes | None]:
    """The model to look inside: (kind, name, checkpoint bytes) as ``state.inside_model`` takes them."""
    options = state.inside_model_options()
    key = st.selectbox(_("Model"), list(options), help=help, format_func=state.inside_model_label)
    kind, name = options[key]
    ckpt_bytes = None
    if kind == "upload":
        ckpt_file = st.file_uploader(_("Checkpoint (.pt, weights only)"), type=["pt", "pth", "ckpt"])
        ckpt_bytes = ckpt_file.getvalue() if ckpt_file else None
        archs = ["", *cnnviz.ZOO]
        arch = st.selectbox(_("Architecture"), archs, help=_("Needed for a bare state_dict saved by another script."),
                            format_func=lambda a: a or _("(as saved in the checkpoint)"))
        name = arch
    return kind, name, ckpt_bytes
