"""Every page of the dashboard runs under Streamlit's AppTest with no exception; Home's summary is right."""

from __future__ import annotations

import pytest
from conftest import PAGES


@pytest.mark.parametrize("page", [p.name for p in PAGES])
def test_every_page_runs_without_exception(app_at, page):
    at = app_at(page, timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title or at.header or at.markdown, f"{page} shows nothing"


def test_home_shows_the_keras_cifar10_summary_of_the_notes(app_at):
    at = app_at()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Total params"] == "582,026"
    assert metrics["Trainable params"] == "582,026"
    table = at.dataframe[0].value
    shapes = [s for s, kind in zip(table["Output shape (H×W×C)"], table["Type"]) if kind != "ReLU"]
    assert shapes == ["32×32×32", "16×16×32", "16×16×64", "8×8×64", "8×8×64", "4096", "128", "10"]


def test_home_switches_model(app_at):
    at = app_at()
    at.selectbox[0].set_value("tf_mnist").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Total params"] == "3,274,634"
