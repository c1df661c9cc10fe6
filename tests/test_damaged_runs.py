"""A damaged run folder never takes a page down: hundreds of random corruptions of every file of a real (tiny) run,
each listed as damaged with one reason (or read as the run it still is) and deletable, at the backend level and on
every page that lists runs (Class, Compare runs, the studio, Errors, Filters, Draw and predict's run chooser, Saved
comparisons) under AppTest."""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import pytest

import cnnviz
from cnnviz import classroom, runs, transfer
from cnnviz.training import RUN_STATUSES, EpochRecord, History

SESSION = "0123456789ab"
SPEC = ({"type": "conv", "out_channels": 4, "kernel": 3, "activation": "relu"}, {"type": "pool", "kernel": 2},
        {"type": "flatten"}, {"type": "linear", "out_features": 10})


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    """A real run of the studio, trained for one epoch on 64 images: config.json, history.json, epoch_00.pt and
    epoch_01.pt (what every file of a run looks like)."""
    folder = tmp_path_factory.mktemp("real-run")
    images = cnnviz.load_fashion_mnist(train=False)  # the smaller file: this run only needs to exist
    train, test = images.subset(64, seed=0), images.subset(32, seed=1)
    config = runs.RunConfig(model="stack", spec=SPEC, input_shape=(1, 28, 28), train_size=64, test_size=32, epochs=1,
                            batch_size=32, log_every=1, label="real")
    job = runs.new_run_job(folder, config, train=train, test=test).start()
    assert job.join(120) and job.status == "finished", job.history.message
    (run,) = runs.list_runs(folder)
    assert {p.name for p in run.path.iterdir()} >= {"config.json", "history.json", "epoch_00.pt", "epoch_01.pt"}
    return run.path


# ---------------------------------------------------------------------------- corruptions

JUNK = [None, True, False, 0, -1, 3.5, 10**30, -10**30, float("nan"), float("inf"), "", "x", "1e9", "é" * 5000, [],
        [1, 2], {}, {"a": 1}, [[[[[]]]]], [None] * 50]


def _paths(value, at=()):
    """Every place (a path of keys and indices) in a JSON value."""
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:30]):
            yield from _paths(v, (*at, i))


def _set(value, at, new):
    if not at:
        return new
    parent = value
    for key in at[:-1]:
        parent = parent[key]
    if new is _DELETE:
        del parent[at[-1]]
    else:
        parent[at[-1]] = new
    return value


_DELETE = object()


