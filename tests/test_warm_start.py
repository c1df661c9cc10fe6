"""Cold start: `streamlit run dashboard/app.py` serves the dashboard script with a hook at server start that warms
the caches in the background; the heavy part waits for the first page, then loads the photo pages' network at once
and the rest at low priority, stepping aside while a page runs."""

from __future__ import annotations

import ast
import os
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_run_starts_the_server_with_a_start_hook_around_the_dashboard_script():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "dashboard" / "app.py")
    assert found.is_asgi_app and found.app_name == "app"
    calls = [node for node in ast.walk(ast.parse((ROOT / "dashboard" / "app.py").read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and ast.unparse(node.func) == "st.App"]
    assert len(calls) == 1
    script = calls[0].args[0].value
    assert (ROOT / "dashboard" / script).is_file() and script != "app.py"
    assert [k.arg for k in calls[0].keywords] == ["lifespan"]
    # the script itself is a plain Streamlit script (AppTest and `streamlit run dashboard/main.py` work too)
    assert not discover_asgi_app(ROOT / "dashboard" / script).is_asgi_app


@pytest.fixture
def warm(monkeypatch):
    """warmup._warm_up with recording steps instead of the real loaders; returns (calls, start)."""
    from dashboard import warmup

    calls: list[tuple[str, int, int]] = []

    def record(name):
        def step():
            import torch

            calls.append((name, torch.get_num_threads(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
            if name == "broken":
                raise RuntimeError("a loader that fails")
        return step

    monkeypatch.setattr(warmup, "_warm_steps", lambda: ([record("summary")],
                                                       [record("broken"), record("data"), record("models")]))
    monkeypatch.setattr(warmup, "_first_page", threading.Event())
    monkeypatch.setattr(warmup, "_running", {"pages": 0})

    def start():
        thread = threading.Thread(target=warmup._warm_up, daemon=True)
        thread.start()
        return thread

    return calls, start


def test_the_first_page_needs_come_at_once_the_rest_after_it_has_drawn_at_low_priority(warm, monkeypatch):
    import time

    import torch

    from dashboard import warmup

    calls, start = warm
    monkeypatch.setattr(warmup, "WARM_WAIT_S", 60.0)
    before = (torch.get_num_threads(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    thread = start()
    for _ in range(100):
        if calls:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    assert [c[0] for c in calls] == ["summary"]  # nothing heavy before the first page has drawn
    assert calls[0][2] == before[1]  # what the first page waits for runs at the usual priority
    warmup.page_started()
    warmup.page_finished()
    thread.join(10)
    assert not thread.is_alive()
    assert [c[0] for c in calls] == ["summary", "broken", "data", "models"]  # a failing loader does not stop the rest
    # the photo pages' network (the next page a class opens waits for it) at the usual priority, the rest low
    assert calls[1][2] == before[1]
    for _name, _threads, priority in calls[2:]:
        assert priority >= min(before[1] + 10, 19)
    # the thread that served pages keeps its threads and priority
    assert (torch.get_num_threads(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())) == before
    # and so does every thread started later (a page's script, a training run): torch.set_num_threads in the
    # warm-up would have set their count too (every studio run trained on one thread)
    assert {threads for _name, threads, _priority in calls} == {before[0]}
    later: list[int] = []
    started = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    started.start()
    started.join()
    assert later == [before[0]]


def test_the_warm_up_steps_aside_while_a_page_runs(warm, monkeypatch):
    """After the first heavy step, each step waits for the page scripts running now (one Python: a loader would slow
    a student's page down), but never longer than WARM_YIELD_S."""
    import time

    from dashboard import warmup

    calls, start = warm
    monkeypatch.setattr(warmup, "WARM_YIELD_S", 30.0)
    warmup.page_started()  # the first page, still running
    warmup._first_page.set()  # (as if an earlier page had ended)
    warmup.page_started()  # a second student's page
    thread = start()
    time.sleep(1.0)
    assert [c[0] for c in calls] == ["summary", "broken"]  # the network: at once; the rest waits for the pages
    warmup.page_finished()
    time.sleep(0.5)
    assert [c[0] for c in calls] == ["summary", "broken"]  # one page still runs
    warmup.page_finished()
    thread.join(10)
    assert [c[0] for c in calls] == ["summary", "broken", "data", "models"]
    assert warmup._running["pages"] == 0

    calls.clear()
    monkeypatch.setattr(warmup, "WARM_YIELD_S", 0.2)
    warmup.page_started()  # a page that never ends (or a count gone wrong) holds nothing up for long
    thread = start()
    thread.join(10)
    assert [c[0] for c in calls] == ["summary", "broken", "data", "models"]


def test_without_a_visitor_the_rest_starts_anyway(warm, monkeypatch):
    from dashboard import warmup

    calls, start = warm
    monkeypatch.setattr(warmup, "WARM_WAIT_S", 0.2)
    thread = start()
    thread.join(10)
    assert [c[0] for c in calls] == ["summary", "broken", "data", "models"]


def test_warm_up_can_be_switched_off(monkeypatch):
    from dashboard import warmup

    monkeypatch.setenv(warmup.WARM_ENV, "1")
    assert warmup.warm_up.__wrapped__() is None


def test_the_real_warm_up_fills_the_cache_entries_the_first_pages_read(app_at, monkeypatch):
    """The steps above are recordings; these are the real ones. After them, the home page, Feature maps (its default
    ImageNet network, then the shipped CNN) and the Fashion-MNIST test set must come from the caches: every loader
    behind them now fails, so a page that recomputed would show an exception."""
    import cnnviz
    from dashboard import data, inside, warmup

    for cache in (data.model_summary, data.fashion_mnist, inside.inside_imagenet_model, inside.inside_checkpoint_model):
        cache.clear()
    first, later = warmup._warm_steps()
    for step in [*first, *later]:
        step()

    def recomputed(*args, **kwargs):
        raise AssertionError("a page recomputed what the warm-up should have cached")

    for loader in ("summarize", "load_imagenet_model", "load_checkpoint", "load_fashion_mnist"):
        monkeypatch.setattr(cnnviz, loader, recomputed)
    home = app_at("00_home.py")
    assert not home.exception, [e.value for e in home.exception]
    assert any(m.label == "Total params" for m in home.metric)
    maps = app_at("20_feature_maps.py", timeout=120)
    assert not maps.exception, [e.value for e in maps.exception]
    assert next(s for s in maps.selectbox if s.label == "Model").value == f"imagenet:{warmup.WARM_IMAGENET}"
    next(s for s in maps.selectbox if s.label == "Model").set_value(inside.INSIDE_TRAINED).run()
    assert not maps.exception and not maps.error, [e.value for e in (*maps.exception, *maps.error)]
    assert len(data.fashion_mnist(False)) == 10_000  # as the pages call it
