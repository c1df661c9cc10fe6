"""Transfer learning | Saved comparisons | :material/folder_open:

Reopen saved transfer-learning comparisons and overlay them: e.g. the same strategies with 5, 20 and
100 labels per class, or VGG16 against ResNet-18.
"""

import pandas as pd
import streamlit as st

from cnnviz import transfer
from cnnviz.plots import transfer as tplots
from dashboard import state

st.title("Saved comparisons")
st.markdown("Every comparison run on *Compare strategies* is saved. Overlay several to see, for example, how the "
            "gap between *from scratch* and *frozen backbone* closes as the number of labels per class grows. "
            "Colour is the strategy; the line style is the comparison.")

everywhere = st.toggle("Show the comparisons of every session on this computer", key="tls.everywhere",
                       help="By default only this browser session's comparisons are listed.")
root = transfer.runs_root() if everywhere else state.training_runs_folder()
paths = transfer.list_comparisons(root=root, everywhere=everywhere)
results: dict[str, transfer.ComparisonResult] = {}
for p in paths:
    try:
        results[str(p)] = state.transfer_comparison(str(p), p.stat().st_mtime)
    except (ValueError, OSError) as err:
        st.warning(f"Skipped {p}: {err}")
if not results:
    st.info("No saved comparison yet: run one on *Compare strategies* (or switch on *every session*).",
            icon=":material/info:")
    st.stop()


def label(path: str) -> str:
    r = results[path]
    return f"{r.created.replace('T', ' ').rstrip('Z')} · {r.title}"


chosen = st.multiselect("Comparisons", list(results), default=list(results)[:2], format_func=label, key="tls.chosen")
if not chosen:
    st.info("Choose at least one comparison.")
    st.stop()
picked = [results[p] for p in chosen]
names = [f"#{i + 1}" for i in range(len(picked))]
st.markdown("\n".join(f"- **{n}** {label(p)}" for n, p in zip(names, chosen)))

x = st.radio("x axis", ["epoch", "time"], horizontal=True, key="tls.x",
             format_func=lambda v: "epoch" if v == "epoch" else "wall-clock time")
st.plotly_chart(tplots.accuracy_figure(picked, x=x, labels=names), width="stretch")

if len({r.config.shots for r in picked}) >= 2:
    try:
        st.plotly_chart(tplots.shots_figure(picked), width="stretch")
        st.caption("The more labels, the less a pretrained backbone matters: compare comparisons that differ only in "
                   "the number of labelled images per class (same source, target and epochs).")
    except ValueError as err:
        st.info(str(err))

rows = [{"comparison": n, **row} for n, r in zip(names, picked) for row in transfer.result_rows(r)]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
             column_config={k: st.column_config.NumberColumn(format="percent")
                            for k in ("test acc. before", "test acc. final", "test acc. best")}
             | {k: st.column_config.NumberColumn(format="localized") for k in ("total params", "trainable", "frozen")})

which = st.selectbox("Weight changes of", range(len(picked)), format_func=lambda i: f"{names[i]} {picked[i].title}",
                     key="tls.which")
try:
    st.plotly_chart(tplots.weight_change_figure(picked[which]), width="stretch")
except ValueError as err:
    st.info(str(err))
with st.expander("Settings of the chosen comparisons"):
    st.dataframe(pd.DataFrame([{"comparison": n, **{k: str(v) for k, v in r.config.to_dict().items()}}
                               for n, r in zip(names, picked)]), hide_index=True)
