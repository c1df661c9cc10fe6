"""A widget crawl in a real browser: what a class does off the tested path.

Every page of the catalogue (dashboard/nav.py) is opened in English and in Korean, and the select boxes, radios,
toggles, segmented controls and sliders of its first screen are set to a few values in turn: the last, the first and
one in the middle (sliders by keyboard: End, Home, then arrow keys or PageUp from the first value). The crawl fails on
an exception element, an error box that reads like a Python traceback, or a JavaScript error in the page.

The budget is fixed, so CI stays short (about three minutes for both languages at most) and every run visits the
same things: at most ``MAX_WIDGETS`` widgets per page, each set to the values of ``VALUES`` (the last and the first in
English, the middle one in Korean: three values over the two languages, and each language's labels and formats seen
after a change); a toggle is switched once in each language. One browser tab per language goes from page to page by
the sidebar's links, as a reader does (a fresh load costs twice as much), and no pause is fixed: a change waits for
the rerun it started (see ``settle``). A widget that an earlier change hid is tried again on a freshly loaded page.

On a machine much slower than CI the time is capped, not the checks weakened: once a language has spent
``BUDGET_S`` (not counting its first page, which may wait for the server to warm up), its remaining pages are still opened and checked, but their widgets are left alone, and the crawl says
which (``pytest -s`` prints what it visited, with the seconds of every change). Korean walks the pages in reverse
order, so on such a machine the two languages sweep opposite ends of the catalogue.
"""

from __future__ import annotations

import re
import time

import pytest
from conftest import SETTLED

from dashboard import nav

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 800}
MAX_WIDGETS = 4  # per page, in the order they appear
VALUES = {"en": ("last", "first"), "ko": ("middle",)}  # toggles: switched once in each language
BUDGET_S = 60  # seconds per language; after them pages are only opened (see the docstring)
SET_TIMEOUT_MS = 5_000  # a widget that cannot be set costs five seconds (and is reported), not thirty
KINDS = {  # data-testid of a widget's element → what the crawl calls it
    "stSelectbox": "select", "stRadio": "radio", "stCheckbox": "toggle", "stButtonGroup": "segmented",
    "stSlider": "slider", "stSelectSlider": "slider",
}
# An error box that shows Python's words instead of a sentence for the reader.
TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|\b[A-Z]\w*(?:Error|Exception): |"
    r"object has no attribute|'NoneType'|unsupported operand|not subscriptable|index out of range|"
    r"invalid literal for|unhashable type|takes \d+ positional argument|got an unexpected keyword")


def slug(page: nav.PageInfo) -> str:
    return "" if page is nav.PAGES[0] else page.slug


PAGES = [p for p in nav.PAGES if p.path.exists()]

# The widgets of the first screen: visible, enabled, in the page's main area, top inside the window. Each is found
# again later by its kind, its label and its place among the widgets of that kind with the same label.
FIRST_SCREEN_JS = r"""([kinds, limit, height]) => {
  const found = []; const seen = {};
  for (const e of document.querySelectorAll('[data-testid=stMain] [data-testid]')) {
    const kind = kinds[e.getAttribute('data-testid')];
    if (!kind) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.top < 0 || r.top >= height) continue;
    if (e.closest('details:not([open])')) continue;
    if (e.querySelector('input:disabled, [aria-disabled=true], button:disabled') &&
        !e.querySelector('input:enabled, button:enabled, [role=slider]:not([aria-disabled=true])')) continue;
    const label = ((e.querySelector('[data-testid=stWidgetLabel]') || {}).innerText
                   || (kind === 'toggle' ? e.innerText : '') || '').trim().split('\n')[0];
    const id = kind + '|' + label; seen[id] = (seen[id] || 0) + 1;
    found.push({kind, testid: e.getAttribute('data-testid'), label, nth: seen[id] - 1});
    if (found.length >= limit) break;
  }
  return found;
}"""


# Counts the script runs the page has started: a change has settled once a run began after it and none is running.
# (No fixed pause: a change that asks for no rerun costs RERUN_GRACE_MS, one that does costs its rerun.)
COUNT_RUNS_JS = r"""() => {
  window.__cnnvizRuns = 0;
  new MutationObserver(() => {
    const app = document.querySelector('[data-testid=stApp]');
    const state = app && app.getAttribute('data-test-script-state');
    if (state === 'running' && window.__cnnvizLast !== 'running') window.__cnnvizRuns += 1;
    window.__cnnvizLast = state;
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
}"""
RERUN_GRACE_MS = 600


