"""Inside a CNN | What a filter looks for | :material/visibility:

For a layer and channel: the images (or photo patches) that excite it most, cropped to its receptive field; an input
optimized by gradient ascent to excite it; and a row of channels from the first, a middle and the last stage.
"""

import streamlit as st

import cnnviz
from cnnviz import capture, lookfor
from cnnviz.i18n import _
from cnnviz.plots import lookfor as lookfor_plots
from cnnviz.plots import maps
from dashboard import layout, widgets
from dashboard.data import bundled_dataset
from dashboard.inside import inside_model_or_stop
from dashboard.lookfor import (LOOKFOR_DATASETS, LOOKFOR_SOURCES, lookfor_channels, lookfor_index, lookfor_stage_row,
                               lookfor_visualization)

EXAMPLES_ON_A_PROJECTOR = 500  # pixels: three rows of examples and their captions under the page's title

st.title(_("What a filter looks for"))
early = layout.early_figure()  # on a projector the strongest examples come first; the pickers follow them
st.markdown(_("A feature map shows what a filter **outputs** for one image. Here we ask the other way round: what "
              "does a channel **look for**? Two answers: the real images that excite it most, and an image made "
              "from noise, step by step, to excite it as much as possible. Deeper layers look for larger and more "
              "abstract things: edges and colours first, then textures, then parts of objects."))

# ---------------------------------------------------------------------------- model, layer, channel
left, right = st.columns(2)
with left:
    kind, name, ckpt_bytes = widgets.model_choice(  # a link (e.g. from the channel atlas) may name the model
        help=_("The bundled ImageNet network sees photos; the Fashion-MNIST CNN sees 28×28 clothes, the MNIST CNN "
               "28×28 digits."),
        default=st.query_params.get("model"))
model, card = inside_model_or_stop(kind, name, ckpt_bytes)

