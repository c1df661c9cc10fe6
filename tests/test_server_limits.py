"""What one student can take from a shared server: the training queue's bounds (per session, per client address, in
all), the disk quota of a session's runs, the one epoch bound, and run identities that two students cannot make
collide or pass off as each other's on the Class page."""

from __future__ import annotations

import json
import threading

import pytest

import cnnviz
from cnnviz import classroom, runs, training, transfer
from cnnviz.background import QueueFull, WorkQueue

# ---------------------------------------------------------------------------- the queue


def test_dropping_the_cookie_does_not_buy_more_runs_the_address_is_the_second_key():
    """5 cookie-less browsers (5 sessions) from one computer once started 5 runs: now 2 at most per address."""
    queue = WorkQueue(max_jobs=2, per_owner=1, per_address=2, max_waiting=30)
    jobs = [object() for _ in range(5)]
    queue.submit(jobs[0], owner="s1", address="10.0.0.7")
    queue.submit(jobs[1], owner="s2", address="10.0.0.7")
    for i in (2, 3, 4):
        with pytest.raises(QueueFull, match="This computer already has 2 runs waiting or training"):
            queue.submit(jobs[i], owner=f"s{i + 1}", address="10.0.0.7")
    queue.submit(jobs[2], owner="s3", address="10.0.0.8")  # a classmate's computer is not held up
    with pytest.raises(QueueFull, match="at most 1 per student"):
        queue.submit(object(), owner="s3", address="10.0.0.9")  # the session is still the first key
    queue.done(jobs[0])
    queue.submit(jobs[3], owner="s4", address="10.0.0.7")  # a slot of that address came free


def test_the_queue_has_a_total_length_and_never_refuses_a_free_slot():
    queue = WorkQueue(max_jobs=1, per_owner=1, per_address=100, max_waiting=3)
    first = object()
    queue.submit(first, owner="a")
    assert queue.wait_turn(first)  # it runs: the slot is taken
    for i in range(3):
        queue.submit(object(), owner=f"w{i}")
    with pytest.raises(QueueFull, match="full: 3 runs are already waiting"):
        queue.submit(object(), owner="late")
    assert queue.counts() == (1, 3)


def test_queue_bounds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CNNVIZ_JOBS_PER_ADDRESS", "4")
    monkeypatch.setenv("CNNVIZ_MAX_QUEUE", "12")
    queue = WorkQueue(max_jobs=1)
    assert (queue.per_address, queue.max_waiting) == (4, 12)
    monkeypatch.delenv("CNNVIZ_JOBS_PER_ADDRESS")
    monkeypatch.delenv("CNNVIZ_MAX_QUEUE")
    assert (WorkQueue(max_jobs=1).per_address, WorkQueue(max_jobs=1).max_waiting) == (2, 30)


@pytest.mark.parametrize("peer, forwarded, trusted, key", [
    (None, None, False, "local"),  # the server's own machine (Streamlit reports loopback as None)
    ("10.0.0.5", None, False, "10.0.0.5"),
    ("10.0.0.5", "6.6.6.6", False, "10.0.0.5"),  # a header any client can write is not read by default
    ("10.0.0.1", "6.6.6.6, 10.0.0.42", True, "10.0.0.42"),  # the trusted proxy's own (last) entry, not the forged one
    ("10.0.0.1", "garbage", True, "10.0.0.1"),
    ("::ffff:10.0.0.5", None, False, "::ffff:a00:5"),
])
def test_the_client_address_behind_a_trusted_proxy_only(peer, forwarded, trusted, key):
    assert runs.client_address(peer, forwarded, trusted_proxy=trusted) == key


def test_the_studio_queues_a_run_under_the_session_and_the_browser_address(app_at, tmp_path, monkeypatch):
    """The studio hands the queue both keys (AppTest connects from the server itself: "local")."""
    from dashboard import training as training_cache

    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path))
    seen = []
    real_submit = WorkQueue.submit

    def submit(self, job, owner=None, address=None):
        seen.append((owner, address))
        raise QueueFull("refused for the test")

    monkeypatch.setattr(WorkQueue, "submit", submit)
    at = app_at("30_training_studio.py", query={"lang": "en"})
    at.session_state["tr.train_size"], at.session_state["tr.test_size"] = 500, 500
    at.session_state["tr.epochs"] = 1
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    assert seen and seen[0][1] == "local" and seen[0][0] == at.session_state["cnnviz.training.session"]
    assert any("refused for the test" in w.value for w in at.warning)
    assert runs.list_runs(tmp_path / "sessions" / seen[0][0]) == []  # it never started: no trace left
    monkeypatch.setattr(WorkQueue, "submit", real_submit)
    assert training_cache.work_queue().per_address == 2


