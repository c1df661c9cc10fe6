"""A widget crawl in a real browser: what a class does off the tested path.

Every page of the catalogue (dashboard/nav.py) is opened in English and in Korean, and every select box, radio,
toggle, segmented control and slider of its first screen is set to a few values in turn: the first, the last and
one in the middle (sliders by keyboard: End, Home, then arrow keys or PageUp from the first value). The page settles after each
change. The crawl fails on an exception element, an error box that reads like a Python traceback, or a JavaScript
error in the page.

The budget is fixed, so CI stays short and every run visits the same things: at most ``MAX_WIDGETS`` widgets per page,
the values of ``VALUES`` (fewer in Korean: the second language checks the translated labels and formats, the first
the values). A widget that an earlier change hid is tried again on a freshly loaded page. It prints what it visited
(``pytest -s`` shows it).
"""

from __future__ import annotations

import re
import time

import pytest
from conftest import SETTLED

from dashboard import nav

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 800}
MAX_WIDGETS = {"en": 5, "ko": 3}  # per page, in the order they appear
VALUES = {"en": ("last", "first", "middle"), "ko": ("middle",)}  # toggles: on, then off again (English only)
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


def settle(page, timeout_ms: int = 90_000) -> None:
    page.wait_for_timeout(350)  # let the rerun the last change asked for begin
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
        options = element.locator("label" if kind == "radio" else "button")
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


def crawl(chromium, base_url: str, page_info: nav.PageInfo, lang: str) -> tuple[list[str], list[str]]:
    """Open one page in one language and sweep its first screen; returns (what was visited, what went wrong)."""
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    visited: list[str] = []
    wrong: list[str] = []
    page.set_default_timeout(10_000)  # a widget that cannot be set costs ten seconds, not thirty

    def load() -> None:
        page.goto(f"{base_url}/{slug(page_info)}?lang={lang}")
        settle(page)
        page.wait_for_selector("[data-testid=stMain] h1", timeout=90_000)
        settle(page)

    try:
        load()
        wrong += problems(page, errors)
        widgets = page.evaluate(FIRST_SCREEN_JS, [KINDS, MAX_WIDGETS[lang], VIEWPORT["height"]])
        for widget in widgets:
            values = ("on", "off") if widget["kind"] == "toggle" else VALUES[lang]
            if widget["kind"] == "toggle" and lang != "en":
                values = ("on",)
            done = []
            for which in values:
                element = locate(page, widget)
                if element is None:  # an earlier value hid it (e.g. another model): try it on a fresh page
                    load()
                    element = locate(page, widget)
                if element is None:
                    done.append("gone")
                    break
                try:
                    done.append(set_value(page, element, widget["kind"], which))
                except Exception as err:  # noqa: BLE001 - playwright's errors: say which widget, keep crawling
                    page.keyboard.press("Escape")
                    done.append(f"could not set {which} ({type(err).__name__})")
                settle(page)
                for problem in problems(page, errors):
                    wrong.append(f"{slug(page_info) or 'home'}?lang={lang}: {widget['kind']} "
                                 f"{widget['label']!r} → {which}: {problem}")
            visited.append(f"  {widget['kind']} {widget['label']!r}: " + "; ".join(done))
    finally:
        context.close()
    return visited, wrong


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_first_screen_widget_takes_a_few_values_without_a_traceback(chromium, dashboard_url, lang):
    wrong: list[str] = []
    for info in PAGES:
        t0 = time.perf_counter()
        visited, found = crawl(chromium, dashboard_url, info, lang)
        print(f"{slug(info) or 'home'}?lang={lang} ({time.perf_counter() - t0:.1f} s, {len(visited)} widgets)")
        print("\n".join(visited))
        wrong += found
    assert not wrong, "\n".join(wrong)
