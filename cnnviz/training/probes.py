"""What a run records about its layers while it trains, as TensorBoard's histograms and distributions show them.

Per layer (every trainable weight tensor of two or more dimensions: convolution kernels, fully connected weights):

- at chosen steps (step 0 = the initial weights, about ``TARGET_RECORDS`` evenly spaced steps but ``MIN_GAP`` apart
  at least, so never more than one step in ``MIN_GAP`` besides every epoch's last step), the distribution of the
  weights after that step's update and of the gradients that step computed: a ``BINS``-bin histogram between the
  tensor's min and max, and TensorBoard's nine distribution points (``PERCENTILES``: min, the normal distribution's
  ±1.5σ, ±σ, ±0.5σ, the median, max);
- at every step, the norm of each layer's gradient (one multi-tensor norm per step).

The recording lives in the run folder as ``probes.npz`` (numpy arrays only, no pickles), written atomically beside
history.json at the same moments (and only when something new was recorded). ``load_probes`` reads it back; a
damaged or foreign file raises ValueError with one sentence, so a page can say so and go on.
``probes_from_checkpoints`` computes the same weight statistics from a run's epoch checkpoints (for runs recorded
without probes, and as the oracle the tests compare with).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..files import atomic_write
from ..i18n import _

__all__ = ["BINS", "PERCENTILES", "PROBES_FILE", "ProbeRecorder", "Probes", "load_probes", "probes_from_checkpoints",
           "tensor_stats"]

PROBES_FILE = "probes.npz"
BINS = 30
# TensorBoard's distribution view: the min, the normal distribution's percentiles at -1.5σ, -σ, -0.5σ, the median,
# +0.5σ, +σ, +1.5σ, and the max.
PERCENTILES = (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)
TARGET_RECORDS = 50  # histogram records over a whole run (plus step 0 and every epoch's end)
# Steps between two histogram records at least: a short run records fewer. Step 0 and epoch ends aside, at most 2 %
# of the steps get histograms: a record of every layer's weights and gradients costs about one small network's step
# (a histogram of all 432,000 weights of simple_convnet's first Linear layer takes ~4 ms, its percentiles ~1.5 ms).
MIN_GAP = 50
HIST_BLOCK = 1 << 15  # values per block of the histogram's arithmetic
EXACT_LIMIT = 1 << 16  # a tensor up to this size: percentiles from every value; larger: from an even sample this big


def tensor_stats(values: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(the nine ``PERCENTILES`` as float64, a ``BINS``-bin histogram between min and max as int64) of a tensor.

    Percentiles interpolate linearly between sorted values (numpy's default method); beyond ``EXACT_LIMIT`` values
    they come from an evenly spaced sample of that many (min and max stay exact). The histogram counts every value:
    its edges are ``numpy.linspace(min, max, BINS + 1)`` in float32, the last bin closed, as ``numpy.histogram``.
    Both run in numpy on the tensor's own memory (a partial sort and one pass of bin arithmetic), about five times
    faster than a full sort and a binary search per value.
    """
    x = values.detach().reshape(-1).float()
    n = x.numel()
    if n == 0:
        return np.full(len(PERCENTILES), np.nan), np.zeros(BINS, dtype=np.int64)
    lo, hi = (float(v) for v in torch.aminmax(x))  # NaN and ±inf show in the extremes: one pass, not two
    a = x.numpy()
    if not (math.isfinite(lo) and math.isfinite(hi)):
        a = a[np.isfinite(a)]
        n = a.size
        if n == 0:
            return np.full(len(PERCENTILES), np.nan), np.zeros(BINS, dtype=np.int64)
        lo, hi = float(a.min()), float(a.max())
    sample = a if n <= EXACT_LIMIT else a[:: math.ceil(n / EXACT_LIMIT)]
    m = sample.size
    pos = np.array(PERCENTILES) / 100 * (m - 1)
    below = np.floor(pos).astype(np.intp)
    above = np.minimum(below + 1, m - 1)
    part = np.partition(sample, np.unique(np.concatenate([below, above])))  # those places hold sorted values
    pct = part[below] + (part[above].astype(np.float64) - part[below]) * (pos - below)
    pct[0], pct[-1] = lo, hi
    if hi > lo:
        counts = _histogram(a, lo, hi)
    else:  # every value the same: all in the middle bin
        counts = np.zeros(BINS, dtype=np.int64)
        counts[BINS // 2] = n
    return pct, counts


def _histogram(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``numpy.histogram(a, bins=numpy.linspace(lo, hi, BINS + 1, dtype=float32))[0]`` for finite float32 values
    within [lo, hi], by numpy's own method for even bins: each value's bin from arithmetic, then moved by one where
    rounding put it beside its edge. When the range is only a few float32 steps wide (edges that round together),
    by a binary search among the edges instead."""
    edges = np.linspace(lo, hi, BINS + 1, dtype=np.float32)
    tiny = hi - lo < max(abs(lo), abs(hi)) * 2.0 ** -10
    counts = np.zeros(BINS, dtype=np.int64)
    for start in range(0, a.size, HIST_BLOCK):  # in blocks: the temporaries stay in the cache the training uses
        block = a[start : start + HIST_BLOCK]
        if tiny:
            idx = np.searchsorted(edges, block, side="right") - 1
        else:
            idx = ((block - np.float32(lo)) * np.float32(BINS / (hi - lo))).astype(np.intp)
            np.clip(idx, 0, BINS - 1, out=idx)
            idx -= block < edges[idx]
            idx += (block >= edges[idx + 1]) & (idx < BINS - 1)
        np.clip(idx, 0, BINS - 1, out=idx)  # the max sits in the last bin, closed on the right
        counts += np.bincount(idx, minlength=BINS)
    return counts


def probed_parameters(model: nn.Module) -> list[tuple[str, str, nn.Parameter]]:
    """(parameter name, layer kind, parameter) of every trainable weight with two or more dimensions, in order."""
    kinds = {name: type(module).__name__ for name, module in model.named_modules()}
    out = []
    for name, p in model.named_parameters():
        if p.requires_grad and p.ndim >= 2:
            out.append((name, kinds.get(name.rpartition(".")[0], ""), p))
    return out


@dataclass(frozen=True)
class Probes:
    """A run's recorded layer statistics (see the module's docstring). Arrays: R weight records, G gradient records,
    S steps of gradient norms, L layers; percentiles ``(·, L, 9)``, histograms ``(·, L, BINS)``."""

    layers: tuple[str, ...]  # parameter names, e.g. "features.0.weight"
    kinds: tuple[str, ...]  # their layers' kinds, e.g. "Conv2d"
    sizes: tuple[int, ...]  # values per tensor
    steps_per_epoch: int
    weight_steps: np.ndarray
    weight_pct: np.ndarray
    weight_hist: np.ndarray
    grad_steps: np.ndarray
    grad_pct: np.ndarray
    grad_hist: np.ndarray
    norm_steps: np.ndarray
    grad_norm: np.ndarray

    def layer_label(self, i: int) -> str:
        """e.g. "features.0 (Conv2d)"."""
        name = self.layers[i].removesuffix(".weight")
        return f"{name} ({self.kinds[i]})" if self.kinds[i] else name

    def kind(self, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, percentiles, histograms) of ``what`` = "weights" or "gradients"."""
        if what == "weights":
            return self.weight_steps, self.weight_pct, self.weight_hist
        if what == "gradients":
            return self.grad_steps, self.grad_pct, self.grad_hist
        raise ValueError(_("unknown kind of values {what!r}; choose weights or gradients").format(what=what))

    def until(self, step: int) -> Probes:
        """The records up to global step ``step`` (a resumed run drops what came after its restart point)."""
        w, g, s = self.weight_steps <= step, self.grad_steps <= step, self.norm_steps <= step
        return replace(self, weight_steps=self.weight_steps[w], weight_pct=self.weight_pct[w],
                       weight_hist=self.weight_hist[w], grad_steps=self.grad_steps[g], grad_pct=self.grad_pct[g],
                       grad_hist=self.grad_hist[g], norm_steps=self.norm_steps[s], grad_norm=self.grad_norm[s])

    def save(self, path: str | Path) -> Path:
        """Write the arrays as one .npz, atomically."""
        arrays = {"layers": np.array(self.layers, dtype=str), "kinds": np.array(self.kinds, dtype=str),
                  "sizes": np.array(self.sizes, dtype=np.int64),
                  "steps_per_epoch": np.array(self.steps_per_epoch, dtype=np.int64),
                  **{f: np.asarray(getattr(self, f)) for f in _ARRAYS}}
        return atomic_write(Path(path), lambda f: np.savez(f, **arrays))


_ARRAYS = ("weight_steps", "weight_pct", "weight_hist", "grad_steps", "grad_pct", "grad_hist", "norm_steps",
           "grad_norm")


def load_probes(path: str | Path) -> Probes:
    """Read a probes.npz (a run folder's, or the file itself). Raises ValueError in one sentence when it is missing,
    damaged or not one; never loads pickled objects."""
    path = Path(path)
    if path.is_dir():
        path = path / PROBES_FILE
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        layers = tuple(str(v) for v in d["layers"])
        probes = Probes(layers, tuple(str(v) for v in d["kinds"]), tuple(int(v) for v in d["sizes"]),
                        int(d["steps_per_epoch"]),
                        *(d[f] for f in _ARRAYS))
    except FileNotFoundError:
        raise ValueError(_("this run has no recorded weights and gradients ({file})").format(file=PROBES_FILE)) from None
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(_("the recorded weights and gradients {path} cannot be read ({err})").format(
            path=path.name, err=str(err)[:120])) from None
    n = len(probes.layers)
    shapes_ok = (
        len(probes.kinds) == n and len(probes.sizes) == n
        and probes.weight_pct.shape == (len(probes.weight_steps), n, len(PERCENTILES))
        and probes.weight_hist.shape == (len(probes.weight_steps), n, BINS)
        and probes.grad_pct.shape == (len(probes.grad_steps), n, len(PERCENTILES))
        and probes.grad_hist.shape == (len(probes.grad_steps), n, BINS)
        and probes.grad_norm.shape == (len(probes.norm_steps), n))
    if not shapes_ok:
        raise ValueError(_("the recorded weights and gradients {path} are damaged (their arrays do not fit "
                           "together)").format(path=path.name))
    return probes


class ProbeRecorder:
    """Records a run's ``Probes`` from inside ``fit``: ``gradients(step)`` between backward and the optimizer's step,
    ``weights(step)`` after it, ``save()`` whenever the run saves its history. ``folder=None``: records nothing and
    costs nothing."""

    def __init__(self, model: nn.Module, folder: Path | None, *, step: int, total_steps: int,
                 steps_per_epoch: int, resumed: bool) -> None:
        self.on = folder is not None
        self.path = folder / PROBES_FILE if folder is not None else None
        if not self.on:
            return
        probed = probed_parameters(model)
        self.names = tuple(n for n, _k, _p in probed)
        self.kinds = tuple(k for _n, k, _p in probed)
        self.params = [p for _n, _k, p in probed]
        self.on = bool(self.params)
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = total_steps
        self.every = max(MIN_GAP, math.ceil(total_steps / TARGET_RECORDS))
        self.records: dict[str, list] = {f: [] for f in _ARRAYS}
        self._norms: list[torch.Tensor] = []  # this step's norms stay tensors until the next save
        self._saved = -1  # records held at the last write: nothing new, nothing written
        if not self.on:
            return
        prior = None
        if resumed:
            try:
                prior = load_probes(self.path).until(step)
            except ValueError:  # none yet, or damaged: the record starts again here
                prior = None
            if prior is not None and prior.layers != self.names:
                prior = None
        if prior is not None:
            for f in _ARRAYS:
                self.records[f] = list(getattr(prior, f))
            self.records["grad_norm"] = [prior.grad_norm]  # kept as blocks of rows, one per save
        elif step == 0:
            self.weights(0)

    def chosen(self, step: int) -> bool:
        """Whether ``step`` gets histograms: step 0, every ``every``-th step, every epoch's last, the run's last."""
        return step % self.every == 0 or step % max(self.steps_per_epoch, 1) == 0 or step == self.total_steps

    def gradients(self, step: int) -> None:
        """The gradients of step ``step`` (1-based), before the optimizer uses them."""
        if not self.on:
            return
        grads = [p.grad if p.grad is not None else torch.zeros((), dtype=p.dtype) for p in self.params]
        self._norms.append(torch.stack(torch._foreach_norm(grads)).float())
        self.records["norm_steps"].append(step)
        if self.chosen(step):
            self._append("grad", step, grads)

    def weights(self, step: int) -> None:
        """The weights after step ``step`` (0: the initial weights)."""
        if self.on and (step == 0 or self.chosen(step)):
            self._append("weight", step, self.params)

    def _append(self, prefix: str, step: int, tensors: Sequence[torch.Tensor]) -> None:
        stats = [tensor_stats(t) for t in tensors]
        self.records[f"{prefix}_steps"].append(step)
        self.records[f"{prefix}_pct"].append(np.stack([s[0] for s in stats]))
        self.records[f"{prefix}_hist"].append(np.stack([s[1] for s in stats]))

    def probes(self) -> Probes | None:
        """What has been recorded so far (None when recording is off)."""
        if not self.on:
            return None
        if self._norms:  # one conversion per save, not one per step
            self.records["grad_norm"].append(torch.stack(self._norms).numpy())
            self._norms.clear()
        n, r = len(self.names), self.records

        def arr(key: str, shape: tuple[int, ...], dtype) -> np.ndarray:
            return np.array(r[key], dtype=dtype) if r[key] else np.zeros((0, *shape), dtype=dtype)

        return Probes(self.names, self.kinds, tuple(p.numel() for p in self.params), self.steps_per_epoch,
                      arr("weight_steps", (), np.int64), arr("weight_pct", (n, len(PERCENTILES)), np.float64),
                      arr("weight_hist", (n, BINS), np.int64), arr("grad_steps", (), np.int64),
                      arr("grad_pct", (n, len(PERCENTILES)), np.float64), arr("grad_hist", (n, BINS), np.int64),
                      arr("norm_steps", (), np.int64),
                      np.concatenate([np.zeros((0, n), dtype=np.float32), *r["grad_norm"]]).astype(np.float32))

    def _count(self) -> int:
        return len(self.records["norm_steps"]) + len(self.records["weight_steps"])

    def save(self) -> None:
        """Write probes.npz (atomically) when something was recorded since the last write; a failed write never
        stops the training."""
        if not self.on or self.path is None or self._count() == self._saved:
            return
        probes = self.probes()
        if probes is not None:
            try:
                probes.save(self.path)
                self._saved = self._count()
            except OSError:
                pass


def probes_from_checkpoints(paths: Sequence[str | Path], *, steps_per_epoch: int = 1) -> Probes:
    """Weight statistics computed straight from epoch checkpoints (epoch_NN.pt), at step NN × ``steps_per_epoch``,
    of every floating-point tensor of two or more dimensions in their state dicts (a 4-D one is a Conv2d's, a 2-D
    one a Linear's); no gradients. Raises CheckpointError (a ValueError) for a file that is not a cnnviz checkpoint,
    ValueError when the checkpoints do not hold the same layers."""
    from ..checkpoints import load_checkpoint
    from .rundir import epoch_number

    names: tuple[str, ...] | None = None
    sizes: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    steps, pcts, hists = [], [], []
    for path in paths:
        state = load_checkpoint(path).state_dict
        weights = [(k, v) for k, v in state.items() if v.is_floating_point() and v.ndim >= 2]
        if names is None:
            names = tuple(k for k, _v in weights)
            sizes = tuple(v.numel() for _k, v in weights)
            kinds = tuple({4: "Conv2d", 2: "Linear"}.get(v.ndim, "") for _k, v in weights)
        elif tuple(k for k, _v in weights) != names:
            raise ValueError(_("the checkpoints of this run do not hold the same layers"))
        stats = [tensor_stats(v) for _k, v in weights]
        steps.append((epoch_number(path) or 0) * steps_per_epoch)
        pcts.append(np.stack([s[0] for s in stats]) if stats else np.zeros((0, len(PERCENTILES))))
        hists.append(np.stack([s[1] for s in stats]) if stats else np.zeros((0, BINS), dtype=np.int64))
    names = names or ()
    n = len(names)
    empty = np.zeros(0, dtype=np.int64)
    return Probes(names, kinds, sizes, steps_per_epoch, np.array(steps, dtype=np.int64),
                  np.array(pcts, dtype=np.float64).reshape(len(steps), n, len(PERCENTILES)),
                  np.array(hists, dtype=np.int64).reshape(len(steps), n, BINS), empty,
                  np.zeros((0, n, len(PERCENTILES))), np.zeros((0, n, BINS), dtype=np.int64), empty,
                  np.zeros((0, n), dtype=np.float32))
