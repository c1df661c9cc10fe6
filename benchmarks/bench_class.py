"""A class on one server: N students' browsers against one `streamlit run dashboard/app.py`, measured.

    .venv/bin/python benchmarks/bench_class.py [--sessions 30] [--train 10] [--short] [--replicas 2 | --url URL]

Starts a real server on a free loopback port (its own runs folder), then:
1. cold start: seconds from `streamlit run` to a healthy server, to the first page drawn, to Feature maps drawn;
2. one session alone: the time of a page rerun (a slider step on Output size; an upload on Feature maps);
3. N sessions at once (headless Debian Chromium, one browser context per student): each opens Home, Feature maps
   with a photo upload, and Output size with a slider step; the first --train of them start a small training run
   in the studio. Reports errors (must be 0), the median and 95th percentile of each rerun against the single
   session's, the server's peak resident memory (VmHWM) against the 3 GB budget, and whether every run finished;
4. a fault: the server is killed during training and started again; the runs that were running must show as
   interrupted (or finished), and every checkpoint on disk must load.
Only loopback traffic; every wait is bounded. Prints the CPU's capability with the figures.

--replicas N: N replicas behind nginx instead (deploy/replicas.py; one shared runs folder): the students go through
the balancer, each with its own X-Forwarded-For address, which nginx trusts from loopback and hashes on, so they
spread over the replicas as separate laptops would; the server figures are summed over the replicas, and the
fault step is left to tests/test_replicas.py. --url URL: students against a server that already runs (e.g. a
balancer); its CPU (--pids) and runs (--runs) are measured only when given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools.live_server import CHROMIUM, CHROMIUM_ARGS, SETTLED, free_port, server_cpu, start_server  # noqa: E402

BUDGET_BYTES = 3 * 1024**3
PHOTO = ROOT / "assets" / "samples" / "cat.png"


def peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


class Student:
    """One browser context: a student's laptop."""

    def __init__(self, browser, base: str, index: int, timeout_ms: int):
        self.browser, self.base, self.index, self.timeout = browser, base, index, timeout_ms
        self.times: dict[str, float] = {}
        self.errors: list[str] = []
        self.repeats = 0  # "Start training" clicks that had to be repeated

    OPENS = ("home", "feature_maps", "output_size", "studio")  # the steps that open a page

    async def settle(self, page, *, loaded: bool = False) -> None:
        if loaded:  # a page just opened: its title is drawn once its script runs
            await page.wait_for_selector("h1", timeout=self.timeout)
        else:  # an action on a drawn page: give its rerun time to begin
            await page.wait_for_timeout(300)
        await page.wait_for_selector(SETTLED, timeout=self.timeout)

    async def timed(self, name: str, page, action) -> None:
        t = time.perf_counter()
        await action()
        await self.settle(page, loaded=name in self.OPENS)
        self.times[name] = time.perf_counter() - t
        if await page.locator("[data-testid=stException]").count():
            self.errors.append(f"{name}: " + (await page.locator("[data-testid=stException]").first.inner_text())[:200])

    async def run(self, *, train: bool) -> None:
        # each student's laptop has its own address: the server counts runs per address too (its web server takes the
        # address from X-Forwarded-For when the connection comes from this machine, as behind a local proxy)
        context = await self.browser.new_context(viewport={"width": 1280, "height": 800}, extra_http_headers={
            "X-Forwarded-For": f"10.0.{self.index // 250}.{self.index % 250 + 1}"})
        context.set_default_timeout(self.timeout)  # 30 browsers on the server's own 2 cores: loads take long
        context.set_default_navigation_timeout(self.timeout)
        page = await context.new_page()
        page.on("pageerror", lambda e: self.errors.append(f"js: {e}"))
        try:
            await self.timed("home", page, lambda: page.goto(f"{self.base}/?lang=ko"))
            await self.timed("feature_maps", page, lambda: page.goto(f"{self.base}/feature_maps?lang=ko"))
            await self.timed("upload", page,
                             lambda: page.locator("input[type=file]").first.set_input_files(str(PHOTO)))
            await self.timed("output_size", page, lambda: page.goto(f"{self.base}/output_size?lang=ko"))

            async def slide():
                thumb = page.locator("[data-testid=stSlider] input[type=range]").first
                await thumb.focus()
                await thumb.press("ArrowRight")

            await self.timed("slider", page, slide)
            if train:
                await self.timed("studio", page, lambda: page.goto(f"{self.base}/training_studio?lang=en"))
                # a click that lands while the freshly loaded studio is still settling is sometimes lost (Streamlit
                # drops it): a student clicks again when no run appears; each repeat is counted and reported
                for _attempt in range(3):
                    await self.timed("start_training", page,
                                     lambda: page.get_by_role("button", name="Start training").first.click())
                    try:
                        await page.get_by_role("button", name=re.compile("^(Stop|Cancel)$")).first.wait_for(
                            timeout=min(self.timeout, 30_000))
                        break
                    except Exception:  # noqa: BLE001 - no run appeared: click again
                        self.repeats += 1
        except Exception as err:  # a timeout or a missing element: that student's run failed
            self.errors.append(f"{type(err).__name__}: {str(err).splitlines()[0][:200]}")
        finally:
            await context.close()


