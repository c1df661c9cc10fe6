"""The learned feature space (cnnviz.projection): the features are the last linear layer's input as PyTorch computes
it, PCA is the data's own principal axes, both projections are deterministic for a seed, a checkpoint is projected
once (then read from disk; a damaged file is computed again)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import cnnviz
from cnnviz import projection
from cnnviz.training import pretrained_checkpoints


@pytest.fixture(scope="module")
def test_set():
    return cnnviz.load_fashion_mnist(train=False).subset(300, seed=3)


def test_features_are_the_last_linear_layers_input(test_set):
    model = cnnviz.build_model("mnist_cnn", seed=0).train()
    feats, preds, layer = projection.penultimate_features(model, test_set.images[:20], mean=[0.5], std=[0.25])
    assert layer == "classifier.3" and feats.shape == (20, 128) and model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        x = (test_set.images[:20].float() / 255 - 0.5) / 0.25
        hidden = model.classifier[:3](model.features(x))
        np.testing.assert_allclose(feats, hidden.numpy(), rtol=1e-5, atol=1e-5)
        assert list(preds) == model(x).argmax(1).tolist()
    assert not model.classifier[3]._forward_pre_hooks  # the hook is gone
    with pytest.raises(ValueError, match="no fully connected layer"):
        projection.penultimate_features(nn.Sequential(nn.Conv2d(1, 2, 3)), test_set.images[:2], mean=[0], std=[1])


def test_pca_is_the_principal_axes_with_a_fixed_sign():
    x = np.random.default_rng(0).normal(size=(200, 6)) * [5, 3, 1, 1, 0.5, 0.1]
    points, explained = projection.pca_2d(x)
    centred = x - x.mean(0)
    values, vectors = np.linalg.eigh(np.cov(centred.T))
    top = vectors[:, ::-1][:, :2]
    for k in range(2):
        np.testing.assert_allclose(np.abs(points[:, k]), np.abs(centred @ top[:, k]), rtol=1e-4, atol=1e-4)
    assert explained[0] == pytest.approx(values[-1] / values.sum(), rel=1e-6)
    again, _ = projection.pca_2d(-x + 3)  # a mirrored copy: the same picture after the sign rule
    np.testing.assert_allclose(np.abs(again), np.abs(points), rtol=1e-4, atol=1e-4)


def test_projections_are_deterministic_for_a_seed():
    feats = np.random.default_rng(1).normal(size=(120, 8)).astype(np.float32)
    a, b = projection.tsne_2d(feats, seed=4), projection.tsne_2d(feats.copy(), seed=4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (120, 2) and np.isfinite(a).all()
    np.testing.assert_array_equal(projection.pca_2d(feats)[0], projection.pca_2d(feats.copy())[0])


def test_sample_indices_match_subset(test_set):
    full = cnnviz.load_fashion_mnist(train=False)
    idx = projection.sample_indices(len(full), 50, seed=0)
    assert torch.equal(full.images[torch.from_numpy(idx)], full.subset(50, seed=0).images)


def test_a_checkpoint_is_projected_once_and_kept_on_disk(tmp_path, test_set, monkeypatch):
    ckpt = tmp_path / "epoch_03.pt"
    ckpt.write_bytes(pretrained_checkpoints()[-1].read_bytes())
    first = projection.checkpoint_projection(ckpt, test_set, method="pca", size=200)
    assert first.points.shape == (200, 2) and first.accuracy > 0.7 and first.classes == test_set.classes
    cached = list((tmp_path / "projections").glob("*.npz"))
    assert [p.name for p in cached] == ["epoch_03-pca-seed0-n200.npz"]
    calls = []
    monkeypatch.setattr(projection, "project", lambda *a, **k: calls.append(1))
    again = projection.checkpoint_projection(ckpt, test_set, method="pca", size=200)
    assert not calls and np.array_equal(again.points, first.points) and again.explained == first.explained
    cached[0].write_bytes(b"damaged")
    monkeypatch.undo()
    recomputed = projection.checkpoint_projection(ckpt, test_set, method="pca", size=200)
    np.testing.assert_array_equal(recomputed.points, first.points)
    with pytest.raises(ValueError, match="unknown projection"):
        projection.checkpoint_projection(ckpt, test_set, method="umap", size=200)
