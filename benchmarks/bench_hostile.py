"""Hostile input against one real server, through a browser, with the server's memory and CPU per attack.

    .venv/bin/python benchmarks/bench_hostile.py [--short] [--pngs 40] [--budget-gb 3]

Starts `streamlit run dashboard/app.py --server.headless true` on a free loopback port (its own runs folder, its own
allowed image folders, a teacher's password) and drives it with headless Debian Chromium (Playwright), as a student
would. Every page with an input is attacked (hostile_files.py makes the files):
- uploads ("any file type" on Pooling and Classic kernels): large PNGs, a damaged PNG, a 144-megapixel panorama (it
  must be drawn), a text file, an empty file, HTML, a checkpoint, a valid 12500×12500 WebP; photos on Grad-CAM;
- checkpoints on Grad-CAM: huge claims, an expanded tensor, a deflated record, a stack of 100,000 dropout layers,
  70,000 one-number tensors, a pickle that would run a command;
- the camera of Feature maps sending something that is not an image (Chromium's fake camera; the upload is rewritten);
- the transfer page's zip: a PNG bomb, members named out of the zip (``..``, absolute), a 1 GB deflate bomb, not a zip;
- the studio's and What a filter looks for's server folder: /etc, a link out of the allowed roots, a huge folder;
- many saved comparisons, damaged runs on Compare runs and the Class page, wrong teacher passwords, repeated
  requests on What a filter looks for, a stack of 300 layers pasted into Layer stack, and on every page the extremes
  of its sliders, number and text inputs.
A thread samples the server's resident memory (/proc/PID/status VmRSS) every 50 ms; the server's CPU seconds per
attack are its utime + stime (/proc/PID/stat: what psutil's cpu_times reads). Prints per attack the sentence the page
showed, its peak memory and CPU; then whether the server is alive, its peak (VmHWM) against the budget (3 GB), and how
many attacks were answered wrongly (a traceback, no answer, a library's words or a server path in the text, refused
or accepted wrongly, a file written out of the zip). Exit status 0 only when the server lived, stayed under the budget
and answered every attack rightly. `--short` (one large PNG, fewer repeats, every page still attacked) is what
tests/test_hostile.py runs. Only loopback traffic; every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile_files  # noqa: E402
from tools.live_server import (  # noqa: E402
    CHROMIUM, CHROMIUM_ARGS, SETTLED, free_port, healthy, process_cpu, start_server)

GiB = 1024**3
PASSWORD = "bench-teacher-42"
RUNNING = "[data-testid=stApp][data-test-script-state=running]"
CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
# Words of a library's own message, a server path or a traceback: never in what a student reads.
NOT_PLAIN = ("Traceback", "Error:", "DefaultCPUAllocator", "decompression bomb", "/tmp/", "cnnviz-zip-", "PIL",
             "torch.", "pickle", "%ld", "errno", "Errno", "image file is truncated", "Truncated File Read",
             "PytorchStreamReader")
WAITING = ("checkpoint file (.pt) first",)  # what a page says while it has no file


# ---------------------------------------------------------------------------- the server: memory and CPU


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


class Browser:
    """One student's tab, and the few gestures the attacks need. Every wait is bounded by ``timeout_ms``."""

    def __init__(self, page, base: str, timeout_ms: int):
        self.page, self.base, self.timeout = page, base, timeout_ms
        self.current: str | None = None

    def settle(self, *, rerun: bool = True, begins_within_ms: int = 1500) -> None:
        """Wait for the rerun an action caused (``rerun``): for it to begin (a busy server may take a while to start
        it), then for the page to finish drawing."""
        if rerun:
            try:
                self.page.wait_for_selector(RUNNING, timeout=begins_within_ms)
            except Exception:  # noqa: BLE001 - no rerun began (or it was over already)
                pass
        self.page.wait_for_selector(SETTLED, timeout=self.timeout)

    def open(self, slug: str, query: str = "") -> None:
        self.page.goto(f"{self.base}/{slug}?lang=en{query}")
        self.page.wait_for_timeout(300)
        self.settle(rerun=False)
        self.current = slug

    def shown(self) -> tuple[str, bool]:
        """The page's error and warning sentences ("" when none) and whether it shows a traceback."""
        tb = self.page.locator("[data-testid=stException]")
        if tb.count():
            return "TRACEBACK: " + tb.first.inner_text()[:300].replace("\n", " | "), True
        texts = []
        for kind in ("Error", "Warning"):
            alerts = self.page.locator(f"[data-testid=stAlertContent{kind}]")
            texts += [alerts.nth(i).inner_text().strip() for i in range(alerts.count())]
        uploaders = self.page.locator("[data-testid=stFileUploader]")  # a type the uploader itself refuses
        if any("files are not allowed" in uploaders.nth(i).inner_text() for i in range(uploaders.count())):
            texts.append("(the uploader refused the file's type)")  # Streamlit's own words, English in both languages
        return " / ".join(t for t in texts if t), False

    def stable(self) -> tuple[str, bool]:
        """What the page shows once it has stayed the same for a while (a replaced file reruns a page twice)."""
        self.settle()
        seen = self.shown()
        for _ in range(20):
            self.page.wait_for_timeout(600)
            self.settle(rerun=False)
            again = self.shown()
            if again == seen and not any(w in seen[0].lower() for w in WAITING):
                break
            seen = again
        return seen

    def choose(self, label: str, option: str) -> None:
        box = self.page.locator("[data-testid=stSelectbox]").filter(has_text=label).first
        box.click()
        self.page.get_by_role("option", name=option).first.click()
        self.settle()

    def upload(self, path: Path, nth: int = 0) -> None:
        self.page.locator("input[type=file]").nth(nth).set_input_files(str(path), timeout=self.timeout)
        self.page.locator("[data-testid=stFileUploader]").filter(has_text=path.name).first.wait_for(
            timeout=self.timeout)

    def field(self, kind: str, label: str):
        """The <input> of the Streamlit widget of ``kind`` ("TextInput", "NumberInput") labelled ``label``."""
        return self.page.locator(f"[data-testid=st{kind}]").filter(has_text=label).first.locator("input").first

    def type_into(self, label: str, text: str) -> None:
        box = self.field("TextInput", label)
        box.fill(text, timeout=self.timeout)
        box.press("Enter")
        self.settle(begins_within_ms=8000)  # a new text always reruns the page


