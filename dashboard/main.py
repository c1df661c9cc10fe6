"""cnnviz dashboard: `streamlit run dashboard/app.py` from the project's root.

Page scripts live in the top-level pages/ folder; dashboard/nav.py lists them. The language (한국어 / English) is
chosen first, from the URL (?lang=ko), the session or the browser, so every page draws in it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # works without `pip install -e .` too
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz.i18n import _  # noqa: E402
from dashboard import layout, nav, session  # noqa: E402
from dashboard.warmup import page_finished, page_started, warm_up  # noqa: E402


def navigation_sections() -> dict[str, list[st.Page]]:
    sections: dict[str, list[st.Page]] = {}
    for i, page in enumerate(nav.pages()):
        sections.setdefault(page.section, []).append(
            st.Page(page.path, title=page.title, icon=page.icon, url_path=page.slug, default=i == 0)
        )
    return sections


session.use_language()
presenting = layout.use_presenter()
# A local icon: a material-symbol page icon makes the browser fetch the favicon from a font server.
# On a projector the sidebar starts closed: the figure gets the whole width (its arrow opens it again).
st.set_page_config(page_title=_("cnnviz: see how CNNs work"), page_icon=str(ROOT / "assets" / "icon.png"),
                   layout="wide", initial_sidebar_state="collapsed" if presenting else "auto")
navigation = st.navigation(navigation_sections(), expanded=True)  # show every page: a class tours them all
with st.sidebar:
    session.language_switch()
    layout.presenter_switch()
    layout.export_buttons()
    st.caption(_("cnnviz {version} · runs on the CPU, no network needed").format(version=cnnviz.__version__))
    session.remember_session()
page_started()
try:
    navigation.run()
finally:  # also after a page's st.stop() or st.rerun()
    # The default models load in the background once the first page has drawn (the server started that at its start;
    # under another server, e.g. AppTest, this call starts it).
    try:
        warm_up()
    finally:
        page_finished()
