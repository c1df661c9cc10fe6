"""The teacher's Class page: every session's runs, the leaderboard, the password gate, stop and delete."""

from __future__ import annotations

import json

import pytest

from cnnviz import classroom
from cnnviz import runs as runs_api
from cnnviz.runs import RunConfig
from cnnviz.training import EpochRecord, History


def make_run(root, session: str, name: str, accs: list[float], *, status="finished", label="", lr=0.01):
    folder = root / "sessions" / session / name
    folder.mkdir(parents=True)
    config = RunConfig(model="mnist_cnn", optimizer="sgd", lr=lr, epochs=len(accs) or 3, label=label)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    epochs = tuple(EpochRecord(i + 1, 0.5, 0.8, 0.4, a, 10.0 * (i + 1), 1000.0) for i, a in enumerate(accs))
    History((), epochs, status, total_epochs=config.epochs, steps_per_epoch=10).save(folder / "history.json")
    return folder


@pytest.fixture
def class_root(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path))
    make_run(tmp_path, "aaaaaaaaaaaa", "20261124-0900-a", [0.80, 0.85], label="Minji lr 0.01")
    make_run(tmp_path, "aaaaaaaaaaaa", "20261124-0905-b", [], status="running", label="Minji lr 0.1", lr=0.1)
    make_run(tmp_path, "bbbbbbbbbbbb", "20261124-0910-c", [0.70, 0.88, 0.90])
    return tmp_path


def test_class_runs_lists_every_session(class_root):
    runs = classroom.class_runs()
    assert len(runs) == 3
    assert {r.session for r in runs} == {"aaaaaaaaaaaa", "bbbbbbbbbbbb"}
    board = classroom.leaderboard(runs)
    assert [r.best_accuracy for r in board] == [0.90, 0.85]  # the running run has no epoch yet: not ranked
    assert board[0].student == runs_api.session_tag("bbbbbbbbbbbb") and board[1].label == "Minji lr 0.01"


def test_password_from_environment_or_secrets():
    assert classroom.teacher_password({}, {}) is None
    assert classroom.teacher_password({"teacher_password": "secret123"}, {}) == "secret123"
    assert classroom.teacher_password({}, {"CNNVIZ_TEACHER_PASSWORD": "fromenv99"}) == "fromenv99"
    with pytest.raises(ValueError, match="at least"):
        classroom.teacher_password({}, {"CNNVIZ_TEACHER_PASSWORD": "abc"})
    assert classroom.check_password("secret123", "secret123")
    assert not classroom.check_password("secret12", "secret123")


def test_overlay_names_each_run_by_label_and_settings(class_root):
    from cnnviz.plots.classroom import class_overlay_figure

    runs = classroom.class_runs()
    fig = class_overlay_figure(runs, "test_acc")
    names = [t.name for t in fig.data]
    minji, other = runs_api.session_tag("aaaaaaaaaaaa"), runs_api.session_tag("bbbbbbbbbbbb")
    assert any(n.startswith(f"#{minji} Minji lr 0.01 · mnist_cnn · sgd lr=0.01") for n in names)
    assert fig.layout.yaxis.tickformat == ".1%"
    assert list(fig.data[[i for i, n in enumerate(names) if n.startswith(f"#{other} ·")][0]].y) == [0.70, 0.88, 0.90]
    low, high = fig.layout.yaxis.range  # accuracies: the axis holds every point and stays within 0 … 100 %
    shown = [y for t in fig.data for y in t.y]
    assert 0 <= low <= min(shown) and max(shown) <= high <= 1
    one = [r for r in runs if r.info.history and r.info.history.epochs][:1]
    only = class_overlay_figure(one, "test_acc")  # one run alone: its own points, still within 0 … 100 %
    assert 0 <= only.layout.yaxis.range[0] and only.layout.yaxis.range[1] <= 1
    assert class_overlay_figure(runs, "test_loss").layout.yaxis.range is None  # losses keep plotly's own range


def _class_page(monkeypatch, password: str | None):
    from streamlit.testing.v1 import AppTest

    from conftest import APP

    if password:
        monkeypatch.setenv("CNNVIZ_TEACHER_PASSWORD", password)
    else:
        monkeypatch.delenv("CNNVIZ_TEACHER_PASSWORD", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["lang"] = "en"
    at.run()
    at.switch_page("../pages/50_class.py")
    return at.run()


def test_class_page_is_closed_without_a_password(class_root, monkeypatch):
    at = _class_page(monkeypatch, None)
    assert not at.exception
    assert "CNNVIZ_TEACHER_PASSWORD" in at.info[0].value
    assert not at.dataframe and not at.text_input and not at.metric


def test_class_page_with_the_password(class_root, monkeypatch):
    at = _class_page(monkeypatch, "lesson-42")
    at.text_input[0].set_value("wrong-one")
    at.button[0].click().run()
    assert "not the password" in at.error[0].value
    assert not at.dataframe
    at.text_input[0].set_value("lesson-42")
    from cnnviz.training.job import LiveLock

    live = LiveLock(class_root / "sessions" / "aaaaaaaaaaaa" / "20261124-0905-b")  # its trainer is alive
    try:
        at.button[0].click().run()
    finally:
        live.release()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Students with runs"] == "2" and metrics["Runs"] == "3" and metrics["Running now"] == "1"
    at.run()  # nobody trains it any more (the server restarted): interrupted, not running forever
    assert {m.label: m.value for m in at.metric}["Running now"] == "0"
    assert "interrupted" in set(at.dataframe[-1].value["Status"])
    board = at.dataframe[0].value
    assert list(board["Rank"]) == [1, 2] and list(board["Best test accuracy"]) == [0.90, 0.85]
    assert at.get("plotly_chart"), "the chosen runs' chart"
    # delete a finished run of another session
    target = next(o for o in at.selectbox[0].options if o.endswith("20261124-0910-c"))
    at.selectbox[0].set_value(target).run()
    delete = next(b for b in at.button if b.label == "Delete it")
    delete.click().run()
    assert not at.exception
    assert not (class_root / "sessions" / "bbbbbbbbbbbb" / "20261124-0910-c").exists()
    assert (class_root / "sessions" / "aaaaaaaaaaaa" / "20261124-0900-a").exists()
