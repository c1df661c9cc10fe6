"""Widget groups that several pages share: a photo (upload, sample, drawing or camera), a small photo for the
convolution lab, a model to look inside and the drawing canvas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

import cnnviz
from cnnviz.i18n import N_, _, pgettext
from dashboard.data import bundled_dataset, sample_bytes, testset_class_count, testset_png
from dashboard.inside import inside_model_label, inside_model_options
from dashboard.lab import lab_photo

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]


FASHION = "fashion_mnist"  # the sample list's entries for "a Fashion-MNIST test image" and "an MNIST test image"
TEST_SETS = {FASHION: N_("a Fashion-MNIST test image"), "mnist": N_("an MNIST test image (a digit)")}


def photo_bytes(*, help: str | None = None, key: str = "photo") -> bytes:
    """An uploaded photo's bytes, a camera shot's, a Fashion-MNIST or MNIST test image's (by class) or a bundled
    sample's (the cat by default)."""
    upload = st.file_uploader(_("Upload a photo"), type=IMAGE_TYPES, help=help)
    samples = [*cnnviz.sample_images(), *TEST_SETS]
    sample = st.selectbox(_("…or a sample photo"), samples, index=samples.index("cat") if "cat" in samples else 0,
                          disabled=upload is not None,
                          format_func=lambda n: _(TEST_SETS[n]) if n in TEST_SETS else cnnviz.data.sample_title(n))
    if st.toggle(_("Draw it yourself"), key=f"{key}.draw",
                 help=_("Draw a shirt, a shoe or a trouser (or a digit): it is prepared as MNIST's images were.")):
        drawn = drawing_input(f"{key}.drawing")
        return drawn.png
    if st.toggle(_("Take a photo with the camera"), key=f"{key}.camera",
                 help=_("Photograph a mug, a shoe or a pen and see what the network sees.")):
        shot = st.camera_input(_("Camera"), key=f"{key}.shot")
        if shot is not None:
            return shot.getvalue()
        st.caption(_("No photo yet: take one above. If no picture appears, the browser has not been allowed to use the "
                     "camera (the camera icon in the address bar), or this computer has none."))
    if upload is not None:
        return upload.getvalue()
    if sample in TEST_SETS:
        return test_image_bytes(key, sample)
    return sample_bytes(sample)


def lab_photo_input(key: str, *, max_side: int, sides: list[int] | None = None):
    """A bundled sample photo (the cat first) or an upload, colour or grey (a toggle), as the float C×H×W array in
    [0, 1] that the convolution lab's operations take; its longer side at most ``max_side`` pixels, or a slider over
    ``sides`` that starts there. Widget keys start with ``key``. A file that is no image stops the page with one
    sentence."""
    samples = list(cnnviz.sample_images())
    cols = st.columns([2, 3, 1, 1] if sides else [2, 2, 1])
    sample = cols[0].selectbox(_("Sample photo"), samples, index=samples.index("cat") if "cat" in samples else 0,
                               key=f"{key}_sample", format_func=cnnviz.data.sample_title)
    upload = cols[1].file_uploader(_("…or upload a photo"), type=IMAGE_TYPES, key=f"{key}_upload")
    colour = cols[2].toggle(_("Colour"), True, key=f"{key}_colour",
                            help=_("Colour: 3 channels (R, G, B). Off: 1 grey channel."))
    if sides:
        max_side = cols[3].select_slider(_("Work size"), sides, max_side, key=f"{key}_side",
                                         help=_("The photo is shrunk so its longer side is at most this many pixels."))
    try:
        data = upload.getvalue() if upload is not None else sample_bytes(sample)
        return lab_photo(data, 3 if colour else 1, max_side)
    except cnnviz.ImageError as err:
        st.error(_("Cannot use this file: {err}. Showing nothing until you pick a sample or another file.").format(
            err=str(err).rstrip(".")))  # the reason's own full stop would make two
        st.stop()


def output_cell(key: str, rows: int, cols: int, *, playing: bool = False, compact: bool = False) -> tuple[int, int]:
    """A slider over the output cells of a sliding-window view, written (row, column) and counted from 0 like the
    cells in the figures, row by row. While ``playing`` each run moves it on by one cell (call it inside the fragment
    that replays). A 1×1 output needs no slider: (0, 0). ``compact`` hides the label (presenter mode)."""
    n = rows * cols
    position = st.session_state.get(key)
    if not isinstance(position, int) or not 0 <= position < n:
        st.session_state[key] = position = 0
    if n > 1:
        if playing:
            st.session_state[key] = (position + 1) % n
        position = st.select_slider(_("Output cell (row, column)"), range(n), key=key,
                                    format_func=lambda i: "({}, {})".format(*divmod(i, cols)),
                                    label_visibility="collapsed" if compact else "visible")
    return divmod(position, cols)


