"""How a page is laid out: presenter mode (its switch and CSS), the page-wide CSS, the main-figure container, and
the figure, table and spinner helpers every page draws with.
"""

from __future__ import annotations

import functools

import streamlit as st

from cnnviz.i18n import _


def spinner(message: str):
    """Decorator: show ``_(message)`` while a cached function computes.

    Streamlit's ``show_spinner="…"`` text is fixed when the module is imported, before a session's language is
    known; this one is translated at call time. (st.spinner shows only after a short delay, so cache hits stay quiet.)
    """

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with st.spinner(_(message)):
                return fn(*args, **kwargs)

        inner.clear = fn.clear  # type: ignore[attr-defined]
        return inner

    return wrap


PRESENTER_KEY = "cnnviz.presenter"  # presenter mode on/off (also ?present=1 in the URL)
PRESENTER_SWITCH_KEY = "cnnviz.presenter_switch"
PRESENTER_FONT = 20  # figure text in presenter mode (plotly's default is 12)
PRESENTER_CSS = """<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 20px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stWidgetLabel"] p, [data-testid="stCaptionContainer"] { font-size: 1.15rem; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 1.9rem; }
[data-testid="stMetricLabel"] * { white-space: normal !important; }
h1 { font-size: 2rem !important; padding: 0 0 0.3rem !important; }
h2 { font-size: 1.6rem !important; } h3 { font-size: 1.35rem !important; }
[data-testid="stHeader"], [data-testid="stToolbar"] { height: 3rem; min-height: 3rem; }
[data-testid="stMainBlockContainer"] { padding: 3.1rem 1.5rem 3rem; max-width: none; }
[data-testid="stTable"] td, [data-testid="stTable"] th { font-size: 1.05rem; }
</style>"""


# Always on: long page-link labels (Home's tour) and long metric values wrap instead of being cut off at the column's
# edge, which matters most on a phone; Korean breaks lines between words, not inside them (Latin text is unaffected).
LAYOUT_CSS = """<style>
[data-testid="stMain"] :is(h1, h2, h3, h4, p, li) { word-break: keep-all; overflow-wrap: break-word; }
[data-testid="stMain"] [data-testid="stPageLink-NavLink"] span,
[data-testid="stMain"] [data-testid="stPageLink-NavLink"] p {
  white-space: normal; overflow: visible; line-height: 1.35;
}
[data-testid="stMetricValue"] > div, [data-testid="stMetricValue"] p { white-space: normal; overflow-wrap: anywhere; }
</style>"""


def use_presenter() -> bool:
    """Presenter mode (larger text and figure labels, for a projector) from the session or ?present=1."""
    given = st.query_params.get("present")
    on = given == "1" if given in ("0", "1") else bool(st.session_state.get(PRESENTER_KEY, False))
    st.session_state[PRESENTER_KEY] = on
    st.html(LAYOUT_CSS)
    if on:
        st.query_params["present"] = "1"
        st.html(PRESENTER_CSS)
    elif "present" in st.query_params:
        del st.query_params["present"]
    return on


def presenter() -> bool:
    """True in presenter mode: pages may choose larger views."""
    return bool(st.session_state.get(PRESENTER_KEY, False))


def _on_presenter_switch() -> None:
    on = bool(st.session_state.get(PRESENTER_SWITCH_KEY))
    st.session_state[PRESENTER_KEY] = on
    st.query_params["present"] = "1" if on else "0"


def presenter_switch() -> None:
    st.session_state[PRESENTER_SWITCH_KEY] = presenter()
    st.toggle(_("Presenter mode"), key=PRESENTER_SWITCH_KEY, on_change=_on_presenter_switch,
              help=_("Larger text and figure labels, for a projector. Kept in the page's address."))


MAIN_FIGURE_KEY = "main_figure"  # a page's main figure sits in st.container(key=…): CSS class st-key-main_figure


def main_figure(where=None):
    """The container for a page's main figure (the thing being taught). A browser test checks that it starts in the
    first screen of a 1280×720 projector in presenter mode."""
    return (where if where is not None else st).container(key=MAIN_FIGURE_KEY)


def figure_first(where=None):
    """``(figure, rest)``: containers for a page's main figure and for what normally comes before it (formulas,
    numbers, explanations). In presenter mode the figure's comes first, so a projector shows it without scrolling;
    otherwise the page keeps its reading order."""
    box = where if where is not None else st
    if presenter():
        figure = main_figure(box)
        return figure, box.container()
    rest = box.container()
    return main_figure(box), rest


def explanation(label: str):
    """The container for a page's opening explanation: in place normally, folded into an expander titled ``label``
    in presenter mode (the figure must reach a projector's first screen; the teacher says it aloud)."""
    return st.expander(label) if presenter() else st.container()