# ---------------------------------------------------------------------------- the disk quota


def test_quota_from_the_environment():
    assert runs.runs_quota({}) == 500 * 1024**2
    assert runs.runs_quota({"CNNVIZ_RUNS_QUOTA": "2G"}) == 2 * 1024**3
    assert runs.runs_quota({"CNNVIZ_RUNS_QUOTA": "750 MB"}) == 750 * 1024**2
    assert runs.runs_quota({"CNNVIZ_RUNS_QUOTA": "none"}) is None
    assert runs.runs_quota({"CNNVIZ_RUNS_QUOTA": "lots"}) == 500 * 1024**2


@pytest.fixture(scope="module")
def tiny_data():
    images = cnnviz.load_fashion_mnist(train=False)
    return images.subset(64, seed=0), images.subset(32, seed=1)


def test_a_run_that_would_not_fit_the_quota_is_refused_before_its_folder_exists(tiny_data, tmp_path):
    train, test = tiny_data
    config = runs.RunConfig(model="simple_convnet", epochs=10, train_size=64, test_size=32)
    with pytest.raises(runs.QuotaFull, match=r"This run would save about 2\d MB, and only 20 MB of the 20 MB"):
        runs.new_run_job(tmp_path, config, train=train, test=test, quota=20 * 1024**2)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "old-run").mkdir()
    (tmp_path / "old-run" / "epoch_01.pt").write_bytes(b"\0" * (21 * 1024**2))
    with pytest.raises(runs.QuotaFull, match="already use 21 MB of the 20 MB each student may keep"):
        runs.new_run_job(tmp_path, runs.RunConfig(model="simple_convnet", epochs=1), train=train, test=test,
                         quota=20 * 1024**2)
    job = runs.new_run_job(tmp_path, config, train=train, test=test, quota=None)  # the CLI: no quota
    assert job.options["checkpoint_dir"].is_dir()


def test_the_studio_says_when_the_quota_is_reached(app_at, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path))
    monkeypatch.setenv("CNNVIZ_RUNS_QUOTA", "1M")
    at = app_at("30_training_studio.py", query={"lang": "en"})
    at.session_state["tr.train_size"], at.session_state["tr.test_size"] = 500, 500
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    assert any("each student may keep on this server" in w.value for w in at.warning), [w.value for w in at.warning]


def test_folder_bytes_counts_files_not_links(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_bytes(b"1" * 1000)
    (tmp_path / "big").write_bytes(b"1" * 5000)
    (tmp_path / "link").symlink_to(tmp_path / "big")
    (tmp_path / "dirlink").symlink_to(tmp_path / "a")
    links = (tmp_path / "link").lstat().st_size + (tmp_path / "dirlink").lstat().st_size  # the links themselves
    assert runs.folder_bytes(tmp_path) == 6000 + links
    assert runs.folder_bytes(tmp_path / "missing") == 0


# ---------------------------------------------------------------------------- one epoch bound


def test_one_epoch_bound_wherever_epochs_enter(tiny_data):
    train, test = tiny_data
    assert training.settings.MAX_EPOCHS == 1000
    with pytest.raises(ValueError, match="epochs must be a whole number from 1 to 1,000, got 1000000000"):
        runs.RunConfig(epochs=1_000_000_000)
    with pytest.raises(ValueError, match="from 1 to 1,000"):
        cnnviz.fit(cnnviz.build_model("simple_convnet"), train, test, epochs=1001)
    with pytest.raises(ValueError, match="from 1 to 1,000"):
        transfer.ComparisonConfig(epochs=10**9).validate()
    with pytest.raises(ValueError, match="source_epochs must be a whole number"):
        transfer.ComparisonConfig(source_epochs=10**6).validate()
    with pytest.raises(ValueError, match="epochs is 1000000000"):
        runs.RunConfig.from_dict({"epochs": 1_000_000_000})
    assert runs.RunConfig(epochs=1000).epochs == 1000


# ---------------------------------------------------------------------------- run identities and tags


def test_two_students_same_name_same_second_get_two_runs(tiny_data, tmp_path, monkeypatch):
    """Two students naming their runs alike in the same second once got the same folder name pattern, and the Class
    page's chart, Stop and Delete acted on one of them."""
    import time as clock

    train, test = tiny_data
    monkeypatch.setattr(clock, "strftime", lambda fmt, *a: "20261124-090000")  # one clock for everyone
    config = runs.RunConfig(model="simple_convnet", epochs=1, train_size=64, test_size=32, label="Minji")
    made = []

    def start(session: str) -> None:
        for _ in range(5):
            made.append(runs.new_run_job(tmp_path / "sessions" / session, config, train=train, test=test)
                        .options["checkpoint_dir"])

    threads = [threading.Thread(target=start, args=(s,)) for s in ("aaaaaaaaaaaa", "bbbbbbbbbbbb")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in made}) == 10 and all(p.name.startswith("20261124-090000-Minji-") for p in made)
    class_runs = classroom.class_runs(tmp_path)
    assert len({r.key for r in class_runs}) == 10
    assert {r.student for r in class_runs} == {runs.session_tag("aaaaaaaaaaaa"), runs.session_tag("bbbbbbbbbbbb")}


