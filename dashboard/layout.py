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
# The drawing canvas's toolbar appears 2.65rem above the canvas on hover: the canvas's container keeps that room free
# (with the 1rem gap between elements), so the toolbar never covers the pen's settings above it.
LAYOUT_CSS = """<style>
[data-testid="stMain"] :is(h1, h2, h3, h4, p, li) { word-break: keep-all; overflow-wrap: break-word; }
[data-testid="stMain"] [data-testid="stPageLink-NavLink"] span,
[data-testid="stMain"] [data-testid="stPageLink-NavLink"] p {
  white-space: normal; overflow: visible; line-height: 1.35;
}
[data-testid="stMetricValue"] > div, [data-testid="stMetricValue"] p { white-space: normal; overflow-wrap: anywhere; }
[class*="st-key-canvas_room_"] { padding-top: 2.2rem; }
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


def main_figure(where=None, *, early=None):
    """The container for a page's main figure (the thing being taught): ``early`` when given (see
    ``early_figure``), else a new one here. A browser test checks that it fits the first screen of a 1280×720
    projector in presenter mode."""
    if early is not None:
        return early
    return (where if where is not None else st).container(key=MAIN_FIGURE_KEY)


def early_figure(where=None):
    """In presenter mode, the page's main-figure container placed here (call it under the page's title): a
    projector shows the figure first, and the controls and explanations the page writes before drawing it follow
    it. Otherwise None: the figure stays where the page draws it. Draw into ``main_figure(early=…)``."""
    return main_figure(where) if presenter() else None


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


def table(data, *, where=None, counts=(), percents=(), **dataframe_kwargs):
    """A read-only table: ``st.dataframe`` normally; in presenter mode an HTML ``st.table``, whose text grows with the
    projector's larger type (the data grid draws on a canvas at a fixed size). ``data``: a DataFrame or a list of
    row dicts. ``counts`` names the columns of whole numbers (written with thousands separators), ``percents`` the
    columns of shares 0 … 1 (written as percentages), in both modes."""
    import pandas as pd

    box = where if where is not None else st
    data = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
    counts = [c for c in counts if c in data.columns]
    percents = [c for c in percents if c in data.columns]
    if not presenter():
        config = {c: st.column_config.NumberColumn(format="localized") for c in counts}
        config |= {c: st.column_config.NumberColumn(format="percent") for c in percents}
        config |= dataframe_kwargs.pop("column_config", None) or {}
        dataframe_kwargs.setdefault("placeholder", "—")  # a missing value (a damaged run's accuracy), not "None"
        return box.dataframe(data, hide_index=True, width="stretch", column_config=config or None,
                             **dataframe_kwargs)

    shown = data.copy()
    for column in shown.columns:  # st.table reads cells as Markdown: "1. conv" is no list
        if column in counts or column in percents:
            shown[column] = pd.to_numeric(shown[column])
        elif not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].astype(str).str.replace(r"^(\d+)\.", r"\1\\.", regex=True)
    formats = {c: "{:,.0f}" for c in counts} | {c: "{:.2%}" for c in percents}
    formats.update({c: "{:g}" for c in shown.columns if c not in formats and shown[c].dtype.kind == "f"})
    return box.table(shown.style.format(formats, na_rep="—"), hide_index=True)


def _presenter_top_margin(fig) -> None:
    """Room above the plot for the presenter's larger title and subplot titles (the plot keeps its size): the title
    (its subtitle written as <span style='font-size:11px'> grows too) and, under it, the captions of the first row of
    subplots. Plotly centres the title in the top margin and puts the captions at its bottom: with both, the margin
    holds the title's lines and twice the captions' lines, so the two never meet."""
    import re

    title = fig.layout.title.text or ""
    if title:
        title = re.sub(r"font-size:\s*(\d+)px",
                       lambda m: "font-size:{}px".format(max(int(m[1]), PRESENTER_FONT - 2)), title)
        fig.update_layout(title_text=title)
    lines = title.count("<br>") + 1 if title else 0
    captions = [a for a in fig.layout.annotations if a.yref == "paper" and a.y is not None and a.y >= 1
                and a.yanchor == "bottom"]
    above = max(((a.text or "").count("<br>") + 1 for a in captions), default=0)
    if not lines and not above:
        return
    captions = (PRESENTER_FONT - 2) * 1.25 * above * (2 if lines else 1)
    need = int((PRESENTER_FONT + 4) * 1.3 * lines + captions) + 16
    top = fig.layout.margin.t
    if top is not None and top < need:
        fig.update_layout(margin_t=need, height=(fig.layout.height or 450) + need - top)


def chart_in(where, fig, *, key: str | None = None, **kwargs):
    """``chart`` drawn in a column or container: ``chart_in(col, fig, key=…)``."""
    return chart(fig, key=key, where=where, **kwargs)


def chart(fig, *, key: str | None = None, where=None, **kwargs):
    """``st.plotly_chart`` with the dashboard's figure defaults: the toolbar beside the plot (never over a title, also
    on a phone), and larger labels in presenter mode. Returns what st.plotly_chart returns (selection events)."""
    import plotly.graph_objects as go

    fig = go.Figure(fig)  # a copy: cached figures stay as they are
    fig.update_layout(modebar={"orientation": "v"})
    if presenter():
        fig.update_layout(font={"size": PRESENTER_FONT}, title_font_size=PRESENTER_FONT + 4,
                          legend_font_size=PRESENTER_FONT - 2)
        if any(getattr(t, "legend", None) == "legend2" for t in fig.data):  # a second panel's own legend
            fig.update_layout(legend2_font_size=PRESENTER_FONT - 2)
        fig.update_annotations(font_size=PRESENTER_FONT - 2)
        _presenter_top_margin(fig)
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
    kwargs["config"] = {"displaylogo": False, "toImageButtonOptions": {
        "format": "png", "scale": EXPORT_SCALE, "filename": figure_file_name(fig, key)}, **kwargs.get("config", {})}
    return (where if where is not None else st).plotly_chart(fig, key=key, **kwargs)


EXPORT_SCALE = 2  # a chart's PNG download is twice its size on screen: sharp on a slide
# plotly's toolbar has one download button (PNG here); this adds an SVG one beside it in every chart's toolbar. A
# button's click must be a function, which a chart's JSON config cannot carry: the script switches the chart's own
# download format to SVG for one click of plotly's button, so the file is the chart as drawn (language, presenter
# sizes) either way. (No "<" before a letter inside the script: Streamlit's sanitizer would drop the whole element.)
EXPORT_SCRIPT = """<script>
(() => {
  window.cnnvizSvgTitle = __TITLE__;
  if (window.cnnvizSvgButtons) return;
  window.cnnvizSvgButtons = true;
  const NS = 'http://www.w3.org/2000/svg';
  const icon = () => {  // built node by node: the page's HTML sanitizer drops a script that holds markup
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '1em');
    svg.setAttribute('height', '1em');
    svg.setAttribute('class', 'icon');
    const text = document.createElementNS(NS, 'text');
    for (const [k, v] of [['x', '12'], ['y', '16'], ['text-anchor', 'middle'], ['font-size', '9.5'],
                          ['font-weight', '700'], ['font-family', 'sans-serif'], ['fill', 'currentColor']]) {
      text.setAttribute(k, v);
    }
    text.textContent = 'SVG';
    svg.appendChild(text);
    return svg;
  };
  const add = (bar) => {
    if (bar.querySelector('[data-cnnviz-svg]')) return;
    const png = [...bar.querySelectorAll('.modebar-btn')].find(
      (b) => (b.getAttribute('data-title') || '').startsWith('Download plot'));
    const gd = bar.closest('.js-plotly-plot');
    if (!png || !gd) return;
    const svg = document.createElement(png.tagName.toLowerCase());
    svg.className = 'modebar-btn';
    svg.setAttribute('rel', 'tooltip');
    svg.setAttribute('data-gravity', 'w');
    svg.setAttribute('data-title', window.cnnvizSvgTitle);
    svg.setAttribute('data-cnnviz-svg', '1');
    svg.appendChild(icon());
    svg.addEventListener('click', (event) => {
      event.preventDefault();
      const options = gd._context.toImageButtonOptions;
      const format = options.format;
      options.format = 'svg';
      try { png.click(); } finally { options.format = format; }
    });
    png.parentNode.insertBefore(svg, png.nextSibling);
  };
  const scan = () => document.querySelectorAll('.js-plotly-plot .modebar').forEach(add);
  new MutationObserver(scan).observe(document.body, {childList: true, subtree: true});
  scan();
})();
</script>"""


def export_buttons() -> None:
    """Put the SVG download button into every chart's toolbar (an invisible script; call once per script run)."""
    import json

    st.html(EXPORT_SCRIPT.replace("__TITLE__", json.dumps(_("Download plot as SVG"))), unsafe_allow_javascript=True)


def figure_file_name(fig, key: str | None) -> str:
    """The downloaded file's name: the figure's title (tags and punctuation dropped), else its key."""
    import re

    title = re.sub(r"<[^>]+>", " ", str(fig.layout.title.text or "")).strip()
    name = re.sub(r"[^\w-]+", "-", title or key or "figure").strip("-")[:60]
    return f"cnnviz-{name}" if name else "cnnviz-figure"


LIVE_EVERY_S = 1.0  # how often a page redraws a job that runs in the background
# how often it redraws a live figure: a figure's rerun, its JSON and the browser's plotly redraw cost far more than a
# few numbers. With the studio's numbers every 3 s and curves every 4 s the server's live updates cost 4.9–5.4 % of a
# core while a run trains on both cores (2 s and 3 s: 6.4–7.0 %; bench_studio.py, quiet 2-core AVX-512)
LIVE_FIGURE_EVERY_S = 4.0
# how often the training studio redraws its numbers (status, loss, accuracy, speed, progress): each redraw is a dozen
# elements sent and laid out by a browser that shares the cores with the run it watches
LIVE_NUMBERS_EVERY_S = 3.0


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