def corrupt_json(rng: random.Random, path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    kind = rng.randrange(10)
    if kind == 0:
        path.write_bytes(text.encode()[: rng.randrange(len(text))])
        return "cut short"
    if kind == 1:
        whole = rng.choice([[], {}, None, "x", 1, {"epochs": "x"}, {"status": "finished"}, [{"epochs": []}]])
        path.write_text(json.dumps(whole))
        return f"whole file {whole!r}"
    if kind == 2:
        path.write_text(json.dumps(rng.choice([{"a": 1}, [1]])) * 2)  # not one JSON value
        return "two values"
    value = json.loads(text)
    places = [p for p in _paths(value) if p]
    for _ in range(rng.randint(1, 3)):
        at = rng.choice(places)
        new = _DELETE if kind == 3 and isinstance(at[-1], str) else rng.choice(JUNK)
        try:
            value = _set(value, at, new)
        except (KeyError, IndexError, TypeError):  # the place went away with an earlier change
            continue
        places = [p for p in _paths(value) if p]
        if not places:
            break
    if kind == 4:
        value = {**value, "from_a_newer_cnnviz": {"x": [1, 2]}} if isinstance(value, dict) else value
    path.write_text(json.dumps(value))  # NaN / Infinity as JSON's non-standard literals, as Python writes them
    return "values changed"


def corrupt_bytes(rng: random.Random, path: Path) -> str:
    data = bytearray(path.read_bytes())
    kind = rng.randrange(4)
    if kind == 0 and data:
        path.write_bytes(bytes(data[: rng.randrange(len(data))]))
        return "cut short"
    if kind == 1 and data:
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        return "bytes flipped"
    if kind == 2:
        path.write_bytes(rng.randbytes(rng.randrange(2000)))
        return "random bytes"
    path.write_text('{"not": "a checkpoint"}')
    return "JSON instead"


def corrupt(rng: random.Random, run: Path) -> str:
    """One random corruption of ``run`` (a copy of a real run); returns what was done."""
    files = sorted(p for p in run.iterdir() if p.is_file())
    kind = rng.randrange(12)
    if kind == 0:
        for p in files:
            p.unlink()
        return "every file removed"
    if kind == 1:
        for name in ("config.json", "history.json"):
            (run / name).unlink(missing_ok=True)
        return "only checkpoints left"
    target = rng.choice(files)
    if kind == 2:
        target.unlink()
        return f"{target.name} removed"
    if kind == 3:
        target.unlink()
        target.mkdir()
        return f"{target.name} is a folder"
    if kind == 4:
        target.write_bytes(b"")
        return f"{target.name} empty"
    if target.suffix == ".json":
        return f"{target.name}: {corrupt_json(rng, target)}"
    return f"{target.name}: {corrupt_bytes(rng, target)}"


def damaged_copy(real: Path, folder: Path, rng: random.Random, name: str) -> tuple[Path, str]:
    copy = folder / name
    shutil.copytree(real, copy)
    return copy, corrupt(rng, copy)


# ---------------------------------------------------------------------------- the backend


def check_listed(info: runs.RunInfo, where: Path) -> None:
    """What every page reads of a listed run, read: nothing raises, a damaged run gives one plain reason."""
    assert info.status in RUN_STATUSES
    if info.status == "damaged":
        assert info.problem and "\n" not in info.problem and len(info.problem) <= 300, info.problem
        assert str(where) not in info.problem and "Traceback" not in info.problem, info.problem
        assert info.config is None and info.history is None and not info.resumable
    str(info.title), info.checkpoints, info.resumable, info.created
    class_run = classroom.ClassRun(SESSION, info)
    (class_run.student, class_run.label, class_run.model, class_run.settings, class_run.best_accuracy,
     class_run.epochs_done, class_run.updated, class_run.key)
    runs.run_labels([info, info])
    classroom.leaderboard([class_run])
    if info.history is not None:  # the figures are drawn by the pages, under AppTest below
        for value in (info.history.progress, info.history.eta_s, info.history.images_per_s,
                      info.history.best_test_acc, info.history.total_steps):
            assert value is None or isinstance(value, (int, float))


def test_two_hundred_corruptions_each_listed_and_deletable(real_run, tmp_path):
    rng = random.Random(23)
    folder = tmp_path / "session"
    shutil.copytree(real_run, folder / "good")
    damaged = 0
    for i in range(200):
        copy, what = damaged_copy(real_run, folder, rng, f"run-{i:03d}")
        listed = runs.list_runs(folder)
        assert sorted(r.name for r in listed) == sorted(["good", copy.name]), what
        info = next(r for r in listed if r.name == copy.name)
        try:
            check_listed(info, tmp_path)
        except Exception as err:  # noqa: BLE001 - name the corruption that broke it
            raise AssertionError(f"{what}: {type(err).__name__}: {err}") from err
        damaged += info.status == "damaged"
        runs.delete_run(info.path, folder=folder)
        assert not copy.exists(), what
    assert 60 <= damaged < 200  # a damaged checkpoint is found when it is opened, not when the run is listed


@pytest.mark.parametrize("name, content, reason", [
    ("config.json", "[]", "config.json holds no settings"),
    ("config.json", '{"epochs": "x"}', 'config.json: epochs is "x", not a whole number from 1 to 1000'),
    ("config.json", '{"epochs": 1000000000}', "config.json: epochs is 1000000000"),
    ("history.json", '{"epochs": "x"}', "history.json holds no training history"),
    ("history.json", '{"status": "finished", "epochs": "x"}', "history.json: its epoch records"),
    ("history.json", '{"status": "finished", "st', "history.json is cut short or is not JSON"),
])
def test_the_issues_damaged_files_are_named_and_the_run_stays_listed(real_run, tmp_path, name, content, reason):
    """config.json holding [] once raised AttributeError on the Class page for the whole class; a truncated
    history.json or {"epochs": "x"} made the run vanish from every list while its checkpoints stayed on disk."""
    folder = tmp_path / "session"
    shutil.copytree(real_run, folder / "run")
    (folder / "run" / name).write_text(content)
    (info,) = runs.list_runs(folder)
    assert info.status == "damaged" and info.problem.startswith(reason), info.problem
    class_run = classroom.ClassRun(SESSION, info)
    assert class_run.status == "damaged" and class_run.problem == info.problem and class_run.model == "?"
    runs.delete_run(info.path, folder=folder)
    assert runs.list_runs(folder) == []


def test_a_folder_of_runs_and_links_out_are_never_deleted_as_a_run(real_run, tmp_path):
    session = tmp_path / "sessions" / SESSION
    shutil.copytree(real_run, session / "run")
    (session / "transfer").mkdir()  # saved comparisons live there: not a run
    (tmp_path / "elsewhere").mkdir()
    (session / "link").symlink_to(tmp_path / "elsewhere")
    assert sorted(r.name for r in runs.list_runs(session)) == ["link", "run"]
    with pytest.raises(ValueError):
        runs.delete_run(session, folder=session.parent)  # a session's folder holds runs: it is not one
    with pytest.raises(ValueError):
        runs.delete_run(session / "link", folder=session)
    with pytest.raises(ValueError):
        runs.delete_run(session / "transfer", folder=session)
    assert (tmp_path / "elsewhere").is_dir() and (session / "run").is_dir()


def test_a_run_the_disk_will_not_delete_is_one_sentence_without_a_path(real_run, tmp_path, monkeypatch):
    session = tmp_path / "sessions" / SESSION
    shutil.copytree(real_run, session / "run")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path / "epoch_01.pt"))

    monkeypatch.setattr(shutil, "rmtree", refuse)
    with pytest.raises(ValueError) as err:
        runs.delete_run(session / "run", folder=session)
    assert str(err.value) == ("the server would not remove all of its files (ask the teacher to look at the runs "
                              "folder)")
    assert str(tmp_path) not in str(err.value) and "Errno" not in str(err.value)


