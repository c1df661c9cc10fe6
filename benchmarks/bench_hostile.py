"""Hostile input against one real server: every file of issue 15, uploaded through a browser, memory measured.

    .venv/bin/python benchmarks/bench_hostile.py [--short] [--pngs 40] [--budget-gb 3]

Starts `streamlit run dashboard/app.py --server.headless true` on a free loopback port (its own runs folder), writes
the hostile files into a temporary folder and uploads each one with headless Debian Chromium (Playwright), as a
student would:
- on Grad-CAM, as an uploaded checkpoint: metadata claiming a 1×100000×100000 input; 4,000,000 classes in a small
  file; a tensor expanded (stride 0) to 4,000,000×128 in 1.5 kB; a file whose records unpack to 400 MB of zeros;
- on Compare strategies, as the zip of your images: 60 PNGs of 36 megapixels, 35 kB each (a bomb for the CPU);
- on Pooling, as a photo: 40 different large PNGs (24 megapixels each), a damaged (cut short) PNG, a 144-megapixel
  JPEG (a phone's panorama: it must be accepted, decoded shrunk) and a file that is not an image.
A thread samples the server's resident memory (/proc/PID/status VmRSS) every 50 ms throughout. Prints per file the
message the page showed (or the photo it drew) and the peak resident memory while it was handled; then whether the
server is still alive, its peak (VmHWM) against the budget (3 GB by default), and whether any page showed a
traceback. Exit status 0 only when the server lived, stayed under the budget, and showed no traceback.
`--short` (3 large PNGs instead of 40) is what tests/test_hostile.py runs. Only loopback traffic; every wait is bounded.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools.live_server import CHROMIUM, CHROMIUM_ARGS, SETTLED, free_port, healthy, start_server  # noqa: E402

GiB = 1024**3


# ---------------------------------------------------------------------------- the hostile files


def _save(obj) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _cnnviz_ckpt(state: dict, **facts) -> dict:
    return {"format": "cnnviz-checkpoint-1", "model_name": "mnist_cnn", "num_classes": 10, "input_shape": [1, 28, 28],
            "classes": [], "meta": {}, "state_dict": state, **facts}


def make_files(folder: Path, *, pngs: int) -> list[tuple[str, str, Path]]:
    """(page, description, path) of every hostile file, written into ``folder``, in the order they are uploaded.
    Every file is refused with a plain sentence except the large PNGs and the panorama, which are drawn."""
    import numpy as np
    import torch
    from PIL import Image

    import cnnviz

    files: list[tuple[str, str, Path]] = []

    def put(page: str, what: str, name: str, data: bytes) -> None:
        path = folder / name
        path.write_bytes(data)
        files.append((page, what, path))

    weights = cnnviz.build_model("mnist_cnn", seed=0).state_dict()
    put("grad_cam", "checkpoint claiming a 1×100000×100000 input", "huge_input.pt",
        _save(_cnnviz_ckpt(weights, input_shape=[1, 100_000, 100_000])))
    small = cnnviz.build_model("lenet5_28", seed=0).state_dict()
    put("grad_cam", "checkpoint claiming 4,000,000 classes", "classes_4m.pt",
        _save(_cnnviz_ckpt(small, model_name="lenet5_28", num_classes=4_000_000)))
    expanded = dict(weights)
    expanded["classifier.9.weight"] = torch.zeros(1).expand(4_000_000, 128)
    put("grad_cam", "tensor expanded to 4,000,000×128 (stride 0)", "expanded.pt",
        _save(_cnnviz_ckpt(expanded, num_classes=None)))
    plain = zipfile.ZipFile(io.BytesIO(_save({"w": torch.zeros(100_000_000)})))
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
        for info in plain.infolist():
            z.writestr(info.filename, plain.read(info.filename))
    put("grad_cam", "checkpoint that unpacks to 400 MB", "deflated.pt", packed.getvalue())

    flat = io.BytesIO()
    Image.new("L", (6000, 6000), 0).save(flat, format="PNG", optimize=True)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_STORED) as z:
        for i in range(60):
            z.writestr(f"{'ab'[i % 2]}/img{i:02d}.png", flat.getvalue())
    put("transfer_compare", "zip of 60 PNGs of 36 megapixels", "png_bomb.zip", bomb.getvalue())

    rng = np.random.default_rng(0)
    for i in range(pngs):  # different files (the cache must miss), large when decoded, small on disk
        img = Image.new("RGB", (6000, 4000), tuple(int(v) for v in rng.integers(0, 256, 3)))
        img.paste(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), (i * 10 % 5900, 100))
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=6)
        put("pooling", f"large PNG {i + 1} of {pngs} (24 megapixels)", f"large_{i:02d}.png", buf.getvalue())
    cat = (ROOT / "assets" / "samples" / "cat.png").read_bytes()
    put("pooling", "damaged PNG (cut short)", "damaged.png", cat[: len(cat) // 3])
    pano = Image.new("RGB", (16000, 9000), (90, 140, 200))
    pano.paste(Image.fromarray(rng.integers(0, 256, (600, 900, 3), dtype=np.uint8)), (7000, 4000))
    buf = io.BytesIO()
    pano.save(buf, format="JPEG", quality=85)
    put("pooling", "144-megapixel JPEG photo (a panorama)", "panorama_144mp.jpg", buf.getvalue())
    put("pooling", "a file that is not an image", "notes.png", b"These are my lecture notes, not a picture.\n" * 50)
    order = {"pooling": 0, "grad_cam": 1, "transfer_compare": 2}
    return sorted(files, key=lambda f: order[f[0]])


ACCEPTED = ("large PNG", "144-megapixel")  # descriptions of the files that must be drawn, not refused
# Words of a library's own message, a server path or a traceback: never in what a student reads.
NOT_PLAIN = ("Traceback", "Error:", "DefaultCPUAllocator", "decompression bomb", "/tmp/", "cnnviz-zip-", "PIL",
             "torch.", "pickle", "%ld", "errno", "Errno", "image file is truncated", "Truncated File Read",
             "PytorchStreamReader")


WAITING = ("checkpoint file (.pt) first",)  # what a page says while it has no file


def judge(outcome: "Outcome") -> str:
    """"" when the outcome is as it must be, else what is wrong."""
    if outcome.traceback:
        return "a traceback or no answer"
    if any(w in outcome.message.lower() for w in WAITING):
        return "the page never saw the upload"
    if any(word in outcome.message for word in NOT_PLAIN):
        return "a library's message, a server path or a traceback in the text"
    accepted = outcome.message.startswith("(accepted)")
    if any(outcome.what.startswith(a) for a in ACCEPTED) != accepted:
        return "refused a photo that must be drawn" if not accepted else "accepted a file that must be refused"
    return ""


# ---------------------------------------------------------------------------- the server and its memory


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemorySampler(threading.Thread):
    """Samples a process's resident memory every ``every`` seconds; ``peak_since(mark)`` gives a window's peak."""

    def __init__(self, pid: int, every: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), _status_kb(self.pid, "VmRSS")))
            time.sleep(self.every)

    def peak_since(self, t0: float) -> int:
        return max((rss for t, rss in list(self.samples) if t >= t0), default=0)


# ---------------------------------------------------------------------------- the browser


@dataclass
class Outcome:
    page: str
    what: str
    size: int
    message: str = ""
    traceback: bool = False
    problem: str = ""
    peak: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def settle(page, timeout_ms: int) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector(SETTLED, timeout=timeout_ms)


def shown_message(page) -> tuple[str, bool]:
    """The page's error/warning sentences (or "" when none) and whether it shows a traceback."""
    tb = page.locator("[data-testid=stException]")
    if tb.count():
        return "TRACEBACK: " + tb.first.inner_text()[:300].replace("\n", " | "), True
    alerts = page.locator("[data-testid=stAlertContentError]")
    texts = [alerts.nth(i).inner_text().strip() for i in range(alerts.count())]
    return " / ".join(t for t in texts if t), False


