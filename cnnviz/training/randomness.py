"""A run's own random numbers: seeds derived from (seed, epoch, batch), and dropout that draws its masks from a
generator of the run instead of torch's global one (which every thread of the server shares).

With these, everything random in a training step depends only on the run's seed and the step's place in the run:
two runs with one seed give the same curves even when other runs train at the same time, and a resumed run
continues exactly the streams it stopped in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["batch_seed", "own_dropout", "step_seed"]

_FEATURE_DIMS = {nn.Dropout1d: 1, nn.Dropout2d: 2, nn.Dropout3d: 3}  # dims one mask value covers (a whole map)


def batch_seed(seed: int, epoch: int, batch: int) -> int:
    """The augmentation's seed of one batch (the formula runs have always used, kept so old runs stay comparable)."""
    return (seed * 1_000_003 + epoch) * 100_003 + batch


def step_seed(seed: int, epoch: int, batch: int, stream: str) -> int:
    """A seed for one ``stream`` (e.g. "dropout") of one training step: a hash of all four, so no two streams or
    steps share a sequence."""
    digest = hashlib.blake2b(f"{stream}:{seed}:{epoch}:{batch}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1  # a non-negative 63-bit seed


def _dropout(module: nn.Module, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """What ``module`` (nn.Dropout or nn.Dropout1d/2d/3d) computes in training, with masks drawn from ``generator``:
    each value (or each whole feature map) is kept with probability 1 - p and scaled by 1 / (1 - p)."""
    p = float(module.p)
    if not module.training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    dims = _FEATURE_DIMS.get(type(module), 0)
    shape = (*x.shape[: x.dim() - dims], *([1] * dims)) if dims else x.shape
    keep = torch.empty(shape, dtype=torch.float32).bernoulli_(1.0 - p, generator=generator)
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))


@contextmanager
def own_dropout(model: nn.Module, generator: torch.Generator) -> Iterator[int]:
    """Inside the block, every nn.Dropout and nn.Dropout1d/2d/3d of ``model`` draws from ``generator``; yields how
    many there are. The layers are the same objects (their ``p``, their place); only their ``forward`` is replaced
    on the instance, and restored afterwards, also after an exception."""
    layers = [m for m in model.modules() if type(m) in (nn.Dropout, *_FEATURE_DIMS)]
    for m in layers:
        m.forward = (lambda x, m=m: _dropout(m, x, generator))  # type: ignore[method-assign]
    try:
        yield len(layers)
    finally:
        for m in layers:
            m.__dict__.pop("forward", None)
