"""The training loop: ``fit`` trains any ``nn.Module`` on an ``ImageData`` held in memory, one batch at a time,
reproducibly, with atomic per-epoch checkpoints and a save every 30 s, stop and resume with no step lost, and a
clear message when the loss turns NaN or infinite. What it checks and prepares first is in ``settings``.

Where the time goes, and what the loop does about it (figures: benchmarks/bench_training.py):

- data: the images stay uint8 in memory and are converted one batch at a time (gather, uint8 → float, one
  multiply-add) — no per-image Python transform, no DataLoader;
- forward and backward: convolutions dominate. ``channels_last`` (NHWC) lets oneDNN run them without reordering
  the activations before and after every convolution; it is on by default for 2-D convolutional models;
- optimizer: one multi-tensor (``foreach``) update for all parameters instead of a Python loop over them;
- Python overhead per step: a few tensor-to-float conversions, nothing per image; the live curves cost one
  frozen snapshot every ``log_every`` steps;
- the test pass after each epoch and the saves are not counted in images/s (they are in the elapsed time).
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_checkpoint, save_checkpoint
from ..data import ImageData
from ..files import atomic_torch_save, sweep_temp_files
from . import cpu
from .cpu import THREADS
from .probes import ProbeRecorder
from .records import EpochRecord, History, StepRecord
from .randomness import batch_seed, own_dropout, step_seed
from .rundir import HISTORY_FILE, STATE_FILE
from .settings import (FitOptions, check_model_fits, check_settings, load_optimizer, load_state, make_optimizer,
                       one_cycle)
from .tensors import affine, augment_batch, channel_stats, evaluate, to_float
from ..i18n import _, ngettext

__all__ = ["fit"]

_clock = time.perf_counter  # the loop's clock; a test replaces it with a simulated one


@dataclass
class _Sums:
    """Running sums over some steps: loss × images, correct images, images, steps, seconds of training."""

    loss: float = 0.0
    correct: float = 0.0
    count: float = 0.0
    steps: float = 0.0
    train_s: float = 0.0

    def add(self, loss: float, correct: float, count: int) -> None:
        self.loss += loss * count
        self.correct += correct
        self.count += count
        self.steps += 1

    def clear(self) -> None:
        self.loss = self.correct = self.count = self.steps = self.train_s = 0.0

    def as_list(self) -> list[float]:
        return [self.loss, self.correct, self.count, self.steps, self.train_s]

    @classmethod
    def from_list(cls, values: Any) -> _Sums:
        try:
            return cls(*(float(v) for v in values))
        except (TypeError, ValueError):
            return cls()


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
    ``trainer_state.pt`` (weights, optimizer and position: after each epoch, on stop, and every
    ``save_every_s`` seconds mid-epoch) — all atomic. ``start_epoch=k`` restarts from ``epoch_k.pt`` (with a fresh
    optimizer state unless trainer_state.pt was written at that epoch); ``resume=True`` continues exactly where a
    stopped (or killed) run left off, mid-epoch included.

    More options: ``log_every`` (steps between step records; default 10, fewer in short epochs),
    ``eval_batch_size`` (1000), ``threads`` (a cap on PyTorch threads), ``schedule`` ("constant" or
    "onecycle"), ``flip`` (horizontal flips when augmenting; default: yes except for digits), ``model_name`` and
    ``spec`` (recorded in checkpoints; "stack" runs need ``spec``), ``dataset`` (its name for the checkpoints),
    ``meta`` (extra plain values for the checkpoints), ``keep_state`` (False deletes trainer_state.pt when the run
    finishes), ``save_initial`` (write epoch_00.pt, default True), ``save_every_s`` (seconds between mid-epoch
    saves, default 30; None: only at epoch ends and stops), ``save_every_steps`` (also save every this many
    steps), ``channels_last`` (NHWC memory layout, the same arithmetic and faster convolutions on the CPU;
    default: on for models with 2-D convolutions), ``foreach`` (one multi-tensor optimizer update, default
    True; False: the plain per-parameter loop), ``bf16`` (bfloat16 autocast for the forward pass: faster on
    CPUs with AMX/AVX-512 BF16, slightly different numbers; default off; on a CPU without them it warns in
    one line and trains in float32, since bfloat16 would be about ten times slower there), ``label_smoothing``
    (the training loss's target puts this much probability evenly on all classes, default 0; the test loss and
    accuracy stay plain), ``max_steps`` (the run ends after this many optimizer steps, mid-epoch if need be: that last,
    partial epoch is tested and saved like the others and its checkpoint's meta has ``epoch_batches``; default None:
    after ``epochs`` whole epochs), ``probes`` (with ``checkpoint_dir``: record each layer's weight and gradient
    statistics in ``probes.npz``, see ``cnnviz.training.probes``; default True).

    Raises ``ValueError`` for bad settings or data that does not fit the model, ``TypeError`` for an
    unknown option.
    """
    try:
        opts = FitOptions(**more_keyword_options)
    except TypeError:
        unknown = sorted(set(more_keyword_options) - set(FitOptions.__dataclass_fields__))
        raise TypeError(_("unknown fit option(s) {unknown}; known: {sorted_options_dataclass}").format(unknown=unknown, sorted_options_dataclass=sorted(FitOptions.__dataclass_fields__))) from None
    check_settings(train, test, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                    momentum=momentum, weight_decay=weight_decay, start_epoch=start_epoch, opts=opts)
    bf16 = bool(opts.bf16)
    if bf16 and not cpu.bf16_fast():
        warnings.warn(cpu.bf16_slow_message(), RuntimeWarning, stacklevel=2)
        bf16 = False
    if mean is None or std is None:
        mean, std = channel_stats(train)
    mean, std = [float(m) for m in mean], [float(s) for s in std]
    scale, shift = affine(mean, std, train.images.shape[1])
    check_model_fits(model, train, scale, shift)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(_("the model has no trainable parameters (every parameter has requires_grad=False)"))
    opt = make_optimizer(params, optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay,
                          foreach=opts.foreach)
    flip = opts.flip if opts.flip is not None else train.name not in ("mnist", "digits")
    n = len(train)
    steps_per_epoch = n // batch_size if n % batch_size == 1 else math.ceil(n / batch_size)
    total_steps = min(epochs * steps_per_epoch, opts.max_steps or epochs * steps_per_epoch)
    log_every = opts.log_every or max(1, min(10, steps_per_epoch // 10))
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    model_name = opts.model_name or ("stack" if opts.spec else _guess_model_name(model))
    meta_base = {"dataset": opts.dataset or train.name, "mean": mean, "std": std, "optimizer": optimizer, "lr": lr,
                 "batch_size": batch_size, "seed": seed, "augment": augment,
                 **({"label_smoothing": opts.label_smoothing} if opts.label_smoothing else {}), **opts.meta}
    if opts.spec is not None:
        meta_base["spec"] = opts.spec
    if folder is not None:
        sweep_temp_files(folder)  # temp files of a writer that was killed mid-write

    def save_epoch(epoch: int, extra: dict[str, Any]) -> None:
        if folder is not None:
            save_checkpoint(folder / f"epoch_{epoch:02d}.pt", model, model_name=model_name,
                            input_shape=train.input_shape, classes=train.classes,
                            meta={**meta_base, "epoch": epoch, **extra})

    # ---- where to start
    first_epoch, first_batch, step, elapsed_before = 0, 0, 0, 0.0
    run, window = _Sums(), _Sums()  # the epoch under way, and the steps since the last step record
    prior = History((), (), "running")
    if opts.resume or start_epoch > 0:
        if folder is None:
            raise ValueError(_("resuming needs checkpoint_dir, the folder of the run to resume"))
        prior = History.load(folder / HISTORY_FILE) if (folder / HISTORY_FILE).is_file() else prior
        state = load_state(folder)
        if opts.resume:
            if state is None:
                raise ValueError(_("nothing to resume in {folder}: no {state_file}").format(folder=folder.name, state_file=STATE_FILE))
            model.load_state_dict(state["model"])
            load_optimizer(opt, state["optimizer"])
            first_epoch, first_batch, step = int(state["epoch"]), int(state["batch"]), int(state["step"])
            elapsed_before = float(state["elapsed_s"])
            if first_batch > 0:  # mid-epoch: the epoch's sums so far, and the step record under way
                run, window = _Sums.from_list(state.get("run", ())), _Sums.from_list(state.get("window", ()))
        else:
            ckpt = load_checkpoint(folder / f"epoch_{start_epoch:02d}.pt")
            model.load_state_dict(ckpt.state_dict)
            if state is not None and int(state["epoch"]) == start_epoch and int(state["batch"]) == 0:
                load_optimizer(opt, state["optimizer"])
            first_epoch, step = start_epoch, start_epoch * steps_per_epoch
            done = [e for e in prior.epochs if e.epoch <= start_epoch]
            elapsed_before = done[-1].elapsed_s if done else 0.0
        prior = replace(prior, steps=tuple(s for s in prior.steps if s.step <= step),
                        epochs=tuple(e for e in prior.epochs if e.epoch <= first_epoch))
        if first_epoch >= epochs or step >= total_steps:
            return replace(prior, status="finished", total_epochs=epochs, steps_per_epoch=steps_per_epoch, step=step,
                           batch_size=batch_size, train_size=n, max_steps=opts.max_steps or 0,
                           message=_("nothing left to train"))

    steps = list(prior.steps)
    epoch_records = list(prior.epochs)
    status, message = "running", ""
    t_start = _clock()
    t_mark = t_start  # training time of the epoch under way is run.train_s + (clock - t_mark) while stepping
    stepping = False

    def elapsed() -> float:
        return elapsed_before + _clock() - t_start

    def pace() -> float | None:
        seconds = run.train_s + (_clock() - t_mark if stepping else 0.0)
        return run.count / seconds if run.count and seconds > 0 else None

    def snapshot(st: str = "running", msg: str = "") -> History:
        return History(tuple(steps), tuple(epoch_records), st, msg, total_epochs=epochs, steps_per_epoch=steps_per_epoch,
                       step=step, elapsed_s=elapsed(), batch_size=batch_size, train_size=n,
                       current_images_per_s=pace() if st == "running" else None, max_steps=opts.max_steps or 0)

    def save_state(epoch: int, batch: int) -> None:
        """history.json, then trainer_state.pt: killed between the two, a resume finds the history ahead of the
        state and keeps only its steps up to the state's."""
        if folder is None:
            return
        snapshot().save(folder / HISTORY_FILE)
        recorder.save()
        atomic_torch_save({"epoch": epoch, "batch": batch, "step": step, "elapsed_s": elapsed(),
                           "run": run.as_list(), "window": window.as_list(),
                           "model": {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()},
                           "optimizer": opt.state_dict()}, folder / STATE_FILE)

    def record_window(epoch: int) -> None:
        steps.append(StepRecord(step, epoch + 1, window.loss / window.count, elapsed(), window.correct / window.count))
        window.clear()

    was_training = model.training
    channels_last = opts.channels_last if opts.channels_last is not None else any(
        isinstance(m, nn.Conv2d) for m in model.modules())
    save_every_s = opts.save_every_s if opts.save_every_s and opts.save_every_s > 0 else math.inf
    save_every_steps = opts.save_every_steps or 0
    images, labels = train.images, train.labels
    if channels_last:
        model.to(memory_format=torch.channels_last)
    dropout = torch.Generator()  # the run's own: dropout never draws from the global generator other threads share
    recorder = ProbeRecorder(model, folder if opts.probes else None, step=step, total_steps=total_steps,
                             steps_per_epoch=steps_per_epoch, resumed=opts.resume or start_epoch > 0)
    try:
        with THREADS.lease(opts.threads) as lease, own_dropout(model, dropout) as dropout_layers:
            if folder is not None and first_epoch == 0 and first_batch == 0 and step == 0 and opts.save_initial:
                test_loss, test_acc = evaluate(model, test, mean=mean, std=std, batch_size=opts.eval_batch_size)
                save_epoch(0, {"test_accuracy": test_acc, "test_loss": test_loss})
            last_save_t, last_save_step = _clock(), step
            for epoch in range(first_epoch, epochs):
                _mode_train(model)
                order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
                start_b = first_batch if epoch == first_epoch else 0
                if start_b == 0:
                    run, window = _Sums(), _Sums()
                stepping, t_mark = True, _clock()
                b = start_b - 1
                for b in range(start_b, steps_per_epoch):
                    if stop is not None and stop.is_set():
                        run.train_s += _clock() - t_mark
                        stepping = False
                        if window.steps:  # keep the partial window's loss, so the resumed curve has no hole
                            record_window(epoch)
                        save_state(epoch, b)
                        status = "stopped"
                        message = _("stopped at step {step} (epoch {epoch}, batch {b}/{n}); resume continues here").format(
                            step=step, epoch=epoch + 1, b=b, n=steps_per_epoch)
                        return snapshot(status, message)
                    lease.refresh()  # this thread's share of the cores, when the number of running fits changed
                    idx = order[b * batch_size : (b + 1) * batch_size] if b < steps_per_epoch - 1 else order[b * batch_size :]
                    xb = images[idx]
                    if augment:
                        gen = torch.Generator().manual_seed(batch_seed(seed, epoch, b))
                        xb = augment_batch(xb, generator=gen, flip=flip)
                    if dropout_layers:  # its masks depend only on the step's place: a resumed run draws the same
                        dropout.manual_seed(step_seed(seed, epoch, b, "dropout"))
                    xb = to_float(xb, scale, shift)
                    if channels_last:
                        xb = xb.contiguous(memory_format=torch.channels_last)
                    yb = labels[idx]
                    if opts.schedule == "onecycle":
                        for group in opt.param_groups:
                            group["lr"] = one_cycle(step, total_steps, lr)
                    if bf16:
                        with torch.autocast("cpu", dtype=torch.bfloat16):
                            logits = model(xb)
                        loss = F.cross_entropy(logits.float(), yb, label_smoothing=opts.label_smoothing)
                    else:
                        logits = model(xb)
                        loss = F.cross_entropy(logits, yb, label_smoothing=opts.label_smoothing)
                    value = loss.item()
                    if not math.isfinite(value):
                        status = "failed"
                        kind = "NaN" if math.isnan(value) else _("infinite")
                        message = _("the loss became {kind} at step {step} (epoch {epoch}): the learning rate {lr:g} is "
                                    "probably too high for {optimizer}; try {lower:g}").format(
                            kind=kind, step=step + 1, epoch=epoch + 1, lr=lr, optimizer=optimizer.upper(), lower=lr / 10)
                        return snapshot(status, message)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    recorder.gradients(step + 1)
                    opt.step()
                    step += 1
                    recorder.weights(step)
                    k = len(yb)
                    correct = (logits.detach().argmax(1) == yb).sum().item()
                    run.add(value, correct, k)
                    window.add(value, correct, k)
                    last = b == steps_per_epoch - 1 or step >= total_steps
                    if window.steps >= log_every or last:
                        record_window(epoch)
                        if callback is not None:
                            callback(snapshot())
                    if step >= total_steps:
                        break
                    if folder is not None and not last and (
                            _clock() - last_save_t >= save_every_s
                            or (save_every_steps and step - last_save_step >= save_every_steps)):
                        now = _clock()
                        run.train_s += now - t_mark
                        stepping = False
                        save_state(epoch, b + 1)  # a killed run resumes from here
                        last_save_t, last_save_step = _clock(), step
                        stepping, t_mark = True, last_save_t
                run.train_s += _clock() - t_mark
                stepping = False
                ips = run.count / run.train_s if run.train_s > 0 else float("nan")
                test_loss, test_acc = evaluate(model, test, mean=mean, std=std, batch_size=opts.eval_batch_size)
                _mode_train(model)
                train_acc = run.correct / max(run.count, 1)
                epoch_records.append(EpochRecord(epoch + 1, run.loss / max(run.count, 1), train_acc, test_loss, test_acc,
                                                 elapsed(), ips))
                batches = b + 1  # fewer than steps_per_epoch when max_steps ended the epoch early
                save_epoch(epoch + 1, {"test_accuracy": test_acc, "test_loss": test_loss, "train_accuracy": train_acc,
                                       "step": step,
                                       **({"epoch_batches": batches} if batches < steps_per_epoch else {})})
                run, window = _Sums(), _Sums()
                save_state(epoch + 1, 0)
                last_save_t, last_save_step = _clock(), step
                if callback is not None:
                    callback(snapshot())
                if step >= total_steps:
                    break
            status = "finished"
            best = max(e.test_acc for e in epoch_records) if epoch_records else float("nan")
            message = ngettext("finished {n} epoch; best test accuracy {best:.2%}",
                               "finished {n} epochs; best test accuracy {best:.2%}", epochs).format(n=epochs, best=best)
            if total_steps < epochs * steps_per_epoch:
                message = _("finished at step {step:,} ({epochs:.2f} epochs), as set; test accuracy at the end "
                            "{acc:.2%}").format(step=step, epochs=step / steps_per_epoch, acc=epoch_records[-1].test_acc)
            if folder is not None:
                snapshot(status, message).save(folder / HISTORY_FILE)
                recorder.save()
                if not opts.keep_state:
                    (folder / STATE_FILE).unlink(missing_ok=True)
            return snapshot(status, message)
    except Exception as err:  # recorded on disk too, so the run is not shown as running forever
        status, message = "failed", f"{type(err).__name__}: {err}"
        raise
    finally:
        model.train(was_training)
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
        if folder is not None and status in ("stopped", "failed"):
            snapshot(status, message).save(folder / HISTORY_FILE)
            recorder.save()



def _mode_train(model: nn.Module) -> None:
    """Train mode, except batch-norm layers whose parameters are all frozen: their running statistics stay put."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine and not any(p.requires_grad for p in m.parameters()):
            m.eval()


def _guess_model_name(model: nn.Module) -> str:
    from ..models import ZOO

    for name, spec in ZOO.items():
        if isinstance(spec.builder, type) and type(model) is spec.builder:
            return name
    return type(model).__name__
