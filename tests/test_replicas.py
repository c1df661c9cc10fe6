"""Two replicas behind nginx, for real (deploy/): a run started through the balancer shows on the teacher's Class page
of the other replica; killed with its replica, it reads "interrupted" there, the student's next page lands on the
other replica through the balancer, and Resume continues the run on it."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from deploy.replicas import NGINX, REPLICA_HEADER, Deployment, free_ports  # noqa: E402
from tools.live_server import SETTLED, TRAIN_THREAD  # noqa: E402

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(NGINX).exists(),
                                 reason="needs Debian's nginx at /usr/sbin/nginx (.ci/run installs it)")]
PASSWORD = "lesson-42"
STEPPING = re.compile(r"step [\d,]+ of [\d,]+")


def trainers(pid: int) -> int:
    """How many training threads the server process ``pid`` runs now (a run's own thread and the OpenMP workers it
    starts, which take its name: one run on two cores counts 2)."""
    count = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            count += (task / "comm").read_text().strip() == TRAIN_THREAD
        except OSError:  # the thread just ended
            continue
    return count


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.25)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def settle(page, timeout_ms: int = 90_000) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector(SETTLED, timeout=timeout_ms)


def replica_of(response) -> int:
    """The port of the replica that answered through nginx."""
    return int(response.headers[REPLICA_HEADER.lower()].rsplit(":", 1)[1])


def the_run(runs: Path) -> Path:
    folders = [p for p in (runs / "sessions").glob("*/*") if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def class_table(page) -> str:
    return page.locator("[data-testid=stTable]").last.inner_text()


def test_a_run_started_through_one_replica_survives_it_on_the_other(chromium, tmp_path):
    from cnnviz import runs as cnnviz_runs

    port, *replicas = free_ports(3)
    runs = tmp_path / "runs"
    with Deployment(runs=runs, replica_ports=replicas, port=port, folder=tmp_path / "deploy",
                    env={"CNNVIZ_TEACHER_PASSWORD": PASSWORD}) as d:
        student = chromium.new_context(viewport={"width": 1400, "height": 1000})
        teacher = chromium.new_context(viewport={"width": 1400, "height": 1000})
        try:
            # a student uploads a photo through the balancer: a PUT that carries Streamlit's XSRF token and must reach
            # the replica that holds the session (a 240 kB photo once failed there: nginx's workers could not write
            # its temporary file)
            page = student.new_page()
            page.goto(f"{d.url}/pooling?lang=en")
            settle(page)
            with page.expect_response(lambda r: "/_stcore/upload_file/" in r.url) as upload:
                page.locator("input[type=file]").first.set_input_files(str(ROOT / "assets" / "samples" / "cat.png"))
            assert upload.value.status == 204
            settle(page)
            assert page.locator("[data-testid=stException]").count() == 0

            # the student opens the studio through the balancer; nginx says which replica (A) serves this computer
            a = replica_of(page.goto(f"{d.url}/training_studio?lang=en"))
            b = next(p for p in replicas if p != a)
            settle(page)
            epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
            epochs.fill("30")  # long enough to still be training when its replica is killed
            epochs.press("Enter")
            settle(page)
            page.get_by_role("button", name="Start training").click()
            page.get_by_text(STEPPING).first.wait_for(timeout=90_000)
            assert trainers(d.replicas[a].pid) >= 1 and trainers(d.replicas[b].pid) == 0
            run = the_run(runs)
            tag = cnnviz_runs.session_tag(run.parent.name)

            # the teacher, on replica B directly (presenter mode: the tables are HTML), sees it running
            desk = teacher.new_page()
            desk.goto(f"{d.replica_url(b)}/class?lang=en&present=1")
            settle(desk)
            desk.get_by_label("Teacher's password").fill(PASSWORD)
            desk.get_by_role("button", name="Open the class view").click()
            desk.get_by_text("Every run").first.wait_for(timeout=90_000)
            settle(desk)
            row = class_table(desk)
            assert f"#{tag}" in row and "running" in row, row

            # replica A dies mid-run (after the run's first save, so there is something to resume)
            wait_for(lambda: (run / "trainer_state.pt").exists(), 120, "the run's first save")
            d.kill_replica(a)
            desk.reload()
            settle(desk)
            desk.get_by_text("Every run").first.wait_for(timeout=60_000)
            row = class_table(desk)
            assert f"#{tag}" in row and "interrupted" in row and "running" not in row, row
            stopped_at = cnnviz_runs.load_run(run).history.step

            # the student's next page: through the balancer it opens on B, which offers to resume the run
            response = page.goto(f"{d.url}/training_studio?lang=en")
            assert replica_of(response) == b
            settle(page)
            page.get_by_text("was interrupted at step", exact=False).first.wait_for(timeout=60_000)
            page.get_by_role("button", name="Resume it").click()
            page.get_by_text(STEPPING).first.wait_for(timeout=90_000)
            assert trainers(d.replicas[b].pid) >= 1
            wait_for(lambda: cnnviz_runs.load_run(run).history.step > stopped_at + 50, 120,
                     "the resumed run to train on")
            desk.reload()
            settle(desk)
            desk.get_by_text("Every run").first.wait_for(timeout=60_000)
            assert "running" in class_table(desk)
            assert page.locator("[data-testid=stException]").count() == 0
            assert desk.locator("[data-testid=stException]").count() == 0
        finally:
            student.close()
            teacher.close()
    assert all(p.poll() is not None for p in [*d.replicas.values(), d.balancer])
