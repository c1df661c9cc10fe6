"""Every page in Korean shows Korean (no English prose left), and in English shows no Korean."""

from __future__ import annotations

import pytest

from cnnviz.i18n import has_hangul
from dashboard import nav
from visible_text import untranslated_texts, visible_texts

PAGE_FILES = [p.file for p in nav.pages()]


def open_in(app_at, name: str, lang: str):
    from streamlit.testing.v1 import AppTest

    from conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["lang"] = lang
    at.run()
    if name != PAGE_FILES[0]:
        at.switch_page(f"../pages/{name}")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_every_page_file_is_in_the_catalogue():
    from conftest import PAGES

    assert sorted(p.name for p in PAGES) == sorted(PAGE_FILES)


@pytest.mark.parametrize("name", PAGE_FILES)
def test_page_in_korean(app_at, name):
    at = open_in(app_at, name, "ko")
    texts = visible_texts(at)
    assert any(has_hangul(t) for k, t in texts if k in ("title", "header", "subheader")), "no Korean heading"
    left = untranslated_texts(at)
    assert not left, f"{name}: English left in the Korean page:\n" + "\n".join(f"  {k}: {t!r}" for k, t in left)


@pytest.mark.parametrize("name", PAGE_FILES)
def test_page_in_english(app_at, name):
    at = open_in(app_at, name, "en")
    korean = [(k, t) for k, t in visible_texts(at) if has_hangul(t)]
    assert not korean, f"{name}: Korean in the English page: {korean[:5]}"