@dataclass
class Attack:
    page: str  # the URL slug ("" for Home)
    what: str
    act: Callable[[Browser], str | None]  # returns what to judge by when the page's alerts are not the answer
    expect: str = "refused"  # "refused": one plain sentence; "accepted": no refusal; "alive": no traceback, plain text
    size: int = 0
    fresh: bool = False  # open the page anew first
    query: str = ""
    check: Callable[[], str] | None = None  # "" when the server's files are as they must be, else what is wrong


@dataclass
class Outcome:
    attack: Attack
    message: str = ""
    traceback: bool = False
    problem: str = ""
    peak: int = 0
    cpu: float = 0.0
    seconds: float = 0.0


def judge(attack: Attack, message: str, traceback: bool, allowed: str = "") -> str:
    """"" when the page answered as it must, else what is wrong. ``allowed``: the allowed image folder, which the
    studio names on purpose (where a student may look)."""
    if allowed:
        message = message.replace(allowed, "ALLOWED")
    if traceback:
        return "a traceback or no answer"
    if any(w in message.lower() for w in WAITING):
        return "the page never saw the upload"
    if any(word in message for word in NOT_PLAIN):
        return "a library's message, a server path or a traceback in the text"
    if ".. " in message:
        return "two full stops in a row (a reason's own stop inside a sentence)"
    refused = bool(message) and not message.startswith("(accepted)")
    if attack.expect == "refused" and not refused:
        return "accepted something that must be refused"
    if attack.expect == "accepted" and refused:
        return "refused something that must be taken"
    if attack.check is not None:
        return attack.check()
    return ""


# ---------------------------------------------------------------------------- the attacks


def upload_on(nth: int = 0, *, gradcam_model: bool = False, shot_title: bool = False):
    def act_for(path: Path):
        def act(b: Browser) -> str | None:
            if gradcam_model:
                b.choose("Model", "Uploaded checkpoint (weights only)")
            b.upload(path, nth)
            message, tb = b.stable()
            if tb or message:
                return None
            title = b.page.locator(".gtitle").filter(has_text="Photo")
            shown = (title.first.text_content() or "") if shot_title and title.count() else ""
            return f"(accepted) {shown}".strip()
        return act
    return act_for