# ---------------------------------------------------------------------------- every page that lists runs

PAGES = ["50_class.py", "31_compare_runs.py", "30_training_studio.py", "32_errors.py", "21_filters.py", "24_draw.py",
         "42_transfer_saved.py"]


def saved_comparison(root: Path) -> Path:
    pts = (EpochRecord(1, 1.0, 0.5, 1.0, 0.6, 2.0),)
    run = transfer.StrategyResult("frozen", "finished", "", pts, transfer.ParamCounts(100, 10),
                                  (transfer.LayerChange("head.1", "Linear", 10, 0.2, True),), 0.2)
    result = transfer.ComparisonResult(transfer.ComparisonConfig(shots=5), (run,), ("a", "b"), 4, 4, "toy", "finished",
                                       created="2026-01-01T00:00:00Z")
    return transfer.save_comparison(result, root=root)


def open_page(page: str, *, timeout: float = 90):
    from streamlit.testing.v1 import AppTest

    from conftest import APP
    from dashboard import classroom as teacher
    from dashboard import session

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.query_params["lang"] = "en"
    at.run()
    at.session_state[session.TRAIN_SESSION_KEY] = SESSION  # the session that owns the runs (its cookie's digest)
    at.session_state[teacher.TEACHER_KEY] = True  # signed in as the teacher
    at.switch_page(f"../pages/{page}")
    return at.run()


