"""Transfer learning | Compare strategies | :material/compare_arrows:

Reuse a pretrained backbone: from scratch vs frozen base + new head vs fine-tuning the last block or
everything, on the same target data with the same budget. Runs in the background; results are saved.
"""


import pandas as pd
import streamlit as st

import cnnviz
from cnnviz import training, transfer
from cnnviz.data import class_label
from cnnviz.i18n import _, ngettext
from cnnviz.plots import transfer as tplots
from dashboard import layout, session
from dashboard.transfer import session_comparisons, start_transfer_job, transfer_job, transfer_zip

st.title(_("Transfer learning: compare strategies"))
job = transfer_job()  # also one this browser started before a reload or in another tab
busy = job is not None and job.running
# on a projector the comparison (under way, or the latest one) comes first, the set-up under it; a session without
# one shows the set-up alone
early = layout.early_figure() if job is not None or session_comparisons(session.training_runs_folder()) else None
st.markdown(
    _("A network trained on one task has learnt filters (edges, textures, parts) that are useful for other tasks. "
    "**Transfer learning** keeps that trained *convolutional base* and puts a **new head** (here dense 128 → 64 → "
    "classes, as in the lecture notes) on top for the new classes. How much of the base should keep learning? "
    "Try the four answers on the same images, the same number of epochs and the same learning rate:")
)
cols = st.columns(4)
for col, s in zip(cols, transfer.STRATEGIES.values()):
    col.markdown(f"**{_(s.title)}**  \n{_(s.description)}")

IMAGENET = list(transfer.IMAGENET_BACKBONES)
TARGETS_FOR = {"heldout_cnn": ["fashion_heldout", "mnist", "folder"], "shipped_cnn": ["mnist", "folder"],
               "efficientnet_lite0": ["fashion_mnist", "folder", "cifar10", "mnist"]}


def own_image_size(source: str) -> int:
    """The image size an ImageNet source starts at: 64 for EfficientNet-Lite0, the notes' 32 for the others."""
    return 64 if source == "efficientnet_lite0" else 32


def source_chosen() -> None:
    """A source brings its own image size, as a preset brings its settings (not the one chosen for another)."""
    st.session_state["tl.image_size"] = own_image_size(st.session_state["tl.source"])


# ---------------------------------------------------------------------------- 1 · source and target
st.subheader(_("1 · Source and target"))
left, right = st.columns(2)
with left:
    source = st.radio(_("Pretrained source (the backbone)"), list(transfer.SOURCES), key="tl.source",
                      format_func=lambda s: _(transfer.SOURCES[s][0]), disabled=busy, on_change=source_chosen)
    missing = False
    if source in IMAGENET:
        ok, msg = transfer.imagenet_status(source)
        if ok:
            st.success(msg, icon=":material/check_circle:")
        else:
            st.warning(msg, icon=":material/cloud_off:")
            missing = True
        if source == "efficientnet_lite0":
            st.caption(_("Installed with cnnviz: no download. Fashion-MNIST's grey 28×28 images are enlarged and "
                         "repeated on the three colour channels. *Frozen backbone + new head* computes the base's "
                         "features of every image once and trains the head on them: each of its epochs costs almost "
                         "nothing."))
    elif source == "heldout_cnn":
        st.caption(_("The project's 3-conv CNN is trained **here**, on the Fashion-MNIST classes you pick below, before "
                   "the comparison (about a minute the first time, then reused from the runs folder). It never sees "
                   "the other classes, so transferring to them is an honest test."))
    elif source == "shipped_cnn":
        st.caption(_("The CNN shipped with cnnviz was trained on all 10 Fashion-MNIST classes, so it is offered for "
                     "MNIST's handwritten digits (clothes to digits: a new task for its filters) and your own images; "
                     "on Fashion-MNIST it would have seen the 'new' classes already."))
