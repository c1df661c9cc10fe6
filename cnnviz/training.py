"""The training loop, a background training job and a live history: one trainer for the CLI and the studio.

``fit`` trains any ``nn.Module`` on an ``ImageData`` held in memory. It converts and normalises one
batch at a time (uint8 → float, per-channel mean/std), so there is no per-image ``DataLoader`` and no
per-image Python transform: that is where the lecture notes' loop spends much of its time.

Runs are reproducible (the seed fixes the order of the images and the augmentation), can be stopped
and resumed with no step lost (``checkpoint_dir`` holds ``epoch_NN.pt`` per epoch, ``history.json``
and ``trainer_state.pt``, all written atomically), and stop with a clear message when the loss turns
NaN or infinite.

``TrainJob`` runs ``fit`` in a background thread: a dashboard page keeps the job in its session state
and draws ``job.history`` (a frozen snapshot) while the thread trains. Running jobs share the CPU: the
number of PyTorch threads is the machine's cores divided by the jobs running, so two classroom
sessions training at once both make progress.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import load_checkpoint, save_checkpoint
from .files import atomic_torch_save, atomic_write_text, json_safe, num_or_nan
from .data import ASSETS, ImageData

__all__ = [
    "OPTIMIZERS",
    "PRESETS",
    "PRETRAINED_DIR",
    "EpochRecord",
    "History",
    "StepRecord",
    "TrainJob",
    "TrainPreset",
    "augment_batch",
    "bf16_fast",
    "channel_stats",
    "evaluate",
    "fit",
    "fit_images",
    "load_train_test",
    "normalize",
    "predict_proba",
    "pretrained_checkpoints",
    "resume_point",
]

PRETRAINED_DIR = ASSETS / "pretrained" / "fashion_mnist_cnn"
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "onecycle")
STATE_FILE = "trainer_state.pt"
HISTORY_FILE = "history.json"


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class StepRecord:
    """The mean training loss (and accuracy) over the last few steps, at global ``step`` (1-based)."""

    step: int
    epoch: int
    loss: float
    elapsed_s: float
    accuracy: float = float("nan")


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch (1-based): mean training loss/accuracy over it, test loss/accuracy after it."""

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    elapsed_s: float
    images_per_s: float