def test_session_tags_are_short_stable_and_give_nothing_away():
    token = runs.new_session_token()
    sid = runs.session_id_for(token)
    tag = runs.session_tag(sid)
    assert tag == runs.session_tag(sid) and len(tag) == 4
    assert set(tag) <= set("23456789ABCDEFGHJKLMNPQRSTUVWXYZ")  # never 0/O or 1/I: read aloud without a doubt
    assert tag != runs.session_tag(runs.session_id_for(runs.new_session_token()))
    tags = {runs.session_tag(runs.session_id_for(runs.new_session_token())) for _ in range(200)}
    assert len(tags) >= 195  # 32**4 tags: a class of 30 rarely sees two alike


def make_run(root, session: str, name: str, label: str, acc: float):
    folder = root / "sessions" / session / name
    folder.mkdir(parents=True)
    config = runs.RunConfig(model="mnist_cnn", optimizer="sgd", lr=0.01, epochs=1, label=label)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    epochs = (training.EpochRecord(1, 0.5, 0.8, 0.4, acc, 10.0, 1000.0),)
    training.History((), epochs, "finished", total_epochs=1, steps_per_epoch=10).save(folder / "history.json")


def test_the_class_page_tells_two_minjis_apart_and_deletes_the_right_one(tmp_path, monkeypatch):
    """A student named a run after a classmate: the table showed only the free-text name. Now every run carries its
    session's tag, and the pickers act on the run's identity (session and folder)."""
    from test_classroom import _class_page

    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path))
    make_run(tmp_path, "aaaaaaaaaaaa", "20261124-090000-Minji", "Minji", 0.9)
    make_run(tmp_path, "bbbbbbbbbbbb", "20261124-090000-Minji", "Minji", 0.5)
    real, fake = runs.session_tag("aaaaaaaaaaaa"), runs.session_tag("bbbbbbbbbbbb")
    at = _class_page(monkeypatch, "lesson-42")
    at.text_input[0].set_value("lesson-42")
    at.button[0].click().run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert sorted(zip(table["Student"], table["Run name"], table["Best test accuracy"])) == sorted(
        [(f"#{real}", "Minji", 0.9), (f"#{fake}", "Minji", 0.5)])
    picker = at.selectbox[0]
    assert sorted(picker.options) == sorted([f"#{real} · Minji · 20261124-090000-Minji",
                                            f"#{fake} · Minji · 20261124-090000-Minji"])
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sorted(t["name"].split(" · ")[0] for t in chart["data"]) == sorted([f"#{real} Minji", f"#{fake} Minji"])
    picker.set_value("bbbbbbbbbbbb/20261124-090000-Minji").run()
    next(b for b in at.button if b.label == "Delete it").click().run()
    assert not at.exception
    assert (tmp_path / "sessions" / "aaaaaaaaaaaa" / "20261124-090000-Minji").is_dir()
    assert not (tmp_path / "sessions" / "bbbbbbbbbbbb" / "20261124-090000-Minji").exists()
