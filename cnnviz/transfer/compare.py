"""The comparison runner: every strategy trained on the same target data and budget, in a row or in a background job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..background import BackgroundWork
from ..data import ImageData
from .config import ComparisonConfig
from .data import prepare_target
from .params import count_parameters, weight_change
from .results import ComparisonResult, StrategyResult, new_comparison_folder, now_stamp, write_comparison
from .sources import load_source
from .strategies import STRATEGIES, build_transfer_model
from ..i18n import _


@dataclass(frozen=True)
class ComparisonProgress:
    """Where a running comparison stands: the phase, the strategy being trained and its live history."""

    phase: str  # "source", "data", "training", "done"
    strategy: str | None = None
    index: int = 0  # 0-based index of the strategy being trained
    total: int = 0
    history: Any = None  # cnnviz.training.History of the current fit
    done: tuple[StrategyResult, ...] = ()
    message: str = ""
    initial_test_acc: float = float("nan")  # of the strategy being trained, before its first step


def run_comparison(
    config: ComparisonConfig,
    *,
    train: ImageData | None = None,
    test: ImageData | None = None,
    user_data: ImageData | None = None,
    source_model: nn.Module | None = None,
    source_meta: dict[str, Any] | None = None,
    progress: Callable[[ComparisonProgress], None] | None = None,
    stop: threading.Event | None = None,
    download: bool = False,
    partial: Callable[[ComparisonResult], None] | None = None,
    created: str | None = None,
) -> ComparisonResult:
    """Train every strategy of ``config`` on the same target data and budget, one after the other.

    The source model and the target data are prepared from ``config`` unless given. Each strategy's
    network is built by ``build_transfer_model`` and trained by ``cnnviz.training.fit``. Returns a
    ``ComparisonResult`` (status "stopped" when ``stop`` was set). ``partial`` gets the results so far (status
    "running"; the strategy under way with its epochs so far) after every epoch. Raises ``ValueError`` for bad
    settings, ``cnnviz.WeightsUnavailable``/``DatasetUnavailable`` when weights/data are missing.
    """
    from ..training import evaluate, fit

    config.validate()
    say = progress or (lambda p: None)
    say(ComparisonProgress("data", message=_("preparing the target images")))
    if train is None or test is None:
        train, test = prepare_target(config, user_data=user_data, download=download)
    if source_model is None:
        say(ComparisonProgress("source", message=_("loading the pretrained source")))
        source_model, source_meta = load_source(
            config.source, config=config, download=download, stop=stop,
            callback=lambda h: say(ComparisonProgress("source", history=h, message=_("pretraining the source model"))))
    meta = source_meta or {}
    mean = meta.get("mean") or ([0.5] * config.input_shape[0])
    std = meta.get("std") or ([0.25] * config.input_shape[0])
    if len(mean) != config.input_shape[0]:
        mean, std = [mean[0]] * config.input_shape[0], [std[0]] * config.input_shape[0]
    done: list[StrategyResult] = []
    status, message = "finished", ""
    created = created or now_stamp()

    def result(status: str, message: str = "", current: tuple[StrategyResult, ...] = ()) -> ComparisonResult:
        return ComparisonResult(config, (*done, *current), train.classes, len(train), len(test),
                                str(meta.get("info", config.source)), status, message, created)

    for i, key in enumerate(config.strategies):
        if stop is not None and stop.is_set():
            status, message = "stopped", _("stopped before {strategy}").format(strategy=_(STRATEGIES[key].title))
            break
        say(ComparisonProgress("training", key, i, len(config.strategies), None, tuple(done),
                               _("building {strategy}").format(strategy=_(STRATEGIES[key].title))))
        model = build_transfer_model(config.arch, key, num_classes=len(train.classes), input_shape=config.input_shape,
                                     source=source_model, head=config.head, seed=config.seed)
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        _loss0, acc0 = evaluate(model, test, mean=mean, std=std)

        counts = count_parameters(model)

        def live(h: Any, key: str = key, i: int = i, acc0: float = acc0, counts=counts) -> None:
            say(ComparisonProgress("training", key, i, len(config.strategies), h, tuple(done), initial_test_acc=acc0))
            if partial is not None and h.epochs:
                partial(result("running", current=(StrategyResult(key, "running", "", h.epochs, counts, (), acc0),)))

        if key == "frozen":  # the base never changes: its features are computed once, the head trains on them
            hist = fit_head_on_features(model, train, test, config=config, mean=mean, std=std, callback=live,
                                        stop=stop)
        else:
            hist = fit(model, train, test, epochs=config.epochs, batch_size=config.batch_size,
                       optimizer=config.optimizer, lr=config.lr, seed=config.seed, mean=mean, std=std, callback=live,
                       stop=stop)
        done.append(StrategyResult(key, hist.status, hist.message, hist.epochs, counts,
                                   weight_change(before, model), acc0))
        if hist.status == "stopped":
            status, message = "stopped", _("stopped during {strategy}").format(strategy=_(STRATEGIES[key].title))
            break
        if partial is not None and i + 1 < len(config.strategies):
            partial(result("running"))
    say(ComparisonProgress("done", None, len(done), len(config.strategies), None, tuple(done), status))
    return result(status, message)


def backbone_features(model: nn.Module, data: ImageData, *, mean, std, batch_size: int = 256) -> torch.Tensor:
    """The frozen base's output for every image of ``data`` (eval mode, no gradients): N×features."""
    from ..training import normalize

    model.backbone.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            x = normalize(data.images[i:i + batch_size], mean=mean, std=std)
            out.append(model.backbone(x).flatten(1))
    return torch.cat(out) if out else torch.zeros(0, 1)