def new_photos(n: int, folder: Path) -> list[Path]:
    """``n`` copies of the sample photo, each with a different 8×8 block: content no cache has seen."""
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(PHOTO).convert("RGB")).copy()
    rng = np.random.default_rng()
    out = []
    for i in range(n):
        y, x = rng.integers(0, img.shape[0] - 8), rng.integers(0, img.shape[1] - 8)
        changed = img.copy()
        changed[y:y + 8, x:x + 8] = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        path = folder / f"photo_{i}.png"
        Image.fromarray(changed).save(path)
        out.append(path)
    return out


ACTIONS = ("open a page", "lab slider", "new photo on Feature maps", "Grad-CAM on a new photo",
           "What a filter looks for: open", "What a filter looks for: optimize", "start training")
TARGETS = {"lab slider": 0.1, "new photo on Feature maps": 0.5, "Grad-CAM on a new photo": 0.5}


async def action_costs(base: str, pids: list[int], timeout_ms: int, repeats: int) -> dict[str, list[float]]:
    """CPU seconds the server processes ``pids`` spend on each student action (one student alone, warm server): their
    CPU time from the action until its page has settled and 0.5 s more, minus their training threads' and minus what
    they use idle in as long. Each action ``repeats`` times (a new photo each time), the optimization once."""
    from playwright.async_api import async_playwright

    def cpu() -> tuple[float, float]:
        totals = [server_cpu(pid) for pid in pids]
        return sum(t for t, _ in totals), sum(tr for _, tr in totals)

    costs: dict[str, list[float]] = {name: [] for name in ACTIONS}
    photos = new_photos(2 * repeats, Path(tempfile.mkdtemp(prefix="cnnviz-photos-")))
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(timeout_ms)
        page = await context.new_page()
        student = Student(browser, base, 0, timeout_ms)
        await page.goto(f"{base}/?lang=en")
        await student.settle(page, loaded=True)
        (t0, _tr0), w0 = cpu(), time.perf_counter()
        await page.wait_for_timeout(3000)
        idle = (cpu()[0] - t0) / (time.perf_counter() - w0)  # CPU-s per second with nothing asked

        async def measure(name: str, action, *, loaded: bool = False) -> None:
            (total0, train0), w = cpu(), time.perf_counter()
            await action()
            await student.settle(page, loaded=loaded)
            await page.wait_for_timeout(500)  # work that follows the drawing (Streamlit's clean-up after a run)
            total1, train1 = cpu()
            costs[name].append(max(0.0, (total1 - total0) - (train1 - train0) - idle * (time.perf_counter() - w)))

        async def slide():
            thumb = page.locator("[data-testid=stSlider] input[type=range]").first
            await thumb.focus()
            await thumb.press("ArrowRight" if len(costs["lab slider"]) % 2 == 0 else "ArrowLeft")

        for i in range(repeats):
            await measure("open a page", lambda: page.goto(f"{base}/output_size?lang=en"), loaded=True)
            await measure("lab slider", slide)
        await page.goto(f"{base}/feature_maps?lang=en")
        await student.settle(page, loaded=True)
        for i in range(repeats):
            await measure("new photo on Feature maps",
                          lambda: page.locator("input[type=file]").first.set_input_files(str(photos[i])))
        await page.goto(f"{base}/grad_cam?lang=en")
        await student.settle(page, loaded=True)
        for i in range(repeats):
            await measure("Grad-CAM on a new photo",
                          lambda: page.locator("input[type=file]").first.set_input_files(str(photos[repeats + i])))
        await measure("What a filter looks for: open", lambda: page.goto(f"{base}/filter_looks_for?lang=en"),
                      loaded=True)
        await measure("What a filter looks for: optimize",
                      lambda: page.get_by_role("button", name=re.compile("^Optimize an input")).first.click())
        await page.goto(f"{base}/training_studio?lang=en")
        await student.settle(page, loaded=True)
        await measure("start training", lambda: page.get_by_role("button", name="Start training").first.click())
        stop = page.get_by_role("button", name=re.compile("^(Stop|Cancel)$")).first
        await stop.wait_for(timeout=timeout_ms)
        await stop.click()
        await student.settle(page)
        await context.close()
        await browser.close()
    costs["idle, per second"] = [idle]
    return costs