def camera_with_a_non_image(b: Browser) -> str | None:
    """Feature maps' camera, with the captured JPEG replaced by text on its way to the server."""
    def swap(route):
        body = route.request.post_data_buffer or b""
        at = body.find(b"\xff\xd8\xff")
        if at >= 0:
            body = body[:at] + b"this is not an image at all" + body[body.find(b"\r\n--", at):]
        route.continue_(post_data=body)

    b.page.route("**/_stcore/upload_file/**", swap)
    try:
        b.page.get_by_text("Take a photo with the camera").first.click()
        b.settle()
        button = b.page.get_by_role("button", name="Take Photo").first
        button.wait_for(timeout=b.timeout)
        b.page.wait_for_timeout(1500)  # the fake camera's first frames
        button.click()
        b.stable()
    finally:
        b.page.unroute("**/_stcore/upload_file/**")
    return None


def transfer_zip(path: Path):
    def act(b: Browser) -> str | None:
        b.page.get_by_text("cnnviz CNN shipped with the project").first.click()
        b.settle()
        b.choose("Target data (the new task)", "Your own images (a zip of one folder per class)")  # MNIST is first
        b.upload(path)
        message, tb = b.stable()
        return None if message or tb else "(accepted)"
    return act


def studio_folder(text: str):
    def act(b: Browser) -> str | None:
        b.choose("Dataset", "A folder of images on the server")
        b.type_into("Folder (one sub-folder of images per class)", text)
        message, tb = b.stable()
        return None if message or tb else "(accepted)"
    return act


def lookfor_folder(text: str):
    def act(b: Browser) -> str | None:
        b.page.get_by_text("a folder of images on the server").first.click()
        b.settle()
        b.type_into("Folder on the server", text)
        message, tb = b.stable()
        return None if message or tb else "(accepted)"
    return act


def repeated_channels(n: int):
    """Channel after channel typed into What a filter looks for without waiting: each is a new optimization."""
    def act(b: Browser) -> str | None:
        box = b.field("NumberInput", "Channel")
        for channel in range(1, n + 1):
            box.fill(str(channel))
            box.press("Enter")
            b.page.wait_for_timeout(150)
        b.stable()
        return None
    return act


def paste_stack(rows: int):
    """A stack of ``rows`` dropout layers pasted into Layer stack's table (it grows: num_rows="dynamic")."""
    def act(b: Browser) -> str | None:
        b.page.evaluate("t => navigator.clipboard.writeText(t)", "\n".join(["dropout" + "\t" * 8 + "0.1"] * rows))
        grid = b.page.locator("[data-testid=stDataFrameResizable]").first
        box = grid.bounding_box()
        b.page.mouse.click(box["x"] + 60, box["y"] + 55)
        b.page.keyboard.press("Control+V")
        b.stable()
        return None
    return act


def wrong_passwords(n: int):
    def act(b: Browser) -> str | None:
        for i in range(n):
            b.field("TextInput", "Teacher's password").fill(f"guess-{i}")
            b.page.get_by_role("button", name="Open the class view").first.click()
            b.settle()
        message, tb = b.shown()
        return None if tb or "Too many wrong passwords" in message else "(accepted) no wait after 5 wrong passwords"
    return act


def sign_in_after_the_wait(b: Browser) -> str | None:
    b.page.wait_for_timeout(4500)  # the waits after 5 failures: 1 + 2 s
    b.field("TextInput", "Teacher's password").fill(PASSWORD)
    b.page.get_by_role("button", name="Open the class view").first.click()
    b.settle()
    b.page.wait_for_timeout(800)  # st.rerun after signing in
    b.settle()
    table = " ".join(b.page.locator("[data-testid=stDataFrame]").all_inner_texts())
    message, tb = b.shown()
    if tb:
        return None
    if "Sign out" not in b.page.content():
        return "not signed in"
    if not pass_cookie(b, within_s=15):  # the page's script writes it once drawn; a loaded browser may take a while
        return "signed in, but the teacher's pass never reached the browser's cookies"
    return "(accepted) signed in" + (", a damaged run listed" if "damaged" in table or "damaged" in
                                      b.page.content() else ", NO damaged run listed")


