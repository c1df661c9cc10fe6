"""The training studio against the CLI it wraps, side by side in one run, through a real server and browser.

    python benchmarks/bench_studio.py            # 10 epochs of 10,000 images, the studio's default run
    python benchmarks/bench_studio.py --short    # 2 epochs (CI's size)
    python benchmarks/bench_studio.py --notes    # the notes' PyTorch MNIST run in the studio against the notes' loop

The same run (the studio's default set-up: SimpleConvNet, Adam 1e-3, batch 64, 10,000 training and 2,000 test
images, seed 0, bfloat16 where the CPU computes it natively, as the studio's switch defaults to) three ways:

1. CLI: ``python -m cnnviz train`` in its own process.
2. studio, watched: started from the studio page, a headless Chromium on the same machine watching the live curves
   until the run ends (server and browser share the cores, as on a teacher's laptop).
3. studio, not watched: started from the page, the browser closed at once (a browser on another machine costs the
   server only its own work).

Images/s is the median of the run's epochs (its history.json); the ratio studio/CLI is the figure the issue asks
for. While watched, the server's CPU outside its training threads (named cnnviz-train) is what the live updates
cost it: printed per second (the share of one core) and per update.

``--notes``: the notes' own run instead, the studio's preset "Notes: PyTorch MNIST net" (myCNN, SGD 0.01 momentum
0.5, batch 64, all 60,000 MNIST images; bfloat16 where native, as every preset) for ``--epochs`` epochs (default 1),
watched by a browser on the same machine, against the notes' PyTorch loop (torchvision dataset + ToTensor/Normalize +
DataLoader, the same model, batch and optimizer; ``bench_training.notes_loop``) run before and after it in the same
process. The ratio is the issue's figure: at least 2.5× on a CPU with native bfloat16.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools.live_server import CHROMIUM, CHROMIUM_ARGS, SETTLED, free_port, server_cpu, start_server  # noqa: E402

RUN = {"model": "simple_convnet", "optimizer": "adam", "lr": 1e-3, "batch_size": 64, "train_size": 10_000,
       "test_size": 2_000}


def run_images_per_s(history_file: Path) -> float:
    """The median of a finished run's per-epoch images/s."""
    h = json.loads(history_file.read_text())
    if h.get("status") != "finished":
        raise RuntimeError(f"{history_file}: the run did not finish ({h.get('status')}: {h.get('message')})")
    return statistics.median(e["images_per_s"] for e in h["epochs"])


