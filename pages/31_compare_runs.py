"""Training | Compare runs | :material/stacked_line_chart:

Overlay the curves of several runs (SGD against Adam, a high learning rate against a low one,
augmentation on and off) and delete the runs you no longer need.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import runs, training
from cnnviz.i18n import _, ngettext
from cnnviz.plots import compare as compare_plots
from cnnviz.plots import training as tplots
from cnnviz.runs.compare import varying_settings
from dashboard import curves, layout, session
from dashboard.training import training_job

st.title(_("Compare runs"))
early = layout.early_figure()  # on a projector the curves come first; the runs and their table follow them
st.caption(_("Every run you start in the training studio is kept with its settings, curves and checkpoints. "
           "Put several on one chart to see what a setting changes."))

shared = session.shared_runs_folder()  # a read-only link (?share=…) to someone else's runs
folder = shared or session.training_runs_folder()
job = None if shared else training_job()
running_dir = str(job.options.get("checkpoint_dir")) if job is not None and job.running else None
if shared:
    st.info(_("You are looking at runs someone shared with you: read-only."), icon=":material/visibility:")
listed = runs.list_runs(folder)
mine = [r for r in listed if r.history is not None]

REFERENCE = "reference"  # the option key of the shipped network's curve
reference = None
if (training.PRETRAINED_DIR / "history.json").is_file():
    try:
        reference = training.History.load(training.PRETRAINED_DIR / "history.json")
    except ValueError:
        reference = None

if not mine:
    text = _("No runs yet in this session: start one in the **Training studio**.")
    if reference:
        text += " " + _("Meanwhile, here is the curve of the network shipped with cnnviz.")
    st.info(text)


def damaged_runs(damaged: list, folder, *, can_delete: bool) -> None:
    """Runs whose folder is damaged: each with its reason, and (for the owner) a button that deletes them."""
    st.warning(ngettext("{n} run cannot be drawn: its folder is damaged.",
                        "{n} runs cannot be drawn: their folders are damaged.", len(damaged)).format(n=len(damaged))
               + "\n\n" + "\n".join(f"- `{r.name}`: {r.problem}" for r in damaged), icon=":material/broken_image:")
    if can_delete and st.button(ngettext("Delete the damaged run", "Delete the damaged runs", len(damaged)),
                                icon=":material/delete:", key="cmp.delete_damaged"):
        for r in damaged:
            try:
                runs.delete_run(r.path, folder=folder)
            except (ValueError, OSError) as err:
                st.error(_("Could not delete {name}: {err}").format(name=r.name, err=err))
                return
        st.rerun()


# Each run is named by what differs between the runs (e.g. the training-set size), so the legend shows the setting
labels = dict(zip(runs.run_labels(mine), mine))
choices = list(labels) + ([REFERENCE] if reference else [])


def choice_label(name: str) -> str:
    return _("Shipped Fashion-MNIST CNN (reference)") if name == REFERENCE else name


damaged = [r for r in listed if r.problem]
if not choices:
    if damaged:
        damaged_runs(damaged, folder, can_delete=not shared)
    st.stop()

rows = curves.settings_and_results(list(labels.items())) if labels else []

default = [c for c in choices if c != REFERENCE][-4:] or choices
picked = st.multiselect(_("Runs to overlay"), choices, default=default, format_func=choice_label)
metric = st.radio(_("Curve"), list(tplots.METRICS), format_func=lambda m: _(tplots.METRICS[m]), horizontal=True)
view = curves.curve_view("cmp.view")
series = [(choice_label(name), labels[name].history if name in labels else reference) for name in picked]
if series:
    layout.chart(tplots.compare_figure(series, metric=metric, view=view), key="cmp.chart",
                 where=layout.main_figure(early=early))
    curves.history_download(series, key="cmp.csv", file_name="runs")
else:
    st.info(_("Pick at least one run to draw."))
if len(rows) >= 2:
    st.subheader(_("Settings → result"))
    layout.chart(compare_plots.settings_parcoords(rows, varying_settings(rows)), key="cmp.parcoords")
    st.caption(_("One line per run, from its settings (left) to its best and final test accuracy (right). Drag along "
                 "an axis to pick the runs with those values."))

if damaged:  # under the chart: on a projector the curves keep the first screen
    damaged_runs(damaged, folder, can_delete=not shared)

with st.expander(_("What to try")):
    st.markdown(
        _("- **SGD against Adam**: same model, same learning rate 0.001. Adam adapts a step size per weight and "
          "usually starts faster; SGD with momentum often catches up with a larger learning rate.\n"
          "- **Learning rate**: 0.0001, 0.001 and 0.01 with the same optimizer show too slow, right and too jumpy.\n"
          "- **Augmentation**: with few training images (1,000), augmentation narrows the gap between training and "
          "test accuracy."))



def delete_picked() -> None:
    for name in st.session_state.get("cmp.delete", []):
        try:
            runs.delete_run(labels[name].path, folder=folder)
        except (ValueError, OSError, KeyError) as err:
            st.session_state["cmp.delete_error"] = _("Could not delete {name}: {err}").format(name=name, err=err)
    st.session_state["cmp.delete"] = []


if labels and not shared:
    session.share_box("compare_runs")
    with st.expander(_("Delete runs")):
        deletable = [n for n in labels if str(labels[n].path) != running_dir]
        doomed = st.multiselect(_("Runs to delete"), deletable, key="cmp.delete")
        st.button(_("Delete"), icon=":material/delete:", disabled=not doomed, on_click=delete_picked)
        if err := st.session_state.pop("cmp.delete_error", None):
            st.error(err)
        if running_dir:
            st.caption(_("The run that is training now cannot be deleted; stop it first."))