with right:
    targets = TARGETS_FOR.get(source, ["cifar10", "mnist", "fashion_mnist", "folder"])
    if st.session_state.get("tl.target") not in targets:
        st.session_state["tl.target"] = targets[0]
    target = st.selectbox(_("Target data (the new task)"), targets, key="tl.target",
                          format_func=lambda t: _(transfer.TARGETS[t]), disabled=busy)
    source_classes: tuple[int, ...] = (0, 1, 2, 3, 4)
    user_data = None
    arch = transfer.SOURCES[source][1]
    if source == "heldout_cnn" and target == "fashion_heldout":
        fashion = cnnviz.DATASETS["fashion_mnist"].classes
        picked = st.multiselect(_("Classes the source is pretrained on"), list(range(10)), default=[0, 1, 2, 3, 4],
                                format_func=lambda i: class_label(fashion[i]), key="tl.source_classes", disabled=busy)
        source_classes = tuple(sorted(picked))
        held = [class_label(fashion[i]) for i in range(10) if i not in source_classes]
        st.caption(_("Held-out target classes: {classes}").format(
            classes=", ".join(held) if held else _("none: leave some classes out")))
    if target == "folder":
        upload = st.file_uploader(_("A zip with one folder per class (e.g. cats/…, dogs/…)"), type=["zip"],
                                  key="tl.zip", disabled=busy)
        if upload is not None:
            c = 3 if arch in IMAGENET else 1
            side = int(st.session_state.get("tl.image_size", own_image_size(source))) if arch in IMAGENET else 28
            try:
                user_data = transfer_zip(upload.getvalue(), (side, side), c)
                counts = user_data.labels.bincount(minlength=len(user_data.classes)).tolist()
                st.caption(_("{n} images in {k} classes: {counts}").format(
                    n=len(user_data), k=len(user_data.classes),
                    counts=", ".join(f"{name} ({c})" for name, c in zip(user_data.classes, counts))))
            except ValueError as err:
                st.error(str(err))
        else:
            st.caption(_("30 % of each class is kept aside for testing; the rest (up to the number of labels per class "
                       "below) is for training."))
    elif target in ("cifar10", "mnist"):
        ok, where = cnnviz.dataset_status(target)
        if not ok:
            st.warning(_("{name} is not here ({where}). Tick *Download what is missing* (needs network), or copy it "
                         "there from a machine that has network, or use the bundled Fashion-MNIST or your own "
                         "images.").format(name=cnnviz.DATASETS[target].title, where=where), icon=":material/cloud_off:")
            missing = True
download = missing and st.checkbox(_("Download what is missing (needs network)"), key="tl.download", disabled=busy)

# ---------------------------------------------------------------------------- 2 · budget
st.subheader(_("2 · Budget: the same for every strategy"))
b = st.columns(5)
shots = b[0].select_slider(_("Labelled images per class"), [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], value=20,
                           key="tl.shots", disabled=busy)
epochs = b[1].slider(_("Epochs"), 1, 30, 10, key="tl.epochs", disabled=busy)
lr = b[2].select_slider(_("Learning rate (Adam)"), [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], value=1e-3, key="tl.lr",
                        format_func=lambda v: f"{v:g}", disabled=busy)
batch = b[3].select_slider(_("Batch size"), [8, 16, 32, 64, 128], value=16, key="tl.batch", disabled=busy,
                           help=_("With few labelled images an epoch is only a few steps: small batches give more steps."))
image_size = 28
if arch in IMAGENET:
    st.session_state.setdefault("tl.image_size", own_image_size(source))
    image_size = b[4].select_slider(_("Image size (pixels)"), [32, 64, 96, 128, 160, 224], key="tl.image_size",
                                    disabled=busy,
                                    help=_("The notes use 32×32 (CIFAR-10's size). Bigger is closer to ImageNet's "
                                         "224×224 but much slower on a CPU."))
else:
    b[4].metric(_("Image size"), "28×28")
st.caption(_("The notes' point, measured: run the same comparison with 5, 20 and 100 labelled images per class; "
             "*Saved comparisons* then draws each strategy's accuracy against the number of labels (a pretrained "
             "backbone wins when labels are few)."))
strategies = st.multiselect(_("Strategies"), list(transfer.STRATEGIES), default=list(transfer.STRATEGIES),
                            format_func=lambda s: _(transfer.STRATEGIES[s].title), key="tl.strategies", disabled=busy)

config = transfer.ComparisonConfig(
    source=source, target=target, strategies=tuple(strategies), source_classes=source_classes, shots=shots,
    test_per_class=100, epochs=epochs, batch_size=batch, lr=lr, image_size=image_size)