def fit_head_on_features(model: nn.Module, train: ImageData, test: ImageData, *, config: ComparisonConfig, mean,
                         std, callback: Callable[[Any], None] | None = None,
                         stop: threading.Event | None = None):
    """Train only ``model.head`` on features the frozen base computed once (the 'frozen backbone' strategy):
    the same optimiser, learning rate, batch size, epochs and seed as the other strategies, but no image passes
    through the base again. Returns a ``History`` like ``fit``'s (its time includes computing the features)."""
    from ..training import EpochRecord, History, StepRecord

    t0 = time.perf_counter()
    f_train = backbone_features(model, train, mean=mean, std=std)
    f_test = backbone_features(model, test, mean=mean, std=std)
    y_train, y_test = train.labels.long(), test.labels.long()
    head = model.head
    params = [p for p in head.parameters() if p.requires_grad]
    opt = (torch.optim.Adam(params, lr=config.lr) if config.optimizer == "adam"
           else torch.optim.SGD(params, lr=config.lr, momentum=0.9))
    n, bs = len(f_train), config.batch_size
    steps_per_epoch = max(1, -(-n // bs))
    steps, epochs, step = [], [], 0

    def snapshot(status: str, message: str = "") -> History:
        return History(tuple(steps), tuple(epochs), status, message, total_epochs=config.epochs,
                       steps_per_epoch=steps_per_epoch, step=step, elapsed_s=time.perf_counter() - t0,
                       batch_size=bs, train_size=n)

    for epoch in range(config.epochs):
        if stop is not None and stop.is_set():
            return snapshot("stopped", _("stopped at step {step} (epoch {epoch}, batch {b}/{n}); resume continues "
                                         "here").format(step=step, epoch=epoch + 1, b=0, n=steps_per_epoch))
        t_epoch = time.perf_counter()
        head.train()
        order = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed * 1_000_003 + epoch))
        run_loss = run_correct = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * bs:(b + 1) * bs]
            logits = head(f_train[idx])
            loss = nn.functional.cross_entropy(logits, y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            run_loss += loss.item() * len(idx)
            run_correct += float((logits.argmax(1) == y_train[idx]).sum())
            steps.append(StepRecord(step, epoch + 1, loss.item(), time.perf_counter() - t0,
                                    float((logits.argmax(1) == y_train[idx]).float().mean())))
        train_time = time.perf_counter() - t_epoch
        head.eval()
        with torch.no_grad():
            logits = head(f_test)
            test_loss = float(nn.functional.cross_entropy(logits, y_test)) if len(y_test) else float("nan")
            test_acc = float((logits.argmax(1) == y_test).float().mean()) if len(y_test) else float("nan")
        epochs.append(EpochRecord(epoch + 1, run_loss / max(n, 1), run_correct / max(n, 1), test_loss, test_acc,
                                  time.perf_counter() - t0, n / train_time if train_time > 0 else float("nan")))
        if callback is not None:
            callback(snapshot("running"))
    best = max(e.test_acc for e in epochs) if epochs else float("nan")
    return snapshot("finished", _("finished {n} epochs on features computed once; best test accuracy "
                                  "{best:.2%}").format(n=config.epochs, best=best))


class ComparisonJob(BackgroundWork):
    """``run_comparison`` in a daemon thread; a page polls ``snapshot()``.

    With ``save`` (the default) the comparison has its folder under ``root`` from ``start()`` on (``folder``): its
    comparison.json holds the settings and the results so far, rewritten after every epoch, and a lock marks it
    live while this process waits for its turn or trains it. A reload, another tab or the Saved comparisons page
    reads the folder; after a server restart it reads as "interrupted" (``results.comparison_state``). A comparison
    that ends with nothing trained (cancelled while waiting, stopped or failed before the first strategy) leaves
    no folder behind.

    (A thin wrapper: ``cnnviz.training.TrainJob`` runs one ``fit``; a comparison runs several in a row.)
    """

    SAVE_EVERY_S = 1.0  # at most one rewrite of comparison.json a second while epochs fly by (a frozen base's)

    def __init__(self, config: ComparisonConfig, *, user_data: ImageData | None = None, root: str | Path | None = None,
                 download: bool = False, save: bool = True) -> None:
        config.validate()
        self.config = config
        self._user_data = user_data
        self._root = root
        self._download = download
        self._save = save
        super().__init__()
        self._progress = ComparisonProgress("data", total=len(config.strategies), message=_("starting …"))
        self.result: ComparisonResult | None = None
        self.error: str | None = None
        self.started = time.time()
        self.created = now_stamp()
        self.folder: Path | None = None  # the comparison's folder, once started with save
        self._live = None
        self._written = 0.0
        self._last: ComparisonResult | None = None  # the results so far, also when their write was skipped

    def start(self) -> ComparisonJob:
        """Start in a daemon thread (after its turn in the queue, with ``enqueue``); raises QueueFull at once when its
        owner already has a job waiting or running (then no folder is left behind)."""
        from ..training.job import LiveLock

        if self._thread is not None:
            raise RuntimeError(_("this comparison has already been started"))
        if self._save:
            self.folder = new_comparison_folder(self.config, self.created, root=self._root)
            self._live = LiveLock(self.folder)
            self._write(self._empty("queued" if self.queue is not None else "running"), force=True)
        try:
            self._launch("cnnviz-transfer")
        except BaseException:
            self._ended()
            self._forget_folder()
            raise
        return self

    def stop(self) -> None:
        """Ask the comparison to stop after the current training step (or leave the queue while it waits)."""
        self._stop.set()
        self._wake_queue()

    def estimate_s(self) -> float | None:
        """Seconds until the comparison ends, when the running strategy can say (None otherwise)."""
        h = self.snapshot().history
        return h.eta_s if h is not None and not self.queued else None

    def _cancelled(self) -> None:
        self.error = _("cancelled while waiting; nothing was trained")
        self._forget_folder()
        self._publish(replace(self._progress, phase="done"))

    def snapshot(self) -> ComparisonProgress:
        with self._lock:
            return self._progress

    def _publish(self, p: ComparisonProgress) -> None:
        with self._lock:
            self._progress = p

    def _empty(self, status: str, message: str = "") -> ComparisonResult:
        """The comparison before any result: its settings and status (classes and sizes are not known yet)."""
        return ComparisonResult(self.config, (), (), 0, 0, str(self.config.source), status, message, self.created)

    def _write(self, result: ComparisonResult, *, force: bool = False) -> ComparisonResult:
        """Rewrite comparison.json (not more often than SAVE_EVERY_S unless ``force``); returns the result with
        its path. A write that fails (a full disk) loses the file's update, never the comparison."""
        self._last = result
        if self.folder is None:
            return result
        if force or time.monotonic() - self._written >= self.SAVE_EVERY_S:
            try:
                result = replace(result, path=str(write_comparison(result, self.folder)))
                self._written = time.monotonic()
            except OSError:
                pass
        return result

    def _forget_folder(self) -> None:
        """Remove the comparison's folder: nothing was trained that is worth keeping."""
        import shutil

        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _ended(self) -> None:
        if self._live is not None:
            self._live.release()
            self._live = None

    def _run(self) -> None:
        self._write(self._empty("running"), force=True)
        try:
            result = run_comparison(self.config, user_data=self._user_data, progress=self._publish, stop=self._stop,
                                    download=self._download, created=self.created,
                                    partial=lambda r: self._write(r))
            if result.runs:
                result = self._write(result, force=True)
            else:
                self._forget_folder()
            self.result = result
        except Exception as err:  # shown on the page, never lost in the thread
            if self._stop.is_set():
                self.error = _("stopped before any strategy was trained; nothing was saved")
            else:
                self.error = str(err) if isinstance(err, (ValueError, RuntimeError)) else f"{type(err).__name__}: {err}"
            self._failed(self.error)
        finally:
            with self._lock:
                self._progress = replace(self._progress, phase="done")

    def _failed(self, message: str) -> None:
        """The comparison failed: its file keeps the strategies done so far as "failed" (none: no folder)."""
        so_far = self._last
        if so_far is None or not so_far.runs:
            self._forget_folder()
        else:
            runs = tuple(replace(r, status="failed") if r.status == "running" else r for r in so_far.runs)
            self._write(replace(so_far, status="failed", message=message, runs=runs), force=True)