layers = capture.viewable_layers(model)
overview = capture.overview_layers(model)
kinds = {n: type(m).__name__ for n, m in model.named_modules()}
default_layer = overview[len(overview) // 2] if overview else layers[0]

# A link may name the layer and channel (?layer=…&channel=…); a wrong one gets one sentence and the defaults.
asked_layer, asked_channel = st.query_params.get("layer"), st.query_params.get("channel")
if asked_layer is not None and asked_layer not in layers:
    try:
        lookfor.channel_count(model, asked_layer, card.input_shape)
        st.error(_("layer {layer} cannot be shown here; choose one from the list.").format(layer=asked_layer))
    except ValueError as err:
        st.error(str(err))
    asked_layer = None
with right:
    layer = st.selectbox(_("Layer"), layers, index=layers.index(asked_layer or default_layer),
                         format_func=lambda n: f"{n} ({kinds[n]})")
try:
    channels = lookfor_channels(kind, name, ckpt_bytes, layer)
except ValueError as err:
    st.error(str(err))
    st.stop()
start = 0
if asked_channel is not None:
    try:
        start = lookfor.check_channel(int(asked_channel) if asked_channel.lstrip("-").isdigit() else asked_channel,
                                      channels, layer)
    except ValueError as err:
        st.error(str(err))
with right:
    channel = int(st.number_input(_("Channel"), 0, channels - 1, start, key=f"lf_channel_{layer}",
                                  help=_("{n} channels in this layer, numbered 0 to {last}.").format(
                                      n=channels, last=channels - 1)))

# ---------------------------------------------------------------------------- top-activating examples
st.subheader(_("1. The images that excite it most"))
# a grey network searches the test images of the dataset it learnt first (its card says which)
grey = (["mnist", "fashion"] if card.dataset == "mnist" else ["fashion", "mnist"]) if card.input_shape[0] == 1 else []
sources = grey + ["photos", "folder"]
a, b = st.columns([1, 1])
source = a.radio(_("Search in"), sources, horizontal=True, format_func=lambda s: _(LOOKFOR_SOURCES[s]))
folder, count = "", 10_000
if source in LOOKFOR_DATASETS:
    count = b.select_slider(_("How many test images"), [1_000, 2_000, 5_000, 10_000], value=2_000,
                            format_func=lambda n: f"{n:,}", help=_("All 10,000 take a little longer, once."))
if source == "folder":
    folder = b.text_input(_("Folder on the server"), placeholder="samples",
                          help=_("Any folder of images under the folders the teacher allows (CNNVIZ_DATA_ROOTS); "
                                 "at most 200 images are read."))
    if not folder.strip():
        st.info(_("Type the path of a folder of images to search it."))
        st.stop()

bar = st.empty()


def show_progress(done: int, total: int) -> None:
    bar.progress(done / max(total, 1), text=_("Running the layer over the images: {done} of {total}").format(
        done=done, total=total))


try:
    index = lookfor_index(kind, name, ckpt_bytes, layer, source, folder, count, progress=show_progress)
    examples = lookfor.top_examples(index, channel)
except ValueError as err:
    bar.empty()
    st.error(str(err))
    st.stop()
bar.empty()
rf = index.fields[examples[0].image]
labels = None
if source in LOOKFOR_DATASETS:
    test = bundled_dataset(LOOKFOR_DATASETS[source], False)
    labels = [_("{cls} {name}").format(cls=cnnviz.data.class_label(test.classes[int(test.labels[e.image])]),
                                       name=e.name) for e in examples]
elif source == "photos":  # the sample photos' names in the reader's language, with the size searched
    labels = [f"{cnnviz.data.sample_title(index.images.sources[e.image])} · "
              f"{max(index.images.images[e.image].shape[1:])}px" for e in examples]
layout.chart(lookfor_plots.examples_figure(
    examples, labels=labels, height=EXAMPLES_ON_A_PROJECTOR if early else None,
    title=_("The {k} strongest examples of channel {channel}<br>in {layer} (activation · image)").format(
        k=len(examples), channel=channel, layer=layer)), key="lf_examples", where=layout.main_figure(early=early))
if rf.whole:
    st.caption(_("This layer comes after a global pooling: each of its cells sees the whole image, so the whole "
                 "image is shown."))
else:
    text = _("Each crop is the channel's **receptive field**: the {h}×{w} input pixels that one cell of its map sees "
             "(neighbouring cells are {j} pixels apart). The red cross is the centre of the strongest cell.").format(
        h=rf.size[0], w=rf.size[1], j=rf.jump[0])
    biggest = max(max(t.shape[1:]) for t in index.images.images)
    if max(rf.size) > biggest:
        text += " " + _("The receptive field is larger than the images ({n} pixels): grey is padding outside the "
                        "image.").format(n=biggest)
    st.caption(text)
best = index.best(channel)

# ---------------------------------------------------------------------------- activation maximization
st.subheader(_("2. An input made to excite it"))
st.markdown(_("Start from faint noise and change the input, step by step, in the direction that raises the "
              "channel's activation (gradient **ascent**: backpropagation to the input, the weights stay fixed). "
              "To keep the result readable, as in Lucid: the image is built from its frequencies (a 1/f spectrum, "
              "like photos have), colours are decorrelated, and every step sees it slightly shifted, scaled and "
              "rotated, so that only patterns that survive those changes grow."))
settings = lookfor.default_settings(card.input_shape)
c1, c2 = st.columns(2)
objective = c1.radio(_("Objective"), lookfor.OBJECTIVES, index=lookfor.OBJECTIVES.index(settings["objective"]),
                     horizontal=True, format_func=lambda o: {"channel": _("the whole map (mean)"),
                                                              "neuron": _("the centre cell")}[o])
steps = c2.select_slider(_("Steps"), [32, 64, 96, 128, 192, 256], value=settings["steps"])
settings.update(objective=objective, steps=steps)
key = tuple(sorted(settings.items()))
vis = lookfor_visualization(kind, name, ckpt_bytes, layer, (channel,), key, compute=False)
if vis is None:
    slot = st.empty()
    if slot.button(_("Optimize an input for channel {channel}").format(channel=channel), type="primary",
                   key="lf_optimize"):
        live = st.empty()
        bar = st.empty()

        def on_step(done: int, total: int) -> None:
            bar.progress(done / total, text=_("Step {done} of {total}").format(done=done, total=total))

        def on_snapshot(step: int, image) -> None:
            live.image(image, caption=_("step {n}").format(n=step), width=160)

        try:
            vis = lookfor_visualization(kind, name, ckpt_bytes, layer, (channel,), key, progress=on_step,
                                              on_snapshot=on_snapshot)
        except ValueError as err:
            st.error(str(err))
            st.stop()
        live.empty()
        bar.empty()
        slot.empty()
    else:
        st.caption(_("About {s} seconds on a 2-core computer for the ImageNet network; less for the small nets.").format(
            s=10))
if vis is not None:
    vis = vis[0]
    m1, m2, m3 = st.columns(3)
    m1.metric(_("Optimized input"), f"{vis.activation:.4g}")
    m2.metric(_("Best example above"), f"{best:.4g}")
    m3.metric(_("Time"), _("{s:.1f} s").format(s=vis.seconds))
    if vis.activation > best and index.images.whole_images:
        st.success(_("The optimized input excites channel {channel} more than any of the {n} images searched: "
                     "{a:.4g} against {b:.4g}.").format(channel=channel, n=f"{len(index.images):,}", a=vis.activation,
                                                         b=best))
    elif vis.activation > best:
        st.success(_("The optimized input excites channel {channel} more than any patch of the photos searched: "
                     "{a:.4g} against {b:.4g}.").format(channel=channel, a=vis.activation, b=best))
    else:
        st.info(_("The best image already excites channel {channel} more ({b:.4g} against {a:.4g}): early filters "
                  "look for simple patterns that real images contain almost perfectly. Try more steps.").format(
            channel=channel, a=vis.activation, b=best))
    layout.chart(lookfor_plots.snapshots_figure(vis), key="lf_snapshots")
    a, b = st.columns([1, 2])
    with a:
        layout.chart(maps.image_figure(vis.image, title=_("The optimized input ({h}×{w})").format(
            h=vis.image.shape[0], w=vis.image.shape[1]), height=320), key="lf_final")
    with b:
        layout.chart(lookfor_plots.history_figure(vis, best=best), key="lf_history")
        st.caption(_("Jagged while every step sees the input shifted, scaled and rotated; smooth in the last "
                     "steps, which see it as it is."))

# ---------------------------------------------------------------------------- layer by layer
st.subheader(_("3. Layer by layer"))
stages = [overview[0], overview[len(overview) // 2], overview[-1]] if len(overview) >= 3 else overview
st.markdown(_("The same optimization for a few channels of the first, a middle and the last stage ({stages}): "
              "edges and colours become textures, then parts of objects. That is the lecture notes' claim, "
              "shown.").format(stages=", ".join(stages)))
row_settings = lookfor.default_settings(card.input_shape, quick=True)
row_key = tuple(sorted(row_settings.items()))
picks = lookfor_stage_row(kind, name, ckpt_bytes, tuple(stages), 5)
rows = {s: lookfor_visualization(kind, name, ckpt_bytes, s, tuple(picks[s]), row_key, compute=False)
        for s in stages}
if any(v is None for v in rows.values()):
    slot = st.empty()
    if slot.button(_("Optimize the row ({n} channels)").format(n=sum(len(p) for p in picks.values())),
                   key="lf_row"):
        bar = st.empty()
        for i, s in enumerate(stages):
            def on_row(done: int, total: int, i=i, s=s) -> None:
                bar.progress((i + done / total) / len(stages), text=_("{layer}: step {done} of {total}").format(
                    layer=s, done=done, total=total))

            rows[s] = lookfor_visualization(kind, name, ckpt_bytes, s, tuple(picks[s]), row_key,
                                                  progress=on_row)
        bar.empty()
        slot.empty()
    else:
        st.caption(_("Each stage's channels are optimized together, in one batch."))
if all(v is not None for v in rows.values()):
    layout.chart(lookfor_plots.row_figure(rows), key="lf_row_fig")
