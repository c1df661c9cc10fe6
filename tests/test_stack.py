"""cnnviz.stack: shapes/params/receptive fields vs PyTorch, presets vs the model zoo and the notes' counts."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from torch import nn

from cnnviz import stack

NOTES_COUNTS = {"mnist_cnn": 405_898, "keras_cifar10": 582_026, "simple_convnet": 433_890, "tf_mnist": 3_274_634,
                "lenet5": 61_706}

EXAMPLE = [{"type": "conv", "out_channels": 32, "kernel": 3, "stride": 1, "padding": 1, "dilation": 1, "activation": "relu"},
           {"type": "pool", "mode": "max", "kernel": 2, "stride": 2}, {"type": "flatten"},
           {"type": "linear", "out_features": 10, "activation": None}]


# Thousands of tiny convolutions: PyTorch's thread pool only adds overhead (and the machine is shared).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_documented_example_builds_and_runs():
    model = stack.build_stack(EXAMPLE, (1, 28, 28))
    assert isinstance(model, nn.Sequential)
    assert [n for n, _ in model.named_children()] == ["conv1", "relu1", "pool1", "flatten1", "fc1"]
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    a = stack.analyze_stack(EXAMPLE, (1, 28, 28))
    assert [i.output_shape for i in a.layers] == [(32, 28, 28), (32, 14, 14), (6272,), (10,)]
    assert a.total_params == sum(p.numel() for p in model.parameters()) == 320 + 62_730


@pytest.mark.parametrize("name", list(stack.PRESETS))
def test_presets_match_the_zoo_and_the_notes(name):
    spec, shape = stack.preset(name)
    analysis = stack.analyze_stack(spec, shape)
    built = sum(p.numel() for p in stack.build_stack(spec, shape).parameters())
    assert analysis.ok and analysis.output_shape == (10,)
    assert analysis.total_params == built
    expected = NOTES_COUNTS.get(name.replace("_28", ""))
    assert expected is not None and built == expected
    models = pytest.importorskip("cnnviz.models")
    if name in models.ZOO:
        zoo = models.build_model(name)
        assert built == sum(p.numel() for p in zoo.parameters())
        assert shape == models.input_shape_for(name)
    check = stack.verify_stack(spec, shape)
    assert check.agrees and check.total_params == built


def test_preset_returns_a_fresh_copy():
    spec, _ = stack.preset("lenet5")
    spec[0]["out_channels"] = 99
    assert stack.preset("lenet5")[0][0]["out_channels"] == 6
    with pytest.raises(ValueError, match="unknown preset"):
        stack.preset("nope")


def test_keras_shapes_are_the_notes_shapes():
    a = stack.analyze_stack(*stack.preset("keras_cifar10"))
    assert [i.output_shape for i in a.layers] == [(32, 32, 32), (32, 16, 16), (64, 16, 16), (64, 8, 8), (64, 8, 8),
                                                   (4096,), (128,), (10,)]


def _random_spec(rng: random.Random) -> tuple[list[dict], tuple[int, int, int]]:
    spec: list[dict] = []
    for _ in range(rng.randint(1, 5)):
        if rng.random() < 0.6:
            spec.append({"type": "conv", "out_channels": rng.randint(1, 4), "kernel": rng.randint(1, 6),
                         "stride": rng.randint(1, 3), "padding": rng.randint(0, 3), "dilation": rng.randint(1, 3),
                         "activation": rng.choice([None, "relu", "tanh"])})
        else:
            spec.append({"type": "pool", "mode": rng.choice(["max", "avg"]), "kernel": rng.randint(1, 4),
                         "stride": rng.randint(1, 3), "padding": rng.randint(0, 2)})
    spec += [{"type": "flatten"}, {"type": "linear", "out_features": 3, "activation": None}]
    return spec, (rng.randint(1, 3), rng.randint(1, 20), rng.randint(1, 20))


def test_random_stacks_agree_with_pytorch_and_fail_where_it_fails():
    rng = random.Random(0)
    ok = failed = 0
    for _ in range(300):
        spec, shape = _random_spec(rng)
        analysis = stack.analyze_stack(spec, shape)
        failure = stack.torch_failure(spec, shape, device="cpu")  # PyTorch's own verdict, no checks of ours
        assert stack.torch_failure(spec, shape) == failure  # the meta device (used by the page) agrees
        if failure is None:
            assert analysis.ok, (spec, shape, analysis.problem)
            check = stack.verify_stack(spec, shape)
            assert check.agrees, check.mismatches
            with torch.no_grad():  # and a real CPU forward pass gives the same final shape
                assert tuple(stack.build_stack(spec, shape)(torch.zeros(1, *shape)).shape[1:]) == analysis.output_shape
            ok += 1
        else:
            assert analysis.problem is not None and analysis.problem.index == failure[0], (spec, shape, failure)
            with pytest.raises(ValueError, match=f"layer {failure[0] + 1} "):
                stack.build_stack(spec, shape)
            failed += 1
    assert ok > 30 and failed > 30


def test_receptive_field_grows_as_the_notes_say():
    spec = [{"type": "conv", "out_channels": 1, "kernel": 3}, {"type": "conv", "out_channels": 1, "kernel": 3},
            {"type": "pool", "kernel": 2}, {"type": "conv", "out_channels": 1, "kernel": 3, "dilation": 2},
            {"type": "flatten"}]
    a = stack.analyze_stack(spec, (1, 32, 32))
    assert [i.receptive_field for i in a.layers] == [3, 5, 6, 14, None]
    assert [i.jump for i in a.layers] == [1, 1, 2, 2, None]


def test_receptive_field_is_what_autograd_sees():
    """Oracle: the input pixels with a gradient from the centre output cell span the receptive field
    (average pooling: max pooling sends the gradient to one pixel only)."""
    spec = [{"type": "conv", "out_channels": 2, "kernel": 3, "stride": 2}, {"type": "pool", "mode": "avg", "kernel": 2},
            {"type": "conv", "out_channels": 1, "kernel": 3, "dilation": 2}]
    a = stack.analyze_stack(spec, (1, 40, 40))
    model = stack.build_stack(spec, (1, 40, 40))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    x = torch.ones(1, 1, 40, 40, requires_grad=True)
    out = model(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    assert int(rows.max() - rows.min()) + 1 == a.layers[-1].receptive_field


@pytest.mark.parametrize("bad, words", [
    ([{"type": "linear", "out_features": 5}], "flatten"),
    ([{"type": "flatten"}, {"type": "conv", "out_channels": 2, "kernel": 3}], "before the flatten"),
    ([{"type": "conv", "out_channels": 2, "kernel": 9}], "does not fit"),
    ([{"type": "pool", "kernel": 2, "padding": 2}], "padding"),
    ([{"type": "conv", "kernel": 3}], "out_channels"),
    ([{"type": "conv", "out_channels": 2, "kernel": 3, "activation": "swish"}], "activation"),
    ([{"type": "dense", "units": 3}], "unknown type"),
    ([{"type": "conv", "out_channels": 2, "kernel": 2, "padding": "same"}], "odd"),
    ([{"type": "conv", "out_channels": 2.5, "kernel": 2}], "whole number"),
])
def test_impossible_layers_are_named_with_the_reason(bad, words):
    a = stack.analyze_stack(bad, (1, 8, 8))
    assert a.problem is not None and a.problem.index == len(bad) - 1
    assert words in a.problem.reason
    with pytest.raises(ValueError, match=f"layer {len(bad)} "):
        stack.build_stack(bad, (1, 8, 8))


def test_bad_input_shape_and_empty_spec():
    for shape in [(1, 28), (0, 28, 28), "abc"]:
        with pytest.raises(ValueError, match="input shape"):
            stack.analyze_stack(EXAMPLE, shape)
    with pytest.raises(ValueError, match="non-empty"):
        stack.analyze_stack([], (1, 28, 28))


def test_same_and_valid_padding_words():
    spec = [{"type": "conv", "out_channels": 4, "kernel": 5, "padding": "same"},
            {"type": "conv", "out_channels": 4, "kernel": 3, "padding": "valid"}]
    assert stack.analyze_stack(spec, (1, 10, 10)).output_shape == (4, 8, 8)
    assert stack.build_stack(spec, (1, 10, 10))(torch.zeros(1, 1, 10, 10)).shape == (1, 4, 8, 8)


def test_table_round_trip_and_blank_cells():
    for name in stack.PRESETS:
        spec, _ = stack.preset(name)
        assert stack.from_table(stack.to_table(spec)) == spec
    rows = [{"type": "conv", "out": 8.0, "kernel": 3.0, "stride": float("nan"), "padding": None, "dilation": None,
             "mode": None, "activation": None, "p": None},
            {"type": "pool", "kernel": 2.0}, {"type": None}, {"type": "flatten"}]
    spec = stack.from_table(rows)
    assert spec[0] == {"type": "conv", "out_channels": 8, "kernel": 3, "stride": 1, "padding": 0, "dilation": 1,
                       "activation": None}
    assert spec[1] == {"type": "pool", "mode": "max", "kernel": 2, "stride": 2, "padding": 0}
    assert len(spec) == 3


def test_analysis_does_not_change_the_callers_spec():
    spec = copy.deepcopy(EXAMPLE)
    stack.analyze_stack(spec, (1, 28, 28))
    stack.build_stack(spec, (1, 28, 28))
    assert spec == EXAMPLE


def test_stacks_above_the_server_budget_are_refused_before_anything_is_built():
    """A linear layer of 200,000 outputs took the server to 4.9 GB; 4,000,000 crashed it. Now: a plain refusal."""
    import tracemalloc

    from cnnviz import stack as st_

    spec = [{"type": "conv", "out_channels": 32, "kernel": 3, "padding": 1}, {"type": "flatten"},
            {"type": "linear", "out_features": 4_000_000}]
    tracemalloc.start()
    analysis = st_.analyze_stack(spec, (1, 28, 28))
    with pytest.raises(ValueError, match="parameters"):
        st_.build_stack(spec, (1, 28, 28))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert analysis.problem is not None and analysis.problem.index == 2
    assert "20,000,000" in analysis.problem.reason
    assert peak < 50 * 1024 * 1024  # nothing of the 100-billion-parameter layer was allocated
    wide = [{"type": "conv", "out_channels": 512, "kernel": 3, "padding": 1}]
    problem = st_.analyze_stack(wide, (3, 224, 224)).problem
    assert problem is not None and "per image" in problem.reason
    ok = st_.analyze_stack(*st_.preset("tf_mnist")[::-1][::-1])
    assert ok.problem is None and ok.total_params == 3_274_634