def cli_run(epochs: int, bf16: bool, out: Path) -> float:
    cmd = [sys.executable, "-c", "import sys; from cnnviz.cli import main; sys.exit(main())", "train", RUN["model"],
           "--epochs", str(epochs), "--optimizer", RUN["optimizer"], "--lr", str(RUN["lr"]), "--batch-size",
           str(RUN["batch_size"]), "--train-size", str(RUN["train_size"]), "--test-size", str(RUN["test_size"]), "--seed", "0", "--quiet", "--out", str(out)]
    subprocess.run(cmd + (["--bf16"] if bf16 else []), cwd=ROOT, check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return run_images_per_s(out / "history.json")


def newest_history(runs: Path, before: set[Path]) -> Path | None:
    found = [p for p in runs.rglob("history.json") if p not in before]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def wait_finished(runs: Path, before: set[Path], timeout_s: float) -> Path:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        path = newest_history(runs, before)
        if path is not None:
            try:
                if json.loads(path.read_text()).get("status") in ("finished", "failed", "stopped"):
                    return path
            except (OSError, ValueError):  # being written
                pass
        time.sleep(0.5)
    raise RuntimeError("the studio's run did not finish in time")


NOTES_PRESET = "Notes: PyTorch MNIST net (SGD 0.01, momentum 0.5)"


def start_from_studio(page, base: str, epochs: int, preset: str | None = None) -> None:
    """Open the studio, choose ``preset`` (its title) if given, set ``epochs`` and press Start training; returns once
    the run shows its Stop button."""
    page.goto(f"{base}/training_studio?lang=en")
    page.wait_for_selector("h1")
    page.wait_for_selector(SETTLED)
    if preset:
        page.locator("[data-testid=stSelectbox]").filter(has_text="Preset").locator("input").first.click()
        page.get_by_role("option", name=preset).first.click()
        page.wait_for_timeout(300)
        page.wait_for_selector(SETTLED)
    box = page.get_by_label("Epochs", exact=True)
    box.fill(str(epochs))
    box.press("Enter")
    page.wait_for_timeout(300)
    page.wait_for_selector(SETTLED)
    page.get_by_role("button", name="Start training").first.click()
    page.get_by_role("button", name=re.compile("^(Stop|Cancel)$")).first.wait_for()


def studio_run(base: str, runs: Path, pid: int, epochs: int, *, watch: bool, timeout_s: float,
               preset: str | None = None) -> float:
    """Start the default run (or ``preset``) from the studio page (``epochs`` epochs); watch it to the end or close
    the browser at once. Returns the run's images/s."""
    from playwright.sync_api import sync_playwright

    before = set(runs.rglob("history.json"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(timeout_s * 1000)
        start_from_studio(page, base, epochs, preset)
        if watch:
            path = wait_finished(runs, before, timeout_s)
            browser.close()
        else:
            browser.close()
            path = wait_finished(runs, before, timeout_s)
    return run_images_per_s(path)


def page_cpu_while_training(base: str, pid: int, seconds: float, timeout_s: float) -> tuple[float, int]:
    """Open the studio on a run already training, and for ``seconds`` measure the server's CPU outside its training
    threads (per second), and count the live updates the page received (the fragment's reruns)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(timeout_s * 1000)
        frames = {"n": 0}
        page.on("websocket", lambda ws: ws.on("framereceived", lambda _f: frames.__setitem__("n", frames["n"] + 1)))
        start_from_studio(page, base, 20)
        page.wait_for_timeout(2000)
        (total0, train0), t0, f0 = server_cpu(pid), time.perf_counter(), frames["n"]
        page.wait_for_timeout(seconds * 1000)
        (total1, train1), t1, f1 = server_cpu(pid), time.perf_counter(), frames["n"]
        page.get_by_role("button", name="Stop").first.click()
        page.wait_for_timeout(1000)
        browser.close()
    return ((total1 - total0) - (train1 - train0)) / (t1 - t0), f1 - f0


@contextmanager
def studio_server():
    """A real server with a runs folder of its own in a new temporary folder: yields (its URL, the runs folder, its
    pid, the temporary folder); stopped on the way out."""
    tmp = Path(tempfile.mkdtemp(prefix="cnnviz-studio-bench-"))
    runs = tmp / "runs"
    port = free_port()
    server, _healthy = start_server(port, runs)
    try:
        yield f"http://127.0.0.1:{port}", runs, server.pid, tmp
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)


def main(argv: list[str] | None = None) -> int:
    import torch

    from cnnviz.training import bf16_fast

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, help="epochs of the studio's run (default 10: at 5,000 images/s an epoch "
                    "lasts 2 s, and 3 of them mostly measured the browser loading the page; with --notes 1)")
    ap.add_argument("--notes", action="store_true", help="the notes' MNIST run against the notes' loop")
    ap.add_argument("--notes-steps", type=int, default=300, help="batches of each notes' loop measurement")
    ap.add_argument("--short", action="store_true", help="2 epochs")
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args(argv)
    epochs = 2 if args.short else args.epochs or (1 if args.notes else 10)
    bf16 = bf16_fast()
    load = os.getloadavg()
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, bfloat16 "
          f"{'on (native)' if bf16 else 'off (not native)'}; load before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.notes:
        return notes_in_studio(epochs, args.notes_steps, args.timeout, bf16)
    print(f"run: {RUN['model']} {RUN['optimizer']} lr {RUN['lr']:g} batch {RUN['batch_size']}, {RUN['train_size']:,} "
          f"training images, {epochs} epochs")
    with studio_server() as (base, runs, pid, tmp):
        cli = cli_run(epochs, bf16, tmp / "cli")
        watched = studio_run(base, runs, pid, epochs, watch=True, timeout_s=args.timeout)
        alone = studio_run(base, runs, pid, epochs, watch=False, timeout_s=args.timeout)
        cli2 = cli_run(epochs, bf16, tmp / "cli2")
        cli_ips = statistics.mean([cli, cli2])
        per_s, updates = page_cpu_while_training(base, pid, 8.0, args.timeout)
    print(f"CLI                         {cli_ips:8,.0f} images/s  (two runs: {cli:,.0f}, {cli2:,.0f})")
    print(f"studio, browser watching    {watched:8,.0f} images/s  "
          f"= {watched / cli_ips:.2f}× the CLI (goal ≥ 0.85)")
    print(f"studio, browser closed      {alone:8,.0f} images/s  "
          f"= {alone / cli_ips:.2f}× the CLI (goal ≥ 0.95)")
    print(f"live updates while training: the server's CPU outside training {per_s:.3f} CPU-s per second "
          f"({per_s:.1%} of a core, goal ≤ 5 %); {updates} websocket messages in 8 s")
    load = os.getloadavg()
    print(f"load after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


def settled_server(base: str, pid: int, timeout_s: float = 120.0) -> float:
    """Open the home page once (the server's warm-up then loads its models at once) and wait until the server idles
    (under 5 % of a core for two seconds running): nothing of the warm-up in what is measured next. Returns the
    seconds it took."""
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(timeout_s * 1000)
        page.goto(f"{base}/?lang=en")
        page.wait_for_selector("h1")
        page.wait_for_selector(SETTLED)
        browser.close()
    quiet = 0
    while quiet < 2 and time.perf_counter() - t0 < timeout_s:
        before = server_cpu(pid)[0]
        time.sleep(1.0)
        quiet = quiet + 1 if server_cpu(pid)[0] - before < 0.05 else 0
    return time.perf_counter() - t0


def notes_in_studio(epochs: int, steps: int, timeout_s: float, bf16: bool) -> int:
    """The notes' preset in the studio, watched, against the notes' own loop before and after it (one run)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_training import notes_loop, torchvision_root

    root = torchvision_root()
    print(f"run: the studio's preset {NOTES_PRESET!r}, {epochs} epoch(s) of 60,000 MNIST images, watched; the notes' "
          f"loop {steps} batches of 64 before and after")
    with studio_server() as (base, runs, pid, _tmp):
        print(f"the server's warm-up done and idle after {settled_server(base, pid):.0f} s")
        loop1 = notes_loop(steps, root)
        studio = studio_run(base, runs, pid, epochs, watch=True, timeout_s=timeout_s, preset=NOTES_PRESET)
        loop2 = notes_loop(steps, root)
    loop = statistics.mean([loop1, loop2])
    goal = "goal ≥ 2.5× with native bfloat16" if bf16 else "float32: no goal on this CPU"
    print(f"the notes' loop             {loop:8,.0f} images/s  (two runs: {loop1:,.0f}, {loop2:,.0f})")
    print(f"studio, notes' preset       {studio:8,.0f} images/s  = {studio / loop:.2f}× the notes' loop ({goal}; "
          f"bfloat16 {'on' if bf16 else 'off'})")
    load = os.getloadavg()
    print(f"load after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