def print_action_costs(costs: dict[str, list[float]], cores: int) -> None:
    print(f"server CPU per student action (CPU-s of the server process, training threads excluded; median of "
          f"repeats), and what it means on {cores} cores:")
    for name, values in costs.items():
        if not values:
            continue
        med = statistics.median(values)
        target = TARGETS.get(name)
        verdict = "" if target is None else f"  target ≤ {target:g}: {'met' if med <= target else 'NOT met'}"
        per_core = f"  {1 / med:6.1f} such actions per core-second" if med > 0 and name != "idle, per second" else ""
        print(f"  {name:<36} {med:6.3f} CPU-s  ({', '.join(f'{v:.3f}' for v in values)}){per_core}{verdict}")


async def drive(base: str, n: int, n_train: int, timeout_ms: int) -> list[Student]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        students = [Student(browser, base, i, timeout_ms) for i in range(n)]
        await asyncio.gather(*(s.run(train=s.index < n_train) for s in students))
        await browser.close()
    return students


def run_statuses(runs: Path) -> dict[str, str]:
    """Each run's status as the dashboard shows it (a run nobody trains any more reads "interrupted")."""
    from cnnviz import runs as cnnviz_runs

    out = {}
    for session in sorted((runs / "sessions").glob("*")):
        for info in cnnviz_runs.list_runs(session):
            out[str(info.path.relative_to(runs))] = info.status
    return out