@dataclass(frozen=True)
class History:
    """A snapshot of a run: step records, epoch records and where it stands.

    ``status`` is "running", "finished", "stopped" or "failed" (``message`` says why).
    """

    steps: tuple[StepRecord, ...]
    epochs: tuple[EpochRecord, ...]
    status: str
    message: str = ""
    total_epochs: int = 0
    steps_per_epoch: int = 0
    step: int = 0  # global steps done so far
    elapsed_s: float = 0.0
    batch_size: int = 0
    train_size: int = 0

    @property
    def total_steps(self) -> int:
        return self.total_epochs * self.steps_per_epoch

    @property
    def progress(self) -> float:
        """Fraction of the run's steps done (0..1)."""
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta_s(self) -> float | None:
        """Estimated seconds left, from the pace so far (None before the first step)."""
        if not self.step or not self.total_steps or self.elapsed_s <= 0:
            return None
        return max(0.0, (self.total_steps - self.step) * self.elapsed_s / self.step)

    @property
    def images_per_s(self) -> float | None:
        """Training throughput: the last epoch's, or the pace of the steps so far."""
        if self.epochs:
            return self.epochs[-1].images_per_s
        if self.step and self.elapsed_s > 0:
            return self.step * self.batch_size / self.elapsed_s
        return None

    @property
    def best_test_acc(self) -> float | None:
        return max((e.test_acc for e in self.epochs), default=None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["steps"] = [[s.step, s.epoch, s.loss, s.elapsed_s, s.accuracy] for s in self.steps]  # compact
        return json_safe(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Rebuild a History from ``to_dict()``'s output (e.g. a history.json). Raises ValueError if malformed."""
        try:
            steps = tuple(StepRecord(int(s[0]), int(s[1]), num_or_nan(s[2]), float(s[3]), num_or_nan(s[4] if len(s) > 4 else None))
                          for s in d.get("steps", ()))
            epochs = tuple(EpochRecord(**{k: num_or_nan(v) if k != "epoch" else int(v) for k, v in e.items()})
                           for e in d.get("epochs", ()))
            known = {f for f in cls.__dataclass_fields__} - {"steps", "epochs"}
            rest = {k: v for k, v in d.items() if k in known}
            return cls(steps=steps, epochs=epochs, **rest)
        except (TypeError, KeyError, IndexError) as err:
            raise ValueError(f"not a cnnviz training history: {err}") from None

    def save(self, path: str | Path) -> Path:
        """Write the history as JSON, atomically."""
        return atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a history.json. Raises ValueError if it is not one."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read the training history {path}: {err}") from None


# ---------------------------------------------------------------------------- presets


@dataclass(frozen=True)
class TrainPreset:
    """A ready-made run: the lecture notes' settings, or the studio's fast one."""

    name: str
    title: str
    model: str
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    momentum: float = 0.9
    augment: bool = False
    train_size: int | None = None
    log_every: int | None = None  # None: the trainer's default
    schedule: str = "constant"
    bf16: bool = False  # bfloat16 autocast, used only where the CPU runs it natively (bf16_fast())
    description: str = ""

    def options(self) -> dict[str, Any]:
        """The keyword options of ``fit`` this preset sets."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "optimizer": self.optimizer, "lr": self.lr,
                "momentum": self.momentum, "augment": self.augment, "log_every": self.log_every,
                "schedule": self.schedule, "bf16": self.bf16 and bf16_fast()}


PRESETS: dict[str, TrainPreset] = {
    p.name: p
    for p in [
        TrainPreset("pytorch_mnist", "Notes: PyTorch MNIST net (SGD 0.01, momentum 0.5)", "mnist_cnn", "sgd", 0.01, 64, 10,
                    momentum=0.5,
                    description="The notes' PyTorch run: the 3-conv net, SGD lr 0.01 momentum 0.5, batch 64, 10 epochs."),
        TrainPreset("tf_mnist", "Notes: TensorFlow MNIST net (Adam 1e-4, batch 50)", "tf_mnist", "adam", 1e-4, 50, 2,
                    log_every=100,
                    description="The notes' TensorFlow tutorial: Adam 1e-4, batch 50, training accuracy every 100 steps."),
        TrainPreset("simple_convnet", "Notes: SimpleConvNet (Adam 1e-3)", "simple_convnet", "adam", 1e-3, 100, 5,
                    description="The notes' from-scratch SimpleConvNet trained with Adam, lr 0.001."),
        TrainPreset("fast", "Fast: SimpleConvNet, one-cycle Adam (about a minute)", "simple_convnet", "adam", 3e-3, 256, 8,
                    schedule="onecycle",
                    description="Large batches and a one-cycle learning rate: above 0.91 test accuracy on "
                                "Fashion-MNIST in about a minute on a 2-core laptop."),
        TrainPreset("accurate", "Accurate: PyTorch MNIST net, augmentation, 30 epochs (7-15 minutes)", "mnist_cnn",
                    "adam", 2e-3, 128, 30, augment=True, schedule="onecycle", bf16=True,
                    description="Augmentation and a one-cycle learning rate over 30 epochs: 0.933 test accuracy on "
                                "Fashion-MNIST in 7 minutes on a 2-core CPU with bfloat16 (about twice as long without)."),
    ]
}


# ---------------------------------------------------------------------------- helpers


def bf16_fast() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX-512 BF16): then ``bf16=True`` trains much faster."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except Exception:  # older torch or another platform: assume not
        return False


def channel_stats(data: ImageData, *, chunk: int = 8192) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of ``data``'s images, in [0, 1] units."""
    if len(data) == 0:
        raise ValueError("cannot compute statistics of an empty dataset")
    c = data.images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    count = 0
    for i in range(0, len(data), chunk):
        x = data.images[i : i + chunk].to(torch.float64).div_(255)
        total += x.sum(dim=(0, 2, 3))
        total_sq += x.square().sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(1e-12).sqrt()
    return [round(float(m), 6) for m in mean], [round(max(float(s), 1e-3), 6) for s in std]


def _affine(mean: Sequence[float], std: Sequence[float], channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """scale, shift such that (uint8 * scale + shift) == (x/255 - mean) / std."""
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean/std need one value per channel ({channels}); got {len(mean)} and {len(std)}")
    if any(s <= 0 for s in std):
        raise ValueError(f"std values must be positive, got {list(std)}")
    m = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
    return 1.0 / (255.0 * s), -m / s


def _to_float(images: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    return images.float().mul_(scale).add_(shift)


def augment_batch(images: torch.Tensor, *, generator: torch.Generator, shift: int = 2, flip: bool = True) -> torch.Tensor:
    """Random translations of up to ``shift`` pixels (zero padding) and random horizontal flips, batched.

    ``images`` is uint8 (or float) N×C×H×W; returns a new tensor of the same shape and dtype.
    """
    n, c, h, w = images.shape
    out = images
    if shift > 0:
        padded = F.pad(images, (shift, shift, shift, shift))
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
        out = padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    if flip:
        mask = torch.rand(n, generator=generator) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(3), out)
    return out


def _mode_train(model: nn.Module) -> None:
    """Train mode, except batch-norm layers whose parameters are all frozen: their running statistics stay put."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine and not any(p.requires_grad for p in m.parameters()):
            m.eval()


@torch.no_grad()
def predict_proba(model: nn.Module, data: ImageData, *, mean: Sequence[float], std: Sequence[float],
                  batch_size: int = 1000) -> torch.Tensor:
    """Softmax probabilities N×K of ``model`` on every image of ``data`` (eval mode; the mode is restored)."""
    was_training = model.training
    model.eval()
    scale, shift = _affine(mean, std, data.images.shape[1])
    try:
        out = [F.softmax(model(_to_float(data.images[i : i + batch_size], scale, shift)), dim=1)
               for i in range(0, len(data), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageData, *, mean: Sequence[float], std: Sequence[float],
             batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data`` (eval mode; the mode is restored)."""
    if len(data) == 0:
        return float("nan"), float("nan")
    was_training = model.training
    model.eval()
    scale, shift = _affine(mean, std, data.images.shape[1])
    loss_sum, correct = 0.0, 0
    try:
        for i in range(0, len(data), batch_size):
            logits = model(_to_float(data.images[i : i + batch_size], scale, shift))
            y = data.labels[i : i + batch_size]
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    finally:
        model.train(was_training)
    return loss_sum / len(data), correct / len(data)


class _ThreadBudget:
    """Running fits share the CPU: each gets cores // (number running) PyTorch threads (at least 1).

    PyTorch's thread count is one per process here, so the budget is set process-wide whenever a
    fit starts or ends, and restored when none runs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, int | None] = {}
        self._original: int | None = None

    def enter(self, key: int, threads: int | None) -> None:
        with self._lock:
            if not self._active:
                self._original = torch.get_num_threads()
            self._active[key] = threads
            self._apply()

    def leave(self, key: int) -> None:
        with self._lock:
            self._active.pop(key, None)
            if not self._active and self._original is not None:
                torch.set_num_threads(self._original)
            elif self._active:
                self._apply()

    def running(self) -> int:
        with self._lock:
            return len(self._active)

    def _apply(self) -> None:
        cores = self._original or os.cpu_count() or 1
        share = max(1, cores // len(self._active))
        wanted = [t for t in self._active.values() if t]
        torch.set_num_threads(max(1, min([share, *wanted])) if wanted else share)


THREADS = _ThreadBudget()


def pretrained_checkpoints() -> list[Path]:
    """The shipped Fashion-MNIST checkpoints of the zoo's ``mnist_cnn`` (epoch_00.pt = untrained), by epoch."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(PRETRAINED_DIR.glob("epoch_*.pt"), key=lambda p: int(p.stem.split("_")[1]))


def resume_point(checkpoint_dir: str | Path) -> tuple[int, int] | None:
    """Where a stopped run in ``checkpoint_dir`` would resume: (epochs done, batches done in the next), or None."""
    path = Path(checkpoint_dir) / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return int(state["epoch"]), int(state["batch"])
    except Exception:  # a damaged state file: nothing to resume from
        return None


def _guess_model_name(model: nn.Module) -> str:
    from .models import ZOO

    for name, spec in ZOO.items():
        if isinstance(spec.builder, type) and type(model) is spec.builder:
            return name
    return type(model).__name__


# ---------------------------------------------------------------------------- fit


@dataclass(frozen=True)
class _Options:
    log_every: int | None = None
    eval_batch_size: int = 1000
    threads: int | None = None
    resume: bool = False
    schedule: str = "constant"
    flip: bool | None = None
    model_name: str | None = None
    spec: list | None = None
    dataset: str | None = None
    meta: dict = field(default_factory=dict)
    keep_state: bool = True
    save_initial: bool = True
    channels_last: bool | None = None
    bf16: bool = False


def fit(
    model: nn.Module,
    train: ImageData,
    test: ImageData,
    *,
    epochs: int,
    batch_size: int = 64,
    optimizer: str = "adam",
    lr: float = 1e-3,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    augment: bool = False,
    seed: int = 0,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    callback: Callable[[History], None] | None = None,
    stop: threading.Event | None = None,
    checkpoint_dir: str | Path | None = None,
    start_epoch: int = 0,
    **more_keyword_options: Any,
) -> History:
    """Train ``model`` in place on ``train`` and test it on ``test`` after every epoch.

    Only parameters with ``requires_grad=True`` are trained (frozen layers, including their batch-norm
    statistics, stay as they are). ``epochs`` is the run's total: a resumed run continues up to it.
    ``mean``/``std`` (per channel, [0, 1] units) default to the training set's statistics.
    ``callback`` gets a ``History`` snapshot every ``log_every`` steps and after each epoch; setting
    ``stop`` ends the run cleanly (status "stopped"); a NaN/infinite loss ends it with status "failed"
    and a message saying why.

    With ``checkpoint_dir``: ``epoch_00.pt`` (initial weights), ``epoch_NN.pt`` after each epoch
    (cnnviz checkpoints whose meta has epoch, dataset, mean, std, test_accuracy), ``history.json`` and
    ``trainer_state.pt`` (weights, optimizer and position, also written on stop) — all atomic.
    ``start_epoch=k`` restarts from ``epoch_k.pt`` (with a fresh optimizer state unless
    trainer_state.pt was written at that epoch); ``resume=True`` continues exactly where a stopped
    run left off, mid-epoch included.

    More options: ``log_every`` (steps between step records; default 10, fewer in short epochs),
    ``eval_batch_size`` (1000), ``threads`` (a cap on PyTorch threads), ``schedule`` ("constant" or
    "onecycle"), ``flip`` (horizontal flips when augmenting; default: yes except for digits), ``model_name`` and ``spec`` (recorded in checkpoints; "stack"
    runs need ``spec``), ``dataset`` (its name for the checkpoints), ``meta`` (extra plain values for
    the checkpoints), ``keep_state`` (False deletes trainer_state.pt when the run finishes),
    ``save_initial`` (write epoch_00.pt, default True), ``channels_last`` (NHWC memory layout, the
    same arithmetic and often much faster convolutions on the CPU; default: on for models with 2-D
    convolutions), ``bf16`` (bfloat16 autocast for the forward pass: faster on CPUs with AMX/AVX-512
    BF16, slightly different numbers; default off).

    Raises ``ValueError`` for bad settings or data that does not fit the model, ``TypeError`` for an
    unknown option.
    """
    try:
        opts = _Options(**more_keyword_options)
    except TypeError:
        unknown = sorted(set(more_keyword_options) - set(_Options.__dataclass_fields__))
        raise TypeError(f"unknown fit option(s) {unknown}; known: {sorted(_Options.__dataclass_fields__)}") from None
    _check_settings(train, test, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                    momentum=momentum, weight_decay=weight_decay, start_epoch=start_epoch, opts=opts)
    if mean is None or std is None:
        mean, std = channel_stats(train)
    mean, std = [float(m) for m in mean], [float(s) for s in std]
    scale, shift = _affine(mean, std, train.images.shape[1])
    _check_model_fits(model, train, scale, shift)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (every parameter has requires_grad=False)")
    opt = (torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay) if optimizer == "sgd"
           else torch.optim.Adam(params, lr=lr, weight_decay=weight_decay))
    flip = opts.flip if opts.flip is not None else train.name not in ("mnist", "digits")
    n = len(train)
    steps_per_epoch = n // batch_size if n % batch_size == 1 else math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    log_every = opts.log_every or max(1, min(10, steps_per_epoch // 10))
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    model_name = opts.model_name or ("stack" if opts.spec else _guess_model_name(model))
    meta_base = {"dataset": opts.dataset or train.name, "mean": mean, "std": std, "optimizer": optimizer, "lr": lr,
                 "batch_size": batch_size, "seed": seed, "augment": augment, **opts.meta}
    if opts.spec is not None:
        meta_base["spec"] = opts.spec

    def save_epoch(epoch: int, extra: dict[str, Any]) -> None:
        if folder is not None:
            save_checkpoint(folder / f"epoch_{epoch:02d}.pt", model, model_name=model_name,
                            input_shape=train.input_shape, classes=train.classes,
                            meta={**meta_base, "epoch": epoch, **extra})

    # ---- where to start
    first_epoch, first_batch, step, elapsed_before = 0, 0, 0, 0.0
    prior = History((), (), "running")
    if opts.resume or start_epoch > 0:
        if folder is None:
            raise ValueError("resuming needs checkpoint_dir, the folder of the run to resume")
        prior = History.load(folder / HISTORY_FILE) if (folder / HISTORY_FILE).is_file() else prior
        state = _load_state(folder)
        if opts.resume:
            if state is None:
                raise ValueError(f"nothing to resume in {folder}: no {STATE_FILE}")
            model.load_state_dict(state["model"])
            _load_optimizer(opt, state["optimizer"])
            first_epoch, first_batch, step = int(state["epoch"]), int(state["batch"]), int(state["step"])
            elapsed_before = float(state["elapsed_s"])
        else:
            ckpt = load_checkpoint(folder / f"epoch_{start_epoch:02d}.pt")
            model.load_state_dict(ckpt.state_dict)
            if state is not None and int(state["epoch"]) == start_epoch and int(state["batch"]) == 0:
                _load_optimizer(opt, state["optimizer"])
            first_epoch, step = start_epoch, start_epoch * steps_per_epoch
            done = [e for e in prior.epochs if e.epoch <= start_epoch]
            elapsed_before = done[-1].elapsed_s if done else 0.0
        prior = replace(prior, steps=tuple(s for s in prior.steps if s.step <= step),
                        epochs=tuple(e for e in prior.epochs if e.epoch <= first_epoch))
        if first_epoch >= epochs:
            return replace(prior, status="finished", total_epochs=epochs, steps_per_epoch=steps_per_epoch, step=step,
                           batch_size=batch_size, train_size=n, message="nothing left to train")

    steps = list(prior.steps)
    epoch_records = list(prior.epochs)
    status, message = "running", ""
    t_start = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t_start

    def snapshot(st: str = "running", msg: str = "") -> History:
        return History(tuple(steps), tuple(epoch_records), st, msg, total_epochs=epochs, steps_per_epoch=steps_per_epoch,
                       step=step, elapsed_s=elapsed(), batch_size=batch_size, train_size=n)

    def save_state(epoch: int, batch: int) -> None:
        if folder is None:
            return
        atomic_torch_save({"epoch": epoch, "batch": batch, "step": step, "elapsed_s": elapsed(),
                            "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                            "optimizer": opt.state_dict()}, folder / STATE_FILE)
        snapshot().save(folder / HISTORY_FILE)

    was_training = model.training
    channels_last = opts.channels_last if opts.channels_last is not None else any(
        isinstance(m, nn.Conv2d) for m in model.modules())
    key = id(threading.current_thread()) ^ id(model)
    THREADS.enter(key, opts.threads)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    try:
        if folder is not None and first_epoch == 0 and first_batch == 0 and step == 0 and opts.save_initial:
            test_loss, test_acc = evaluate(model, test, mean=mean, std=std, batch_size=opts.eval_batch_size)
            save_epoch(0, {"test_accuracy": test_acc, "test_loss": test_loss})
        for epoch in range(first_epoch, epochs):
            _mode_train(model)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
            run_loss = run_correct = run_count = 0.0
            win_loss = win_correct = win_count = win_steps = 0.0
            t_epoch = time.perf_counter()
            start_b = first_batch if epoch == first_epoch else 0
            for b in range(start_b, steps_per_epoch):
                if stop is not None and stop.is_set():
                    if win_steps:  # keep the partial window's loss, so the resumed curve has no hole
                        steps.append(StepRecord(step, epoch + 1, win_loss / win_count, elapsed(), win_correct / win_count))
                    save_state(epoch, b)
                    status = "stopped"
                    message = f"stopped at step {step} (epoch {epoch + 1}, batch {b}/{steps_per_epoch}); resume continues here"
                    return snapshot(status, message)
                idx = order[b * batch_size : (b + 1) * batch_size] if b < steps_per_epoch - 1 else order[b * batch_size :]
                xb = train.images[idx]
                if augment:
                    gen = torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 100_003 + b)
                    xb = augment_batch(xb, generator=gen, flip=flip)
                xb = _to_float(xb, scale, shift)
                if channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                yb = train.labels[idx]
                if opts.schedule == "onecycle":
                    for group in opt.param_groups:
                        group["lr"] = _one_cycle(step, total_steps, lr)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=opts.bf16):
                    logits = model(xb)
                loss = F.cross_entropy(logits.float(), yb)
                value = float(loss.detach())
                if not math.isfinite(value):
                    status = "failed"
                    kind = "NaN" if math.isnan(value) else "infinite"
                    message = (f"the loss became {kind} at step {step + 1} (epoch {epoch + 1}): the learning rate "
                               f"{lr:g} is probably too high for {optimizer.upper()}; try {lr / 10:g}")
                    return snapshot(status, message)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                k = len(yb)
                correct = float((logits.detach().argmax(1) == yb).sum())
                run_loss += value * k
                run_correct += correct
                run_count += k
                win_loss += value * k
                win_correct += correct
                win_count += k
                win_steps += 1
                if win_steps >= log_every or b == steps_per_epoch - 1:
                    steps.append(StepRecord(step, epoch + 1, win_loss / win_count, elapsed(), win_correct / win_count))
                    win_loss = win_correct = win_count = win_steps = 0.0
                    if callback is not None:
                        callback(snapshot())
            train_time = time.perf_counter() - t_epoch
            ips = run_count / train_time if train_time > 0 else float("nan")
            test_loss, test_acc = evaluate(model, test, mean=mean, std=std, batch_size=opts.eval_batch_size)
            _mode_train(model)
            epoch_records.append(EpochRecord(epoch + 1, run_loss / max(run_count, 1), run_correct / max(run_count, 1),
                                             test_loss, test_acc, elapsed(), ips))
            save_epoch(epoch + 1, {"test_accuracy": test_acc, "test_loss": test_loss,
                                   "train_accuracy": run_correct / max(run_count, 1)})
            save_state(epoch + 1, 0)
            if callback is not None:
                callback(snapshot())
        status = "finished"
        best = max(e.test_acc for e in epoch_records) if epoch_records else float("nan")
        message = f"finished {epochs} epochs; best test accuracy {best:.4f}"
        if folder is not None:
            snapshot(status, message).save(folder / HISTORY_FILE)
            if not opts.keep_state:
                (folder / STATE_FILE).unlink(missing_ok=True)
        return snapshot(status, message)
    except Exception as err:  # recorded on disk too, so the run is not shown as running forever
        status, message = "failed", f"{type(err).__name__}: {err}"
        raise
    finally:
        THREADS.leave(key)
        model.train(was_training)
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
        if folder is not None and status in ("stopped", "failed"):
            snapshot(status, message).save(folder / HISTORY_FILE)


def _check_model_fits(model: nn.Module, data: ImageData, scale: torch.Tensor, shift: torch.Tensor) -> None:
    """One image through the model (eval mode, no grad): its output must be one score per class."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(_to_float(data.images[:1], scale, shift))
    except RuntimeError as err:
        raise ValueError(f"the model cannot take {data.input_shape} images: {str(err).splitlines()[0][:200]}") from None
    finally:
        model.train(was_training)
    k = max(len(data.classes), int(data.labels.max()) + 1)
    if out.ndim != 2 or out.shape[1] < k:
        raise ValueError(f"the model outputs {tuple(out.shape[1:])} per image but the data has {k} classes: "
                         f"its last layer needs {k} outputs")


def _one_cycle(step: int, total: int, peak: float) -> float:
    """A one-cycle learning rate: warm up linearly over 25 % of the steps to ``peak``, then cosine down to ~0."""
    warm = max(1, int(0.25 * total))
    if step < warm:
        return peak * (0.04 + 0.96 * step / warm)
    t = (step - warm) / max(1, total - warm)
    return peak * (0.5 * (1 + math.cos(math.pi * min(1.0, t)))) + peak * 1e-3


def _load_state(folder: Path) -> dict[str, Any] | None:
    path = folder / STATE_FILE
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path} is damaged ({str(err)[:120]}); restart the run from an epoch checkpoint") from None


def _load_optimizer(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    try:
        opt.load_state_dict(state)
    except (ValueError, KeyError) as err:
        raise ValueError(f"the saved optimizer state does not fit this run ({err}); choose the same optimizer") from None


def _check_settings(train: ImageData, test: ImageData, *, epochs: int, batch_size: int, optimizer: str, lr: float,
                    momentum: float, weight_decay: float, start_epoch: int, opts: _Options) -> None:
    if not isinstance(train, ImageData) or not isinstance(test, ImageData):
        raise TypeError("train and test must be cnnviz.ImageData (see cnnviz.load_dataset)")
    if len(train) == 0:
        raise ValueError("the training set is empty")
    if train.input_shape[0] != test.input_shape[0] or train.input_shape[1:] != test.input_shape[1:]:
        raise ValueError(f"train images are {train.input_shape} but test images are {test.input_shape}")
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a whole number of at least 1, got {epochs}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"learning rate must be a positive number, got {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if weight_decay < 0:
        raise ValueError(f"weight decay must be >= 0, got {weight_decay}")
    if start_epoch < 0 or start_epoch > epochs:
        raise ValueError(f"start_epoch must be between 0 and epochs ({epochs}), got {start_epoch}")
    if opts.schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {opts.schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if opts.log_every is not None and opts.log_every < 1:
        raise ValueError(f"log_every must be at least 1, got {opts.log_every}")
    labels = train.labels
    if len(labels) and (int(labels.min()) < 0):
        raise ValueError("labels must be class indices 0..K-1")


# ---------------------------------------------------------------------------- background job


class TrainJob:
    """``fit`` in a background thread, with a lock-protected latest ``History`` and a stop button.

    The thread never touches the UI: a page keeps the job (e.g. in ``st.session_state``) and reads
    ``job.history`` to draw it. ``stop()`` asks the run to end after the current step; ``resume()``
    starts a stopped run again from exactly that step (it needs ``checkpoint_dir``).
    """

    def __init__(self, model: nn.Module, train: ImageData, test: ImageData, **fit_options: Any) -> None:
        if "callback" in fit_options or "stop" in fit_options:
            raise TypeError("TrainJob sets callback and stop itself")
        self.model = model
        self.train = train
        self.test = test
        self.options = dict(fit_options)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._history = History((), (), "running", "starting …", total_epochs=int(fit_options.get("epochs", 0)))
        self.error: BaseException | None = None

    # ---- control
    def start(self, *, resume: bool = False) -> TrainJob:
        """Start (or with ``resume=True`` continue) training in a new daemon thread; returns self."""
        if self.running:
            raise RuntimeError("this job is already running")
        self._stop.clear()
        options = dict(self.options)
        if resume:
            if options.get("checkpoint_dir") is None:
                raise ValueError("resuming needs a checkpoint_dir")
            options["resume"] = True
            options.pop("start_epoch", None)
        with self._lock:
            self._history = replace(self._history, status="running", message="starting …")
        self._thread = threading.Thread(target=self._run, args=(options,), name="cnnviz-train", daemon=True)
        self._thread.start()
        return self

    def resume(self) -> TrainJob:
        """Continue a stopped run from where it stopped (no step lost)."""
        return self.start(resume=True)

    def stop(self, *, wait: float | None = None) -> None:
        """Ask the run to stop after the current step; wait up to ``wait`` seconds for it."""
        self._stop.set()
        if wait is not None:
            self.join(wait)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    # ---- state
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def history(self) -> History:
        with self._lock:
            return self._history

    @property
    def status(self) -> str:
        return self.history.status

    def _publish(self, history: History) -> None:
        with self._lock:
            self._history = history

    def _run(self, options: dict[str, Any]) -> None:
        try:
            final = fit(self.model, self.train, self.test, callback=self._publish, stop=self._stop, **options)
        except Exception as err:  # shown on the page, never lost in a thread
            self.error = err
            final = replace(self.history, status="failed", message=f"{type(err).__name__}: {err}")
        self._publish(final)


# ---------------------------------------------------------------------------- data for a model

MAX_IMAGE_BYTES = 1_500_000_000  # resized uint8 images held in memory; beyond this, ask for a subset


def fit_images(data: ImageData, input_shape: Sequence[int]) -> ImageData:
    """``data`` converted to a model's input shape (C, H, W): gray↔RGB and a bilinear resize, batched.

    Raises ``ValueError`` when the result would not fit in memory (choose a smaller subset).
    """
    c, h, w = (int(v) for v in input_shape)
    n, c0, h0, w0 = data.images.shape
    if (c0, h0, w0) == (c, h, w):
        return data
    if n * c * h * w > MAX_IMAGE_BYTES:
        raise ValueError(f"{n:,} images of {c}×{h}×{w} need {n * c * h * w / 1e9:.1f} GB; "
                         f"choose a subset of at most {MAX_IMAGE_BYTES // (c * h * w):,} images")
    out = torch.empty((n, c, h, w), dtype=torch.uint8)
    lum = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    for i in range(0, n, 2048):
        x = data.images[i : i + 2048].float()
        if c0 == 1 and c == 3:
            x = x.expand(-1, 3, -1, -1)
        elif c0 == 3 and c == 1:
            x = (x * lum).sum(1, keepdim=True)
        elif c0 != c:
            raise ValueError(f"cannot turn {c0}-channel images into {c}-channel ones")
        if (h0, w0) != (h, w):
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=h < h0 or w < w0)
        out[i : i + 2048] = x.round().clamp_(0, 255).to(torch.uint8)  # not round_(): x may be an expanded view
    return ImageData(data.name, out, data.labels, data.classes, f"{data.source} (resized to {c}×{h}×{w})")


def load_train_test(dataset: str, *, input_shape: Sequence[int], train_size: int | None = None,
                    test_size: int | None = None, seed: int = 0, root: str | Path | None = None,
                    download: bool = True) -> tuple[ImageData, ImageData]:
    """Training and test sets for a model: a dataset name (fashion_mnist, mnist, cifar10) or a folder of images.

    A folder (one sub-folder per class) is split 80/20 at random (seeded). Subsets are drawn at random
    (seeded); images are converted to ``input_shape``. Raises ``ValueError`` and
    ``cnnviz.DatasetUnavailable`` with what to do.
    """
    from .data import DATASETS, load_dataset, load_image_folder

    if dataset in DATASETS:
        train = load_dataset(dataset, train=True, root=root, download=download)
        test = load_dataset(dataset, train=False, root=root, download=download)
    elif Path(dataset).is_dir():
        c, h, w = (int(v) for v in input_shape)
        everything = load_image_folder(dataset, size=(h, w), channels=c)
        if len(everything) < 2:
            raise ValueError(f"{dataset} has {len(everything)} readable image(s); need at least 2")
        order = torch.randperm(len(everything), generator=torch.Generator().manual_seed(seed))
        cut = max(1, int(round(0.8 * len(everything))))
        cut = min(cut, len(everything) - 1)
        pick = lambda idx: ImageData(everything.name, everything.images[idx], everything.labels[idx],  # noqa: E731
                                     everything.classes, everything.source)
        train, test = pick(order[:cut]), pick(order[cut:])
    else:
        raise ValueError(f"unknown dataset {dataset!r}: use fashion_mnist, mnist, cifar10 or a folder of images")
    train, test = train.subset(train_size, seed=seed), test.subset(test_size, seed=seed + 1)
    return fit_images(train, input_shape), fit_images(test, input_shape)


def normalize(images: torch.Tensor, *, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 N×C×H×W (or C×H×W) images as float, standardised per channel: (x/255 - mean) / std."""
    batch = images.unsqueeze(0) if images.ndim == 3 else images
    scale, shift = _affine(mean, std, batch.shape[1])
    out = _to_float(batch, scale, shift)
    return out[0] if images.ndim == 3 else out
