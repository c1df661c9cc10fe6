"""Widget groups that several pages share: a photo (upload or sample) and a model to look inside."""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz.i18n import _
from dashboard import state

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]


FASHION = "fashion_mnist"  # the sample list's entry for "a Fashion-MNIST test image"


def photo_bytes(*, help: str | None = None, key: str = "photo") -> bytes:
    """An uploaded photo's bytes, a camera shot's, a Fashion-MNIST test image's (by class) or a bundled sample's
    (the cat by default)."""
    upload = st.file_uploader(_("Upload a photo"), type=IMAGE_TYPES, help=help)
    samples = [*cnnviz.sample_images(), FASHION]
    sample = st.selectbox(_("…or a sample photo"), samples, index=samples.index("cat") if "cat" in samples else 0,
                          disabled=upload is not None,
                          format_func=lambda n: _("a Fashion-MNIST test image") if n == FASHION
                          else cnnviz.data.sample_title(n))
    if st.toggle(_("Take a photo with the camera"), key=f"{key}.camera",
                 help=_("Photograph a mug, a shoe or a pen and see what the network sees.")):
        shot = st.camera_input(_("Camera"), key=f"{key}.shot")
        if shot is not None:
            return shot.getvalue()
        st.caption(_("No photo yet: take one above. If no picture appears, the browser has not been allowed to use the "
                     "camera (the camera icon in the address bar), or this computer has none."))
    if upload is not None:
        return upload.getvalue()
    if sample == FASHION:
        return fashion_image_bytes(key)
    return state.sample_bytes(sample)


def fashion_image_bytes(key: str) -> bytes:
    """A Fashion-MNIST test image chosen by class and number, as PNG bytes (the Fashion-MNIST CNN's own inputs)."""
    test = state.fashion_mnist(False)
    c1, c2 = st.columns(2)
    cls = c1.selectbox(_("Class"), range(len(test.classes)), key=f"{key}.fashion_class",
                       format_func=lambda i: cnnviz.data.class_label(test.classes[i]))
    count = state.fashion_class_count(int(cls))
    nth = c2.number_input(_("Image number in the class"), 0, count - 1, 0, key=f"{key}.fashion_nth")
    return state.fashion_png(int(cls), int(nth))


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
