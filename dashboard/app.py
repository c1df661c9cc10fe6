"""cnnviz dashboard: `streamlit run dashboard/app.py` from the project's root.

This file is the server: Streamlit's ASGI app (``st.App``) for the dashboard script dashboard/main.py, with one hook at
server start that loads torch, the data and the default models in the background (``dashboard.warmup.warm_up``), so
the first student's page does not wait for them.
"""

from __future__ import annotations

import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # works without `pip install -e .` too
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402


def _warm_up() -> None:
    from dashboard import warmup

    warmup.warm_up()


@asynccontextmanager
async def warm_start(_app):
    threading.Thread(target=_warm_up, name="cnnviz-server-start", daemon=True).start()
    yield


app = st.App("main.py", lifespan=warm_start)
