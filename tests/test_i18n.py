"""Korean and English: the catalogs are complete, the markers are used right, and the language switches."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnnviz import i18n
from visible_text import english_words, untranslated

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import i18n as catalog_tool  # noqa: E402  (tools/i18n.py)

PLACEHOLDER = re.compile(r"\{(\w*)(?:[:!][^}]*)?\}")


@pytest.fixture(scope="module")
def template():
    return catalog_tool.extract()


@pytest.fixture(scope="module")
def korean():
    return catalog_tool.read_catalog()


def test_every_message_has_a_korean_translation(template, korean):
    missing = catalog_tool.untranslated(korean, template)
    listing = "\n".join(f"{m.locations[0][0]}:{m.locations[0][1]}: {m.id!r}" for m in missing[:40])
    assert not missing, (f"{len(missing)} messages have no Korean translation (python tools/i18n.py missing; "
                         f"then add):\n{listing}")


def translated(template, korean):
    """(English ids, Korean strings) of every message of the code that has a translation (plurals: all forms)."""
    for msg in template:
        have = korean.get(msg.id, context=msg.context)
        if not msg.id or have is None or not have.string:
            continue
        ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        yield ids, (have.string if isinstance(have.string, tuple) else (have.string,))


def test_translations_keep_every_placeholder(template, korean):
    wrong = []
    for ids, strings in translated(template, korean):
        want = set(PLACEHOLDER.findall(ids[-1]))
        for s in strings:
            if s and set(PLACEHOLDER.findall(s)) != want:
                wrong.append((ids[0], s))
    assert not wrong, f"placeholders differ between English and Korean: {wrong[:10]}"


def test_korean_translations_are_korean(template, korean):
    """A msgstr copied from the msgid is not a translation (names and formulas excepted by the word check)."""
    lazy = []
    for ids, (text, *_plurals) in translated(template, korean):
        if not i18n.has_hangul(text) and english_words(text):
            lazy.append((ids[0], text))
    assert not lazy, f"Korean entries with English words and no Hangul: {lazy[:10]}"


def _marker_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in LITERAL_ARGS:
            yield node


LITERAL_ARGS = {"_": 1, "N_": 1, "ngettext": 2, "pgettext": 2, "npgettext": 3, "NC_": 2}  # how many are messages


def test_markers_take_literal_strings():
    """_("…{n}…").format(n=…), never _(f"…") or _("…" + x): a translator can only translate a whole literal."""
    bad = []
    for path in catalog_tool.source_files():
        if path.name == "i18n.py":  # the machinery: its pgettext passes a marked constant's context on
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _marker_calls(tree):
            for arg in call.args[: LITERAL_ARGS[call.func.id]]:
                if isinstance(arg, (ast.JoinedStr, ast.BinOp)) or (
                        isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute)
                        and arg.func.attr == "format"):
                    bad.append(f"{path.relative_to(ROOT)}:{call.lineno}")
            if call.func.id in ("N_", "NC_", "pgettext") and not all(
                    isinstance(a, ast.Constant) for a in call.args[: LITERAL_ARGS[call.func.id]]):
                bad.append(f"{path.relative_to(ROOT)}:{call.lineno} ({call.func.id} needs literals)")
    assert not bad, f"translation markers around computed strings: {bad}"


def test_language_follows_context_and_environment(monkeypatch):
    for var in ("CNNVIZ_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert i18n.language_from_environment() == "en"
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert i18n.language_from_environment() == "ko"
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # LC_ALL wins over LANG, and C means English
    assert i18n.language_from_environment() == "en"
    monkeypatch.setenv("CNNVIZ_LANG", "ko")
    assert i18n.language_from_environment() == "ko"
    with i18n.language("en"):
        assert i18n.get_language() == "en"
        with i18n.language("ko"):
            assert i18n.get_language() == "ko"
        assert i18n.get_language() == "en"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.set_language("fr")


def test_messages_with_a_context_are_extracted_and_translated(template, korean):
    """pgettext / NC_: the same English word in two senses gets two entries, each with its own Korean."""
    ids = {(m.context, m.id) for m in template if m.context}
    assert {("direction", "right"), ("prediction", "right"), ("classroom", "Class")} <= ids
    with i18n.language("ko"):
        assert i18n.pgettext("direction", "right") != i18n.pgettext("prediction", "right")
        assert i18n.gettext(i18n.NC_("classroom", "Class")) == korean.get("Class", context="classroom").string


def test_korean_catalog_translates_at_run_time(template, korean):
    msg = next(m for m in template if isinstance(m.id, str) and m.id and korean.get(m.id) is not None
               and korean.get(m.id).string)
    with i18n.language("ko"):
        assert i18n.gettext(msg.id) == korean.get(msg.id).string
    with i18n.language("en"):
        assert i18n.gettext(msg.id) == msg.id


def test_ngettext_in_both_languages():
    with i18n.language("en"):
        assert i18n.ngettext("{n} epoch", "{n} epochs", 1).format(n=1) == "1 epoch"
        assert i18n.ngettext("{n} epoch", "{n} epochs", 3).format(n=3) == "3 epochs"


def test_languages_do_not_leak_between_threads():
    import threading

    seen = {}

    def worker(lang):
        with i18n.language(lang):
            threading.Event().wait(0.05)
            seen[lang] = i18n.get_language()

    threads = [threading.Thread(target=worker, args=(lang,)) for lang in ("ko", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"ko": "ko", "en": "en"}


def test_the_english_detector():
    assert untranslated("Output size")
    assert not untranslated("출력 크기")
    assert not untranslated("conv1 · 32×28×28")
    assert not untranslated("ReLU 뒤의 특징 맵 (features.3)")
    assert untranslated("특징 맵: the strongest channels of this layer")
    assert not untranslated("VGG16 / MobileNetV2 / ResNet-18")
    assert not untranslated("$N_{out} = \\lfloor (N + 2p - k)/s \\rfloor + 1$")


def test_catalog_check_command_runs():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "i18n.py"), "check"], capture_output=True, text=True)
    assert "messages without a Korean translation" in out.stdout


def _own_nodes(scope: ast.AST):
    """The nodes of a module or function, not those of the functions, lambdas and comprehensions inside it."""
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
              ast.GeneratorExp, ast.ClassDef)
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, nested):
            todo.extend(ast.iter_child_nodes(node))


def test_nothing_rebinds_the_translation_function():
    """`x, _ = …` or `for _ in …` in a module (or function) that translates with `_` makes `_("…")` fail there."""
    bad = []
    for path in catalog_tool.source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        translates = any(isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == "_"
                         for c in ast.walk(tree))
        if not translates:
            continue
        for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]:
            stores = [n for n in _own_nodes(scope)
                      if isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)]
            if stores:
                bad.append(f"{path.relative_to(ROOT)}:{stores[0].lineno}")
    assert not bad, f"`_` is assigned where it also translates: {bad}"


def _flanking_ok(text: str) -> bool:
    """CommonMark's rule for ** (bold): an opening run must be left-flanking, a closing one right-flanking.
    Korean particles glued to a bold phrase ending in punctuation (**(0, 0)**은) break it."""
    import unicodedata

    def punct(ch: str) -> bool:
        return unicodedata.category(ch)[0] in "PS"

    runs = [i for i in range(len(text) - 1) if text.startswith("**", i) and (i == 0 or text[i - 1] != "*")
            and (i + 2 >= len(text) or text[i + 2] != "*")]
    for k, i in enumerate(runs):
        before = text[i - 1] if i > 0 else " "
        after = text[i + 2] if i + 2 < len(text) else " "
        if k % 2 == 0:  # opening
            ok = not after.isspace() and (not punct(after) or before.isspace() or punct(before))
        else:
            ok = not before.isspace() and (not punct(before) or after.isspace() or punct(after))
        if not ok:
            return False
    return len(runs) % 2 == 0


def test_bold_text_survives_translation(template, korean):
    broken = []
    for _ids, (text, *_plurals) in translated(template, korean):
        if "**" in text and not _flanking_ok(text):
            broken.append(text)
        elif re.search(r"[)\]}.,:;!?'\"]\*[\uac00-\ud7a3]", text.replace("**", "")):  # *italic*은: same rule
            broken.append(text)
    assert not broken, f"bold markers that markdown will not render: {broken[:5]}"


def test_no_literal_is_translated_inside_an_f_string():
    """Babel does not look inside f-strings: f"{_('Name')}" would never reach the catalog."""
    bad = []
    for path in catalog_tool.source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                for call in _marker_calls(node):
                    if call.args and isinstance(call.args[0], ast.Constant):
                        bad.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not bad, f"translated literals inside f-strings (move them out): {bad}"


def test_cli_help_and_training_speak_korean(tmp_path):
    import os

    env = dict(os.environ, LANG="ko_KR.UTF-8", LC_ALL="", CNNVIZ_LANG="")
    cli = [sys.executable, "-m", "cnnviz.cli"]
    out = subprocess.run([*cli, "--help"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0 and "사용법" in out.stdout and "합성곱" in out.stdout
    out = subprocess.run([*cli, "--lang", "en", "--help"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert "usage:" in out.stdout and not i18n.has_hangul(out.stdout)
    out = subprocess.run([*cli, "--lang", "ko", "train", "simple_convnet", "--epochs", "1", "--train-size", "200",
                          "--test-size", "100", "--quiet", "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, LANG="C"))
    assert out.returncode == 0, out.stderr
    assert "학습" in out.stdout and "테스트 정확도" in out.stdout
    out = subprocess.run([*cli, "--lang", "ko", "train", "nosuch"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and "알 수 없는 모델" in out.stderr and "Traceback" not in out.stderr


def test_every_raised_message_is_translated():
    """A message raised with a bare literal (or f-string) reaches a page or the CLI in English only."""
    bad = []
    for path in catalog_tool.source_files():
        if path.name in ("i18n.py", "korean.py"):  # the language machinery itself: it cannot translate its own errors
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                first = node.exc.args[0]
                if isinstance(first, ast.JoinedStr) or (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, f"untranslated raised messages (wrap them in _()): {bad}"