@pytest.mark.slow
def test_every_page_that_lists_runs_keeps_working_with_dozens_of_damaged_runs(real_run, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "root"))
    monkeypatch.setenv("CNNVIZ_TEACHER_PASSWORD", "lesson-42")
    session = tmp_path / "root" / "sessions" / SESSION
    rng = random.Random(1234)
    done: list[str] = []
    for round_ in range(2):
        shutil.rmtree(session, ignore_errors=True)
        shutil.copytree(real_run, session / "good")
        made = [damaged_copy(real_run, session, rng, f"run-{round_}-{i:02d}") for i in range(16)]
        good = saved_comparison(session)
        for i in range(4):  # saved comparisons damaged too
            copy = good.parent.with_name(f"damaged-{i}")
            shutil.copytree(good.parent, copy)
            corrupt_json(rng, copy / "comparison.json")
        done += [what for _path, what in made]
        for page in PAGES:
            at = open_page(page)
            problems = [e.value for e in at.exception]
            assert not problems, f"{page} after {[w for _p, w in made]}: {problems}"
        damaged = [r for r in runs.list_runs(session) if r.problem]
        class_page = open_page("50_class.py")
        table = class_page.dataframe[-1].value
        assert list(table["Status"]).count("damaged") == len(damaged)
    assert len(done) == 32


@pytest.mark.slow
def test_compare_runs_and_the_class_page_list_a_damaged_run_and_delete_it(real_run, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "root"))
    monkeypatch.setenv("CNNVIZ_TEACHER_PASSWORD", "lesson-42")
    session = tmp_path / "root" / "sessions" / SESSION
    shutil.copytree(real_run, session / "good")
    shutil.copytree(real_run, session / "broken")
    (session / "broken" / "config.json").write_text("[]")
    at = open_page("31_compare_runs.py")
    assert not at.exception
    warning = next(w.value for w in at.warning if "damaged" in w.value)
    assert "`broken`: config.json holds no settings" in warning
    next(b for b in at.button if b.label == "Delete the damaged run").click().run()
    assert not at.exception and not (session / "broken").exists() and (session / "good").is_dir()

    shutil.copytree(real_run, session / "broken")
    (session / "broken" / "history.json").write_text('{"status": "finished", "epo')
    at = open_page("50_class.py")
    assert not at.exception
    rows = at.dataframe[-1].value
    broken = rows[rows["Status"] == "damaged"].iloc[0]
    assert broken["Settings"] == "history.json is cut short or is not JSON"
    assert broken["Student"] == "#" + runs.session_tag(SESSION)
    assert broken["Run name"] == "broken"  # its folder: a damaged run has no name of its own to show
    assert math.isnan(broken["Best test accuracy"]) and at.dataframe[-1].proto.placeholder == "—"  # not "None"
    target = next(o for o in at.selectbox[0].options if o.endswith("broken"))
    at.selectbox[0].set_value(target).run()
    assert any("damaged" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Delete it").click().run()
    assert not at.exception and not (session / "broken").exists() and (session / "good").is_dir()


def test_json_non_standard_numbers_are_damage_not_crashes(real_run, tmp_path):
    folder = tmp_path / "session"
    shutil.copytree(real_run, folder / "run")
    history = json.loads((folder / "run" / "history.json").read_text())
    history["elapsed_s"] = math.inf
    (folder / "run" / "history.json").write_text(json.dumps(history))
    (info,) = runs.list_runs(folder)
    assert info.status == "damaged" and info.problem == (
        "history.json: elapsed_s is inf, which a training history never holds")
    assert History.load(real_run / "history.json").status == "finished"


@pytest.mark.slow
def test_a_run_with_a_damaged_checkpoint_is_a_sentence_where_its_checkpoints_are_opened(real_run, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "root"))
    session = tmp_path / "root" / "sessions" / SESSION
    import dashboard.inside

    # the run chooser's labels read this session's runs; AppTest formats a choice outside the script run
    monkeypatch.setattr(dashboard.inside, "training_runs_folder", lambda: session)
    shutil.copytree(real_run, session / "cut")
    last = session / "cut" / "epoch_01.pt"
    last.write_bytes(last.read_bytes()[:300])
    for page, label in (("21_filters.py", "Training run"), ("32_errors.py", "Network")):
        at = open_page(page)
        assert not at.exception, (page, [e.value for e in at.exception])
        box = next(s for s in at.selectbox if s.label == label)
        box.set_value("run:cut").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        shown = " ".join(e.value for e in [*at.error, *at.warning, *at.info])
        assert "damaged or truncated" in shown, (page, shown)
