"""Screenshot dashboard pages in headless Chromium (for developers looking at their work).

    python tools/screenshot.py --port 8601 output_size "pooling?lang=ko" home?lang=ko ... [--out screenshots]
                               [--upload FILE] [--width 1400] [--height 1000] [--first-screen] [--query Q]

    # a 1280×720 projector in presenter mode, in Korean; a phone
    python tools/screenshot.py --query "lang=ko&present=1" --width 1280 --height 720 --first-screen home pooling
    python tools/screenshot.py --query lang=en --width 390 --height 844 home pooling

Starts `streamlit run dashboard/app.py` on the port, opens each page (its url_path: the page file's
name without the number, "home" for the first; a query such as ?lang=ko&present=1 may follow, and --query adds one
to every page), waits for it to settle and writes OUT/<page>.png (full page, or only the first screen with
--first-screen).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.live_server import CHROMIUM, CHROMIUM_ARGS, SETTLED, start_server  # noqa: E402


def wait_settled(page, timeout_ms: int = 60_000) -> None:
    """Wait until the page is drawn and stays drawn: a first run may be followed at once by a second (the app reads
    the URL and the browser's cookie), during which the presenter style sheet is briefly missing."""
    for _ in range(2):
        page.wait_for_timeout(500)
        page.wait_for_selector(SETTLED, timeout=timeout_ms)
        page.wait_for_selector("[data-testid=stMain] h1", timeout=timeout_ms)
    for _ in range(5):  # on a busy machine the second run can begin later: settled twice in a row, 0.8 s apart
        page.wait_for_timeout(800)
        if page.query_selector(SETTLED) is not None:
            break
        page.wait_for_selector(SETTLED, timeout=timeout_ms)
    page.wait_for_timeout(1000)  # plotly draws after the script has finished


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pages", nargs="+")
    ap.add_argument("--port", type=int, default=8601)
    ap.add_argument("--out", default=str(ROOT / "screenshots"))
    ap.add_argument("--upload", help="a file to put into the page's first file uploader")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1000, help="the browser window's height")
    ap.add_argument("--first-screen", action="store_true", help="only what shows without scrolling")
    ap.add_argument("--max-height", type=int, default=5000, help="cap on the screenshot's height in pixels")
    ap.add_argument("--query", default="", help="added to every page's address, e.g. lang=ko&present=1")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = Path(tempfile.mkdtemp(prefix="cnnviz-screenshot-runs-"))  # the shots never touch the real runs folder
    server, _seconds = start_server(args.port, runs)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            for name in args.pages:
                if args.query:
                    name += ("&" if "?" in name else "?") + args.query
                slug = name[4:] if name.startswith("home") else name
                page.goto(f"http://127.0.0.1:{args.port}/{slug}")
                wait_settled(page)
                if args.upload:
                    page.locator("input[type=file]").first.set_input_files(args.upload)
                    page.wait_for_timeout(1000)
                    wait_settled(page)
                path = out / (re.sub(r"[?&=]+", "_", name).strip("_") + ".png")
                if args.first_screen:
                    page.wait_for_timeout(800)
                    page.screenshot(path=str(path))
                    print(path)
                    continue
                # Streamlit scrolls inside its main container, so a "full page" shot needs a tall viewport.
                height = page.evaluate(
                    "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, "
                    "[data-testid=stAppViewContainer]')].map(e => e.scrollHeight), 600)")
                page.set_viewport_size({"width": args.width, "height": min(int(height) + 40, args.max_height)})
                page.wait_for_timeout(800)
                page.screenshot(path=str(path), full_page=True)
                page.set_viewport_size({"width": args.width, "height": args.height})
                print(path)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
