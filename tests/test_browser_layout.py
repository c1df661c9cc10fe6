"""Layout in a real browser: a 1280×720 projector in presenter mode and a 390 px phone, page by page, in English and
Korean.

Presenter mode (``?present=1``): each page's main figure (the thing being taught) sits in the one container that
``dashboard.layout.main_figure()`` marks (CSS class ``st-key-main_figure``): never "the first chart" or "the first
alert", which an expander or a note could pass for. It FITS the first screen: its drawn parts (plot areas, legends,
axis and chart titles, images, the drawing canvas) lie inside the 1280×720 window and inside their chart, or, for a
figure with no drawn part (the home page's tour), the whole container does. Its text is large (figure labels and
titles at least 18 px; paragraphs, captions, labels and HTML tables at least 20 px; the data grid draws on a canvas
at a fixed size, which is why presenter mode shows read-only tables as HTML).

A phone (390×844): the page body never scrolls sideways, no text or figure runs past the screen's edge (unless it
sits in something that scrolls by itself, like a table or a code block), no chart's toolbar or title covers another
of its texts, the tick labels of an axis do not run into each other and numbers written in heatmap cells stay
readable.

Every page the catalogue (dashboard/nav.py) lists is opened once per screen and language; the measurements are
shared by the tests.
"""

from __future__ import annotations

import pytest
from conftest import SETTLED

from dashboard import nav

pytestmark = pytest.mark.browser

PROJECTOR = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}
LANGS = ("en", "ko")
MIN_FIGURE_FONT = 18  # px: tick labels, axis and chart titles, legends, annotations (presenter mode)
MIN_BODY_FONT = 20  # px: paragraphs, captions and widget labels (presenter mode)
MIN_CELL_FONT = 9  # px: numbers written in heatmap cells on a phone

# Pages that show no figure yet in the test's session (a fresh server; the browser's runs hold one finished run written
# by hand, with a history but no checkpoints or recordings, and one saved transfer comparison), and what they show
# instead (their figure, once there is one, goes into layout.main_figure() too). Every other page must have exactly
# one main figure. (Compare strategies shows the saved comparison, so it has one.)
NO_FIGURE_YET = {
    "training_studio": "the set-up of a run; the live curves come once a run starts",
    "where_it_looks": "the bundled ImageNet network's button: its four maps take half a minute, so they come on request",
    "channel_atlas": "the button that starts the atlas: it is computed in the background, once per layer",
    "weights_gradients": "that the newest run has recorded nothing (no recordings, no checkpoints) to draw",
    "vanishing_gradients": "the button that trains the sigmoid and ReLU networks; their gradients come as they train",
    "class": "closed: the test server has no teacher's password",
}

# Pages that belong to changes under way elsewhere, and the checks they fail today (xfail, not strict: a fix shows as
# XPASS). The convolution lab's pages (the lab sweep changes them): in presenter mode their figures' titles run past
# the chart's top edge or the figure starts below its controls and ends past 720 px; im2col's Korean tick labels
# overlap on a phone.
LAB = ("output_size", "sliding_window", "layer_stack", "pooling", "softmax_losses", "im2col", "classic_kernels")
OWNED_ELSEWHERE: dict[str, set[str]] = {name: {"first_screen"} for name in LAB} | {"im2col": {"first_screen",
                                                                                             "phone_cut"}}


def slug(page: nav.PageInfo) -> str:
    return "home" if page is nav.PAGES[0] else page.slug


PAGES = {slug(p): p for p in nav.PAGES if p.path.exists()}


def params(check: str) -> list:
    out = []
    for name in PAGES:
        for lang in LANGS:
            marks = [pytest.mark.xfail(reason="owned by another change", strict=False)] if check in OWNED_ELSEWHERE.get(
                name, set()) else []
            out.append(pytest.param(name, lang, marks=marks, id=f"{name}-{lang}"))
    return out


# Shared helpers of the measurements (plain functions in the page's JavaScript).
HELPERS = r"""
const rectOf = e => { const r = e.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height}; };
const shown = e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && s.opacity !== '0'; };
const inside = (a, b, slack = 1) => a.top >= b.top - slack && a.bottom <= b.bottom + slack
  && a.left >= b.left - slack && a.right <= b.right + slack;
const meets = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
const words = e => (e.textContent || '').trim().slice(0, 30);
// The texts of a chart that must never be cut or covered: titles, axis titles, tick labels, legend entries.
const chartTexts = chart => [...chart.querySelectorAll(
  '.gtitle, .g-xtitle text, .g-ytitle text, .xtick text, .ytick text, .legendtext, .annotation-text')].filter(shown);
"""

