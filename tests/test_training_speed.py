"""How long a run will take: the speed measured on this computer (real training steps), and a running job's time left,
which must not come from its first, warming-up steps."""

from __future__ import annotations

import math

import pytest
import torch

import cnnviz
from cnnviz.training import History, StepRecord, TrainJob
from cnnviz.training.speed import measure_speed


def test_measured_speed_is_real_training_and_leaves_the_machine_as_it_was():
    threads = torch.get_num_threads()
    model = cnnviz.build_model("simple_convnet", seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    speed = measure_speed(model, batch_size=32, input_shape=(1, 28, 28))
    assert math.isfinite(speed) and 0 < speed < 1_000_000  # (a shared machine can be 20 times slower than a quiet one)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # trained a copy
    assert torch.get_num_threads() == threads
    assert measure_speed("lenet5", batch_size=16) > 0  # a zoo name: built at its own input shape
    with pytest.raises(ValueError, match="batch size"):
        measure_speed("lenet5", batch_size=0)


def test_time_left_uses_the_measured_speed_until_the_run_has_its_own_pace():
    data = cnnviz.load_fashion_mnist(train=False).subset(1_000, seed=0)
    job = TrainJob(cnnviz.build_model("simple_convnet", seed=0), data, data, epochs=6, batch_size=100)
    job.expected_speed = 2_000.0
    # step 1 of 60, after 30 s of warming up and the first test pass: its own pace would say 30 minutes
    first = History((StepRecord(1, 1, 2.3, 30.0),), (), "running", total_epochs=6, steps_per_epoch=10, step=1,
                    elapsed_s=30.0, batch_size=100, train_size=1_000, current_images_per_s=100 / 30)
    job._publish(first)
    assert first.eta_s == pytest.approx(59 * 30.0)  # what the studio used to show
    assert job.estimate_s() == pytest.approx(5_900 / 2_000.0 * 1.05)
    settled = History(first.steps, (), "running", total_epochs=6, steps_per_epoch=10, step=5, elapsed_s=31.0,
                      batch_size=100, train_size=1_000, current_images_per_s=500.0)
    job._publish(settled)
    assert job.estimate_s() == pytest.approx(5_500 / 500.0 * 1.05)  # its own pace, once a third of an epoch is done
