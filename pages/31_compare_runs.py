"""Training | Compare runs | :material/stacked_line_chart:

Overlay the curves of several runs (SGD against Adam, a high learning rate against a low one,
augmentation on and off) and delete the runs you no longer need.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import runs, training
from cnnviz.plots import training as tplots
from dashboard import state

st.title("Compare runs")
st.caption("Every run you start in the training studio is kept with its settings, curves and checkpoints. "
           "Put several on one chart to see what a setting changes.")

folder = state.training_runs_folder()
job = state.training_job()
running_dir = str(job.options.get("checkpoint_dir")) if job is not None and job.running else None
mine = [r for r in runs.list_runs(folder) if r.history is not None]

REFERENCE = "Shipped Fashion-MNIST CNN (reference)"
reference = None
if (training.PRETRAINED_DIR / "history.json").is_file():
    try:
        reference = training.History.load(training.PRETRAINED_DIR / "history.json")
    except ValueError:
        reference = None

if not mine:
    st.info("No runs yet in this session: start one in the **Training studio**. "
            + ("Meanwhile, here is the curve of the network shipped with cnnviz." if reference else ""))

labels = {f"{i + 1}. {r.title}": r for i, r in enumerate(mine)}
choices = list(labels) + ([REFERENCE] if reference else [])
if not choices:
    st.stop()

if labels:
    rows = []
    for name, r in labels.items():
        h = r.history
        rows.append({"run": name, "status": r.status, "dataset": r.config.dataset if r.config else "",
                     "training images": h.train_size, "epochs done": len(h.epochs),
                     "best test acc": round(h.best_test_acc, 4) if h.best_test_acc is not None else None,
                     "time (s)": round(h.elapsed_s)})
    st.dataframe(rows, hide_index=True)

default = [c for c in choices if c != REFERENCE][-4:] or choices
picked = st.multiselect("Runs to overlay", choices, default=default)
metric = st.radio("Curve", list(tplots.METRICS), format_func=tplots.METRICS.get, horizontal=True)
series = [(name, labels[name].history if name in labels else reference) for name in picked]
if series:
    st.plotly_chart(tplots.compare_figure(series, metric=metric), key="cmp.chart")
else:
    st.info("Pick at least one run to draw.")

with st.expander("What to try"):
    st.markdown(
        "- **SGD against Adam**: same model, same learning rate 0.001. Adam adapts a step size per weight and usually "
        "starts faster; SGD with momentum often catches up with a larger learning rate.\n"
        "- **Learning rate**: 0.0001, 0.001 and 0.01 with the same optimizer show too slow, right and too jumpy.\n"
        "- **Augmentation**: with few training images (1,000), augmentation narrows the gap between training and "
        "test accuracy.")



def delete_picked() -> None:
    for name in st.session_state.get("cmp.delete", []):
        try:
            runs.delete_run(labels[name].path, folder=folder)
        except (ValueError, OSError, KeyError) as err:
            st.session_state["cmp.delete_error"] = f"Could not delete {name}: {err}"
    st.session_state["cmp.delete"] = []


if labels:
    with st.expander("Delete runs"):
        deletable = [n for n in labels if str(labels[n].path) != running_dir]
        doomed = st.multiselect("Runs to delete", deletable, key="cmp.delete")
        st.button("Delete", icon=":material/delete:", disabled=not doomed, on_click=delete_picked)
        if err := st.session_state.pop("cmp.delete_error", None):
            st.error(err)
        if running_dir:
            st.caption("The run that is training now cannot be deleted; stop it first.")
