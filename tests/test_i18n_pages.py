"""Every page in Korean shows Korean (no English prose left), and in English shows no Korean."""

from __future__ import annotations

import re
from pathlib import Path

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
    fallbacks = [(k, t) for k, t in texts if FALLBACK.search(t)]
    assert not fallbacks, f"{name}: fallback particles like 을(를) in the Korean page: {fallbacks[:5]}"
    assert not server_paths(texts), f"{name}: a path of the server in the Korean page: {server_paths(texts)[:5]}"


@pytest.mark.parametrize("name", PAGE_FILES)
def test_page_in_english(app_at, name):
    at = open_in(app_at, name, "en")
    texts = visible_texts(at)
    korean = [(k, t) for k, t in texts if has_hangul(t)]
    assert not korean, f"{name}: Korean in the English page: {korean[:5]}"
    assert not server_paths(texts), f"{name}: a path of the server in the English page: {server_paths(texts)[:5]}"


FALLBACK = re.compile(r"\((을|를|은|는|이|가|으로|와|과)\)")
ABSOLUTE_PATH = re.compile(r"(?<![\w~.:/])/(?:[\w.-]+/)+[\w.-]*")


def server_paths(texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Texts that name a folder of the server: an absolute path, the project's folder or the home folder."""
    from conftest import ROOT

    return [(k, t) for k, t in texts if ABSOLUTE_PATH.search(t) or str(ROOT) in t or str(Path.home()) in t]
