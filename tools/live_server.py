"""A real `streamlit run dashboard/app.py` on a free loopback port, Debian's Chromium settings and the selector of a
page that has finished drawing: shared by the browser tests (tests/conftest.py) and the benchmarks that drive the
dashboard with browsers (bench_class, bench_hostile). Loopback only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]
# Streamlit marks its root element with the script's state: "running" until the page has been drawn.
SETTLED = "[data-testid=stApp][data-test-script-state=notRunning][data-test-connection-state=CONNECTED]"


TRAIN_THREAD = "cnnviz-train"  # the OS name of a server's training threads (cnnviz.training.cpu.TRAIN_THREAD_NAME)


def _stat_cpu(stat: Path) -> float:
    """utime + stime in seconds from a /proc .../stat file (a process's covers all its threads, living and ended)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """utime + stime of the process ``pid`` (all its threads), in seconds; 0.0 once it is gone."""
    try:
        return _stat_cpu(Path(f"/proc/{pid}/stat"))
    except (OSError, IndexError, ValueError):
        return 0.0


def server_cpu(pid: int) -> tuple[float, float]:
    """(CPU seconds the process ``pid`` has used so far, the part of it used by its live training threads): the
    difference is what drawing pages cost the server. Threads that ended still count in the first number only.
    Read from /proc (Linux), as ps and top do."""
    total = _stat_cpu(Path(f"/proc/{pid}/stat"))
    train = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == TRAIN_THREAD:
                train += _stat_cpu(task / "stat")
        except (OSError, IndexError, ValueError):  # the thread just ended
            continue
    return total, train


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200
    except OSError:
        return False


def start_server(port: int, runs: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, float]:
    """The server (its own process group, runs under ``runs``, ``env`` added to the environment) and the seconds it
    took to answer /_stcore/health."""
    env = dict(os.environ, CNNVIZ_RUNS=str(runs), **(env or {}))
    env.pop("CNNVIZ_NO_WARM_UP", None)  # a real server warms up, as in class (the test process switches it off)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(600):
        if healthy(port):
            return proc, time.perf_counter() - t0
        if proc.poll() is not None:
            raise RuntimeError("the server exited while starting")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not answer in 60 s")
