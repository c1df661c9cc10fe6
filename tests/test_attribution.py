"""Where it looks, four ways: each method against captum's own result and an oracle, and the randomization check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz import attribution


def _net(seed: int = 0, channels: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(channels, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                         nn.Linear(128, 5)).eval()


@pytest.fixture(scope="module")
def small():
    model = _net()
    x = torch.randn(1, 16, 16, generator=torch.Generator().manual_seed(1))
    return model, x, attribution.attributions(model, x, 2)


def test_saliency_is_captums_gradient(small):
    from captum.attr import Saliency

    model, x, result = small
    ours = result.get("saliency")
    theirs = Saliency(model).attribute(x[None].clone().requires_grad_(True), target=2, abs=True)
    torch.testing.assert_close(ours.raw, theirs)
    xg = x[None].clone().requires_grad_(True)  # the oracle: autograd's gradient of the class score
    (grad,) = torch.autograd.grad(model(xg)[0, 2], xg)
    torch.testing.assert_close(ours.raw, grad.abs())
    top = grad.abs()[0].max(dim=0).values
    torch.testing.assert_close(ours.heat, top / top.max())


def test_integrated_gradients_is_captums_and_adds_up(small):
    from captum.attr import IntegratedGradients

    model, x, result = small
    ours = result.get("integrated_gradients")
    theirs = IntegratedGradients(model).attribute(x[None], baselines=torch.zeros(1, 1, 16, 16), target=2, n_steps=32)
    torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-6)
    with torch.no_grad():  # completeness: the shares add up to the score's change from the baseline
        change = float(model(x[None])[0, 2] - model(torch.zeros(1, 1, 16, 16))[0, 2])
    assert float(ours.raw.sum()) == pytest.approx(change, rel=0.05, abs=1e-3)


def test_occlusion_is_captums_and_the_score_drop_of_a_square():
    from captum.attr import Occlusion

    model = _net(3, channels=3)
    x = torch.randn(3, 70, 70, generator=torch.Generator().manual_seed(2))
    result = attribution.attributions(model, x, 1, methods=("occlusion",))
    side, stride = attribution.occlusion_window(70, 70)
    assert (side, stride) == (10, 10)  # photo-sized: squares side by side
    theirs = Occlusion(model).attribute(x[None], sliding_window_shapes=(3, side, side), strides=(3, stride, stride),
                                        baselines=0.0, target=1)
    torch.testing.assert_close(result.get("occlusion").raw, theirs)
    covered = x.clone()
    covered[:, 20:30, 40:50] = 0
    with torch.no_grad():
        drop = float(model(x[None])[0, 1] - model(covered[None])[0, 1])
    assert float(result.get("occlusion").raw[0, 0, 25, 45]) == pytest.approx(drop, abs=1e-5)


def test_grad_cam_is_captums_layer_grad_cam(small):
    from captum.attr import LayerAttribution, LayerGradCam

    model, x, result = small
    cam = LayerGradCam(model, model[4]).attribute(x[None], target=2, relu_attributions=True)
    torch.testing.assert_close(result.get("gradcam").raw, cam[0, 0])
    up = LayerAttribution.interpolate(cam, (16, 16), interpolate_mode="bilinear")[0, 0].clamp(min=0)
    torch.testing.assert_close(result.get("gradcam").heat, up / up.max())


def test_every_heat_map_is_the_input_size_in_zero_one(small):
    _model, _x, result = small
    assert [m.method for m in result.maps] == list(attribution.METHODS)
    for m in result.maps:
        assert m.heat.shape == (16, 16) and float(m.heat.min()) >= 0 and float(m.heat.max()) == pytest.approx(1.0)
    agree = result.agreement()
    assert agree.shape == (4, 4) and np.allclose(np.diag(agree), 1) and np.allclose(agree, agree.T)


def test_spearman_on_hand_made_ranks():
    assert attribution.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert attribution.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert attribution.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)  # 1 - 6·2 / (4·15)
    assert attribution.spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(np.sqrt(3) / 2)  # tied ranks share 1.5
    assert attribution.spearman([5, 5, 5], [1, 2, 3]) == 0.0


def test_randomizing_the_last_layer_changes_a_faithful_map_not_an_edge_detector():
    model = _net(5)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(1, 16, 16, generator=torch.Generator().manual_seed(6))
    check = attribution.randomization_check(model, x, 0, methods=("saliency", "integrated_gradients", "gradcam"))
    assert check.layer == "7"
    assert check.edges == 1.0
    assert check.similarity["saliency"] < 0.8 and check.similarity["gradcam"] < 0.8
    assert check.similarity["integrated_gradients"] < 0.9
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the shared model is untouched
    assert check.after.target == check.before.target == 0


def test_bad_requests_get_one_sentence(small):
    model, x, _result = small
    with pytest.raises(ValueError, match="unknown methods"):
        attribution.attributions(model, x, methods=("lime",))
    with pytest.raises(ValueError, match="class 9"):
        attribution.attributions(model, x, 9)
    with pytest.raises(ValueError):
        attribution.attributions(model, torch.randn(3, 16, 16))
