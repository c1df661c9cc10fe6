"""Korean that reads like the lecture notes: particles chosen from the word before them, one word per glossary term,
no fallback particles, no English or server paths inside Korean messages."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from cnnviz import i18n
from cnnviz.korean import final_consonant, josa, split_particle, with_josa


@pytest.mark.parametrize("word, particle, want", [
    # Hangul: the last syllable's final consonant
    ("셔츠", "을", "를"), ("채널", "를", "을"), ("모델", "로", "로"), ("파일", "으로", "로"), ("층", "으로", "으로"),
    ("사과", "이", "가"), ("필터", "은", "는"), ("커널", "와", "과"), ("바지", "과", "와"),
    # digits: 0 영, 1 일, 2 이, 3 삼, 4 사, 5 오, 6 육, 7 칠, 8 팔, 9 구; 10 십, 100 백, 1000 천, 10000 만
    ("채널 0", "를", "을"), ("채널 0", "로", "으로"), ("1", "로", "로"), ("2", "을", "를"), ("2×3×3", "로", "으로"),
    ("4", "은", "는"), ("5", "이", "가"), ("6", "로", "으로"), ("7", "로", "로"), ("8", "를", "을"), ("9", "과", "와"),
    ("10", "를", "을"), ("10", "로", "으로"), ("20", "는", "은"), ("100", "가", "이"), ("1,000", "를", "을"),
    ("60000", "를", "을"), ("0.5", "을", "를"), ("0.25", "로", "로"), ("0.001", "를", "을"), ("1e-3", "가", "이"),
    ("features.10", "는", "은"), ("(3, 3)", "를", "을"), ("24.2 %", "을", "를"),
    # Latin letters: acronyms and single letters by their names (L 엘, M 엠, N 엔, R 알), words by their sound
    ("CNN", "를", "을"), ("SGD", "을", "를"), ("x", "을", "를"), ("L", "으로", "로"), ("M", "로", "으로"),
    ("conv2", "을", "를"), ("layer4", "이", "가"), ("VGG16", "를", "을"), ("ResNet", "를", "을"), ("Adam", "가", "이"),
    ("pooling", "를", "을"), ("model", "으로", "로"), ("layer", "을", "를"), ("ReLU", "을", "를"), ("mean", "는", "은"),
    ("'same'", "를", "을"), ("step", "를", "을"), ("block", "를", "을"), ("Dropout", "를", "을"), ("x.png", "을", "를"),
    ("simple_convnet", "가", "이"), ("MobileNetV2", "을", "를"), ("**run 3**", "가", "이"),
])
def test_the_particle_follows_how_the_word_is_read(word, particle, want):
    assert josa(word, particle) == want
    assert with_josa(word, particle) == f"{word}{want}"


def test_final_consonants_of_numbers_are_their_korean_readings():
    assert final_consonant("0") == 21  # 영: ㅇ
    assert final_consonant("3") == 16  # 삼: ㅁ
    assert final_consonant("7") == 8  # 칠: ㄹ
    assert [final_consonant(str(10 ** k)) for k in range(1, 5)] == [17, 1, 4, 4]  # 십 백 천 만
    assert final_consonant("") == 0 and final_consonant("…") == 0


def test_an_unknown_particle_is_refused():
    with pytest.raises(ValueError, match="unknown particle"):
        josa("채널", "의")
    assert split_particle(",.0f을") == (",.0f", "을") and split_particle("이라는") == ("", "이라는")
    assert split_particle(".2%") == (".2%", None)


def test_a_korean_message_chooses_its_particles_when_formatted():
    msg = i18n.Message("{name:을} 지웠습니다 · {n:,로} · {p:.1%는} · {v!r:이} · {0:와}")
    assert msg.format("셔츠", name="채널 0", n=1000, p=0.5, v="x") == "채널 0을 지웠습니다 · 1,000으로 · 50.0%는 · 'x'가 · 셔츠와"
    assert i18n.Message("{name:을}").format_map({"name": "conv2"}) == "conv2를"
    assert (i18n.Message("{a:을}") + " 봅니다").format(a="층") == "층을 봅니다"
    assert isinstance(i18n._with_particles("{x:은}"), i18n.Message)
    assert type(i18n._with_particles("{x}은")) is str  # strings without a particle placeholder stay plain


# ---------------------------------------------------------------------------- the catalog

ROOT = Path(__file__).resolve().parents[1]
FALLBACK = re.compile(r"\((을|를|은|는|이|가|으로|와|과)\)")


@pytest.fixture(scope="module")
def msgstrs():
    """(key, Korean text) of every translated message, plural forms one by one."""
    sys.path.insert(0, str(ROOT / "tools"))
    import i18n as catalog_tool  # tools/i18n.py

    out = []
    for msg in catalog_tool.read_catalog():
        if msg.id:
            for text in msg.string if isinstance(msg.string, tuple) else (msg.string,):
                out.append((catalog_tool.json_key(msg), text))
    return out


def glossary_rows() -> list[dict[str, str]]:
    """docs/GLOSSARY.md's table: English, 한국어, the notes' spelling, the variants the catalog must not use."""
    rows, header = [], None
    for line in (ROOT / "docs" / "GLOSSARY.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        rows.append(dict(zip(("en", "ko", "notes", "not", "note"), cells)))
    assert header and header[3].startswith("not"), "the glossary's table lost its 'not' column"
    return rows


def test_the_catalog_uses_only_the_glossarys_words(msgstrs):
    rows = glossary_rows()
    assert any(r["en"] == "feature map" and r["ko"] == "특징 맵" and "특성 맵" in r["not"] for r in rows)
    wrong = [(row["en"], bad, key[:60], text[:80]) for row in rows
             for bad in filter(None, (v.strip() for v in row["not"].split(","))) for key, text in msgstrs
             if bad in text]
    assert not wrong, "Korean words the glossary rules out (docs/GLOSSARY.md, column 'not'):\n" + "\n".join(
        f"  {en}: {bad!r} in {key!r}: {text!r}" for en, bad, key, text in wrong[:20])


def test_no_fallback_particles_and_none_after_a_space_after_bold(msgstrs):
    fallbacks = [text for _key, text in msgstrs if FALLBACK.search(text)]
    assert not fallbacks, f"fallback particles (write {{name:을}} instead): {fallbacks[:5]}"
    spaced = [text for _key, text in msgstrs
              if re.search(r"\*\*? (에서|을|를|은|는|이|가|와|과|으로|로|의|에|도|입니다)(?=[\s.,:;)]|$)", text)]
    assert not spaced, f"a space between bold or italic text and its particle: {spaced[:5]}"


class _Any:
    """A value that formats under any spec, so that only the msgstr's own syntax is tested."""

    def __format__(self, spec: str) -> str:
        return "3"

    def __getitem__(self, key: object) -> _Any:
        return self

    def __repr__(self) -> str:
        return "'x'"