def pass_cookie(b: Browser, *, within_s: float) -> bool:
    """Whether the browser holds the teacher's pass cookie (waiting up to ``within_s`` seconds for it)."""
    from cnnviz.signin import PASS_COOKIE

    end = time.monotonic() + within_s
    while True:
        if any(c["name"] == PASS_COOKIE and c["value"] for c in b.page.context.cookies()):
            return True
        if time.monotonic() > end:
            return False
        b.page.wait_for_timeout(250)


def reopen_signed_in(b: Browser) -> str | None:
    """A new tab of the same browser (presenter mode): the pass (a cookie) opens the page without the password."""
    tab = b.page.context.new_page()
    try:
        new = Browser(tab, b.base, b.timeout)
        new.open("class", "&present=1")
        # the page may count as drawn for a moment after its connection opens and before its script starts: wait
        # for one of the two answers (the teacher's view or the password form) before reading it
        tab.locator("[data-testid=stButton] button:has-text('Sign out'), input[type=password], "
                    "[data-testid=stException]").first.wait_for(timeout=b.timeout)
        message, tb = new.shown()
        if tb:
            return "TRACEBACK in the new tab: " + message
        return "(accepted) no password asked" if "Sign out" in tab.content() else "asked for the password again"
    finally:
        tab.close()


def extremes(limit: int, *, both_ends: bool = True):
    """The ends of the page's first ``limit`` sliders, huge and negative numbers in its number inputs, a long path
    climbing out in its text inputs: the page must stay up and speak plainly. An input an earlier value took away
    (a page that stopped on a sentence, a slider whose range changed) is skipped."""
    sliders = "[data-testid=stMain] [data-testid=stSlider] input[type=range]"  # select sliders too
    numbers = "[data-testid=stMain] [data-testid=stNumberInput] input"
    texts = "[data-testid=stMain] [data-testid=stTextInput] input:not([type=password])"

    def act(b: Browser) -> str | None:
        page, done = b.page, 0

        def each(selector: str, values: tuple[str, ...], gesture) -> None:
            nonlocal done
            for i in range(min(limit, page.locator(selector).count())):
                for value in values:
                    field = page.locator(selector).nth(i)  # found again: the last rerun may have redrawn it
                    if i >= page.locator(selector).count() or not field.is_enabled(timeout=5000):
                        return
                    gesture(field, value)
                    b.settle()
                    done += 1

        def press(field, key: str) -> None:
            field.focus(timeout=5000)
            page.keyboard.press(key)

        def fill(field, value: str) -> None:
            field.fill(value, timeout=5000)
            field.press("Enter")

        ends = 2 if both_ends else 1
        each(sliders, ("End", "Home")[:ends], press)
        each(numbers, ("1e308", "-99999999999")[:ends], fill)
        each(texts, ("../" * 40 + "etc/passwd" + "x" * 5000,), fill)
        message, tb = b.shown()
        if tb:
            return None
        return f"(alive after {done} extreme inputs) {message}".strip() if done else "(no slider, number or text)"
    return act


def pages_with_inputs() -> list[str]:
    """Every page of the dashboard's catalogue (dashboard/nav.py) by its URL slug ("" for Home): a page added later is
    attacked too. Each has an input (a slider, a number, a text, a file or a choice)."""
    from dashboard import nav

    return ["" if i == 0 else p.slug for i, p in enumerate(nav.pages())]  # the first is the default page: "/"


PAGES_WITH_INPUTS = pages_with_inputs()