def test_image_bytes(key: str, dataset: str = FASHION) -> bytes:
    """A test image of ``dataset`` ("fashion_mnist" or "mnist") chosen by class and number, as PNG bytes (the
    shipped CNNs' own inputs)."""
    test = bundled_dataset(dataset, False)
    c1, c2 = st.columns(2)
    prefix = f"{key}.fashion" if dataset == FASHION else f"{key}.{dataset}"
    cls = c1.selectbox(_("Kind of clothing") if dataset == FASHION else _("Digit"), range(len(test.classes)),
                       key=f"{prefix}_class", format_func=lambda i: cnnviz.data.class_label(test.classes[i]))
    count = testset_class_count(dataset, int(cls))
    nth = c2.number_input(_("Image number in the class"), 0, count - 1, 0, key=f"{prefix}_nth")
    return testset_png(dataset, int(cls), int(nth))


def model_choice(*, help: str | None = None, default: str | None = None,
                 extra: dict[str, tuple[str, str]] | None = None,
                 extra_labels: dict[str, str] | None = None) -> tuple[str, str, bytes | None]:
    """The model to look inside: (kind, name, checkpoint bytes) as ``dashboard.inside.inside_model`` takes them;
    ``default`` an option key to start with (else the first); ``extra`` options first (e.g. a linked checkpoint,
    ("run", path)), named by ``extra_labels``."""
    options = {**(extra or {}), **inside_model_options()}
    keys = list(options)
    labels = extra_labels or {}
    key = st.selectbox(_("Model"), keys, help=help, format_func=lambda k: labels.get(k) or inside_model_label(k),
                       index=keys.index(default) if default in keys else 0)
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


CANVAS_SIDE = 280  # pixels of the drawing canvas: 10× a 28×28 input
CANVAS_ROOM = "canvas_room_"  # the key prefix of the container around a canvas (its toolbar shows above it)
TOOLS = {"freedraw": N_("pen"), "polygon": N_("filled shape")}


@dataclass(frozen=True)
class DrawnInput:
    """What ``drawing_input`` gives: the prepared drawing (``cnnviz.drawing.Drawing``) and its 28×28 PNG."""

    drawing: object
    png: bytes


def drawing_input(key: str, *, box: int = 28, examples: Sequence[str] | None = None) -> DrawnInput:
    """A canvas to draw on (pen or filled shapes, an example to start from: ``examples``, keys of
    ``cnnviz.drawing.EXAMPLES``, default all) and the drawing prepared as MNIST's images were: inverted, cropped,
    scaled into a ``box``-pixel box, centred by mass in 28×28. An empty drawing stops the page with one sentence."""
    import io

    from PIL import Image
    from streamlit_drawable_canvas import st_canvas

    from cnnviz import drawing

    c1, c2, c3 = st.columns([1, 1, 1.3])
    tool = c1.radio(_("Tool"), list(TOOLS), format_func=lambda t: _(TOOLS[t]), key=f"{key}.tool",
                    help=_("Filled shape: click the corners one by one, then the first corner again to close it."))
    width = c2.slider(_("Pen width"), 4, 40, 20, key=f"{key}.width")
    examples = ["", *(examples if examples is not None else drawing.EXAMPLES)]
    if st.session_state.get(f"{key}.example") not in examples:  # another model's examples were chosen: start empty
        st.session_state.pop(f"{key}.example", None)
    example = c3.selectbox(pgettext("the picture the canvas starts with", "Start from"), examples,
                           key=f"{key}.example", format_func=lambda e: _(drawing.EXAMPLES[e]) if e else _("an empty canvas"))
    with st.container(key=f"{CANVAS_ROOM}{key}"):  # room above the canvas for its toolbar (layout.LAYOUT_CSS)
        result = st_canvas(fill_color="#000000", stroke_width=width, stroke_color="#000000",
                           background_color="#ffffff", height=CANVAS_SIDE, width=CANVAS_SIDE, drawing_mode=tool,
                           initial_drawing=drawing.example_drawing(example) if example else None,
                           return_image_data=True, key=f"{key}.canvas.{example or 'empty'}")
    pixels = result.image_data
    if pixels is None:  # the browser has not drawn it yet (an example just put on the canvas): draw it here
        objects = (result.json_data or {}).get("objects", [])
        pixels = drawing.render_objects(objects, width=CANVAS_SIDE, height=CANVAS_SIDE)
    try:
        drawn = drawing.prepare_drawing(drawing.ink_from_canvas(pixels), box=box)
    except ValueError as err:
        st.info(str(err))
        st.stop()
    buf = io.BytesIO()
    Image.fromarray(drawn.image).save(buf, format="PNG")
    return DrawnInput(drawn, buf.getvalue())