def choose(page, label: str, option: str, timeout_ms: int) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label``."""
    box = page.locator("[data-testid=stSelectbox]").filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option).first.click()
    settle(page, timeout_ms)


def drive(base: str, files: list[tuple[str, str, Path]], sampler: MemorySampler, port: int,
          timeout_ms: int) -> list[Outcome]:
    from playwright.sync_api import sync_playwright

    outcomes: list[Outcome] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        current = None
        for where, what, path in files:
            outcome = Outcome(where, what, path.stat().st_size)
            t0 = time.monotonic()
            try:
                if where != current:
                    page.goto(f"{base}/{where}?lang=en")
                    settle(page, timeout_ms)
                    if where == "grad_cam":
                        choose(page, "Model", "Uploaded checkpoint (weights only)", timeout_ms)
                    elif where == "transfer_compare":
                        page.get_by_text("cnnviz CNN shipped with the project").first.click()
                        settle(page, timeout_ms)
                    current = where
                inputs = page.locator("input[type=file]")
                target = inputs.nth(1) if where == "grad_cam" else inputs.first
                target.set_input_files(str(path))
                # the uploader names the new file once the server has it; then the rerun it caused must finish
                page.locator("[data-testid=stFileUploader]").filter(has_text=path.name).first.wait_for(
                    timeout=timeout_ms)
                # Replacing a file reruns the page twice: once without any file (a page asks for one, or shows its
                # sample photo), then with the new one. Read once the page has stayed the same for a while.
                settle(page, timeout_ms)
                outcome.message, outcome.traceback = shown_message(page)
                for _ in range(40):
                    page.wait_for_timeout(800)
                    settle(page, timeout_ms)
                    again = shown_message(page)
                    if again == (outcome.message, outcome.traceback) and not any(
                            w in outcome.message.lower() for w in WAITING):
                        break
                    outcome.message, outcome.traceback = again
                if not outcome.message:  # no refusal: the photo drawn, the checkpoint or the zip taken
                    title = page.locator(".gtitle").filter(has_text="Photo")
                    shown = (title.first.text_content() or "") if where == "pooling" and title.count() else ""
                    outcome.message = f"(accepted) {shown}".strip()
            except Exception as err:  # a timeout, a dead server: recorded, and the next file is tried
                outcome.message = f"NO ANSWER: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
                outcome.traceback = True
                current = None
                if not healthy(port):
                    outcome.message += " (the server is down)"
            outcome.seconds = time.monotonic() - t0
            outcome.peak = sampler.peak_since(t0)
            outcome.problem = judge(outcome)
            outcomes.append(outcome)
            print(f"{outcome.what:<46} {outcome.size / 1024:>8,.0f} kB  peak {outcome.peak / GiB:5.2f} GB  "
                  f"{outcome.seconds:5.1f} s  {outcome.message[:160]}"
                  + (f"\n{'':<46} WRONG: {outcome.problem}" if outcome.problem else ""), flush=True)
        context.close()
        browser.close()
    return outcomes


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="3 large PNGs instead of 40 (the CI test's mode)")
    ap.add_argument("--pngs", type=int, default=40, help="how many different large PNGs to upload on Pooling")
    ap.add_argument("--budget-gb", type=float, default=3.0)
    ap.add_argument("--timeout", type=float, default=120, help="seconds one upload may take to be answered")
    args = ap.parse_args(argv)
    if args.short:
        args.pngs = 3
    budget = int(args.budget_gb * GiB)
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory(prefix="cnnviz-hostile-") as tmp:
        tmp = Path(tmp)
        (tmp / "files").mkdir()
        port = free_port()
        server, _started = start_server(port, tmp / "runs")  # it starts while the files are written
        files = make_files(tmp / "files", pngs=args.pngs)
        sampler = MemorySampler(server.pid)
        sampler.start()
        try:
            settled = _status_kb(server.pid, "VmRSS")
            print(f"server started: {settled / GiB:.2f} GB resident\n")
            outcomes = drive(f"http://127.0.0.1:{port}", files, sampler, port, int(args.timeout * 1000))
            time.sleep(1)
            alive = server.poll() is None and healthy(port)
            peak = max(_status_kb(server.pid, "VmHWM"), sampler.peak_since(0))
            end = _status_kb(server.pid, "VmRSS")
        finally:
            sampler.stop.set()
            try:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(server.pid, signal.SIGKILL)
    wrong = [o for o in outcomes if o.problem]
    print(f"\nserver alive at the end: {'yes' if alive else 'NO'}; resident at the end {end / GiB:.2f} GB")
    print(f"server peak resident memory: {peak / GiB:.2f} GB; budget {budget / GiB:.1f} GB: "
          f"{'met' if peak < budget else 'NOT MET'}")
    print(f"uploads answered wrongly (a traceback, no answer, a library's words, refused or accepted wrongly): "
          f"{len(wrong)} of {len(outcomes)}")
    ok = alive and peak < budget and not wrong
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
