"""The whole network, where it looks four ways and the channel atlas under AppTest, in English and Korean: what the
pages show (the arithmetic's numbers against the map, the sanity check's numbers, the atlas's tiles and link)."""

from __future__ import annotations

import json
import time

import pytest


def _charts(at) -> dict:
    return {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_overview_shows_every_layer_and_arithmetic_equal_to_the_map(app_at, lang):
    at = app_at("25_network_overview.py", query={"lang": lang, "model": "trained"}, timeout=240)
    assert not at.exception and not at.error
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    network = specs[0]
    labels = " ".join(a["text"] for a in network["layout"]["annotations"])
    for name in ("features.0", "features.3", "features.6", "128×3×3"):
        assert name in labels
    assert sum(1 for t in network["data"] if t["type"] == "image") == 12  # input + 11 layers; the last as bars
    assert any(t["type"] == "bar" for t in network["data"])
    assert any(t.get("name") == "reads" for t in network["data"])  # the chosen conv's lines to what it reads
    # the chain's table: what the arithmetic computed equals what the map shows, and the page says so
    table = at.table[-1].value if at.table else at.dataframe[-1].value
    assert list(table.iloc[:, 3]) == pytest.approx(list(table.iloc[:, 4]), rel=1e-4, abs=1e-5)
    assert len(at.success) == 1
    if lang == "ko":  # AppTest cannot set widgets whose options are shown translated (the sample photo's)
        assert "네트워크" in at.title[0].value
        return
    # another layer and cell: a ReLU after a pooling reads one channel
    at.selectbox(key="ov_layer").set_value(3).run()
    at.number_input(key="ov_row").set_value(2).run()
    assert not at.exception
    assert "[" in at.subheader[-1].value and ", 2," in at.subheader[-1].value


def test_overview_linear_unit_and_bad_cell_stay_calm(app_at):
    at = app_at("25_network_overview.py", query={"model": "trained"}, timeout=240)
    at.selectbox(key="ov_layer").set_value(12).run()  # the output layer: a class's logit
    at.selectbox(key="ov_channel").set_value(3).run()
    assert not at.exception and len(at.success) == 1
    assert any("%" in m.value for m in at.markdown)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_four_methods_and_the_sanity_check(app_at, lang):
    at = app_at("26_where_it_looks.py", query={"lang": lang, "model": "trained"}, timeout=240)
    assert not at.exception and not at.error
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(1 for t in fig["data"] if t["type"] == "image") == 4
    if lang == "ko":  # AppTest cannot press a button on a page whose sample photo is shown translated
        assert "적분 기울기" in json.dumps(fig, ensure_ascii=False)
        return
    at.button(key="wl_sanity_button").click().run()
    assert not at.exception
    values = {m.label: float(m.value) for m in at.metric}
    assert len(values) == 5
    control = values.pop("Edge detector (control)")
    assert control == 1.0 and min(values.values()) < 0.9


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_atlas_fills_in_and_links_each_tile(app_at, tmp_path, monkeypatch, lang):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path))
    at = app_at("27_channel_atlas.py", query={"lang": lang, "model": "zoo:simple_convnet"}, timeout=240)
    assert not at.exception
    if lang == "ko":  # AppTest cannot press a button on a page whose model picker is shown translated (Chromium can)
        assert at.button(key="atlas_start").label == "아틀라스 계산하기 (채널 30개)"
        return
    at.button(key="atlas_start").click().run()
    assert not at.exception and not at.error
    deadline = time.time() + 180
    folder = tmp_path / "atlas" / "zoo-simple_convnet" / "features.0"
    from dashboard.lookfor import _atlas_jobs

    job = next(iter(_atlas_jobs().values()))
    while time.time() < deadline and job.running:
        meta = folder / "atlas.json"
        if meta.exists() and len(json.loads(meta.read_text())["activations"]) == 30:
            break
        time.sleep(0.5)
    assert job.error == "" and job.done == 30
    at.run()
    at.run()
    assert not at.exception
    grid = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "30 of 30" in c.proto.spec)
    assert len(grid["data"][1]["customdata"]) == 30
    link = at.get("page_link")[0].proto
    assert "filter_looks_for" in link.page or "23_filter_looks_for" in link.page
    assert "layer=features.0" in link.query_string and "model=zoo" in link.query_string
