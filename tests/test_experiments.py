"""The vanishing-gradient experiment (cnnviz.runs.experiments): the same deep CNN with sigmoid and with ReLU, trained
side by side as one job; the sigmoid's first layer gets a gradient at least ten times smaller."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

import cnnviz
from cnnviz import runs
from cnnviz.background import QueueFull, WorkQueue
from cnnviz.runs import experiments
from cnnviz.training import probes


def test_sigmoid_starves_the_first_layer(tmp_path):
    a, b = cnnviz.build_model("deep_sigmoid", seed=0), cnnviz.build_model("deep_relu", seed=0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))  # only the activation differs
    configs = tuple(replace(c, train_size=256, test_size=64, epochs=1) for c in experiments.VANISHING)
    job = experiments.vanishing_job(tmp_path, configs=configs)
    queue = WorkQueue(2, per_owner=1)
    job.enqueue(queue, owner="me").start()
    try:
        one_more = runs.new_run_job(tmp_path / "other", configs[1], train=job.jobs[0].train, test=job.jobs[0].test)
        try:  # the pair holds the owner's one place in the queue
            one_more.enqueue(queue, owner="me").start()
        except QueueFull:
            pass
        else:
            raise AssertionError("a second run of the same owner was let in")
    finally:
        assert job.join(240)
    assert [h.status for h in job.histories] == ["finished", "finished"]
    infos = runs.list_runs(tmp_path)
    pair = experiments.latest_pair(infos)
    assert [i.config.model for i in pair] == ["deep_sigmoid", "deep_relu"]
    sigmoid, relu = (probes.load_probes(i.path) for i in pair)
    assert sigmoid.layers == relu.layers and len(sigmoid.layers) == 9
    ratio = experiments.first_layer_ratio(sigmoid, relu)
    assert ratio >= 10, ratio
    # within the sigmoid net the first layer gets a small fraction of the last one's gradient; not so with ReLU
    assert np.median(sigmoid.grad_norm[:, 0] / sigmoid.grad_norm[:, -1]) < 0.01
    assert np.median(relu.grad_norm[:, 0] / relu.grad_norm[:, -1]) > 0.05
