"""cnnviz.errors: one sentence for "this model cannot take this input", wherever an input meets a model."""

from __future__ import annotations

import pytest
import torch

import cnnviz
from cnnviz import capture, gradcam, lookfor, transfer
from cnnviz.data import ImageData
from cnnviz.errors import model_input_error

SENTENCE = "the model cannot take a 3×28×28 input: a convolution takes 1 input channels, but it got 3"


def rgb_data(n: int = 4) -> ImageData:
    return ImageData("rgb", torch.zeros((n, 3, 28, 28), dtype=torch.uint8), torch.arange(n) % 2, ("a", "b"), "test")


@pytest.mark.parametrize("where", ["feature_maps", "predict", "grad_cam", "lookfor", "summarize", "transfer_summary",
                                   "fit"])
def test_every_place_says_the_same_sentence(where):
    """A 1-channel network (mnist_cnn) given a 3-channel 28×28 image, through every door an input comes in by."""
    model = cnnviz.build_model("mnist_cnn", seed=0)
    image = torch.rand(3, 28, 28)
    calls = {
        "feature_maps": lambda: capture.feature_maps(model, image, "features.0"),
        "predict": lambda: capture.predict(model, image),
        "grad_cam": lambda: gradcam.grad_cam(model, image),
        "lookfor": lambda: lookfor.channel_count(model, "features.0", (3, 28, 28)),
        "summarize": lambda: cnnviz.summarize(model, (3, 28, 28)),
        "transfer_summary": lambda: transfer.transfer_summary(
            transfer.build_transfer_model("mnist_cnn", "full", num_classes=3, input_shape=(1, 28, 28)), (3, 28, 28)),
        "fit": lambda: cnnviz.fit(model, rgb_data(), rgb_data(), epochs=1),
    }
    with pytest.raises(ValueError) as err:
        calls[where]()
    assert str(err.value) == SENTENCE


def test_a_named_model_is_named_and_the_reason_is_plain():
    with pytest.raises(ValueError, match="^mnist_cnn cannot take a 1×4×4 input: the maps shrink to") as err:
        transfer.build_transfer_model("mnist_cnn", "frozen", num_classes=3, input_shape=(1, 4, 4))
    assert "Kernel size" not in str(err.value)  # PyTorch's own words stay out
    error = model_input_error((1, 32, 32), RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x2048 and 1152x128)"))
    assert str(error) == ("the model cannot take a 1×32×32 input: the features reaching a linear layer have 2048 "
                          "numbers, but it takes 1152: the image size is not the one the model was built for")
