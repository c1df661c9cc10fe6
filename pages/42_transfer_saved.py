"""Transfer learning | Saved comparisons | :material/folder_open:

Reopen saved transfer-learning comparisons and overlay them: e.g. the same strategies with 5, 20 and
100 labels per class, or VGG16 against ResNet-18.
"""

from pathlib import Path

import pandas as pd
import streamlit as st

from cnnviz import training, transfer
from cnnviz.i18n import _
from cnnviz.plots import transfer as tplots
from dashboard import layout, session
from dashboard.transfer import transfer_comparison

st.title(_("Saved comparisons"))
early = layout.early_figure()  # on a projector the curves come first; the choice of comparisons follows them
st.markdown(_("Every comparison run on *Compare strategies* is saved. Overlay several to see, for example, how the "
            "gap between *from scratch* and *frozen backbone* closes as the number of labels per class grows. "
            "Colour is the strategy; the line style is the comparison."))

def delete_comparisons(paths: list, results: dict) -> None:
    """An expander that deletes chosen comparisons (damaged ones too): each student's runs and comparisons share one
    disk quota on the server."""
    names = {str(p): (f"{results[str(p)].title} · " if str(p) in results else "") + p.parent.name for p in paths}

    def delete() -> None:  # a callback: it runs before the widgets are drawn again
        for p in st.session_state.get("tls.delete", []):
            try:
                transfer.delete_comparison(p, root=session.training_runs_folder())
            except (ValueError, OSError) as err:
                st.session_state["tls.delete_error"] = str(err)
        st.session_state["tls.delete"] = []

    with st.expander(_("Delete comparisons")):
        doomed = st.multiselect(_("Comparisons to delete"), list(names), format_func=names.get, key="tls.delete")
        st.button(_("Delete"), icon=":material/delete:", disabled=not doomed, on_click=delete, key="tls.delete_button")
        if err := st.session_state.pop("tls.delete_error", None):
            st.error(err)


# Only this session's comparisons (or, read-only, those of a share link): other students' work is theirs (the
# teacher sees every run on the Class page)
shared = session.shared_runs_folder()
if shared:
    st.info(_("You are looking at comparisons someone shared with you: read-only."), icon=":material/visibility:")
paths = transfer.list_comparisons(root=shared or session.training_runs_folder())
results: dict[str, transfer.ComparisonResult] = {}
damaged: dict[str, str] = {}  # path -> why it cannot be drawn
for p in paths:
    try:
        results[str(p)] = transfer_comparison(str(p), p.stat().st_mtime)
    except (ValueError, OSError) as err:
        damaged[str(p)] = str(err)
if damaged:
    st.warning("\n".join(f"- `{Path(p).parent.name}`: {why}" for p, why in damaged.items()),
               icon=":material/broken_image:")
if not shared and paths:
    delete_comparisons(paths, results)
if not results:
    st.info(_("No saved comparison yet: run one on *Compare strategies*."), icon=":material/info:")
    st.stop()
if not shared:
    session.share_box("transfer_saved")


def label(path: str) -> str:
    r = results[path]
    state = transfer.comparison_state(r)  # a comparison still running, or cut short, says so
    return f"{r.created.replace('T', ' ').rstrip('Z')} · {r.title}" + (
        f" ({training.status_label(state)})" if state != "finished" else "")


chosen = st.multiselect(_("Comparisons"), list(results), default=list(results)[:2], format_func=label, key="tls.chosen")
if not chosen:
    st.info(_("Choose at least one comparison."))
    st.stop()
picked = [results[p] for p in chosen]
names = [f"#{i + 1}" for i in range(len(picked))]
st.markdown("\n".join(f"- **{n}** {label(p)}" for n, p in zip(names, chosen)))

x = st.radio(_("x axis"), ["epoch", "time"], horizontal=True, key="tls.x",
             format_func=lambda v: _("epoch") if v == "epoch" else _("wall-clock time"))
layout.chart(tplots.accuracy_figure(picked, x=x, labels=names), width="stretch", key="tls_acc",
             where=layout.main_figure(early=early))

if len({r.config.shots for r in picked}) >= 2:
    try:
        layout.chart(tplots.shots_figure(picked), width="stretch", key="tls_shots")
        st.caption(_("The more labels, the less a pretrained backbone matters: compare comparisons that differ only in "
                   "the number of labelled images per class (same source, target and epochs)."))
    except ValueError as err:
        st.info(str(err))

labels = transfer.results.ROW_LABELS
rows = [{_("comparison"): n, **row} for n, r in zip(names, picked) for row in transfer.labelled_rows(r)]
layout.table(pd.DataFrame(rows), percents=[_(labels[k]) for k in transfer.results.PERCENT_COLUMNS],
             counts=[_(labels[k]) for k in transfer.results.COUNT_COLUMNS])

which = st.selectbox(_("Weight changes of"), range(len(picked)), format_func=lambda i: f"{names[i]} {picked[i].title}",
                     key="tls.which")
try:
    layout.chart(tplots.weight_change_figure(picked[which]), width="stretch", key="tls_changes")
except ValueError as err:
    st.info(str(err))
with st.expander(_("Settings of the chosen comparisons")):
    layout.table(pd.DataFrame([{_("comparison"): n, **{k: str(v) for k, v in r.config.to_dict().items()}}
                               for n, r in zip(names, picked)]))
