"""What keeps the server cheap while a class uses it: the live studio's cadence and bounded figure, the training
threads a benchmark can tell apart, the warm-up's frozen heap, no file watcher (benchmarks/bench_studio.py and
bench_class.py measure the time and CPU; these tests check the behaviour behind the figures)."""

from __future__ import annotations

import gc
import json
import os
import threading
import time
import tomllib
from pathlib import Path

import pytest

from cnnviz.plots.training import curves_figure, thinned
from cnnviz import models, training
from cnnviz.training import PRESETS, EpochRecord, History, StepRecord, bf16_fast
from cnnviz.training.cpu import TRAIN_THREAD_NAME, name_os_thread
from dashboard import layout
from dashboard import training as training_cache
from tools.live_server import TRAIN_THREAD, server_cpu

ROOT = Path(__file__).resolve().parents[1]
STUDIO = "30_training_studio.py"


def history(n_steps: int) -> History:
    steps = tuple(StepRecord(10 * i, 1 + 10 * i // 470, 2.0 / i, 0.3 * i, 0.5) for i in range(1, n_steps + 1))
    epochs = tuple(EpochRecord(e, 0.5, 0.8, 0.5, 0.85, 20.0 * e, 3000.0) for e in range(1, 10 * n_steps // 470 + 1))
    return History(steps, epochs, "running", total_epochs=30, steps_per_epoch=470, step=10 * n_steps,
                   elapsed_s=0.3 * n_steps, batch_size=64, train_size=30_000)


def test_thinned_keeps_the_first_and_the_last_evenly_spaced():
    assert thinned(list(range(10)), None) == list(range(10))
    assert thinned(list(range(10)), 10) == list(range(10))
    assert thinned(list(range(10)), 4) == [0, 3, 6, 9]
    assert thinned(list(range(1201)), 401) == list(range(0, 1201, 3))
    with pytest.raises(ValueError, match="at least 2"):
        thinned([1, 2, 3], 1)


def test_a_live_figure_of_a_long_run_stays_bounded_and_ends_at_the_latest_step():
    h = history(1200)
    full, capped = curves_figure(h), curves_figure(h, max_points=400)
    assert [len(t.x) for t in full.data[:2]] == [1200, 1200]
    assert [len(t.x) for t in capped.data[:2]] == [400, 400]
    assert capped.data[0].x[-1] == full.data[0].x[-1] and capped.data[0].y[-1] == pytest.approx(2.0 / 1200)
    assert capped.data[0].x[0] == full.data[0].x[0]
    assert capped.data[2].y == full.data[2].y  # the test points (one per epoch) all stay
    assert len(capped.to_json()) < len(full.to_json()) / 2


def test_the_training_thread_is_named_so_a_benchmark_can_subtract_it():
    seen = {}

    def work():
        seen["named"] = name_os_thread(TRAIN_THREAD_NAME)
        seen["comm"] = Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()
        end = time.thread_time() + 0.3
        while time.thread_time() < end:  # busy: CPU time the helper must attribute to training
            pass
        seen["cpu"] = server_cpu(os.getpid())

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["named"] and seen["comm"] == TRAIN_THREAD == TRAIN_THREAD_NAME
    total, train = seen["cpu"]
    assert 0.25 <= train <= total


@pytest.fixture
def runs_in_tmp(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "runs"))


def test_while_training_the_numbers_redraw_every_second_and_the_curves_less_often(app_at, runs_in_tmp, monkeypatch):
    import streamlit as st

    cadences: dict[str, float | None] = {}
    real = st.fragment

    def recording(func=None, *, run_every=None, **kw):
        def wrap(f):
            cadences[f.__name__] = run_every
            return real(f, run_every=run_every, **kw)
        return wrap if func is None else wrap(func)

    monkeypatch.setattr(st, "fragment", recording)
    at = app_at(STUDIO)
    at.select_slider(key="tr.train_size").set_value(500)
    at.select_slider(key="tr.test_size").set_value(500)
    at.number_input(key="tr.epochs").set_value(100)
    [b for b in at.button if b.label == "Start training"][0].click()
    at.run()
    job = at.session_state[training_cache.TRAIN_JOB_KEY]
    try:
        assert not at.exception, [e.value for e in at.exception]
        assert job.running
        assert cadences == {"draw_live": layout.LIVE_NUMBERS_EVERY_S, "draw_curves": layout.LIVE_FIGURE_EVERY_S}
        assert layout.LIVE_FIGURE_EVERY_S >= layout.LIVE_NUMBERS_EVERY_S >= 2 * layout.LIVE_EVERY_S
        assert at.get("plotly_chart"), "the curves are drawn while the run trains"
        badge = "bfloat16 fast math" if bf16_fast() else "float32"  # the switch defaults to what is native
        assert any(badge in m.value for m in at.markdown), [m.value for m in at.markdown]
        # the run's thread and its OpenMP workers carry the training name
        names = {p.read_text().strip() for p in Path("/proc/self/task").glob("*/comm")}
        assert TRAIN_THREAD_NAME in names
    finally:
        job.stop(wait=30)
    at.run()
    assert cadences == {"draw_live": None, "draw_curves": None}  # a stopped run is drawn once, not polled
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(spec["data"][0]["y"]) == min(len(job.history.steps), 400)


def test_the_warm_up_ends_by_freezing_the_heap_out_of_the_collectors_sight():
    from dashboard.warmup import _warm_steps, freeze_heap

    _first, later = _warm_steps()
    assert later[-1] is freeze_heap
    before = gc.get_freeze_count()
    try:
        freeze_heap()
        assert gc.get_freeze_count() > before
        assert len(gc.get_objects()) < gc.get_freeze_count() / 10  # what a full collection still walks
    finally:
        gc.unfreeze()


def test_the_server_watches_no_files():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


def test_every_preset_trains_in_bfloat16_exactly_where_the_cpu_computes_it_natively(monkeypatch):
    from cnnviz.training import presets

    assert {name: p.options()["bf16"] for name, p in PRESETS.items()} == {name: bf16_fast() for name in PRESETS}
    monkeypatch.setattr(presets, "bf16_fast", lambda: False)  # an AVX2 CPU: float32, never the slow emulation
    assert not any(p.options()["bf16"] for p in PRESETS.values())
    monkeypatch.setattr(presets, "bf16_fast", lambda: True)
    assert all(p.options()["bf16"] for p in PRESETS.values())


def test_choosing_a_preset_sets_the_studio_switch_to_what_is_native(app_at, runs_in_tmp):
    at = app_at(STUDIO)
    at.session_state["tr.bf16"] = not bf16_fast()
    at.selectbox(key="tr.preset").set_value("fast")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["tr.bf16"] is bf16_fast()
    if bf16_fast():
        assert at.toggle(key="tr.bf16").value is True


@pytest.mark.skipif(not bf16_fast(), reason="bfloat16 is used only where the CPU computes it natively")
def test_bfloat16_reaches_the_same_accuracy_as_float32_within_half_a_point():
    """The fast preset's settings on a subset, same seed: the final test accuracy of a bfloat16 run is within 0.5 %
    of the float32 one's (seed-to-seed noise on this subset is larger)."""
    train, test = training.load_train_test("fashion_mnist", input_shape=(1, 28, 28), train_size=4_000,
                                           test_size=2_000, seed=0)
    acc = {}
    for bf16 in (False, True):
        model = models.build_model(PRESETS["fast"].model, num_classes=10, in_channels=1, seed=0)
        options = {**PRESETS["fast"].options(), "epochs": 2, "bf16": bf16}
        h = training.fit(model, train, test, seed=0, **options)
        assert h.status == "finished", h.message
        acc[bf16] = h.epochs[-1].test_acc
    assert acc[False] > 0.75
    assert abs(acc[True] - acc[False]) <= 0.005, acc


CPUINFO = """vendor_id\t: {vendor}
cpu family\t: {family}
cpu MHz\t\t: 2600.000
flags\t\t: fpu sse avx fma avx2 {extra}
"""


def test_the_spec_ceiling_counts_lanes_fma_units_and_cores_as_the_vendors_build_them():
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch
    from ceiling import cpu_spec, peak_gflops

    zen4 = cpu_spec(CPUINFO.format(vendor="AuthenticAMD", family=25, extra="avx512f avx512_bf16"), "", cores=2)
    assert (zen4.fp32_lanes, zen4.fma_units, zen4.bf16_dot) == (16, 1, True)  # AVX-512 on two 256-bit units
    assert peak_gflops(zen4) == pytest.approx(2.6 * 16 * 2 * 1 * 2)  # 166 GFLOP/s, as AVX2 would give
    assert peak_gflops(zen4, torch.bfloat16) == pytest.approx(2 * peak_gflops(zen4))
    capped = cpu_spec(CPUINFO.format(vendor="AuthenticAMD", family=25, extra="avx512f avx512_bf16"), "AVX2", cores=2)
    assert (capped.fp32_lanes, capped.fma_units, capped.bf16_dot) == (8, 2, False)
    assert peak_gflops(capped, torch.bfloat16) == peak_gflops(capped) == pytest.approx(peak_gflops(zen4))
    intel = cpu_spec(CPUINFO.format(vendor="GenuineIntel", family=6, extra="avx512f"), "", cores=4)
    assert peak_gflops(intel) == pytest.approx(2.6 * 16 * 2 * 2 * 4)
    assert not intel.bf16_dot and peak_gflops(intel, torch.bfloat16) == peak_gflops(intel)


@pytest.mark.parametrize("given, seen", [(None, "GOMP_SPINCOUNT = '0'"), ("ACTIVE", "OMP_WAIT_POLICY = 'ACTIVE'")])
def test_openmp_threads_sleep_while_waiting_unless_told_otherwise(given, seen):
    """What OpenMP itself read when torch loaded (OMP_DISPLAY_ENV), in a fresh process that imports cnnviz first, as
    the `cnnviz` command and the dashboard's pages do. Unset, GNU OpenMP spins 300,000 times before it sleeps (its
    display says PASSIVE either way; the spin count tells them apart)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update({"OMP_DISPLAY_ENV": "VERBOSE", "PYTHONPATH": str(ROOT)}, **({"OMP_WAIT_POLICY": given} if given else {}))
    out = subprocess.run([sys.executable, "-c", "import cnnviz, torch; torch.ones(300, 300) @ torch.ones(300, 300)"],
                         env=env, capture_output=True, text=True, timeout=300, check=True)
    assert seen in out.stderr, out.stderr[-3000:]


def test_the_warm_up_never_imports_pandas_behind_a_page_drawing_a_figure():
    """plotly looks pandas up in sys.modules without importing it: half-imported by the warm-up thread, a figure on a
    page failed with an AttributeError (seen on the studio in presenter mode right after a server start)."""
    import ast
    import inspect

    from dashboard import warmup

    imported = {alias.name for node in ast.walk(ast.parse(inspect.getsource(warmup)))
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    imported |= {node.module for node in ast.walk(ast.parse(inspect.getsource(warmup)))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported if name.split(".")[0] == "pandas"}
