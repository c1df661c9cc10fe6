"""Activation maximization: an input optimized to excite one channel, made readable the way Lucid/Lucent do it."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..i18n import _
from .layers import channel_count, check_channel, fold_batchnorms, private_copy, run_to

__all__ = ["OBJECTIVES", "Visualization", "default_settings", "stage_row", "visualize_channel", "visualize_channels"]

Progress = Callable[[int, int], None]


# Lucid's colour correlation of ImageNet photos (square root of the covariance, by SVD), normalised
_COLOR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_CORRELATION = _COLOR_CORRELATION / _COLOR_CORRELATION.norm(dim=0).max()


@dataclass(frozen=True)
class Visualization:
    """An input optimized to excite one channel.

    ``image`` uint8 H×W or H×W×3; ``snapshots`` (step, image) as it improved; ``activation`` the channel's
    strongest activation on ``image`` (the same measure as ``LayerIndex.best``); ``history`` the objective (the
    channel's mean activation under the random transformations) at every step.
    """

    layer: str
    channel: int
    image: np.ndarray
    activation: float
    snapshots: tuple[tuple[int, np.ndarray], ...]
    history: tuple[float, ...]
    steps: int
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)


def _freqs(h: int, w: int) -> Tensor:
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class _FourierImage:
    """Lucid's parameterisation: the image's 2-D spectrum, scaled by 1/frequency (natural images' spectrum), so
    gradient steps change low frequencies first; colours through the decorrelation matrix; sigmoid into [0, 1]."""

    def __init__(self, batch: int, channels: int, h: int, w: int, *, generator: torch.Generator, sd: float = 0.01,
                 decay: float = 1.0, fourier: bool = True, decorrelate: bool = True) -> None:
        self.shape = (batch, channels, h, w)
        self.fourier = fourier
        self.decorrelate = decorrelate and channels == 3
        if fourier:
            f = _freqs(h, w)
            self.scale = (1.0 / torch.clamp(f, min=1.0 / max(h, w)) ** decay)[None, None]
            spectrum = torch.randn((batch, channels, *f.shape, 2), generator=generator) * sd
            self.param = spectrum.requires_grad_(True)
        else:
            self.param = (torch.randn(self.shape, generator=generator) * sd).requires_grad_(True)

    def __call__(self) -> Tensor:
        if self.fourier:
            spec = torch.view_as_complex(self.param) * self.scale
            x = torch.fft.irfft2(spec, s=self.shape[-2:], norm="ortho") / 4.0  # Lucid's "magic" 4: less saturation
        else:
            x = self.param
        if self.decorrelate:
            x = torch.einsum("bchw,dc->bdhw", x, _COLOR_CORRELATION)
        return torch.sigmoid(x)


def _transform(x: Tensor, gen: torch.Generator, *, jitter: int, scale: float, rotate: float, pad: int) -> Tensor:
    """Lucid's standard robustness transforms, batched: pad, jitter, random scale, random rotation, jitter."""
    b = x.shape[0]
    if pad:
        x = F.pad(x, [pad] * 4, mode="constant", value=0.5)

    def shift(t: Tensor, d: int) -> Tensor:
        if d <= 0:
            return t
        dy, dx = (int(v) for v in torch.randint(-d, d + 1, (2,), generator=gen))
        return torch.roll(t, shifts=(dy, dx), dims=(2, 3))

    x = shift(x, jitter)
    if scale or rotate:
        s = 1 + (torch.rand(b, generator=gen) * 2 - 1) * scale
        a = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(rotate)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = torch.cos(a) / s
        theta[:, 0, 1] = -torch.sin(a) / s
        theta[:, 1, 0] = torch.sin(a) / s
        theta[:, 1, 1] = torch.cos(a) / s
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return shift(x, max(1, jitter // 2))


def _to_uint8(x: Tensor) -> np.ndarray:
    arr = (x.detach().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)


def visualize_channels(model: nn.Module, layer: str, channels: Sequence[int], *, input_shape: tuple[int, int, int],
                       mean: Sequence[float], std: Sequence[float], steps: int = 96, lr: float = 0.05,
                       fourier: bool = True, decorrelate: bool = True, jitter: int | None = None,
                       scale: float = 0.1, rotate: float = 5.0, objective: str = "channel", polish: float = 0.25, decay: float = 1.0,
                       snapshots: int = 6,
                       seed: int = 0, progress: Progress | None = None,
                       on_snapshot: Callable[[int, np.ndarray], None] | None = None,
                       threads: int | None = None, bf16: bool = False) -> list[Visualization]:
    """Activation maximization for several channels of one layer at once (one batch: one image per channel).

    Each image is optimized by Adam to raise its channel's mean activation, seen through random jitter, scale and
    rotation; ``fourier`` and ``decorrelate`` choose Lucid's parameterisation (off: plain pixels, which gives the
    noisy high-frequency patterns the paper warns about). Pixels stay in [0, 1] like a real image's and are
    normalised with ``mean``/``std``. ``objective`` "channel" raises the mean of the whole map (textures),
    "neuron" the centre cell only (one object). The last ``polish`` part of the steps sees the image untransformed.
    ``progress(step, steps)`` after every step, ``on_snapshot(step, first image)`` at every snapshot. The work
    takes its share of the cores beside running fits (``cnnviz.training.cpu.THREADS``), at most ``threads``.

    Many channels cost little more than one: the batch runs one forward and one backward pass per step, in
    channels-last memory order (oneDNN's fast path for the depthwise convolutions of mobile networks, about twice as
    fast on a CPU); ``bf16`` runs the network in bfloat16 autocast (worth it only where the CPU has a bfloat16 unit,
    ``cnnviz.training.cpu.bf16_fast()``). Raises ``ValueError`` for a layer without maps, a missing channel or an
    unknown objective.
    """
    import time

    if objective not in OBJECTIVES:
        raise ValueError(_("objective must be one of {names}, got {objective!r}").format(
            names=", ".join(OBJECTIVES), objective=objective))

    t0 = time.perf_counter()
    c, h, w = (int(v) for v in input_shape)
    if steps < 1 or not 8 <= min(h, w) <= 1024:
        raise ValueError(_("the optimization needs at least one step and an image of 8 to 1024 pixels a side"))
    net = private_copy(model)
    total = channel_count(net, layer, (c, h, w))
    net = fold_batchnorms(net, layer, (c, h, w)).to(memory_format=torch.channels_last)
    chans = [check_channel(ch, total, layer) for ch in channels]
    if not chans:
        raise ValueError(_("choose at least one channel"))
    gen = torch.Generator().manual_seed(seed)
    jitter = max(1, round(min(h, w) / 16)) if jitter is None else jitter
    pad = max(1, round(min(h, w) / 16))
    img = _FourierImage(len(chans), c, h, w, generator=gen, fourier=fourier, decorrelate=decorrelate, decay=decay)
    opt = torch.optim.Adam([img.param], lr=lr)
    m = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
    pick = torch.tensor(chans)
    rows = torch.arange(len(chans))
    every = max(1, steps // max(1, snapshots))
    shots: list[list[tuple[int, np.ndarray]]] = [[] for _c in chans]
    history: list[list[float]] = [[] for _c in chans]
    from ..training.cpu import THREADS

    def ascent(step: int) -> None:
        opt.zero_grad()
        x = img()
        if (step - 1) % every == 0:
            for b in range(len(chans)):
                shots[b].append((step - 1, _to_uint8(x[b])))
            if on_snapshot is not None:
                on_snapshot(step - 1, shots[0][-1][1])
        robust = step <= steps - round(polish * steps)  # the last steps see the image as it is, to sharpen it
        t = _transform(x, gen, jitter=jitter, scale=scale, rotate=rotate, pad=pad) if robust else x
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            maps = run_to(net, layer, ((t - m) / s).contiguous(memory_format=torch.channels_last))[rows, pick]
        maps = maps.float()
        act = maps[:, maps.shape[1] // 2, maps.shape[2] // 2] if objective == "neuron" else maps.mean(dim=(1, 2))
        (-act.sum()).backward()
        opt.step()
        for b, v in enumerate(act.tolist()):
            history[b].append(v)
        if progress is not None:
            progress(step, steps)

    with THREADS.lease(threads) as lease:  # share the cores with training runs and other optimizations, as a fit does
        for step in range(1, steps + 1):
            lease.refresh()
            ascent(step)
    with torch.no_grad():
        x = (img() * 255).round() / 255  # measured on the image as shown (8-bit pixels)
        final = run_to(net, layer, (x - m) / s)[rows, pick].flatten(1).max(dim=1).values.tolist()
    seconds = time.perf_counter() - t0
    settings = {"steps": steps, "lr": lr, "fourier": fourier, "decorrelate": decorrelate and c == 3,
                "jitter": jitter, "scale": scale, "rotate": rotate, "size": (h, w), "seed": seed, "bf16": bf16}
    return [Visualization(layer, ch, _to_uint8(x[b]), float(final[b]), (*shots[b], (steps, _to_uint8(x[b]))),
                          tuple(history[b]), steps, seconds, dict(settings)) for b, ch in enumerate(chans)]


OBJECTIVES = ("channel", "neuron")


def default_settings(input_shape: Sequence[int], *, quick: bool = False) -> dict:
    """Settings of ``visualize_channels`` that read well for a model's input shape (C, H, W): a small grey net
    (28×28) is optimized at its own size for its centre cell, with gentle jitter; an ImageNet network at 128×128
    (96 for ``quick``, e.g. a whole row) for the mean of the map, with Lucid's jitter, scale and rotation."""
    c, h, w = (int(v) for v in input_shape)
    if max(h, w) <= 64:
        return {"input_shape": (c, h, w), "steps": 96 if quick else 128, "lr": 0.1, "objective": "neuron",
                "jitter": 1, "scale": 0.05, "rotate": 0.0, "decay": 0.5, "polish": 0.5}
    side = 96 if quick else 128
    return {"input_shape": (c, side, side), "steps": 64 if quick else 96, "lr": 0.05, "objective": "channel",
            "jitter": None, "scale": 0.1, "rotate": 5.0, "decay": 1.0, "polish": 0.25}


def visualize_channel(model: nn.Module, layer: str, channel: int, **options) -> Visualization:
    """Activation maximization for one channel: ``visualize_channels`` with one channel (same options)."""
    return visualize_channels(model, layer, [channel], **options)[0]


def stage_row(model: nn.Module, stages: Sequence[str], *, count: int = 6,
              input_shape: tuple[int, int, int]) -> dict[str, list[int]]:
    """For a layer-by-layer row: ``count`` channels of each stage, spread evenly over the channels that respond at
    all (a channel whose map is constant on random inputs, e.g. a filter pruned to zero, would show plain grey)."""
    net = private_copy(model)
    x = torch.rand((2, *input_shape), generator=torch.Generator().manual_seed(0))
    out: dict[str, list[int]] = {}
    for layer in stages:
        with torch.no_grad():
            maps = run_to(net, layer, x).float()
        spread = maps.transpose(0, 1).flatten(1).std(dim=1)
        alive = torch.nonzero(spread > 1e-3 * float(spread.max())).flatten().tolist() or list(range(maps.shape[1]))
        k = min(count, len(alive))
        out[layer] = sorted({alive[round(i * (len(alive) - 1) / max(1, k - 1))] for i in range(k)})
    return out
