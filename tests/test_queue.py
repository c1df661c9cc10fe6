"""One server for a class: the bounded training queue, runs that survive a restart, runs owned by a secret."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import cnnviz
from cnnviz import classroom, runs, training
from cnnviz.background import BackgroundWork, QueueFull, WorkQueue, default_max_jobs
from test_runs import data, small_config  # noqa: F401 - the same tiny data and run settings


class Gate(BackgroundWork):
    """A job that runs until its gate opens, recording the order jobs started in."""

    def __init__(self, name: str, started: list[str], length: float | None = None) -> None:
        super().__init__()
        self.name, self.started, self.length = name, started, length
        self.gate = threading.Event()
        self.cancelled = False
        self.began = threading.Event()

    def start(self) -> Gate:
        self._launch(f"gate-{self.name}")
        return self

    def estimate_s(self):
        return self.length

    def _run(self) -> None:
        self.started.append(self.name)
        self.began.set()
        self.gate.wait(10)

    def _cancelled(self) -> None:
        self.cancelled = True


def wait_until(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_queue_runs_at_most_max_jobs_in_order_and_says_where_each_waits():
    q = WorkQueue(1, per_owner=1)
    started: list[str] = []
    a, b, c = (Gate(n, started, length).enqueue(q, owner=n) for n, length in (("a", 10.0), ("b", 5.0), ("c", 1.0)))
    a.start()
    assert a.began.wait(5)
    b.start()
    c.start()
    wait_until(lambda: q.counts() == (1, 2))
    assert b.queued and c.queued and not a.queued
    assert b.queue_place() == cnnviz.background.QueuePlace(1, 2, 10.0)  # after a's 10 s
    assert c.queue_place() == cnnviz.background.QueuePlace(2, 2, 15.0)  # after a, then b
    assert [w for _j, _o, w in q.jobs()] == ["running", "waiting", "waiting"]
    a.gate.set()
    assert b.began.wait(5) and started == ["a", "b"]
    assert c.queue_place().position == 1
    b.gate.set()
    c.gate.set()
    assert c.join(5) and started == ["a", "b", "c"] and q.counts() == (0, 0)


def test_one_job_per_student_and_cancelling_a_waiting_job():
    q = WorkQueue(1, per_owner=1)
    started: list[str] = []
    first = Gate("first", started).enqueue(q, owner="ann").start()
    assert first.began.wait(5)
    with pytest.raises(QueueFull, match="already have a run"):
        Gate("second", started).enqueue(q, owner="ann").start()
    other = Gate("other", started).enqueue(q, owner="bob").start()
    wait_until(lambda: other.queued)
    other._stop.set()
    other._wake_queue()
    assert other.join(5) and other.cancelled and "other" not in started
    assert q.counts() == (1, 0)
    again = Gate("again", started).enqueue(q, owner="bob").start()  # bob may queue again once his job left
    first.gate.set()
    assert again.began.wait(5)
    again.gate.set()
    assert again.join(5)


def test_queue_limits_come_from_the_environment():
    assert default_max_jobs({"CNNVIZ_MAX_JOBS": "3"}) == 3
    assert default_max_jobs({"CNNVIZ_MAX_JOBS": "nonsense"}) == max(1, os.cpu_count() or 1)
    assert default_max_jobs({"CNNVIZ_MAX_JOBS": "0"}) == 1
    assert default_max_jobs({}) == max(1, os.cpu_count() or 1)


def test_training_jobs_wait_their_turn_and_all_finish(data, tmp_path):
    train, test = data
    q = WorkQueue(1, per_owner=1)
    jobs = [runs.new_run_job(tmp_path, small_config(label=f"s{i}", epochs=2), train=train, test=test).enqueue(q, f"s{i}")
            for i in range(3)]
    for job in jobs:
        job.start()
    wait_until(lambda: q.counts()[1] >= 1, 30)
    statuses = {r.config.label: r.status for r in runs.list_runs(tmp_path)}
    assert "queued" in statuses.values()  # the class's lists show the waiting runs
    for job in jobs:
        assert job.join(120), job.history
    assert [j.status for j in jobs] == ["finished"] * 3
    assert all(r.status == "finished" and len(r.history.epochs) == 2 for r in runs.list_runs(tmp_path))


def test_a_run_nobody_trains_any_more_is_interrupted_and_resumes(data, tmp_path):
    train, test = data
    job = runs.new_run_job(tmp_path, small_config(epochs=3), train=train, test=test).start()
    folder = Path(job.options["checkpoint_dir"])
    wait_until(lambda: (folder / "epoch_01.pt").exists() or not job.running, 60)
    assert runs.load_run(folder).status in ("running", "finished")
    job.join(60)
    # as the disk looks after the server died in epoch 2: history "running", trainer_state of epoch 1
    history = json.loads((folder / "history.json").read_text())
    history["status"] = "running"
    (folder / "history.json").write_text(json.dumps(history))
    info = runs.load_run(folder)
    assert info.status == "interrupted" and info.resumable
    again = runs.resume_run_job(folder, train=train, test=test).resume()
    assert runs.load_run(folder).status in ("running", "finished")
    assert again.join(60) and again.status == "finished"
    assert runs.load_run(folder).status == "finished"


SCRIPT = """
import sys, time
import cnnviz
from cnnviz import runs
train = cnnviz.load_fashion_mnist(train=True).subset(2000, seed=0)
test = cnnviz.load_fashion_mnist(train=False).subset(100, seed=0)
config = runs.RunConfig(model="simple_convnet", train_size=2000, test_size=100, epochs=20, batch_size=50, log_every=1)
job = runs.new_run_job(sys.argv[1], config, train=train, test=test).start()
print(job.options["checkpoint_dir"], flush=True)
job.join()
"""


def test_a_server_killed_while_training_leaves_an_interrupted_run_that_resumes(data, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        folder = Path(proc.stdout.readline().strip())
        wait_until(lambda: (folder / "epoch_01.pt").exists(), 120)
        assert runs.load_run(folder).status == "running"  # the other process holds it
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    info = runs.load_run(folder)
    assert info.status == "interrupted" and info.resumable
    train, test = training.load_train_test("fashion_mnist", input_shape=(1, 28, 28), train_size=2000, test_size=100,
                                           seed=0)
    job = runs.resume_run_job(folder, train=train, test=test)
    job.options["epochs"] = 2  # finish soon: one more epoch than the save it resumes from
    job.resume()
    assert job.join(120) and job.status == "finished", job.history.message
    steps = [s.step for s in job.history.steps]
    assert steps == sorted(set(steps)) and job.history.epochs[-1].epoch == 2


def test_a_run_killed_before_its_first_state_save_reads_interrupted_and_restarts_from_its_last_epoch(data, tmp_path):
    """Killed between writing epoch_01.pt and history.json/trainer_state.pt: it started (not "new"), and Resume
    continues from the epoch checkpoint it has."""
    train, test = data
    job = runs.new_run_job(tmp_path, small_config(), train=train, test=test).start()
    assert job.join(120) and job.status == "finished"
    folder = Path(job.options["checkpoint_dir"])
    for name in ("history.json", "trainer_state.pt"):  # what the kill left unwritten
        (folder / name).unlink(missing_ok=True)
    info = runs.load_run(folder)
    assert info.status == "interrupted" and info.resumable
    again = runs.resume_run_job(folder, train=train, test=test)
    again.options["epochs"] = 2
    again.resume()
    assert again.join(120) and again.status == "finished", again.history.message
    assert [e.epoch for e in again.history.epochs] == [2]  # epoch 1 came from epoch_01.pt, not trained again
    assert again.history.steps[0].step > again.history.steps_per_epoch  # counted on from the first epoch's steps
    (folder / "epoch_01.pt").unlink()
    (folder / "epoch_02.pt").unlink()
    (folder / "epoch_00.pt").unlink()
    (folder / "history.json").unlink()
    (folder / "trainer_state.pt").unlink(missing_ok=True)
    assert runs.load_run(folder).status == "new"  # nothing on disk says it ever trained


def test_session_tokens_own_runs_and_share_ids_cannot_give_them_away(tmp_path):
    token = runs.new_session_token()
    sid = runs.session_id_for(token)
    assert sid == runs.session_id_for(token) and sid != runs.session_id_for(runs.new_session_token())
    assert token not in sid and len(sid) == 24 and runs.SHARE_ID.match(sid)
    for bad in ("", "short", "a" * 20, "../../etc/passwd" * 3, "x y" * 20):
        assert not runs.is_session_token(bad)
        with pytest.raises(ValueError):
            runs.session_id_for(bad)
    folder = runs.session_folder(sid, root=tmp_path)
    assert runs.shared_folder(sid, root=tmp_path) is None  # nothing there yet
    folder.mkdir(parents=True)
    assert runs.shared_folder(sid, root=tmp_path) == folder
    for bad in ("../x", "ABC", "", "g" * 24):
        assert runs.shared_folder(bad, root=tmp_path) is None


def test_the_teachers_queue_table_names_each_job():
    q = WorkQueue(1)
    started: list[str] = []
    a = Gate("a", started).enqueue(q, owner="aaaaaaaaaa").start()
    assert a.began.wait(5)
    b = Gate("b", started).enqueue(q, owner="bbbbbbbbbb").start()
    wait_until(lambda: b.queued)
    entries = classroom.queue_entries(q.jobs())
    tag = cnnviz.runs.session_tag  # students by their session's tag, as beside their runs
    assert [(e.where, e.place, e.student) for e in entries] == [("running", 0, tag("aaaaaaaaaa")),
                                                                ("waiting", 1, tag("bbbbbbbbbb"))]
    a.gate.set()
    b.gate.set()
    assert b.join(5)


def test_a_run_refused_by_the_queue_stays_as_it_was_on_disk(data, tmp_path):
    train, test = data
    q = WorkQueue(1, per_owner=1)
    started: list[str] = []
    holder = Gate("holder", started).enqueue(q, owner="ann").start()
    try:
        job = runs.new_run_job(tmp_path, small_config(), train=train, test=test).enqueue(q, "ann")
        with pytest.raises(QueueFull):
            job.start()
        info = runs.load_run(job.options["checkpoint_dir"])
        assert info.status == "new" and not job.running  # not "queued", not "interrupted"
        assert not training.run_is_live(info.path)
    finally:
        holder.gate.set()
        holder.join(5)