def runs(page) -> int:
    return page.evaluate("() => window.__cnnvizRuns || 0")


def settle(page, before: int | None = None, timeout_ms: int = 90_000) -> None:
    """Wait until the rerun that a change asked for (a run counted after ``before``) has finished."""
    if before is not None:
        try:
            page.wait_for_function(f"() => (window.__cnnvizRuns || 0) > {before}", timeout=RERUN_GRACE_MS,
                                   polling=50)
        except Exception:  # noqa: BLE001, S110 - no rerun began: the change asked for none
            pass
    page.wait_for_selector(SETTLED, timeout=timeout_ms)


def locate(page, widget: dict):
    """The widget's element now (the page may have redrawn it), or None if it is gone."""
    candidates = page.locator(f"[data-testid=stMain] [data-testid={widget['testid']}]")
    if widget["label"]:
        candidates = candidates.filter(has=page.locator("[data-testid=stWidgetLabel], label").filter(
            has_text=widget["label"]))
    if candidates.count() <= widget["nth"]:
        return None
    return candidates.nth(widget["nth"])


def pick(count: int, which: str) -> int:
    return {"first": 0, "last": count - 1, "middle": count // 2}[which]


def set_value(page, element, kind: str, which: str) -> str:
    """Change one widget; returns what was done, in a few words."""
    if kind == "select":
        element.locator("button[aria-haspopup=listbox]").first.click()
        options = page.locator("[role=listbox] [role=option]")
        options.first.wait_for(timeout=10_000)
        # a long list draws only the options in view: scroll to its end for the last one
        page.evaluate("""(end) => { for (const e of document.querySelectorAll('[role=listbox], [role=listbox] *'))
                           if (e.scrollHeight > e.clientHeight + 2) e.scrollTop = end ? e.scrollHeight : 0; }""",
                      which == "last")
        page.wait_for_timeout(150)
        count = options.count()
        option = options.nth(pick(count, which))
        text = option.inner_text().strip()[:40]
        option.click()
        return f"{which} option {text!r}"
    if kind in ("radio", "segmented"):
        options = element.locator("[role=radiogroup] label" if kind == "radio" else "button")
        option = options.nth(pick(options.count(), which))
        text = option.inner_text().strip()[:40]
        option.click()
        return f"{which} {'choice' if kind == 'radio' else 'segment'} {text!r}"
    if kind == "toggle":
        element.locator("label").first.click()
        return "switched"
    thumb = element.locator("input[type=range]").first  # a range slider: its first thumb
    thumb.focus()
    if which in ("last", "first"):
        page.keyboard.press("End" if which == "last" else "Home")
    else:  # from the first value: arrow keys to the middle step, or five PageUps (a tenth of the range each)
        low, high, step = (float(thumb.get_attribute(a) or d) for a, d in (("min", 0), ("max", 1), ("step", 1)))
        steps = round((high - low) / step) if step > 0 else 10
        page.keyboard.press("Home")
        for _ in range(steps // 2 if steps <= 10 else 5):  # the keys come quickly: one rerun, for the last
            page.keyboard.press("ArrowRight" if steps <= 10 else "PageUp")
    return f"{which} value {thumb.get_attribute('aria-valuetext') or thumb.input_value()}"


def problems(page, errors: list[str]) -> list[str]:
    found = []
    if page.locator("[data-testid=stException]").count():
        found.append("exception: " + page.locator("[data-testid=stException]").first.inner_text()[:300])
    for box in page.locator("[data-testid=stAlertContentError]").all():
        text = box.inner_text()
        if TRACEBACK.search(text):
            found.append("an error box shows Python: " + text[:300])
    found += [f"JS error: {e}"[:300] for e in errors]
    errors.clear()
    return found


def load(page, base_url: str, page_info: nav.PageInfo, lang: str) -> None:
    """A fresh load of the page (a new session)."""
    page.goto(f"{base_url}/{slug(page_info)}?lang={lang}")
    page.wait_for_function("() => (window.__cnnvizRuns || 0) > 0", timeout=90_000, polling=50)
    page.wait_for_selector("[data-testid=stMain] h1", timeout=90_000)
    settle(page)
    settle(page, runs(page))  # the first run reads the URL and the cookie; a second one may follow at once


def follow_link(page, base_url: str, page_info: nav.PageInfo) -> bool:
    """Go to the page as a reader does, by its link in the sidebar: the app stays loaded (no reload of Streamlit's
    scripts, the same session and language), about twice as fast as a fresh load. False if there is no such link."""
    link = page.locator(f'[data-testid=stSidebarNav] a[href="{base_url}/{slug(page_info)}"]')
    if not link.count():
        return False
    before = runs(page)
    link.first.click()
    page.wait_for_function(f"() => location.pathname === '/{slug(page_info)}'", timeout=10_000, polling=50)
    settle(page, before)
    settle(page, runs(page))
    return True


def crawl(page, base_url: str, page_info: nav.PageInfo, lang: str, errors: list[str],
          sweep: bool = True) -> tuple[list[str], list[str]]:
    """Open one page in one language (in the browser tab ``page``, whose JavaScript errors go to ``errors``) and sweep
    its first screen (unless ``sweep`` is false: the budget is spent); returns (what was visited, what went wrong)."""
    visited: list[str] = []
    wrong: list[str] = []

    def load_fresh() -> None:
        load(page, base_url, page_info, lang)

    if not follow_link(page, base_url, page_info):  # the first page: no app loaded yet
        load_fresh()
    wrong += problems(page, errors)
    widgets = page.evaluate(FIRST_SCREEN_JS, [KINDS, MAX_WIDGETS, VIEWPORT["height"]])
    if not sweep:
        visited += [f"  {w['kind']} {w['label']!r}: left alone (budget spent)" for w in widgets]
        widgets = []
    for widget in widgets:
        values = ("switch",) if widget["kind"] == "toggle" else VALUES[lang]
        done = []
        for which in values:
            element = locate(page, widget)
            if element is None:  # an earlier value hid it (e.g. another model): try it on a fresh page
                load_fresh()
                element = locate(page, widget)
            if element is None:
                done.append("gone")
                break
            before = runs(page)
            t0 = time.perf_counter()
            for attempt in (1, 2):  # a late rerun can redraw the widget under the pointer: try once more
                try:
                    done.append(set_value(page, element, widget["kind"], which))
                    break
                except Exception as err:  # noqa: BLE001 - playwright's errors: say which widget, keep crawling
                    page.keyboard.press("Escape")
                    settle(page, runs(page))
                    before, element = runs(page), locate(page, widget)
                    if attempt == 2 or element is None:
                        done.append(f"could not set {which} ({type(err).__name__})")
                        break
            settle(page, before)
            done[-1] += f" [{time.perf_counter() - t0:.1f} s]"
            for problem in problems(page, errors):
                wrong.append(f"{slug(page_info) or 'home'}?lang={lang}: {widget['kind']} "
                             f"{widget['label']!r} → {which}: {problem}")
        visited.append(f"  {widget['kind']} {widget['label']!r}: " + "; ".join(done))
    return visited, wrong


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_first_screen_widget_takes_a_few_values_without_a_traceback(chromium, dashboard_url, lang):
    wrong: list[str] = []
    began = time.perf_counter()
    spent = 0.0  # seconds against the budget: every page after the first (which may wait for the server's warm-up)
    context = chromium.new_context(viewport=VIEWPORT)
    context.add_init_script(f"({COUNT_RUNS_JS})()")
    page = context.new_page()
    page.set_default_timeout(SET_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        for i, info in enumerate(PAGES if lang == "en" else PAGES[::-1]):
            t0 = time.perf_counter()
            visited, found = crawl(page, dashboard_url, info, lang, errors, sweep=spent < BUDGET_S)
            seconds = time.perf_counter() - t0
            spent += seconds if i else 0.0
            print(f"{slug(info) or 'home'}?lang={lang} ({seconds:.1f} s, {len(visited)} widgets)")
            print("\n".join(visited))
            wrong += found
    finally:
        context.close()
    print(f"{lang}: {time.perf_counter() - began:.0f} s in all")
    assert not wrong, "\n".join(wrong)
