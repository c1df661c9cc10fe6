"""The transfer-learning pages under AppTest: the notes' parameter table, a comparison run from the page
(background job, then results), a zip of the user's images, and reopening saved comparisons."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch
from PIL import Image

import cnnviz
from cnnviz import transfer
from cnnviz.training import EpochRecord
from dashboard import session
from dashboard import transfer as transfer_cache


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """An empty runs folder with a cached held-out source (random weights), so no page pretrains for a minute."""
    root = tmp_path / "runs"
    monkeypatch.setenv("CNNVIZ_RUNS", str(root))
    c = transfer.ComparisonConfig()
    tag = (f"mnist_cnn-fashion-c{''.join(map(str, c.source_classes))}-e{c.source_epochs}-n{c.source_images}-s{c.seed}")
    model = cnnviz.build_model("mnist_cnn", num_classes=5, seed=0)
    cnnviz.save_checkpoint(root / "transfer" / "sources" / f"{tag}.pt", model, model_name="mnist_cnn",
                           input_shape=(1, 28, 28), classes=cnnviz.DATASETS["fashion_mnist"].classes[:5],
                           meta={"mean": [0.286], "std": [0.353], "epoch": 2, "test_accuracy": 0.5,
                                 "source_classes": [0, 1, 2, 3, 4], "train_images": 12000})
    return root


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_backbones_page_shows_the_notes_vgg16_numbers(app_at):
    at = app_at("41_transfer_backbones.py", timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    m = _metrics(at)
    assert m["Total params"] == "14,789,258"
    assert m["Trainable params"] == "74,570"
    assert m["Frozen (non-trainable) params"] == "14,714,688"
    assert "Trainable params: 74,570" in at.code[0].value
    at.radio(key="tlb.strategy").set_value("full").run()
    assert not at.exception
    assert _metrics(at)["Trainable params"] == "14,789,258"
    at.selectbox(key="tlb.arch").set_value("mnist_cnn").run()
    at.radio(key="tlb.strategy").set_value("frozen").run()
    assert not at.exception
    model = transfer.build_transfer_model("mnist_cnn", "frozen", num_classes=10, input_shape=(1, 28, 28))
    assert _metrics(at)["Trainable params"] == f"{sum(p.numel() for p in model.head.parameters()):,}"
    at.text_input(key="tlb.head").set_value("64, x").run()
    assert not at.exception and at.error


def _wait_and_rerun(at):
    job = at.session_state[transfer_cache.TRANSFER_JOB_KEY]
    assert job.join(240), "the comparison did not finish"
    at.run()
    at.run()  # the first run notices the job ended and reruns the page
    assert not at.exception, [e.value for e in at.exception]
    return job


def _compare(at, *, strategies: list[str], epochs: int = 1, shots: int | None = None):
    """Set the budget and strategies, press the button, wait for the job; return it (checked to have no error)."""
    if shots is not None:
        at.select_slider(key="tl.shots").set_value(shots)
    at.slider(key="tl.epochs").set_value(epochs)
    at.multiselect(key="tl.strategies").set_value(strategies)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = _wait_and_rerun(at)
    assert job.error is None, job.error
    return job


def test_compare_page_runs_a_held_out_comparison(app_at, runs):
    at = app_at("40_transfer_compare.py", timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    assert any("Press" in i.value or "press" in i.value for i in at.info)
    job = _compare(at, shots=2, strategies=["frozen", "full"])
    assert job.result.status == "finished"
    m = _metrics(at)
    assert set(m) >= {"Frozen backbone + new head", "Fine-tune everything"}
    assert all(m[r.title].split()[0] == f"{r.final_acc:.1%}" for r in job.result.runs)
    charts = at.get("plotly_chart")
    assert len(charts) >= 3  # accuracy vs epoch, vs time, weight changes
    spec = json.loads(charts[0].proto.spec)
    assert {t["name"] for t in spec["data"]} == {"Frozen backbone + new head", "Fine-tune everything"}
    table = at.dataframe[0].value
    assert list(table["trainable"]) == [r.counts.trainable for r in job.result.runs]
    assert job.result.path and str(runs) in job.result.path


def test_compare_page_transfers_to_a_zip_of_images(app_at, runs):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for cls, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
            for i in range(4):
                img = io.BytesIO()
                Image.new("RGB", (20, 20), tuple(min(255, c + 5 * i) for c in colour)).save(img, format="PNG")
                zf.writestr(f"mine/{cls}/{i}.png", img.getvalue())
    at = app_at("40_transfer_compare.py", timeout=120)
    at.selectbox(key="tl.target").set_value("folder").run()
    assert not at.exception
    at.button[0].click().run()
    assert any("upload a zip" in e.value for e in at.error)  # nothing uploaded yet
    at.file_uploader(key="tl.zip").upload("mine.zip", buf.getvalue(), "application/zip").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("8 images in 2 classes" in c.value for c in at.caption)
    job = _compare(at, strategies=["frozen"])
    assert job.result.classes == ("blue", "red")
    assert (job.result.train_size, job.result.test_size) == (6, 2)  # 30 % of each class (1 of 4) for testing


def test_compare_page_says_how_to_get_missing_imagenet_weights(app_at, runs, tmp_path):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        at = app_at("40_transfer_compare.py", timeout=120)
        at.radio(key="tl.source").set_value("vgg16").run()
        assert not at.exception
        assert any("vgg16-397923af.pth" in w.value for w in at.warning)
        at.button[0].click().run()
        assert not at.exception
        assert any("not on this machine" in e.value for e in at.error)
    finally:
        torch.hub.set_dir(old)


def test_saved_page_reopens_and_overlays_comparisons(app_at, runs):
    """A session sees its own saved comparisons, and never another session's (no "every session" switch)."""
    from conftest import APP
    from streamlit.testing.v1 import AppTest

    pts = (EpochRecord(1, 1.0, 0.5, 1.0, 0.6, 2.0),)
    for shots in (5, 50):
        run = transfer.StrategyResult("frozen", "finished", "", pts, transfer.ParamCounts(100, 10),
                                      (transfer.LayerChange("head.1", "Linear", 10, 0.2, True),), 0.2)
        result = transfer.ComparisonResult(transfer.ComparisonConfig(shots=shots), (run,), ("a", "b"), 4, 4, "toy",
                                           "finished", created=f"2026-01-0{1 + shots // 50}T00:00:00Z")
        transfer.save_comparison(result, root=runs / "sessions" / "0123456789ab")
    other = app_at("42_transfer_saved.py", timeout=60)
    assert not other.exception
    assert other.info and not other.get("plotly_chart")  # another session: none of these
    assert not [t for t in other.toggle if "every session" in str(t.label)]
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[session.TRAIN_SESSION_KEY] = "0123456789ab"  # the session that owns them (its cookie's digest)
    at.run()
    at.switch_page("../pages/42_transfer_saved.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts[0]["data"]) == 2  # the frozen curve of each comparison
    assert [list(t["x"]) for t in charts[1]["data"]] == [[5, 50]]  # final accuracy against labels per class
    table = at.dataframe[0].value
    assert sorted(table["comparison"]) == ["#1", "#2"]
    assert list(table.columns[:3]) == ["comparison", "strategy", "status"]  # the status is never cut off at the edge


# ---------------------------------------------------------------------------- in a real browser


def _browser_runs(dashboard_url: str):
    """The runs folder of conftest's live server (a temporary folder per server, never inside the repository)."""
    from conftest import RUNS_BY_URL

    return RUNS_BY_URL[dashboard_url]


def _seed_source(root) -> None:
    c = transfer.ComparisonConfig()
    tag = f"mnist_cnn-fashion-c{''.join(map(str, c.source_classes))}-e{c.source_epochs}-n{c.source_images}-s{c.seed}"
    path = root / "transfer" / "sources" / f"{tag}.pt"
    if not path.exists():
        cnnviz.save_checkpoint(path, cnnviz.build_model("mnist_cnn", num_classes=5, seed=0), model_name="mnist_cnn",
                               input_shape=(1, 28, 28), classes=cnnviz.DATASETS["fashion_mnist"].classes[:5],
                               meta={"mean": [0.286], "std": [0.353], "epoch": 2, "test_accuracy": 0.5,
                                     "source_classes": [0, 1, 2, 3, 4], "train_images": 12000})


@pytest.mark.browser
def test_browser_compare_page_runs_on_an_uploaded_zip(browser_page, dashboard_url, tmp_path):
    _seed_source(_browser_runs(dashboard_url))
    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for cls, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
            for i in range(4):
                img = io.BytesIO()
                Image.new("RGB", (20, 20), colour).save(img, format="PNG")
                zf.writestr(f"mine/{cls}/{i}.png", img.getvalue())
    page = browser_page
    page.goto_page("transfer_compare")
    page.locator("[data-testid=stSelectbox]").filter(has_text="Target data").locator("input").first.click()
    page.get_by_role("option", name="Your own images (a zip of one folder per class)").click()
    page.settle()
    page.locator("input[type=file]").first.set_input_files(str(archive))
    page.get_by_text("8 images in 2 classes").wait_for(timeout=60_000)
    page.get_by_role("button", name="Run comparison").click()
    page.get_by_text("Saved: reopen").wait_for(timeout=240_000)
    page.settle()
    assert page.locator("[data-testid=stException]").count() == 0
    page.locator(".js-plotly-plot").nth(1).wait_for(state="attached", timeout=30_000)  # drawn after the script ends; may sit in a hidden tab
    assert page.locator(".js-plotly-plot").count() >= 2  # accuracy curves (first tab) and the weight heat map
    assert page.get_by_text("How far each layer's weights moved").count() >= 1


@pytest.mark.browser
def test_browser_backbones_page_switches_strategy(browser_page):
    page = browser_page
    page.goto_page("transfer_backbones")
    page.get_by_text("74,570").first.wait_for(timeout=30_000)
    page.get_by_test_id("stRadioGroup").get_by_text("Fine-tune the last block").click()
    page.settle()
    page.get_by_text("7,153,994").first.wait_for(timeout=30_000)  # block 5 + the head now learn
    assert page.locator("[data-testid=stException]").count() == 0


@pytest.mark.browser
def test_browser_saved_page_overlays_saved_comparisons(browser_page, dashboard_url):
    root = _browser_runs(dashboard_url)
    pts = (EpochRecord(1, 1.0, 0.5, 1.0, 0.6, 2.0),)
    run = transfer.StrategyResult("frozen", "finished", "", pts, transfer.ParamCounts(100, 10),
                                  (transfer.LayerChange("head.1", "Linear", 10, 0.2, True),), 0.2)
    transfer.save_comparison(transfer.ComparisonResult(transfer.ComparisonConfig(), (run,), ("a", "b"), 4, 4, "toy",
                                                       "finished", created="2026-01-01T00:00:00Z"),
                             root=root / "sessions" / "b0b0b0b0b0b0")
    page = browser_page
    page.goto_page("transfer_saved?share=b0b0b0b0b0b0")
    page.get_by_text("Test accuracy against epoch").first.wait_for(timeout=30_000)
    assert page.locator("[data-testid=stException]").count() == 0


def test_backbones_page_compares_all_backbones(app_at):
    at = app_at("41_transfer_backbones.py", timeout=120)
    at.toggle(key="tlb.all").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[1].value.rename(columns={"base output (Keras: H×W×C)": "base output"})
    assert list(table["backbone"]) == ["VGG16", "MobileNetV2", "ResNet-18", "ResNet-50"]
    assert table["total"][0] == 14_789_258 and table["trainable (frozen base)"][0] == 74_570
    for name, total in zip(["mobilenet_v2", "resnet18", "resnet50"], table["total"][1:]):
        model = transfer.build_transfer_model(name, "frozen", num_classes=10, input_shape=(3, 32, 32))
        assert total == sum(p.numel() for p in model.parameters())


def test_compare_page_runs_an_imagenet_backbone_from_the_hub_cache(app_at, runs, tmp_path):
    import torchvision

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18(weights=None).state_dict(),
                   tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
        at = app_at("40_transfer_compare.py", timeout=120)
        at.radio(key="tl.source").set_value("resnet18").run()
        assert any("found" in s.value for s in at.success)
        at.selectbox(key="tl.target").set_value("fashion_mnist").run()  # bundled: no network needed
        job = _compare(at, shots=1, strategies=["frozen", "last_block"])
        assert job.result.status == "finished" and job.result.train_size == 10
        assert "ResNet-18" in job.result.title
        by = {r.strategy: r for r in job.result.runs}
        assert by["frozen"].counts.trainable == 74_570  # 512 → 128 → 64 → 10, as for VGG16
    finally:
        torch.hub.set_dir(old)


# ---------------------------------------------------------------------------- a comparison survives the page


@pytest.fixture
def gated(monkeypatch):
    """Comparisons wait at their first step (preparing the target data) until the test opens the gate."""
    import threading

    gate = threading.Event()
    gate.closed = False  # set with the gate: the comparison ends there (a test that has seen what it wanted)
    prepare = transfer.compare.prepare_target

    def held(*a, **kw):
        gate.wait(60)
        if gate.closed:
            raise ValueError("ended by the test")
        return prepare(*a, **kw)

    monkeypatch.setattr(transfer.compare, "prepare_target", held)
    yield gate
    gate.set()


def _same_browser(mine: str, page: str):
    """A second tab of the browser whose runs id is ``mine`` (its cookie), or the same browser after a restart."""
    from conftest import APP
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[session.TRAIN_SESSION_KEY] = mine
    at.run()
    at.switch_page(f"../pages/{page}")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _states(at) -> list[str]:
    table = next(d.value for d in at.dataframe if "strategies done" in d.value.columns)
    return list(table["status"])


def test_a_running_comparison_is_found_from_a_second_tab_and_reads_interrupted_after_a_restart(app_at, runs, gated):
    from dashboard import training as training_cache

    at = app_at("40_transfer_compare.py", timeout=120)
    at.multiselect(key="tl.strategies").set_value(["frozen"])
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state[transfer_cache.TRANSFER_JOB_KEY]
    mine = at.session_state[session.TRAIN_SESSION_KEY]
    assert job.running and job.folder is not None and job.folder.parent.parent == runs / "sessions" / mine
    saved = transfer.load_comparison(job.folder)
    assert saved.config == job.config and transfer.comparison_state(saved) in ("queued", "running")

    tab = _same_browser(mine, "40_transfer_compare.py")  # a second tab (or a reload): the same job, running
    assert tab.session_state[transfer_cache.TRANSFER_JOB_KEY] is job
    assert [b for b in tab.button if b.label == "Run comparison"][0].disabled  # its settings are locked meanwhile
    assert _states(tab) == ["running"]

    # the server restarts: the process that held the comparison is gone (its lock with it), nothing is in memory
    job._live.release()
    training_cache._live_jobs().clear()
    after = _same_browser(mine, "40_transfer_compare.py")
    assert transfer_cache.TRANSFER_JOB_KEY not in after.session_state  # no job in memory: only the folder
    assert _states(after) == ["interrupted"]
    assert any("was interrupted" in w.value for w in after.warning)  # the latest one, under Results, says so
    gated.closed = True
    gated.set()
    assert job.join(60)


def test_a_comparison_writes_its_results_as_it_goes(tmp_path, monkeypatch):
    from test_transfer import tiny_data

    config = transfer.ComparisonConfig(source="shipped_cnn", target="folder", strategies=("frozen", "full"),
                                       epochs=2, batch_size=4, shots=None)
    source = cnnviz.build_model("mnist_cnn", seed=0)
    monkeypatch.setattr(transfer.compare, "load_source", lambda *a, **k: (source, {"mean": [0.3], "std": [0.3]}))
    monkeypatch.setattr(transfer.compare.ComparisonJob, "SAVE_EVERY_S", 0.0)
    seen = []
    write = transfer.compare.write_comparison

    def watch(result, folder):
        path = write(result, folder)
        again = transfer.load_comparison(path)  # what a reader finds on disk at that moment
        seen.append((transfer.comparison_state(again), [(r.strategy, r.status, len(r.epochs)) for r in again.runs]))
        return path

    monkeypatch.setattr(transfer.compare, "write_comparison", watch)
    job = transfer.ComparisonJob(config, user_data=tiny_data(6, 2), root=tmp_path).start()
    assert job.join(120) and job.error is None
    assert seen[0] == ("running", []) and seen[-1][0] == "finished"
    assert ("running", [("frozen", "running", 1)]) in seen  # after its first epoch
    assert ("running", [("frozen", "finished", 2), ("full", "running", 1)]) in seen
    assert seen[-1][1] == [("frozen", "finished", 2), ("full", "finished", 2)]
    assert job.result.path == str(job.folder / "comparison.json") and len(transfer.list_comparisons(root=tmp_path)) == 1


def test_a_comparison_that_never_started_leaves_no_folder(tmp_path):
    from cnnviz.background import QueueFull, WorkQueue

    queue = WorkQueue(1, per_owner=1)
    queue.submit(object(), "me")  # this student already has a job waiting
    job = transfer.ComparisonJob(transfer.ComparisonConfig(), root=tmp_path).enqueue(queue, "me")
    with pytest.raises(QueueFull):
        job.start()
    assert transfer.list_comparisons(root=tmp_path) == [] and not any((tmp_path / "transfer").iterdir())


# ---------------------------------------------------------------------------- every source, exactly as set


def test_every_source_starts_a_comparison_with_exactly_the_settings_shown(app_at, runs, monkeypatch):
    """Each pretrained source the page offers, with a budget that is none of the defaults: the comparison it starts
    has exactly the source, target, strategies, labels, epochs, learning rate, batch and image size shown; an
    ImageNet source's image size starts at its own (64 for EfficientNet-Lite0, 32 otherwise), also when another
    source was chosen before."""
    kept: list[transfer.ComparisonConfig] = []

    def keep(config, *, user_data=None, download=False):
        kept.append(config)
        raise ValueError("kept by the test")

    monkeypatch.setattr(transfer_cache, "start_transfer_job", keep)
    monkeypatch.setattr(transfer, "imagenet_status", lambda source: (True, "the weights are here"))
    at = app_at("40_transfer_compare.py", timeout=120)
    for source in transfer.SOURCES:
        at.radio(key="tl.source").set_value(source).run()
        assert not at.exception, [e.value for e in at.exception]
        imagenet = source in transfer.IMAGENET_BACKBONES
        if imagenet:
            assert at.select_slider(key="tl.image_size").value == (64 if source == "efficientnet_lite0" else 32)
            at.select_slider(key="tl.image_size").set_value(96)
        target = next(t for t, title in transfer.TARGETS.items()
                      if title in at.selectbox(key="tl.target").options and t != "folder") \
            if source != "shipped_cnn" else None
        if target is None:
            continue  # its only target is a zip of one's own images (test_compare_page_transfers_to_a_zip_of_images)
        at.selectbox(key="tl.target").set_value(target)
        at.select_slider(key="tl.shots").set_value(5)
        at.slider(key="tl.epochs").set_value(3)
        at.select_slider(key="tl.lr").set_value(3e-3)
        at.select_slider(key="tl.batch").set_value(32)
        at.multiselect(key="tl.strategies").set_value(["frozen", "full"])
        next(b for b in at.button if b.label == "Run comparison").click().run()
        assert any("kept by the test" in e.value for e in at.error), [e.value for e in at.error]
        assert kept[-1] == transfer.ComparisonConfig(
            source=source, target=target, strategies=("frozen", "full"), source_classes=(0, 1, 2, 3, 4), shots=5,
            test_per_class=100, epochs=3, batch_size=32, lr=3e-3, image_size=96 if imagenet else 28)
    assert len(kept) == len(transfer.SOURCES) - 1


def _in_order(node):
    """The elements under ``node``, in the order the page draws them."""
    yield node
    children = getattr(node, "children", None) or {}
    for k in sorted(children):
        yield from _in_order(children[k])


def test_a_projector_shows_the_latest_comparison_first_and_a_fresh_session_the_set_up_alone(app_at, runs):
    """Presenter mode: with no comparison the page draws no figure; after a reload with a saved comparison its
    accuracy curves come first, above the set-up (a projector shows them without scrolling)."""
    fresh = app_at("40_transfer_compare.py", timeout=120, query={"lang": "en", "present": "1"})
    assert not fresh.exception, [e.value for e in fresh.exception]
    assert not fresh.get("plotly_chart")
    assert not [b for b in _in_order(fresh.main) if "main_figure" in str(getattr(b, "proto", ""))]

    pts = (EpochRecord(1, 1.0, 0.5, 1.0, 0.6, 2.0),)
    run = transfer.StrategyResult("frozen", "finished", "", pts, transfer.ParamCounts(100, 10), (), 0.2)
    transfer.save_comparison(transfer.ComparisonResult(transfer.ComparisonConfig(), (run,), ("a", "b"), 4, 4, "toy",
                                                       "finished"), root=runs / "sessions" / "0123456789ab")
    from conftest import APP
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[session.TRAIN_SESSION_KEY] = "0123456789ab"
    at.run()
    at.switch_page("../pages/40_transfer_compare.py")
    at.query_params.update({"lang": "en", "present": "1"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    order = [(n.type, str(getattr(n, "value", ""))) for n in _in_order(at.main) if getattr(n, "type", None)]
    first_chart = next(i for i, (kind, _v) in enumerate(order) if kind == "plotly_chart")
    set_up = next(i for i, (kind, v) in enumerate(order) if kind == "subheader" and v.startswith("1 ·"))
    assert first_chart < set_up
    assert len([b for b in _in_order(at.main) if "main_figure" in str(getattr(b, "proto", ""))]) == 1
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["y"][-1] == pytest.approx(0.6)