# Measured in the page after it has settled. Streamlit scrolls inside its own main container, which starts at 0.
PRESENTER_JS = HELPERS + r"""
const view = {top: 0, left: 0, bottom: window.innerHeight, right: window.innerWidth};
const relative = e => /font-size:\s*[\d.]+%/.test(e.getAttribute('style') || '');  // 10^-3's superscript
const sizes = sel => [...document.querySelectorAll(sel)].filter(e => shown(e) && !relative(e))
  .map(e => [parseFloat(getComputedStyle(e).fontSize), (e.textContent || '').trim().slice(0, 40)])
  .filter(([, text]) => text);
const mains = [...document.querySelectorAll('.st-key-main_figure')];
let main = null, drawn = [], cut = [];
if (mains.length === 1) {
  main = rectOf(mains[0]);
  for (const chart of mains[0].querySelectorAll('[data-testid=stPlotlyChart]')) {
    const svg = chart.querySelector('.main-svg');
    if (!svg) { cut.push('a chart that plotly has not drawn'); continue; }
    const frame = rectOf(svg);
    const parts = [...chart.querySelectorAll('.nsewdrag, .legend')].filter(shown).map(e => [e, 'plot area or legend'])
      .concat(chartTexts(chart).map(e => [e, `text "${words(e)}"`]));
    for (const [e, what] of parts) {
      const r = rectOf(e); drawn.push(r);
      const where = `${Math.round(r.top)}..${Math.round(r.bottom)}`;
      if (!inside(r, frame)) cut.push(`${what} runs past its chart (${where})`);
      else if (!inside(r, view)) cut.push(`${what} is outside the first screen (${where})`);
    }
  }
  for (const e of mains[0].querySelectorAll('[data-testid=stImage] img, [data-testid=stBidiComponentIsolated]')) {
    if (!shown(e)) continue;
    const r = rectOf(e); drawn.push(r);
    if (!inside(r, view))
      cut.push(`an image or canvas is outside the first screen (${Math.round(r.top)}..${Math.round(r.bottom)})`);
  }
  if (!drawn.length && !inside(main, view)) cut.push(`the figure ends at ${Math.round(main.bottom)} px`);
}
return {
  count: mains.length, main, drawn: drawn.length, cut: [...new Set(cut)].slice(0, 8),
  figure: sizes('[data-testid=stPlotlyChart] :is(.xtick, .ytick, .gtitle, .g-xtitle, .g-ytitle, .legendtext,'
                + ' .annotation-text) :is(text, tspan)'),
  body: sizes('[data-testid=stMain] :is([data-testid=stMarkdownContainer] p, [data-testid=stCaptionContainer],'
              + ' [data-testid=stWidgetLabel] p, [data-testid=stTable] :is(td, th))'),
};
"""

PHONE_JS = HELPERS + r"""
const W = window.innerWidth;
const scrolls = e => { for (let a = e.parentElement; a; a = a.parentElement) {
    if (a === document.documentElement || a === document.body) return false;
    const id = a.getAttribute('data-testid');
    if (id === 'stMain' || id === 'stAppViewContainer' || id === 'stApp') return false;
    const o = getComputedStyle(a).overflowX;
    if ((o === 'auto' || o === 'scroll') && a.scrollWidth > a.clientWidth + 1) return true; }
  return false; };
const cut = [];
for (const e of document.querySelectorAll('[data-testid=stMain] *')) {
  if (e.closest('.katex-mathml, canvas, [data-testid=stDataFrameResizable], [data-testid=stCode], .draglayer'))
    continue;  // hidden MathML, tables and code that scroll by themselves, plotly's invisible drag handles
  if (e.tagName === 'INPUT' && e.type === 'range') continue;  // a slider's invisible native input
  const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
  if (r.width === 0 || r.height === 0 || s.visibility === 'hidden' || s.display === 'none') continue;
  if ((r.right <= W + 1 && r.left >= -1) || scrolls(e)) continue;
  let owner = e;
  while (owner && !(owner.getAttribute && owner.getAttribute('data-testid'))) owner = owner.parentElement;
  cut.push(`${owner ? owner.getAttribute('data-testid') : '?'} <${e.tagName.toLowerCase()}> `
           + `${Math.round(r.left)}..${Math.round(r.right)} "${(e.textContent || '').trim().slice(0, 40)}"`);
}
const overlaps = [], crowded = [], tiny = [];
for (const chart of document.querySelectorAll('[data-testid=stPlotlyChart]')) {
  const bar = chart.querySelector('.modebar');
  const texts = chartTexts(chart);
  const titles = texts.filter(e => e.matches('.gtitle'));
  if (bar && shown(bar)) for (const t of titles)
    if (meets(rectOf(bar), rectOf(t))) overlaps.push(`the toolbar covers "${words(t)}"`);
  for (const t of titles) for (const a of texts.filter(e => e.matches('.annotation-text')))
    if (meets(rectOf(t), rectOf(a))) overlaps.push(`"${words(t)}" runs into "${words(a)}"`);
  for (const axis of chart.querySelectorAll('.xaxislayer-above, .yaxislayer-above')) {
    const ticks = [...axis.querySelectorAll('.xtick text, .ytick text')].filter(shown).map(rectOf);
    const name = words(chart.querySelector('.gtitle') || axis);
    if (ticks.some((a, i) => ticks.slice(0, i).some(b => meets(a, b)))) crowded.push(`tick labels overlap in "${name}"`);
  }
  for (const t of [...chart.querySelectorAll('.heatmap-label text')].filter(shown)) {
    const size = parseFloat(getComputedStyle(t).fontSize);
    if (size < %MIN_CELL_FONT%) { tiny.push(`${size} px "${words(t)}"`); break; }
  }
}
return {scrollWidth: document.documentElement.scrollWidth, cut: [...new Set(cut)].slice(0, 8), overlaps,
        crowded: [...new Set(crowded)], tiny};
""".replace("%MIN_CELL_FONT%", str(MIN_CELL_FONT))

