"""cnnviz.ops against PyTorch: F.conv2d, F.max_pool2d, F.avg_pool2d, autograd, softmax and the losses."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz import ops


# Thousands of tiny convolutions: PyTorch's thread pool only adds overhead (and the machine is shared).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def T(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def test_backend_does_not_import_streamlit():
    code = "import cnnviz, cnnviz.ops, cnnviz.stack, cnnviz.plots.conv, sys; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("k, s, p, d", [(1, 1, 0, 1), (3, 1, 1, 1), (3, 2, 0, 1), (2, 3, 2, 1), (3, 1, 2, 2), (4, 2, 1, 1)])
def test_conv2d_matches_f_conv2d(k, s, p, d):
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    x, w, b = rng.normal(size=(3, 9, 7)), rng.normal(size=(4, 3, k, k)), rng.normal(size=4)
    ours = ops.conv2d(x, w, stride=s, padding=p, dilation=d, bias=b)
    ref = F.conv2d(T(x)[None], T(w), T(b), stride=s, padding=p, dilation=d)[0].numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_conv2d_refuses_channel_mismatch_and_impossible_sizes():
    with pytest.raises(ValueError, match="channels"):
        ops.conv2d(np.zeros((3, 5, 5)), np.zeros((2, 1, 3, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        ops.conv2d(np.zeros((4, 4)), np.zeros((5, 5)))


def test_conv_window_is_one_cell_of_the_convolution_with_the_products_written_out():
    x = ops.example_grid(6, 6, pattern="random digits", seed=3)
    k = ops.KERNELS["Sobel x (vertical edges)"]
    full = F.conv2d(T(x)[None, None], T(k)[None, None], bias=T([1.5]), stride=2, padding=1)[0, 0].numpy()
    for r, c in itertools.product(range(full.shape[0]), range(full.shape[1])):
        win = ops.conv_window(x, k, out_row=r, out_col=c, stride=2, padding=1, bias=1.5)
        assert win.value == pytest.approx(full[r, c])
        assert win.products.sum() + 1.5 == pytest.approx(full[r, c])
    win = ops.conv_window(np.arange(9.0).reshape(3, 3), np.eye(2), out_row=0, out_col=1)
    assert (win.rows, win.cols) == ((0, 1), (1, 2))
    assert win.expression() == "1·1 + 2·0 + 4·0 + 5·1 = 6"
    with pytest.raises(ValueError, match="outside"):
        ops.conv_window(x, k, out_row=4, out_col=0)


def test_im2col_product_equals_f_conv2d_and_counts_memory():
    rng = np.random.default_rng(0)
    x, w = rng.integers(0, 10, (2, 5, 5)).astype(float), rng.integers(-1, 2, (3, 2, 3, 3)).astype(float)
    res = ops.im2col_conv(x, w, stride=1, padding=1)
    ref = F.conv2d(T(x)[None], T(w), padding=1)[0].numpy()
    np.testing.assert_array_equal(res.output, ref)
    assert res.max_abs_diff == 0
    assert res.columns.shape == (25, 2 * 3 * 3) and res.weight_matrix.shape == (18, 3) and res.product.shape == (25, 3)
    assert res.memory_ratio == pytest.approx(25 * 18 / 50)
    # a row of the im2col matrix is exactly one window, channels first
    np.testing.assert_array_equal(res.columns[6], np.pad(x, ((0, 0), (1, 1), (1, 1)))[:, 1:4, 1:4].ravel())


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("k, s, p", [(2, None, 0), (3, 2, 1), (3, 1, 0), (2, 1, 1), (4, 3, 2)])
def test_pool2d_matches_torch(mode, k, s, p):
    x = np.random.default_rng(k).normal(size=(3, 8, 7))
    ours = ops.pool2d(x, mode=mode, kernel=k, stride=s, padding=p)
    torch_pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    np.testing.assert_allclose(ours, torch_pool(T(x), k, stride=s, padding=p).numpy(), atol=1e-12)
    assert ours.shape[0] == 3  # the channel count stays


def test_pool2d_refuses_what_torch_refuses():
    with pytest.raises(ValueError, match="padding"):
        ops.pool2d(np.zeros((6, 6)), kernel=2, padding=2)
    with pytest.raises(ValueError, match="mode"):
        ops.pool2d(np.zeros((6, 6)), mode="median")


def test_shift_test_counts_unchanged_outputs():
    x = np.zeros((4, 4))
    x[1, 1] = 9  # a bright pixel in the first 2x2 window's right column... moves out when shifted right
    x[2, 0] = 5  # ...this one stays inside its window
    res = ops.shift_test(x, dx=1)
    np.testing.assert_array_equal(res.shifted[:, 1:], x[:, :-1])
    np.testing.assert_array_equal(res.max_after, F.max_pool2d(T(res.shifted)[None], 2)[0].numpy())
    assert res.max_unchanged == pytest.approx(np.isclose(res.max_before, res.max_after).mean())
    assert 0 < res.max_unchanged < 1


@pytest.mark.parametrize("name", ops.ACTIVATIONS)
def test_activation_values_and_derivatives_match_autograd(name):
    slope, alpha = 0.2, 1.7
    xs = np.concatenate([np.linspace(-6, 6, 121), [0.0, 1e-9, -1e-9]])
    y, dy = ops.activation(name, xs, slope=slope, alpha=alpha)
    t = T(xs).requires_grad_()
    fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
          "leaky_relu": lambda v: F.leaky_relu(v, slope), "elu": lambda v: F.elu(v, alpha)}[name]
    out = fn(t)
    out.sum().backward()
    np.testing.assert_allclose(y, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dy, t.grad.numpy(), atol=1e-12)


def test_unknown_activation_is_a_value_error():
    with pytest.raises(ValueError, match="unknown activation"):
        ops.activation("swish", np.zeros(3))


def test_gradient_flow_vanishes_through_sigmoid_not_relu():
    sig, relu = ops.gradient_flow(20, activation="sigmoid"), ops.gradient_flow(20, activation="relu")
    assert len(sig.grad_norms) == 20
    assert sig.first_to_last < 1e-6 < 1e-2 < relu.first_to_last
    # sigmoid: each layer back is smaller than the one after it
    assert all(a < b for a, b in zip(sig.grad_norms, sig.grad_norms[1:]))


def test_softmax_matches_torch_with_temperature():
    z = np.array([[2.0, 1.0, 0.1, -1.0], [100.0, 0.0, -100.0, 3.0]])
    for temp in (0.1, 1.0, 4.0):
        np.testing.assert_allclose(ops.softmax(z, temperature=temp), torch.softmax(T(z) / temp, dim=-1).numpy(),
                                   atol=1e-12)
    with pytest.raises(ValueError, match="temperature"):
        ops.softmax(z, temperature=0)


def test_losses_match_torch():
    rng = np.random.default_rng(1)
    p, y = rng.uniform(0.01, 0.99, 10), rng.integers(0, 2, 10).astype(float)
    assert ops.binary_cross_entropy(p, y) == pytest.approx(F.binary_cross_entropy(T(p), T(y)).item())
    logits, target = rng.normal(size=(6, 5)), rng.integers(0, 5, 6)
    assert ops.cross_entropy(logits, target) == pytest.approx(F.cross_entropy(T(logits), torch.from_numpy(target)).item())
    assert ops.cross_entropy(logits[0], int(target[0])) == pytest.approx(
        F.cross_entropy(T(logits[:1]), torch.from_numpy(target[:1])).item())
    a, b = rng.normal(size=7), rng.normal(size=7)
    assert ops.mse(a, b) == pytest.approx(F.mse_loss(T(a), T(b)).item())
    with pytest.raises(ValueError):
        ops.cross_entropy(logits, np.full(6, 5))
    with pytest.raises(ValueError):
        ops.binary_cross_entropy(np.array([1.5]), np.array([1.0]))


@pytest.mark.parametrize("s, p", [(1, 0), (2, 1), (3, 2)])
def test_apply_kernel_per_channel_and_sum_match_f_conv2d(s, p):
    img = np.random.default_rng(s).uniform(size=(3, 20, 17))
    k = ops.KERNELS["Laplacian (all edges)"]
    res = ops.apply_kernel(img, k, stride=s, padding=p)
    grouped = F.conv2d(T(img)[None], T(k).expand(3, 1, 3, 3), stride=s, padding=p, groups=3)[0].numpy()
    filt3d = F.conv2d(T(img)[None], T(k).expand(1, 3, 3, 3), stride=s, padding=p)[0, 0].numpy()
    np.testing.assert_allclose(res.per_channel, grouped, atol=1e-12)
    np.testing.assert_allclose(res.total, filt3d, atol=1e-12)  # a 3x3x3 filter = sum of the per-channel results
    assert res.output_shape == filt3d.shape


def test_classic_kernels_do_what_their_names_say():
    edge = ops.example_grid(6, 6, pattern="vertical edge")
    assert ops.apply_kernel(edge, ops.KERNELS["Sobel y (horizontal edges)"]).total == pytest.approx(np.zeros((4, 4)))
    assert np.abs(ops.apply_kernel(edge, ops.KERNELS["Sobel x (vertical edges)"]).total).max() > 0
    assert ops.apply_kernel(edge, ops.KERNELS["Identity"]).total == pytest.approx(edge[1:-1, 1:-1])
    for name in ("Gaussian blur", "Box blur", "Sharpen"):  # these keep a flat image flat
        assert ops.KERNELS[name].sum() == pytest.approx(1)


def test_photo_to_array_shrinks_and_keeps_channels():
    from PIL import Image

    img = Image.new("RGB", (400, 200), (255, 0, 0))
    arr = ops.photo_to_array(img, channels=3, max_side=100)
    assert arr.shape == (3, 50, 100) and arr[0].min() == 1.0 and arr[1].max() == 0.0
    assert ops.photo_to_array(img, channels=1, max_side=100).shape == (1, 50, 100)
