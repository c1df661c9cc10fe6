"""Inside a CNN | The whole network | :material/account_tree:

One image through every layer, left to right, as CNN Explainer shows it: click a channel to see the channels it
reads, click a cell to see its arithmetic with the real numbers.
"""

import pandas as pd
import streamlit as st

import cnnviz
from cnnviz import i18n, overview
from cnnviz.i18n import _, ngettext
from cnnviz.plots import overview as ov_plots
from dashboard import layout, widgets
from dashboard.inside import INSIDE_TRAINED, inside_model_or_stop, inside_network_trace

PRESENTER_HEIGHT = 540  # px: the network under the title, within a 1280×720 projector's first screen
st.title(_("The whole network at once"))
presenting = layout.presenter()
early = layout.early_figure()  # on a projector the network comes first, the image, model and layers under it
with layout.explanation(_("How to read it")):
    st.markdown(_(
        "One image goes through every layer, left to right. Each column is one layer: its channels as small maps, "
        "with the layer's name, the shape of its output and what it computes. The bars at the end are the "
        "prediction. **Click a channel** to see the channels it reads (all of them for a convolution, one for "
        "pooling and ReLU), enlarged below; **click a cell** of the enlarged map to see how its number is computed."))

inputs = st.expander(_("The image and the model"), expanded=False) if presenting else st.container()
left, right = inputs.columns(2)
with left:
    photo = widgets.photo_bytes(key="ov_photo")
with right:
    drawn = bool(st.session_state.get("ov_photo.draw"))
    kind, name, ckpt_bytes = widgets.model_choice(  # a link may name the model (?model=trained)
        default=st.query_params.get("model") or (INSIDE_TRAINED if drawn else None))
model, card = inside_model_or_stop(kind, name, ckpt_bytes)
with right:
    if not card.trained:
        st.warning(_("This model is **untrained**: its maps come from random filters."))
    invert = card.input_shape[0] == 1 and st.checkbox(
        _("Invert brightness"), key="ov_invert", help=_("Fashion-MNIST's clothes are light on a black background."))

lang = i18n.get_language()
try:  # computed once for everyone who looks at the same photo with the same model
    trace = inside_network_trace(kind, name, ckpt_bytes, photo, invert, lang)
except cnnviz.ImageError as err:
    st.error(_("That file cannot be used: {err}").format(err=err))
    st.stop()
except ValueError as err:
    st.error(str(err))
    st.stop()

columns = trace.columns
why = None
if trace.big:
    why = _("This network has {n} layers with up to {c:,} channels each: drawn all at once they would be tens of "
            "thousands of maps, too small to see and too slow to draw. Shown: the first {first} layers and the last "
            "{last}, at most {k} channels of each.").format(
        n=trace.total_layers, c=max(c.channels for c in columns), first=trace.gap_after,
        last=len(columns) - 1 - trace.gap_after, k=max(len(c.shown) for c in columns))
    if not presenting:  # on a projector the figure comes first; the reason is said below it
        st.info(why)
names = [c.name if c.kind != "input" else _("input") for c in columns]
# a projector or a phone shows a few layers large (the range moves along); a screen shows them all
few = presenting or "Mobi" in st.context.headers.get("User-Agent", "")
first, last = st.select_slider(_("Layers shown"), options=list(range(len(columns))),
                               value=(0, min(len(columns) - 1, 4) if few else len(columns) - 1),
                               format_func=lambda j: names[j],
                               key=f"ov_range_{kind}_{name}_{len(columns)}_{few}",
                               help=_("Fewer layers, larger maps: useful on a phone or a projector."))
show = list(range(first, last + 1))


# ---------------------------------------------------------------------------- clicks (read before drawing)
def clicked(key: str) -> list[dict]:
    state = st.session_state.get(key)
    points = state.get("selection", {}).get("points", []) if state else []
    return [p for p in points if p.get("customdata") is not None]


def take_click(key: str, seen_key: str) -> list | None:
    """A new click on chart ``key`` (its customdata), or None: a click is used once, so the pickers can move on."""
    points = clicked(key)
    mark = repr([p.get("customdata") for p in points])
    if not points or st.session_state.get(seen_key) == mark:
        return None
    st.session_state[seen_key] = mark
    data = points[0]["customdata"]  # a typed array arrives as {"0": …, "1": …}
    return [data[k] for k in sorted(data, key=int)] if isinstance(data, dict) else list(data)


hit = take_click("ov_network", "ov_network_seen")
if hit is not None:
    st.session_state["ov_layer"], st.session_state["ov_channel"] = int(hit[0]), int(hit[1])
layer_options = list(range(1, len(columns)))
if st.session_state.get("ov_layer") not in layer_options:
    st.session_state["ov_layer"] = next((j for j in layer_options if columns[j].kind == "conv"), layer_options[0])
j = int(st.session_state["ov_layer"])
column = columns[j]
units = ov_plots.bar_units(trace, j) if ov_plots.is_bars(trace, j) else list(column.shown)
if st.session_state.get("ov_channel") not in range(column.channels):
    st.session_state["ov_channel"] = units[0]
channel = int(st.session_state["ov_channel"])

with layout.main_figure(early=early):
    layout.chart(ov_plots.network_figure(trace, show=show, selected=(j, channel),
                                         label_px=layout.PRESENTER_FONT - 2 if presenting else 11,
                                         max_height=PRESENTER_HEIGHT if presenting else None), key="ov_network",
                 on_select="rerun", selection_mode="points")