_measured: dict[tuple[str, str, str], dict] = {}
_tokens: dict[str, str] = {}


def runs_cookie(base_url: str) -> dict:
    """The runs cookie of a class member who has trained a run and saved a comparison (so Compare runs and Saved
    comparisons show what they show in class, not their empty state)."""
    from conftest import RUNS_BY_URL
    from seeded_runs import seeded_session

    from dashboard.session import RUNS_COOKIE

    if base_url not in _tokens:
        _tokens[base_url] = seeded_session(RUNS_BY_URL[base_url])
    return {"name": RUNS_COOKIE, "value": _tokens[base_url], "url": base_url, "sameSite": "Strict"}


def settle(page, *, presenter: bool) -> None:
    """Wait until the page has been drawn and stays drawn: the app reads the URL and the browser's cookie on its first
    run, and a second run may follow at once; plotly lays out its charts after the script has finished."""
    for _ in range(2):
        page.wait_for_timeout(400)
        page.wait_for_selector(SETTLED, timeout=120_000)
        page.wait_for_selector("[data-testid=stMain] h1", timeout=120_000)
    if presenter:  # the presenter style sheet is in place (if it never comes, the checks below say what is wrong)
        try:
            page.wait_for_function("getComputedStyle(document.documentElement).fontSize === '20px'", timeout=10_000)
        except Exception:  # noqa: BLE001, S110 - playwright's TimeoutError; the assertions report it
            pass
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]
                                      .every(c => c.querySelector('.main-svg'))""", timeout=30_000)
    page.wait_for_timeout(700)


def measure(chromium, base_url: str, name: str, lang: str, screen: str) -> dict:
    """Open the page once per screen ("projector" in presenter mode, "phone") and language; keep what the tests
    look at."""
    key = (name, lang, screen)
    if key in _measured:
        return _measured[key]
    context = chromium.new_context(viewport=PROJECTOR if screen == "projector" else PHONE)
    context.add_cookies([runs_cookie(base_url)])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        path = "" if name == "home" else name
        query = f"?lang={lang}&present=1" if screen == "projector" else f"?lang={lang}"
        page.goto(f"{base_url}/{path}{query}")
        settle(page, presenter=screen == "projector")
        script = "() => {" + (PRESENTER_JS if screen == "projector" else PHONE_JS) + "}"
        result = page.evaluate(script)
        for _ in range(4):  # the same twice in a row: the page has stopped moving (a late rerun, plotly's layout)
            page.wait_for_timeout(600)
            page.wait_for_selector(SETTLED, timeout=120_000)
            again = page.evaluate(script)
            if again == result:
                break
            result = again
        result["exception"] = page.locator("[data-testid=stException]").count() > 0
        result["errors"] = errors
    finally:
        context.close()
    _measured[key] = result
    return result


@pytest.mark.parametrize("name,lang", params("first_screen"))
def test_presenter_mode_fits_the_main_figure_in_a_projectors_first_screen(chromium, dashboard_url, name, lang):
    m = measure(chromium, dashboard_url, name, lang, "projector")
    assert not m["exception"], f"{name} shows an exception"
    assert not m["errors"], m["errors"]
    if name in NO_FIGURE_YET:
        assert m["count"] == 0, f"{name} shows {NO_FIGURE_YET[name]}, but marks something as its main figure"
        return
    assert m["count"] == 1, f"{name} marks {m['count']} main figures (layout.main_figure()): it needs exactly one"
    assert m["main"]["height"] > 0 and m["main"]["width"] > 0
    assert 0 <= m["main"]["top"] < PROJECTOR["height"], f"the main figure starts at {m['main']['top']:.0f} px"
    assert not m["cut"], f"the main figure does not fit the first screen: {m['cut']}"


@pytest.mark.parametrize("name,lang", params("fonts"))
def test_presenter_mode_text_is_large_and_tables_are_html(chromium, dashboard_url, name, lang):
    m = measure(chromium, dashboard_url, name, lang, "projector")
    small_figure = [(size, text) for size, text in m["figure"] if size < MIN_FIGURE_FONT]
    assert not small_figure, f"figure text under {MIN_FIGURE_FONT} px: {small_figure[:5]}"
    small_body = [(size, text) for size, text in m["body"] if size < MIN_BODY_FONT]
    assert not small_body, f"body text under {MIN_BODY_FONT} px: {small_body[:5]}"


@pytest.mark.parametrize("name,lang", params("phone_width"))
def test_a_phone_never_scrolls_the_page_sideways(chromium, dashboard_url, name, lang):
    m = measure(chromium, dashboard_url, name, lang, "phone")
    assert not m["exception"], f"{name} shows an exception"
    assert not m["errors"], m["errors"]
    assert m["scrollWidth"] <= PHONE["width"] + 1


@pytest.mark.parametrize("name,lang", params("phone_cut"))
def test_a_phone_cuts_nothing_off_and_charts_stay_readable(chromium, dashboard_url, name, lang):
    m = measure(chromium, dashboard_url, name, lang, "phone")
    assert not m["cut"], f"past the screen's edge: {m['cut']}"
    assert not m["overlaps"], f"texts of a chart run into each other: {m['overlaps']}"
    assert not m["crowded"], m["crowded"]
    assert not m["tiny"], f"numbers in heatmap cells under {MIN_CELL_FONT} px: {m['tiny']}"


# The drawing canvas's toolbar (undo, redo, …) appears above the canvas when the pointer is on it; it must leave the
# pen's settings above the canvas free to read and to click.
TOOLBAR_JS = r"""() => {
  const host = document.querySelector('[data-testid=stBidiComponentIsolated]');
  const bar = host && host.shadowRoot && host.shadowRoot.querySelector('.dc-toolbar');
  if (!bar) return null;
  const b = bar.getBoundingClientRect();
  const covered = [];
  for (const w of document.querySelectorAll('[data-testid=stMain] :is([data-testid=stSlider], '
      + '[data-testid=stSelectbox], [data-testid=stRadio], [data-testid=stCheckbox], [data-testid=stWidgetLabel])')) {
    const r = w.getBoundingClientRect();
    if (r.width && r.left < b.right - 1 && b.left < r.right - 1 && r.top < b.bottom - 1 && b.top < r.bottom - 1)
      covered.push((w.innerText || '').trim().split('\n')[0].slice(0, 30));
  }
  return {opacity: getComputedStyle(bar).opacity, covered: [...new Set(covered)]};
}"""


@pytest.mark.parametrize("screen", [pytest.param({"width": 1280, "height": 800}, id="laptop"),
                                    pytest.param(PROJECTOR, id="projector"), pytest.param(PHONE, id="phone")])
def test_the_canvas_toolbar_covers_none_of_the_pens_settings(chromium, dashboard_url, screen):
    context = chromium.new_context(viewport=screen)
    page = context.new_page()
    try:
        present = "&present=1" if screen is PROJECTOR else ""
        page.goto(f"{dashboard_url}/draw?lang=en{present}")
        settle(page, presenter=bool(present))
        canvas = page.locator("canvas.upper-canvas").first
        canvas.scroll_into_view_if_needed()
        canvas.hover()
        page.wait_for_function("""() => { const h = document.querySelector('[data-testid=stBidiComponentIsolated]');
            const bar = h && h.shadowRoot && h.shadowRoot.querySelector('.dc-toolbar');
            return bar && getComputedStyle(bar).opacity === '1'; }""", timeout=10_000)
        page.wait_for_timeout(400)  # it slides up into place
        m = page.evaluate(TOOLBAR_JS)
    finally:
        context.close()
    assert m is not None, "no drawing canvas"
    assert not m["covered"], f"the canvas's toolbar covers {m['covered']}"