run_col, stop_col, _spare = st.columns([1, 1, 4])
if run_col.button(_("Run comparison"), type="primary", icon=":material/play_arrow:", disabled=busy):
    try:
        config.validate()
        if source in IMAGENET and not download and not transfer.imagenet_status(source)[0]:
            raise ValueError(transfer.imagenet_status(source)[1])
        if target == "folder" and user_data is None:
            raise ValueError(_("upload a zip of your images first (one folder per class)"))
        start_transfer_job(config, user_data=user_data, download=download)
    except ValueError as err:  # QueueFull too
        st.error(str(err))
    else:
        st.rerun()  # draw the page again with the settings locked and the live view on
if stop_col.button(_("Stop"), icon=":material/stop:", disabled=not busy):
    job.stop()
    st.toast(_("Stopping after the current step …"))


# ---------------------------------------------------------------------------- 3 · results
def table_formats() -> dict:
    """``layout.table``'s percent and count columns of ``transfer.labelled_rows``."""
    labels = transfer.results.ROW_LABELS
    return {"percents": [_(labels[k]) for k in transfer.results.PERCENT_COLUMNS],
            "counts": [_(labels[k]) for k in transfer.results.COUNT_COLUMNS]}


def draw_result(result: transfer.ComparisonResult, key: str = "tl") -> None:
    """One comparison's results; the one under 3 · Results (``key`` "tl") is the page's main figure."""
    st.caption(_("Source: {source}. Target: {k} classes ({classes}), {n_train} training and {n_test} test "
                 "images.").format(source=result.source_info, k=len(result.classes),
                                   classes=", ".join(class_label(c) for c in result.classes),
                                   n_train=result.train_size, n_test=result.test_size))
    state = transfer.comparison_state(result)
    if state == "interrupted":
        st.warning(_("This comparison was interrupted: the server stopped while it trained. The strategies it "
                     "finished are kept below; run it again for the rest."), icon=":material/warning:")
    elif state != "finished":
        st.warning(_("This comparison was {status}: {message}").format(
            status=training.status_label(state), message=result.message))
    if not result.runs:
        return
    m = st.columns(len(result.runs))
    best = max(r.final_acc for r in result.runs)
    for col, r in zip(m, result.runs):
        marker = " ★" if r.final_acc == best and len(result.runs) > 1 else ""
        col.metric(r.title, f"{r.final_acc:.1%}{marker}",
                   help=ngettext("test accuracy after {n} epoch; {trainable:,} of {total:,} parameters trained",
                                 "test accuracy after {n} epochs; {trainable:,} of {total:,} parameters trained",
                                 len(r.epochs)).format(n=len(r.epochs), trainable=r.counts.trainable,
                                                        total=r.counts.total))
    figure = layout.main_figure(early=early) if key == "tl" else st.container()
    by_epoch, by_time = figure.tabs([_("Accuracy vs epoch"), _("Accuracy vs wall time")])
    layout.chart_in(by_epoch, tplots.accuracy_figure(result, x="epoch"), width="stretch", key=f"{key}_by_epoch")
    layout.chart_in(by_time, tplots.accuracy_figure(result, x="time"), width="stretch", key=f"{key}_by_time")
    st.markdown(_("**Parameters and results per strategy** (frozen = kept from the source, not trained)"))
    layout.table(pd.DataFrame(transfer.labelled_rows(result)), **table_formats())
    if any(r.changes for r in result.runs):
        layout.chart(tplots.weight_change_figure(result), width="stretch", key=f"{key}_changes")
        st.latex(r"\text{moved} = \frac{\lVert W_\text{after} - W_\text{before} \rVert}{\lVert W_\text{before} \rVert}")
        st.caption(_("Each cell compares a layer's weights after training with where they started (the pretrained "
                     "weights, or random ones for *from scratch*). Frozen layers stay at exactly 0. When fine-tuning, "
                     "the first layers usually move least: general edge/texture filters are kept, the last layers "
                     "adapt."))
    if result.path:
        st.caption(_("Saved: reopen and compare it on *Saved comparisons*."))