def attacks(tmp: Path, *, short: bool, pngs: int) -> list[Attack]:
    files = tmp / "files"
    files.mkdir()
    img = hostile_files.images(files, pngs=pngs)
    zips = hostile_files.zips(files, tmp / "escaped")
    photo = upload_on(shot_title=True)
    out: list[Attack] = []

    def put(page: str, what: str, act, expect: str = "refused", path: Path | None = None, **kw) -> None:
        out.append(Attack(page, what, act, expect, path.stat().st_size if path else 0, **kw))

    quick = ("large_00.png", "damaged.png", "panorama_144mp.jpg", "huge_12500.webp", "page.html")
    for name, p in img.items():  # Pooling takes any file type
        if short and name not in quick:
            continue
        expect = "accepted" if name.startswith("large") or name.startswith("panorama") else "refused"
        put("pooling", f"photo: {name}", photo(p), expect, p)
    for name in ("weights.pt",) if short else ("notes.png", "huge_12500.webp", "page.html", "weights.pt",
                                               "damaged.png", "empty.png"):
        put("classic_kernels", f"photo: {name}", upload_on()(img[name]), "refused", img[name])
    for name in () if short else ("notes.png", "huge_12500.webp", "empty.png"):
        put("grad_cam", f"photo: {name}", upload_on()(img[name]), "refused", img[name])
    for what, name, data in hostile_files.checkpoints(short):
        path = files / name
        path.write_bytes(data)
        put("grad_cam", what, upload_on(1, gradcam_model=True)(path), "refused", path, fresh=True)
    put("feature_maps", "camera: a shot that is not an image", camera_with_a_non_image, "refused")
    escaped = tmp / "escaped"
    for name, what in (("png_bomb", "zip of 60 PNGs of 36 megapixels"), ("zip_slip", "zip members named out of it"),
                       ("deflate_bomb", "zip member of 1 GB of zeros (deflate bomb)"),
                       *([] if short else [("not_a_zip", "not a zip")])):
        expect = "any" if name == "zip_slip" else "refused"
        put("transfer_compare", what, transfer_zip(zips[name]), expect, zips[name], fresh=True,
            check=(lambda: "a member was written out of the zip" if escaped.exists() else "")
            if name == "zip_slip" else None)
    for text, what, expect in (("/etc", "studio folder: /etc", "refused"),
                               ("linked", "studio folder: a link out of the allowed folders", "refused"),
                               ("ds", "studio folder: a dataset with a class linked out", "accepted"),
                               *([] if short else [("huge", "studio folder: 120,000 entries", "any")])):
        put("training_studio", what, studio_folder(text), expect, fresh=True)
    put("filter_looks_for", "search folder: a link out of the allowed folders", lookfor_folder("linked"), fresh=True)
    put("filter_looks_for", f"{4 if short else 20} channels asked one after another", repeated_channels(
        4 if short else 20), "any", fresh=True)
    put("layer_stack", f"a stack of {150 if short else 1000} layers pasted", paste_stack(150 if short else 1000),
        fresh=True)
    put("transfer_saved", f"{80 if short else 400} saved comparisons and a damaged one", lambda b: None, "refused",
        fresh=True)  # the damaged one is named in a warning; the others are drawn
    put("compare_runs", "damaged runs ([] as config.json, a history cut short)", lambda b: None, "refused",
        fresh=True)  # listed with their reasons, deletable
    put("class", "5 wrong teacher passwords", wrong_passwords(5), "refused", fresh=True)
    put("class", "the right password after the wait", sign_in_after_the_wait, "accepted")
    put("class", "a new tab of the same browser", reopen_signed_in, "accepted")
    attacked = {a.page for a in out}
    for slug in PAGES_WITH_INPUTS:  # short: the pages no attack above reached, each input's one end
        if not short or slug not in attacked:
            put(slug, "extreme slider, number and text values", extremes(1 if short else 4, both_ends=not short),
                "any", fresh=True)
    return out


# ---------------------------------------------------------------------------- driving it


def drive(base: str, todo: list[Attack], server_pid: int, sampler: MemorySampler, port: int, timeout_ms: int,
          cookie: str, allowed: str) -> list[Outcome]:
    from playwright.sync_api import sync_playwright

    outcomes: list[Outcome] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + CAMERA_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      permissions=["camera", "clipboard-read", "clipboard-write"])
        context.add_cookies([{"name": "cnnviz_runs", "value": cookie, "url": base}])
        page = context.new_page()
        b = Browser(page, base, timeout_ms)
        for attack in todo:
            outcome = Outcome(attack)
            t0, cpu0 = time.monotonic(), process_cpu(server_pid)
            try:
                if attack.fresh or b.current != attack.page:
                    b.open(attack.page, attack.query)
                verdict = attack.act(b)
                outcome.message, outcome.traceback = b.shown()
                if verdict is not None and not outcome.traceback:  # the attack's own reading of the page
                    outcome.message = verdict
            except Exception as err:  # a timeout, a dead server: recorded, and the next attack is tried
                outcome.message = f"NO ANSWER: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
                outcome.traceback = True
                b.current = None
                if not healthy(port):
                    outcome.message += " (the server is down)"
            outcome.seconds = time.monotonic() - t0
            outcome.cpu = process_cpu(server_pid) - cpu0
            outcome.peak = sampler.peak_since(t0)
            outcome.problem = judge(attack, outcome.message, outcome.traceback, allowed)
            outcomes.append(outcome)
            where = f"/{attack.page}"
            print(f"{where:<19} {attack.what[:52]:<52} {attack.size / 1024:>8,.0f} kB  peak {outcome.peak / GiB:4.2f} GB"
                  f"  cpu {outcome.cpu:5.1f} s  {outcome.seconds:5.1f} s  {outcome.message[:150]}"
                  + (f"\n{'':<19} WRONG: {outcome.problem}" if outcome.problem else ""), flush=True)
        context.close()
        browser.close()
    return outcomes


