"""cnnviz.gradcam: exact Grad-CAM on hand-set weights, autograd as the oracle, the model left untouched."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnviz
from cnnviz import gradcam


class Tiny(nn.Module):
    """conv 1×1 (1→2 channels, hand-set) → ReLU → global average → linear (hand-set)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(2, 2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
            self.conv.bias.copy_(torch.tensor([0.0, 1.0]))
            self.fc.weight.copy_(torch.tensor([[2.0, 1.0], [-1.0, 3.0]]))
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(x)).mean(dim=(2, 3)))


def manual_grad_cam(model: nn.Module, x: torch.Tensor, target: int, module: nn.Module) -> torch.Tensor:
    """Grad-CAM written out with autograd (the oracle)."""
    kept = {}
    handle = module.register_forward_hook(lambda _m, _i, out: kept.setdefault("a", out))
    try:
        score = model(x[None])[0, target]
    finally:
        handle.remove()
    a = kept["a"]
    (g,) = torch.autograd.grad(score, a)
    cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[1:], mode="bilinear", align_corners=False)[0, 0].detach()
    return cam / cam.max() if cam.max() > 0 else cam


def test_exact_values_on_hand_set_weights():
    model = Tiny()
    x = torch.tensor([[[0.0, 0.5], [1.0, 2.0]]])  # 1×2×2
    a0, a1 = x[0], 1 - x[0]  # the conv layer's two maps (before the ReLU)
    # y_0 = 2·mean(relu(A0)) + 1·mean(relu(A1)), so dy/dA^k_ij = w_k/4 where A^k_ij > 0, else 0 (the ReLU).
    # alpha_k averages that over the 4 pixels: A0 > 0 at 3 pixels, A1 > 0 at 2 (it is 0 at x=1, −1 at x=2)
    alpha0, alpha1 = 2 / 4 * 3 / 4, 1 / 4 * 2 / 4
    result = gradcam.grad_cam_result(model, x, 0, "conv")
    expected_raw = (alpha0 * a0 + alpha1 * a1).clamp(min=0)  # = [[0.125, 0.25], [0.375, 0.625]]
    torch.testing.assert_close(result.raw, expected_raw)
    torch.testing.assert_close(result.raw, torch.tensor([[0.125, 0.25], [0.375, 0.625]]))
    torch.testing.assert_close(result.cam, expected_raw / expected_raw.max())  # same size: no interpolation
    assert result.layer == "conv" and result.target_class == 0
    probs = torch.softmax(model(x[None])[0], 0).detach()
    assert result.probability == pytest.approx(float(probs[0]))


def test_matches_autograd_on_a_zoo_model_and_defaults_to_the_prediction():
    torch.manual_seed(0)
    model = cnnviz.build_model("mnist_cnn", seed=3).eval()
    x = torch.randn(1, 28, 28)
    predicted = int(model(x[None]).argmax())
    for target in (None, (predicted + 1) % 10):
        result = gradcam.grad_cam_result(model, x, target, "features.3")
        t = predicted if target is None else target
        assert result.target_class == t
        torch.testing.assert_close(result.cam, manual_grad_cam(model, x, t, model.features[3]), atol=1e-5, rtol=1e-4)
    cam = gradcam.grad_cam(model, x)
    assert cam.shape == (28, 28) and float(cam.min()) >= 0 and float(cam.max()) <= 1


def test_the_model_is_left_exactly_as_it_was():
    model = cnnviz.build_model("mnist_cnn", seed=0)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    for _ in range(20):
        gradcam.grad_cam(model, torch.randn(1, 28, 28), 2)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert [p.requires_grad for p in model.parameters()] == flags
    assert sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules()) == 0
    with pytest.raises(ValueError, match="target_class"):
        gradcam.grad_cam(model, torch.randn(1, 28, 28), 10)
    assert sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules()) == 0
    assert model.training


def test_layers_and_errors():
    assert gradcam.default_cam_layer(cnnviz.build_model("resnet18")) == "layer4"
    assert gradcam.default_cam_layer(cnnviz.build_model("mnist_cnn")) == "features.8"  # after conv3, pool, ReLU
    assert gradcam.default_cam_layer(cnnviz.build_model("keras_cifar10")) == "features.7"
    with torch.device("meta"):
        assert gradcam.default_cam_layer(cnnviz.build_model("vgg16")) == "features.30"
    with pytest.raises(ValueError, match="conv layer"):
        gradcam.default_cam_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    model = cnnviz.build_model("mnist_cnn", seed=0)
    with pytest.raises(ValueError, match="unknown layer"):
        gradcam.grad_cam(model, torch.randn(1, 28, 28), 0, "features.99")
    with pytest.raises(ValueError, match="target_class"):
        gradcam.grad_cam(model, torch.randn(1, 28, 28), -1)
    with pytest.raises(TypeError):
        gradcam.grad_cam(model, [[0.0]], 0)