def draw_job(found: list) -> None:
    job = transfer_job()
    if job is None and found:  # e.g. after a reload or a server restart: the latest one, as it stands on disk
        draw_result(found[0][1])
        return
    if job is None:
        st.info(_("Choose a source, a target and a budget, then press **Run comparison**. The strategies train one "
                "after the other in the background; you can keep using the other pages."), icon=":material/info:")
        return
    p = job.snapshot()
    if job.queued and (place := job.queue_place()) is not None:
        st.session_state["tl.was_running"] = True
        st.info(_("Waiting for a free place: position {position} of {waiting}. Every run on this server goes through "
                  "one queue, so the computer stays fast for everyone.").format(
            position=place.position, waiting=place.waiting), icon=":material/hourglass_top:")
        return
    if job.running:
        st.session_state["tl.was_running"] = True
        h = p.history
        if p.phase == "source":
            st.progress(h.progress if h is not None else 0.0,
                        text=_("Pretraining the source CNN on its classes (first time only, then reused)")
                        + (f": {h.progress:.0%}" if h is not None else " …"))
        elif p.phase == "training" and p.strategy:
            frac = (p.index + (h.progress if h is not None else 0.0)) / max(p.total, 1)
            text = _("Strategy {i} of {n}: {strategy}").format(i=p.index + 1, n=p.total,
                                                                 strategy=_(transfer.STRATEGIES[p.strategy].title))
            if h is not None:
                text += ", " + _("epoch {n}").format(n=len(h.epochs) + 1 if h.progress < 1 else len(h.epochs))
            st.progress(frac, text=text)
        else:
            st.progress(0.0, text=p.message or _("starting …"))
        runs = tplots.live_results(p)
        if runs:
            layout.chart(tplots.accuracy_figure(runs, x="epoch"), width="stretch", key="tl_live",
                         where=layout.main_figure(early=early))
        return
    if st.session_state.pop("tl.was_running", False):
        st.rerun()  # the whole page: enable the settings again
    if job.error:
        st.error(job.error)
    elif job.result is not None:
        draw_result(job.result)


def draw_comparisons(found: list) -> None:
    """This browser's comparisons on the server, with their state: a reload, another tab or a restart loses none."""
    if not found:
        return
    st.subheader(_("Your comparisons"))
    cols = {"when": _("started (UTC)"), "what": _("comparison"), "state": _("status"), "done": _("strategies done"),
            "best": _("best test accuracy")}
    layout.table([{cols["when"]: r.created.replace("T", " ").rstrip("Z"), cols["what"]: r.title,
                   cols["state"]: training.status_label(transfer.comparison_state(r)),
                   cols["done"]: f"{sum(x.status == 'finished' for x in r.runs)} / {len(r.config.strategies)}",
                   cols["best"]: max((x.best_acc for x in r.runs), default=None)} for _p, r in found],
                 percents=[cols["best"]])
    job = transfer_job()
    shown = job.folder if job is not None else found[0][0].parent  # drawn under 3 · Results already
    earlier = [(p, r) for p, r in found if p.parent != shown]
    if earlier:
        with st.expander(_("Show an earlier comparison")):
            pick = st.selectbox(_("Comparison"), range(len(earlier)), key="tl.earlier",
                                format_func=lambda i: f"{earlier[i][1].created.replace('T', ' ').rstrip('Z')} · "
                                                      f"{earlier[i][1].title}")
            draw_result(earlier[pick][1], key="tl_earlier")


def draw_results() -> None:
    """The comparison under way (or the latest), then the list of them all: redrawn together while one runs."""
    found = session_comparisons(session.training_runs_folder())
    draw_job(found)
    draw_comparisons(found)


st.subheader(_("3 · Results"))
layout.live(draw_results, running=busy)

layout.reading_notes(
    _("What to expect, and why"),
    _("- **Few labels per class**: a frozen pretrained base with a new head usually beats training from scratch by "
      "far: only the head's few weights must be fitted, and the base already turns images into useful features.\n"
      "- **Fine-tuning** can do better still, when there are enough labels and the learning rate is small; with "
      "very few labels or a large learning rate it may *forget* what the base knew.\n"
      "- **Many labels**: training from scratch catches up, because the data alone is then enough.\n"
      "- **Wall time**: a frozen base needs no gradients for its weights, so each epoch is cheaper; the *vs wall "
      "time* tab shows what that buys.\n"
      "- The right backbone and strategy depend on the task: how close the new images are to the source's, and "
      "how many labels you have. That is the notes' conclusion; here you can check it."))