def table(data, *, where=None, counts=(), **dataframe_kwargs):
    """A read-only table: ``st.dataframe`` normally; in presenter mode an HTML ``st.table``, whose text grows with the
    projector's larger type (the data grid draws on a canvas at a fixed size). ``counts`` names the columns of whole
    numbers, written there with thousands separators."""
    box = where if where is not None else st
    if not presenter():
        return box.dataframe(data, hide_index=True, width="stretch", **dataframe_kwargs)
    import pandas as pd

    shown = data.copy()
    for column in shown.columns:  # st.table reads cells as Markdown: "1. conv" is no list
        if column not in counts and not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].astype(str).str.replace(r"^(\d+)\.", r"\1\\.", regex=True)
        elif column in counts:
            shown[column] = pd.to_numeric(shown[column])
    formats = {c: "{:,.0f}" for c in counts}
    formats.update({c: "{:g}" for c in shown.columns if c not in formats and shown[c].dtype.kind == "f"})
    return box.table(shown.style.format(formats, na_rep="—"), hide_index=True)


def chart_in(where, fig, *, key: str | None = None, **kwargs):
    """``chart`` drawn in a column or container: ``chart_in(col, fig, key=…)``."""
    return chart(fig, key=key, where=where, **kwargs)


def chart(fig, *, key: str | None = None, where=None, **kwargs):
    """``st.plotly_chart`` with the dashboard's figure defaults: the toolbar beside the plot (never over a title, also
    on a phone), and larger labels in presenter mode. Returns what st.plotly_chart returns (selection events)."""
    import re

    import plotly.graph_objects as go

    fig = go.Figure(fig)  # a copy: cached figures stay as they are
    fig.update_layout(modebar={"orientation": "v"})
    if presenter():
        fig.update_layout(font={"size": PRESENTER_FONT}, title_font_size=PRESENTER_FONT + 4,
                          legend_font_size=PRESENTER_FONT - 2)
        fig.update_annotations(font_size=PRESENTER_FONT - 2)
        if fig.layout.title.text:  # a subtitle written as <span style='font-size:11px'> in the title grows too
            fig.update_layout(title_text=re.sub(
                r"font-size:\s*(\d+)px", lambda m: "font-size:{}px".format(max(int(m[1]), PRESENTER_FONT - 2)),
                fig.layout.title.text))
            # the larger title needs a larger top margin, or its lines run into the plot (the plot keeps its size)
            lines = fig.layout.title.text.count("<br>") + 1
            need = int((PRESENTER_FONT + 4) * 1.3 * lines) + 16
            top = fig.layout.margin.t
            if top is not None and top < need:
                fig.update_layout(margin_t=need, height=(fig.layout.height or 450) + need - top)
        # the dashboard's plotly theme sets tick and axis-title sizes of its own: override them too
        fig.update_xaxes(tickfont_size=PRESENTER_FONT - 2, title_font_size=PRESENTER_FONT)
        fig.update_yaxes(tickfont_size=PRESENTER_FONT - 2, title_font_size=PRESENTER_FONT)
        for trace in fig.data:
            if "colorbar" in trace:
                trace.colorbar.tickfont.size = PRESENTER_FONT - 2
        for trace in fig.data:  # numbers written in heatmap cells: as large as the cells allow, up to 18 px
            if trace.type == "heatmap" and trace.texttemplate and trace.z is not None and len(trace.z):
                margin = fig.layout.margin
                inner = (fig.layout.height or 450) - (margin.t or 0) - (margin.b or 0)
                cell = inner / len(trace.z)
                trace.textfont.size = max(trace.textfont.size or 12, min(PRESENTER_FONT - 2, int(0.5 * cell)))
    kwargs.setdefault("config", {"displaylogo": False})
    return (where if where is not None else st).plotly_chart(fig, key=key, **kwargs)


LIVE_EVERY_S = 1.0  # how often a page redraws a job that runs in the background
# how often it redraws a live figure: a figure's rerun, its JSON and the browser's plotly redraw cost far more than a
# few numbers, and at this cadence they stay within 5 % of a core while a run trains on the same CPU
LIVE_FIGURE_EVERY_S = 3.0


def live(draw, *, running: bool, every: float = LIVE_EVERY_S) -> None:
    """Draw ``draw()`` as a fragment that redraws itself every ``every`` seconds while ``running`` (a training run or
    comparison in the background), and once otherwise."""
    st.fragment(run_every=every if running else None)(draw)()


def reading_notes(title: str, notes: str, *, formula: str | None = None) -> None:
    """A folded list of how to read a page's live view (``notes``: Markdown, translated), with a formula under it."""
    with st.expander(title):
        st.markdown(notes)
        if formula:
            st.latex(formula)
