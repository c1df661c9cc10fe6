"""The dashboard's page catalogue, read from the page scripts in the top-level pages/ folder.

Each ``pages/NN_slug.py`` opens with a docstring whose first line is ``Section | Title | :material/icon:``;
the number orders the pages and the first one is the default (Home).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES_DIR = ROOT / "pages"


@dataclass(frozen=True)
class PageInfo:
    path: Path
    section: str
    title: str
    icon: str | None
    slug: str  # the URL path
    summary: str  # the docstring's second paragraph, for the Home page's tour


def _read(path: Path) -> PageInfo:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    head, _, rest = doc.partition("\n")
    parts = [p.strip() for p in head.split("|")]
    slug = path.stem.split("_", 1)[-1]
    if len(parts) < 2:
        parts = ["Pages", slug.replace("_", " ").title()]
    icon = parts[2] if len(parts) > 2 and parts[2] else None
    return PageInfo(path, parts[0], parts[1], icon, slug, " ".join(rest.strip().split("\n\n")[0].split()))


def pages() -> list[PageInfo]:
    """Every page, in order."""
    return [_read(p) for p in sorted(PAGES_DIR.glob("[0-9]*.py"))]