def main(argv: list[str] | None = None) -> int:
    import torch

    from cnnviz import runs

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="one large PNG and fewer repeats (the CI test's mode)")
    ap.add_argument("--pngs", type=int, default=40, help="how many different large PNGs to upload on Pooling")
    ap.add_argument("--budget-gb", type=float, default=3.0)
    ap.add_argument("--timeout", type=float, default=120, help="seconds one attack may take to be answered")
    args = ap.parse_args(argv)
    if args.short:
        args.pngs = 1
    budget = int(args.budget_gb * GiB)
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory(prefix="cnnviz-hostile-") as tmp:
        tmp = Path(tmp)
        allowed = tmp / "allowed"
        port = free_port()
        server, _started = start_server(port, tmp / "runs", env={  # it starts while the files are written
            "CNNVIZ_DATA_ROOTS": str(allowed), "CNNVIZ_TEACHER_PASSWORD": PASSWORD})
        token = runs.new_session_token()  # the browser's cookie: its session folder is known in advance
        session = tmp / "runs" / "sessions" / runs.session_id_for(token)
        hostile_files.image_folders(allowed, tmp / "secret", huge=0 if args.short else 60_000)
        hostile_files.damaged_runs(session)
        hostile_files.comparisons(session, 80 if args.short else 400)
        todo = attacks(tmp, short=args.short, pngs=args.pngs)
        sampler = MemorySampler(server.pid)
        sampler.start()
        outcomes: list[Outcome] = []
        try:
            print(f"server started: {_status_kb(server.pid, 'VmRSS') / GiB:.2f} GB resident; {len(todo)} attacks\n")
            outcomes = drive(f"http://127.0.0.1:{port}", todo, server.pid, sampler, port, int(args.timeout * 1000),
                             token, str(allowed))
            time.sleep(1)
            alive = server.poll() is None and healthy(port)
            peak = max(_status_kb(server.pid, "VmHWM"), sampler.peak_since(0))
            end = _status_kb(server.pid, "VmRSS")
            total_cpu = process_cpu(server.pid)
        finally:
            sampler.stop.set()
            try:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(server.pid, signal.SIGKILL)
        pwned = Path("/tmp/cnnviz-hostile-pwned").exists()
    wrong = [o for o in outcomes if o.problem]
    covered = sorted({o.attack.page for o in outcomes})
    print(f"\npages attacked: {len(covered)} of {len(PAGES_WITH_INPUTS)} pages with inputs"
          + ("" if set(PAGES_WITH_INPUTS) <= set(covered) else " (MISSING SOME)"))
    costly = sorted(outcomes, key=lambda o: -o.cpu)[:3]
    print("most server CPU: " + "; ".join(f"{o.attack.what[:40]} {o.cpu:.1f} s" for o in costly)
          + f"; in all {total_cpu:.0f} s")
    print(f"server alive at the end: {'yes' if alive else 'NO'}; resident at the end {end / GiB:.2f} GB")
    print(f"server peak resident memory: {peak / GiB:.2f} GB; budget {budget / GiB:.1f} GB: "
          f"{'met' if peak < budget else 'NOT MET'}")
    print(f"a command ran from a pickle: {'YES' if pwned else 'no'}")
    print(f"attacks answered wrongly (a traceback, no answer, a library's words, refused or accepted wrongly): "
          f"{len(wrong)} of {len(outcomes)}")
    ok = alive and peak < budget and not wrong and not pwned and set(PAGES_WITH_INPUTS) <= set(covered)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