def test_every_korean_message_formats_and_its_particles_resolve(msgstrs):
    """A broken particle placeholder ({name:을 }, {n:,로x}) would raise on the page; a %-format message (argparse's)
    cannot choose a particle at all."""
    failures = []
    for key, text in msgstrs:
        if "%{" in text:  # a plotly hover template, filled by plotly
            continue
        if "%(" in text or "%s" in text:
            assert not i18n._PARTICLE_SPEC.search(text), f"{key!r}: %-format with a particle placeholder"
            continue
        names = {m.group(1) for m in re.finditer(r"\{(\w*)[^{}]*\}", text)}
        try:
            out = i18n.Message(text).format(*([_Any()] * 3), **{n: _Any() for n in names if n})
        except (ValueError, KeyError, IndexError) as err:
            failures.append((key, text, err))
            continue
        assert "{" not in out.replace("{{", "") or "$" in out or "\\" in out, (key, out)
    assert not failures, "\n".join(f"{k!r}: {t!r}: {e}" for k, t, e in failures[:10])


def test_particles_in_real_messages():
    with i18n.language("ko"):
        i18n.reload()
        from cnnviz import arithmetic

        with pytest.raises(ValueError) as err:
            arithmetic.conv_output_size(5, kernel=7)
        assert "커널 7은" in str(err.value)
        with pytest.raises(ValueError) as err:
            arithmetic.conv_output_size(5, kernel=2, dilation=5)
        assert "커널 2는 6칸을" in str(err.value)
        assert i18n.pgettext("direction", "right") == "오른쪽" and i18n.pgettext("prediction", "right") == "맞음"
        assert i18n._(i18n.NC_("classroom", "Class")) == "수업"
    with i18n.language("en"):
        assert i18n._(i18n.NC_("classroom", "Class")) == "Class" and i18n.pgettext("direction", "right") == "right"


# ---------------------------------------------------------------------------- messages a user reads

