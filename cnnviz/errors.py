"""PyTorch's shape errors in plain words: a student who uploads a model and a picture that do not fit gets the reason
("the first conv layer takes 3 channels, this image has 1"), never a library's sentence cut in the middle."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .i18n import _

__all__ = ["model_input_error", "shape_mismatch_reason"]

_CHANNELS = re.compile(r"weight of size \[(\d+), (\d+)(?:, \d+)*\], expected input\[[^\]]*\] to have (\d+) channels, "
                       r"but got (\d+) channels")
_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
_KERNEL = re.compile(r"(?:Calculated (?:padded )?input size per channel: \(([\dx ]+)\)\. Kernel size: \(([\dx ]+)\))")
_OUTPUT = re.compile(r"Output size is too small")


def _size(text: str) -> str:
    return "×".join(part.strip() for part in text.split("x"))


def shape_mismatch_reason(err: BaseException) -> str:
    """What a RuntimeError from a forward pass means, in one translated phrase (no library words)."""
    text = str(err)
    if m := _CHANNELS.search(text):
        return _("a convolution takes {want} input channels, but it got {got}").format(want=m.group(3), got=m.group(4))
    if m := _MATMUL.search(text):
        return _("the features reaching a linear layer have {got} numbers, but it takes {want}: the image size is not "
                 "the one the model was built for").format(got=m.group(2), want=m.group(3))
    if m := _KERNEL.search(text):
        return _("the maps shrink to {size} before a {kernel} kernel: the image is too small for this model").format(
            size=_size(m.group(1)), kernel=_size(m.group(2)))
    if _OUTPUT.search(text):
        return _("the maps shrink to nothing inside the model: the image is too small for it")
    if "out of memory" in text.lower() or "can't allocate memory" in text.lower():
        return _("it would need more memory than this computer has")
    return _("its layers do not fit an input of this size")


def model_input_error(input_shape: Sequence[int], err: BaseException, *, model: str | None = None) -> ValueError:
    """The one sentence for "this model cannot take this input", to raise: the input's shape (C, H, W) and the reason
    in plain words, read from the error its forward pass raised (``err``). ``model`` names the model when the reader
    may not know which one it was (e.g. the base of a transfer model)."""
    shape = "×".join(str(int(v)) for v in input_shape)
    reason = shape_mismatch_reason(err)
    if model is None:
        return ValueError(_("the model cannot take a {shape} input: {reason}").format(shape=shape, reason=reason))
    return ValueError(_("{model} cannot take a {shape} input: {reason}").format(model=model, shape=shape, reason=reason))
