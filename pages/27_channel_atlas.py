"""Inside a CNN | Channel atlas | :material/apps:

Every channel of a layer as the input optimized to excite it, in one grid (as OpenAI Microscope shows), computed once
in the background and kept for everyone; each tile leads to that channel's top examples.
"""

import streamlit as st

from cnnviz import capture
from cnnviz.background import QueueFull
from cnnviz.i18n import _
from cnnviz.lookfor.atlas import read_atlas
from cnnviz.plots import lookfor as lookfor_plots
from cnnviz.plots import maps
from dashboard import layout, nav, widgets
from dashboard.inside import inside_model_or_stop, inside_model_options
from dashboard.lookfor import atlas_folder, atlas_job, atlas_settings, lookfor_channels, start_atlas

st.title(_("Channel atlas"))
with layout.explanation(_("What is an atlas?")):
    st.markdown(_(
        "*What a filter looks for* optimizes one channel at a time. An atlas does it for **every channel of a "
        "layer** and lays them out in one grid, as OpenAI Microscope does for famous networks: you see at a glance "
        "what a whole layer has learned (edges and colours early, textures in the middle, parts of objects late). "
        "It is computed once, in the background, through the same queue as training runs, and kept on the server: "
        "the next visit, and every other student, finds it ready. Click a tile for that channel's top examples."))

left, right = st.columns(2)
with left:
    kind, name, ckpt_bytes = widgets.model_choice(default=st.query_params.get("model"))  # a link may name it
model, card = inside_model_or_stop(kind, name, ckpt_bytes)
layers = capture.viewable_layers(model)
stages = capture.overview_layers(model)
kinds = {n: type(m).__name__ for n, m in model.named_modules()}
default = stages[len(stages) // 2] if stages else layers[0]
with right:
    layer = st.selectbox(_("Layer"), layers, index=layers.index(default), key="atlas_layer",
                         format_func=lambda n: f"{n} ({kinds[n]})")
try:
    channels = lookfor_channels(kind, name, ckpt_bytes, layer)
except ValueError as err:
    st.error(str(err))
    st.stop()
settings = atlas_settings(card.input_shape)
folder = atlas_folder(kind, name, ckpt_bytes, layer)
model_key = next((k for k, v in inside_model_options().items() if v == (kind, name)), None)
with right:
    st.caption(_("{n} channels, each optimized at {h}×{w} pixels for {steps} steps, {b} at a time.").format(
        n=channels, h=settings["input_shape"][1], w=settings["input_shape"][2], steps=settings["steps"], b=20))


def show_atlas(was_running: bool) -> None:
    atlas = read_atlas(folder)
    job = atlas_job(folder)
    running = job is not None and job.running
    tiles = atlas.tiles if atlas is not None and atlas.channels == channels else {}
    if running:
        place = job.queue_place()
        if place is not None:
            st.info(_("Waiting for a free place in the training queue: number {pos} of {n}.").format(
                pos=place.position, n=place.waiting))
        else:
            st.progress(len(tiles) / max(1, channels), text=_("Optimizing: {done} of {n} channels").format(
                done=len(tiles), n=channels))
    elif job is not None and job.error:
        st.error(job.error)
    if was_running and not running:
        st.rerun()  # the job ended: draw the page in its finished state
    if not tiles and not running:
        return
    with layout.main_figure():
        event = layout.chart(lookfor_plots.atlas_figure(tiles, channels, layer=layer), key="atlas_grid",
                             on_select="rerun", selection_mode="points")
    points = [p for p in (event.selection.points if event else []) if p.get("customdata") is not None]
    mark = repr([p["customdata"] for p in points])
    if points and st.session_state.get("atlas_grid_seen") != mark:  # a new click (the picker below may move on)
        st.session_state["atlas_grid_seen"] = mark
        st.session_state["atlas_channel"] = int(points[0]["customdata"])
        st.rerun()  # the click reran this fragment alone: draw the tile and its link below for that channel
    if atlas is not None and atlas.done:
        st.caption(_("Computed in {s:.0f} s. Click a tile to see that channel's top examples.").format(
            s=atlas.seconds))


job = atlas_job(folder)
running = job is not None and job.running
atlas = read_atlas(folder)
if not running and (atlas is None or not atlas.done or atlas.channels != channels):
    have = len(atlas.tiles) if atlas is not None and atlas.channels == channels else 0
    label = (_("Compute the atlas ({n} channels)").format(n=channels) if not have else
             _("Go on computing the atlas ({have} of {n} done)").format(have=have, n=channels))
    if st.button(label, type="primary", key="atlas_start"):
        try:
            start_atlas(kind, name, ckpt_bytes, layer)
        except QueueFull as err:
            st.error(str(err))
        except ValueError as err:
            st.error(str(err))
        else:
            st.rerun()
    st.caption(_("It runs in the background: you may leave this page and come back."))
layout.live(lambda: show_atlas(running), running=running)
if running and st.button(_("Stop"), key="atlas_stop"):
    job.stop()
    st.rerun()

# ---------------------------------------------------------------------------- one tile
atlas = read_atlas(folder)
if atlas is not None and atlas.tiles:
    st.subheader(_("One channel"))
    have = sorted(atlas.tiles)
    if st.session_state.get("atlas_channel") not in have:
        st.session_state["atlas_channel"] = have[0]
    channel = st.selectbox(_("Channel"), have, key="atlas_channel")
    a, b = st.columns([1, 2])
    with a:
        layout.chart(maps.image_figure(atlas.tiles[channel], title=_("Channel {channel}: activation {a:.3g}").format(
            channel=channel, a=atlas.activations.get(channel, float("nan"))), height=320), key="atlas_tile")
    with b:
        params = {"layer": layer, "channel": str(channel)}
        if model_key is not None:
            params["model"] = model_key
        lookfor_page = nav.page("23_filter_looks_for.py")
        st.page_link(str(lookfor_page.path), label=_("Its top examples on “What a filter looks for”"),
                     icon=":material/visibility:", query_params=params)
        st.caption(_("The real images that excite channel {channel} most, cropped to what it sees.").format(
            channel=channel))