def resumable(runs: Path) -> tuple[int, int]:
    """(interrupted runs, those of them whose trainer_state.pt loads: Resume can continue them)."""
    import torch

    from cnnviz import runs as cnnviz_runs

    interrupted = [i for s in (runs / "sessions").glob("*") for i in cnnviz_runs.list_runs(s) if i.status == "interrupted"]
    ok = 0
    for info in interrupted:
        try:
            torch.load(info.path / "trainer_state.pt", weights_only=True)
            ok += info.resumable
        except Exception:  # noqa: BLE001 - counted as not resumable
            pass
    return len(interrupted), ok


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--train", type=int, default=10, help="how many of the sessions start a training run")
    ap.add_argument("--short", action="store_true", help="5 sessions, 2 training (the CI test's mode)")
    ap.add_argument("--timeout", type=float, default=240, help="seconds one page may take to draw")
    ap.add_argument("--no-fault", action="store_true", help="skip the kill-and-restart step")
    ap.add_argument("--actions", type=int, default=3, metavar="N",
                    help="repeats of each student action whose server CPU is measured (0: skip)")
    ap.add_argument("--only-actions", action="store_true", help="cold start and the actions' CPU only, no class")
    ap.add_argument("--replicas", type=int, default=0, metavar="N", help="N replicas behind nginx (deploy/)")
    ap.add_argument("--url", help="drive a server that already runs here (no start, no fault step)")
    ap.add_argument("--pids", type=lambda t: [int(x) for x in t.split(",")], default=[],
                    help="with --url: the server processes whose CPU and memory are measured (comma-separated)")
    ap.add_argument("--runs", type=Path, help="with --url: that server's runs folder (to count its runs)")
    args = ap.parse_args(argv)
    if args.short:
        args.sessions, args.train = 5, 2
    timeout_ms = int(args.timeout * 1000)
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores")

    runs: Path | None = Path(tempfile.mkdtemp(prefix="cnnviz-class-"))
    server = deployment = None
    if args.url:
        base, runs, pids, healthy = args.url.rstrip("/"), args.runs, args.pids, float("nan")
    elif args.replicas:
        from deploy.replicas import Deployment, free_ports

        balancer, *ports = free_ports(args.replicas + 1)
        t0 = time.perf_counter()
        deployment = Deployment(runs=runs, replica_ports=ports, port=balancer).start()
        base, healthy = deployment.url, time.perf_counter() - t0
        pids = [proc.pid for proc in deployment.replicas.values()]
        print(f"{args.replicas} replicas (ports {', '.join(map(str, ports))}) behind nginx at {base}")
    else:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server, healthy = start_server(port, runs)
        pids = [server.pid]
    ok = True
    try:
        # 1 + 2: cold start and one session alone
        alone = asyncio.run(drive(base, 1, 0, timeout_ms))[0]
        print(f"cold start: healthy {healthy:.1f} s; first page {alone.times.get('home', float('nan')):.1f} s "
              f"after that; Feature maps {alone.times.get('feature_maps', float('nan')):.1f} s")
        single = asyncio.run(drive(base, 1, 0, timeout_ms))[0]
        print("one session alone (warm): " + ", ".join(f"{k} {v:.2f} s" for k, v in single.times.items()))
        if args.actions and pids:
            print_action_costs(asyncio.run(action_costs(base, pids, timeout_ms, args.actions)),
                               os.cpu_count() or 1)
        if args.only_actions:
            return 0

        # 3: the class (its runs are the ones made from here on: the actions above may have started one)
        earlier = set(run_statuses(runs)) if runs else set()
        cpu0 = [server_cpu(pid) for pid in pids]
        t0 = time.perf_counter()
        students = asyncio.run(drive(base, args.sessions, args.train, timeout_ms))
        wall = time.perf_counter() - t0
        cpu1 = [server_cpu(pid) for pid in pids]
        errors = [f"student {s.index}: {e}" for s in students for e in s.errors]
        print(f"\n{args.sessions} sessions at once ({args.train} start training): {wall:.0f} s, "
              f"{len(errors)} errors")
        for e in errors[:10]:
            print("  " + e)
        for name in ("home", "feature_maps", "upload", "output_size", "slider"):
            values = [s.times[name] for s in students if name in s.times]
            base_t = single.times.get(name, float("nan"))
            print(f"  {name:<13} median {statistics.median(values) if values else float('nan'):6.2f} s  "
                  f"p95 {pct(values, 0.95):6.2f} s  alone {base_t:5.2f} s  "
                  f"ratio {statistics.median(values) / base_t if values and base_t else float('nan'):5.1f}x")
        if pids:  # each server process's CPU during the class: pages, and training threads still alive at the end
            print("server CPU during the class, per process (all / training threads): " + "; ".join(
                f"{b[0] - a[0]:.1f} / {max(0.0, b[1] - a[1]):.1f} CPU-s" for a, b in zip(cpu0, cpu1)))
        rss = sum(peak_rss(pid) for pid in pids)
        print(f"server peak resident memory: {rss / 1024**3:.2f} GB (budget {BUDGET_BYTES / 1024**3:.0f} GB"
              f"{'' if len(pids) < 2 else ' per server; summed over ' + str(len(pids))})")
        ok = ok and not errors and rss < BUDGET_BYTES * max(1, len(pids))
        if runs is None:
            print("OK" if ok else "FAILED")
            return 0 if ok else 1

        # the training runs: wait until none is running (bounded), then count
        deadline = time.time() + (120 if args.short else 900)

        def class_runs() -> dict[str, str]:
            return {k: v for k, v in run_statuses(runs).items() if k not in earlier}

        statuses = class_runs()
        while time.time() < deadline and any(s in ("running", "queued", "new") for s in statuses.values()):
            time.sleep(2)
            statuses = class_runs()
        print(f"'Start training' clicked again where the first click started nothing: "
              f"{sum(s.repeats for s in students)} of {args.train}")
        print(f"training runs: {len(statuses)} on disk; statuses: "
              f"{json.dumps(dict(sorted(_count(statuses.values()).items())))}")
        ok = ok and len(statuses) == args.train and all(s == "finished" for s in statuses.values())

        # 4: a fault during training
        if not args.no_fault and args.train and server is not None:
            before = set(run_statuses(runs))
            asyncio.run(drive(base, 1, 1, timeout_ms))
            deadline = time.time() + 120  # kill it once the new run has saved something to resume from
            while time.time() < deadline and not any(
                    (runs / name / "trainer_state.pt").exists() for name in set(run_statuses(runs)) - before):
                time.sleep(0.5)
            time.sleep(1)
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
            server, _ = start_server(port, runs)
            asyncio.run(drive(base, 1, 0, timeout_ms))  # a page load lets the dashboard look at the runs
            statuses = run_statuses(runs)
            bad = _unloadable_checkpoints(runs)
            interrupted, can_resume = resumable(runs)
            stray = list(runs.rglob("*.tmp"))
            print(f"after a kill and a restart: statuses {json.dumps(dict(_count(statuses.values())))}; "
                  f"{interrupted} interrupted, {can_resume} of them resumable; {len(bad)} checkpoints that do not "
                  f"load; {len(stray)} stray .tmp files")
            ok = ok and not bad and interrupted >= 1 and can_resume == interrupted
            ok = ok and not any(s in ("running", "queued") for s in statuses.values())
    finally:
        if deployment is not None:
            deployment.stop()
        try:
            if server is not None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _unloadable_checkpoints(runs: Path) -> list[Path]:
    import cnnviz

    bad = []
    for path in runs.rglob("epoch_*.pt"):
        try:
            cnnviz.load_checkpoint(path)
        except Exception:  # noqa: BLE001 - any failure to load is what is counted
            bad.append(path)
    return bad


if __name__ == "__main__":
    sys.exit(main())
