"""The channel atlas: computed in batches through a work queue, written tile by tile, read back as it fills in."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.background import WorkQueue
from cnnviz.lookfor import atlas

SETTINGS = {"input_shape": (1, 16, 16), "steps": 6, "lr": 0.1, "objective": "neuron", "jitter": 1, "scale": 0.05,
            "rotate": 0.0, "decay": 0.5, "polish": 0.5}


def _tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 7, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(7, 5, 3)).eval()


def test_the_folder_is_named_after_the_model_and_layer(tmp_path):
    assert atlas.atlas_folder(tmp_path, "imagenet-efficientnet_lite0", "blocks.3") == (
        tmp_path / "atlas" / "imagenet-efficientnet_lite0" / "blocks.3")
    assert atlas.atlas_folder(tmp_path, "../../etc", "a/b").parent.parent == tmp_path / "atlas"
    with pytest.raises(ValueError):
        atlas.atlas_folder(tmp_path, "", "x")


def test_a_job_writes_every_tile_in_batches_through_the_queue(tmp_path):
    model = _tiny()
    queue = WorkQueue(1)
    folder = atlas.atlas_folder(tmp_path, "tiny", "1")
    job = atlas.AtlasJob(model, "1", folder, mean=(0.5,), std=(0.5,), settings=SETTINGS, batch=3, label="tiny")
    job.enqueue(queue, owner="student").start()
    assert job.join(120)
    assert job.error == "" and job.done == job.total == 7
    found = atlas.read_atlas(folder)
    assert found.done and found.channels == 7 and sorted(found.tiles) == list(range(7))
    assert all(t.shape == (16, 16) and t.dtype == np.uint8 for t in found.tiles.values())
    meta = json.loads((folder / "atlas.json").read_text())
    assert meta["layer"] == "1" and meta["settings"]["steps"] == 6
    assert queue.counts() == (0, 0)  # the slot went back to the queue
    assert all(np.isfinite(v) for v in found.activations.values())


def test_a_stopped_job_keeps_its_tiles_and_goes_on_from_there(tmp_path):
    model = _tiny()
    folder = atlas.atlas_folder(tmp_path, "tiny", "3")
    job = atlas.AtlasJob(model, "3", folder, mean=(0.5,), std=(0.5,), settings=SETTINGS, batch=2)
    job._stop.set()  # stopped before its first batch: nothing written but the index
    job.start()
    assert job.join(60) and job.stopped and atlas.read_atlas(folder).tiles == {}
    meta = json.loads((folder / "atlas.json").read_text())
    meta["activations"] = {"0": 1.5}  # as if the first tile were done
    from PIL import Image

    Image.fromarray(np.zeros((16, 16), np.uint8)).save(folder / "channel_0000.png")
    (folder / "atlas.json").write_text(json.dumps(meta))
    job = atlas.AtlasJob(model, "3", folder, mean=(0.5,), std=(0.5,), settings=SETTINGS, batch=2).start()
    assert job.join(120) and job.done == 5
    found = atlas.read_atlas(folder)
    assert found.done and found.activations[0] == 1.5  # kept, not computed again


def test_other_settings_start_the_atlas_anew(tmp_path):
    model = _tiny()
    folder = atlas.atlas_folder(tmp_path, "tiny", "3")
    atlas.AtlasJob(model, "3", folder, mean=(0.5,), std=(0.5,), settings=SETTINGS, batch=5).start().join(120)
    job = atlas.AtlasJob(model, "3", folder, mean=(0.5,), std=(0.5,), settings={**SETTINGS, "steps": 2}, batch=5)
    job._stop.set()
    job.start().join(60)
    assert atlas.read_atlas(folder).tiles == {} and atlas.read_atlas(folder).settings["steps"] == 2


def test_a_broken_index_reads_as_no_atlas(tmp_path):
    (tmp_path / "atlas.json").write_text("{not json")
    assert atlas.read_atlas(tmp_path) is None
    assert atlas.read_atlas(tmp_path / "missing") is None


def test_the_atlas_figure_is_one_image_with_a_marker_per_channel():
    from cnnviz.plots.lookfor import atlas_figure

    fig = atlas_figure({0: np.zeros((16, 16), np.uint8), 2: np.full((16, 16, 3), 200, np.uint8)}, 5, layer="x")
    assert [t.type for t in fig.data] == ["image", "scatter"]
    assert list(fig.data[1].customdata) == [0, 1, 2, 3, 4]
    assert "2 of 5" in fig.layout.title.text