ABSOLUTE_PATH = re.compile(r"(?<![\w~.:/])/(?:[\w.-]+/)+[\w.-]*")
LIBRARY_WORDS = ("Errno", "urlopen", "Weights only load failed", "GLOBAL", "Expecting value", "JSONDecodeError",
                 "missing ", "unexpected ", " vs ", "not in ", "on disk in", "bundled in", "Traceback")


def plain_korean(message: str, *server_paths: Path) -> bool:
    """Korean, without a path of the server or a library's (English) words in it."""
    from visible_text import untranslated

    return (i18n.has_hangul(message) and not untranslated(message) and not ABSOLUTE_PATH.search(message)
            and not any(str(p) in message for p in server_paths)
            and not any(word in message for word in LIBRARY_WORDS))


class _Unsafe:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_messages_in_korean_carry_no_server_path_and_no_library_text(tmp_path, monkeypatch):
    import io
    import json
    import shutil

    import torch

    import cnnviz
    from cnnviz import runs, training
    from cnnviz.data import datasets
    from cnnviz.transfer import results

    seen: list[str] = []

    def message(call) -> str:
        try:
            call()
        except (ValueError, RuntimeError) as err:
            seen.append(str(err))
            return str(err)
        raise AssertionError("no error raised")

    with i18n.language("ko"):
        # datasets: where they are, and the two ways they are not
        ok, where = cnnviz.dataset_status("cifar10", root=tmp_path)
        seen.append(where)
        assert not ok and cnnviz.dataset_status("fashion_mnist")[1] == "cnnviz에 기본 제공"
        message(lambda: cnnviz.load_dataset("cifar10", root=tmp_path, download=False))

        class Offline:
            def __init__(self, root, train, download):
                raise RuntimeError("Dataset not found") if not download else OSError(
                    f"<urlopen error [Errno -3] Temporary failure in name resolution> {root}")

        monkeypatch.setattr(datasets, "_torchvision_class", lambda name: Offline)
        message(lambda: cnnviz.load_dataset("cifar10", root=tmp_path))
        monkeypatch.undo()

        # checkpoints: a mismatch, and a file that would run code
        state = cnnviz.build_model("mnist_cnn").state_dict()
        bias = list(state)[1]
        state[bias] = state[bias].reshape(-1, 1)  # as many numbers, another shape
        state["extra.weight"] = state.pop(list(state)[-1])
        mismatch = message(lambda: cnnviz.model_from_checkpoint(cnnviz.Checkpoint(state, "mnist_cnn", 10, None, (), {})))
        assert "파일에 없는 가중치 1개" in mismatch and "모델에 없는 가중치 1개" in mismatch
        assert i18n.Message("{b:은} 파일에서 ").format(b=bias) in mismatch
        unsafe = io.BytesIO()
        torch.save({"state_dict": _Unsafe()}, unsafe)
        assert "가져오라고" in message(lambda: cnnviz.load_checkpoint(unsafe.getvalue()))

        # runs: a run that cannot be deleted, a damaged one, a damaged history and resume state
        folder = tmp_path / "runs"
        run = folder / "20260101-000000-mine"
        run.mkdir(parents=True)
        (run / runs.CONFIG_FILE).write_text("{not json", encoding="utf-8")
        damaged = runs.load_run(run)  # a damaged run is listed with its reason, never an exception
        assert damaged.problem
        seen.append(damaged.problem)
        (run / runs.CONFIG_FILE).write_text(json.dumps(runs.RunConfig().to_dict()), encoding="utf-8")

        def refuse(path, *args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(shutil, "rmtree", refuse)
        assert "지우지 못했습니다" in message(lambda: runs.delete_run(run, folder=folder))
        monkeypatch.undo()
        message(lambda: runs.delete_run(tmp_path, folder=folder))
        (run / training.HISTORY_FILE).write_text("[1, 2", encoding="utf-8")
        message(lambda: training.History.load(run / training.HISTORY_FILE))
        (run / training.rundir.STATE_FILE).write_bytes(b"not a torch file")
        message(lambda: training.settings.load_state(run))
        (run / "comparison.json").write_text(json.dumps({"format": "cnnviz-transfer-1"}), encoding="utf-8")
        message(lambda: results.load_comparison(run / "comparison.json"))
        (run / "comparison.json").write_text("{", encoding="utf-8")
        message(lambda: results.load_comparison(run))
    assert len(seen) == 12
    bad = [m for m in seen if not plain_korean(m, tmp_path, Path.home())]
    assert not bad, "messages with a server path or a library's words:\n" + "\n".join(bad)
