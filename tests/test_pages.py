"""The dashboard's shell under Streamlit's AppTest: Home's summary, the language and presenter switches.

(Every page runs in both languages with no exception: tests/test_i18n_pages.py.)
"""

from __future__ import annotations

from pathlib import Path

from cnnviz.i18n import has_hangul


def test_home_shows_the_keras_cifar10_summary_of_the_notes(app_at):
    at = app_at()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Total params"] == "582,026"
    assert metrics["Trainable params"] == "582,026"
    table = at.dataframe[0].value
    shapes = [s for s, kind in zip(table["Output shape (Keras: H×W×C)"], table["Type"]) if kind != "ReLU"]
    assert shapes == ["32×32×32", "16×16×32", "16×16×64", "8×8×64", "8×8×64", "4096", "128", "10"]


def test_home_switches_model(app_at):
    at = app_at()
    at.selectbox[0].set_value("tf_mnist").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Total params"] == "3,274,634"


def _app(lang: str | None = None, **params):
    from streamlit.testing.v1 import AppTest

    from conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=60)
    if lang:
        at.query_params["lang"] = lang
    for k, v in params.items():
        at.query_params[k] = v
    return at


def test_language_comes_from_the_url_and_is_kept_there():
    at = _app("ko").run()
    assert not at.exception
    assert has_hangul(at.title[0].value)
    assert at.query_params["lang"] == ["ko"] or at.query_params["lang"] == "ko"
    assert {m.label: m.value for m in at.metric}["전체 파라미터"] == "582,026"


def test_sidebar_switch_changes_the_language_and_the_url():
    at = _app("en").run()
    assert not has_hangul(at.title[0].value)
    switch = at.sidebar.get("button_group")[0]
    switch.set_value("ko").run()
    assert not at.exception
    assert has_hangul(at.title[0].value)
    assert "ko" in str(at.query_params["lang"])
    switch = at.sidebar.get("button_group")[0]
    switch.set_value("en").run()
    assert not has_hangul(at.title[0].value)


def test_english_is_the_default_without_a_korean_browser():
    at = _app().run()
    assert not at.exception
    assert not has_hangul(at.title[0].value)


def test_presenter_mode_is_kept_in_the_url():
    at = _app("en").run()
    toggle = next(t for t in at.sidebar.toggle if t.label == "Presenter mode")
    toggle.set_value(True).run()
    assert not at.exception
    assert "1" in str(at.query_params["present"])
    at2 = _app("en", present="1").run()
    assert next(t for t in at2.sidebar.toggle if t.label == "Presenter mode").value is True


def test_no_page_relies_on_streamlit_magic():
    """Magic is off (.streamlit/config.toml): a bare expression in a page would show nothing, or, with magic on,
    show a stray value on the page. Pages call st.* explicitly."""
    import ast

    root = Path(__file__).resolve().parents[1]
    bare = []
    for path in [*sorted((root / "pages").glob("*.py")), root / "dashboard" / "main.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Expr) and not isinstance(node.value, (ast.Call, ast.Await)):
                if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                    bare.append(f"{path.name}:{node.lineno}")
    assert not bare, bare
    assert "magicEnabled = false" in (root / ".streamlit" / "config.toml").read_text(encoding="utf-8")