if why and presenting:
    st.info(why)
st.caption(_("Each layer's maps share one colour scale (dark: low, yellow: high). Hover a map for its channel and "
             "numbers; click it to choose it. Red lines: the channels the chosen one reads."))

# ---------------------------------------------------------------------------- one channel
st.subheader(_("One channel and what it reads"))
a, b = st.columns(2)
a.selectbox(_("Layer"), layer_options, key="ov_layer",
            format_func=lambda i: f"{names[i]} · {ov_plots.operation(columns[i])}")
b.selectbox(_("Channel"), range(column.channels), key="ov_channel",
            help=_("{n} channels, numbered 0 to {last}.").format(n=column.channels, last=column.channels - 1))
h, w = column.values.shape[1:]
hit = take_click("ov_cell", "ov_cell_seen")
if hit is not None:
    st.session_state["ov_row"], st.session_state["ov_col"] = int(hit[0]), int(hit[1])
for key, size in (("ov_row", h), ("ov_col", w)):
    if key not in st.session_state or not 0 <= int(st.session_state[key]) < size:
        st.session_state[key] = size // 2
row, col = int(st.session_state["ov_row"]), int(st.session_state["ov_col"])
steps = overview.cell_chain(trace, j, channel, row, col)
step = steps[0]
reads = column.reads(channel)
a, b = st.columns(2)
with a:
    if h * w > 1:
        layout.chart(ov_plots.cell_figure(column, channel, cell=(row, col)), key="ov_cell", on_select="rerun",
                     selection_mode="points")
        st.caption(_("Click a cell (or choose its row and column below) to see how its value is computed."))
    else:
        st.metric(_("{layer}, unit {unit}").format(layer=names[j], unit=channel), f"{float(column.values[channel, 0, 0]):.4g}")
with b:
    prev = columns[j - 1]
    if column.kind == "linear":
        st.markdown(_("A linear layer reads **all {n} values** of the layer before it (flattened).").format(
            n=int(column.source.shape[1])))
    elif reads and column.chained and prev.values.ndim == 3 and column.source.ndim == 4:
        top = max(step.terms, key=lambda t: abs(t.total)).channel if step.terms and column.kind == "conv" \
            else reads[0]
        kh, kw = (step.terms[0].window.shape if step.terms else (1, 1))
        window = (step.origin[0], step.origin[1], kh, kw) if step.terms else (row, col, 1, 1)
        layout.chart(ov_plots.cell_figure(prev, top, window=window, title=_(
            "It reads {layer}, channel {channel} (orange: the window)").format(layer=names[j - 1], channel=top)),
            key="ov_input")
        if column.kind == "conv":
            st.caption(ngettext("It reads {n} channel of {layer}; shown: the one that adds the most to this cell.",
                                "It reads {n} channels of {layer}; shown: the one that adds the most to this cell.",
                                len(reads)).format(n=len(reads), layer=names[j - 1]))
    elif not column.chained:
        st.info(_("This layer does not read the column drawn before it: a skip connection adds another layer's "
                  "output first, or layers in between are not drawn. Its own input is used for the numbers below."))

c1, c2 = st.columns(2)
c1.number_input(_("Row"), 0, max(0, h - 1), key="ov_row")
c2.number_input(_("Column"), 0, max(0, w - 1), key="ov_col")

# ---------------------------------------------------------------------------- the arithmetic
st.subheader(_("How the value of {layer}[{channel}, {row}, {col}] is computed").format(
    layer=names[j], channel=channel, row=row, col=col))
if step.kind == "conv":
    st.markdown(_("For each of the {n} input channels it reads: the window under the kernel times the kernel's "
                  "weights, cell by cell, added up. Then the channels' sums are added, plus the bias.").format(
        n=len(step.terms)))
    layout.chart(ov_plots.arithmetic_figure(step), key="ov_arith")
    sums = pd.DataFrame({_("input channel"): [t.channel for t in step.terms],
                         _("Σ window × kernel"): [t.total for t in step.terms]})
    with st.expander(_("Every input channel's sum ({n})").format(n=len(step.terms))):
        layout.table(sums)
elif step.kind == "linear":
    terms = pd.DataFrame({_("input"): [t.channel for t in step.terms],
                          _("value"): [float(t.window[0, 0]) for t in step.terms],
                          _("weight"): [float(t.kernel[0, 0]) for t in step.terms],
                          _("value × weight"): [t.total for t in step.terms]})
    layout.table(terms)
rows = []
for s in steps:
    what, op = ov_plots.step_text(s)
    rows.append({_("layer"): s.layer, _("operation"): op, _("computed"): what, _("result"): s.value,
                 _("the map shows"): s.shown,
                 _("cell"): f"[{s.channel}, {s.row}, {s.col}]"})
layout.table(pd.DataFrame(rows))
worst = max(abs(s.value - s.shown) / max(1.0, abs(s.shown)) for s in steps)
if worst < 1e-4:
    st.success(_("Every result equals the value PyTorch's forward pass wrote into the map."))
else:
    st.warning(_("A result differs from the map by {d:.2g}.").format(d=worst))
if ov_plots.is_bars(trace, j):
    p = trace.prediction.probs[channel]
    st.markdown(_("The softmax turns the {n} logits into probabilities: this class's logit {z:.4g} becomes "
                  "**{p:.1%}**.").format(n=len(trace.prediction.probs), z=step.shown, p=p))
