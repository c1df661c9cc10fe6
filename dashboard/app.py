"""cnnviz dashboard: `streamlit run dashboard/app.py` from the project's root.

Page scripts live in the top-level pages/ folder. Each one's docstring opens with
``Section | Title | :material/icon:``; the file name's number orders them.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # works without `pip install -e .` too
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

import cnnviz  # noqa: E402


def _page_meta(path: Path) -> tuple[str, str, str | None]:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    parts = [p.strip() for p in doc.splitlines()[0].split("|")] if doc else []
    if len(parts) < 2:
        return "Pages", path.stem.split("_", 1)[-1].replace("_", " ").title(), None
    return parts[0], parts[1], parts[2] if len(parts) > 2 and parts[2] else None


def discover_pages() -> dict[str, list[st.Page]]:
    sections: dict[str, list[st.Page]] = {}
    for i, path in enumerate(sorted((ROOT / "pages").glob("[0-9]*.py"))):
        section, title, icon = _page_meta(path)
        slug = path.stem.split("_", 1)[-1]
        sections.setdefault(section, []).append(st.Page(path, title=title, icon=icon, url_path=slug, default=i == 0))
    return sections


st.set_page_config(page_title="cnnviz: see how CNNs work", page_icon=":material/grid_view:", layout="wide")
navigation = st.navigation(discover_pages())
with st.sidebar:
    st.caption(f"cnnviz {cnnviz.__version__} · runs on the CPU, no network needed")
navigation.run()
