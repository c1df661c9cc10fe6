"""Training runs kept on disk: a run's config, reading, listing and deleting runs, and the job that trains one."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from torch import nn

from ..data import ImageData
from ..i18n import _
from ..training import HISTORY_FILE, OPTIMIZERS, SCHEDULES, History, TrainJob, load_train_test, run_is_live
from ..training.rundir import STATE_FILE, epoch_checkpoints
from ..training.settings import check_epochs
from .damage import RunDamaged, check_history, config_kwargs, read_json
from .quota import check_quota, run_bytes

__all__ = ["CONFIG_FILE", "RunConfig", "RunInfo", "delete_run", "list_runs", "load_run", "new_run_job",
           "resume_run_job", "run_labels"]

CONFIG_FILE = "config.json"
NOT_RUNS = ("transfer",)  # sub-folders of a session folder that hold other things (saved comparisons)


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to start (or restart) a run. ``model`` is a zoo name, or "stack" with ``spec``."""

    model: str = "simple_convnet"
    dataset: str = "fashion_mnist"
    train_size: int | None = 10_000
    test_size: int | None = None
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 3
    augment: bool = False
    seed: int = 0
    schedule: str = "constant"
    bf16: bool = False  # bfloat16 autocast ("fast math")
    label_smoothing: float = 0.0  # of the training loss (the accurate preset uses 0.1)
    log_every: int | None = None  # None: every 10 steps, more often for short epochs
    max_steps: int | None = None  # the run ends at this step, mid-epoch if need be (the notes' TensorFlow run)
    preset: str = ""  # the preset it was started from, if any (the studio shows the notes' plots for theirs)
    spec: tuple | None = None  # layer-stack spec (list of dicts) when model == "stack"
    input_shape: tuple[int, int, int] | None = None  # the stack's input shape
    label: str = ""

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(_("unknown optimizer {self_optimizer!r}; choose one of {join_optimizers}").format(self_optimizer=self.optimizer, join_optimizers=', '.join(OPTIMIZERS)))
        if self.schedule not in SCHEDULES:
            raise ValueError(_("unknown schedule {self_schedule!r}; choose one of {join_schedules}").format(self_schedule=self.schedule, join_schedules=', '.join(SCHEDULES)))
        check_epochs(self.epochs)
        if self.model == "stack" and (not self.spec or not self.input_shape):
            raise ValueError(_("a layer-stack run needs spec and input_shape (build one in the convolution lab)"))
        if self.max_steps is not None and (int(self.max_steps) != self.max_steps or self.max_steps < 1):
            raise ValueError(_("max_steps must be a whole number of at least 1 (or None for whole epochs), got "
                               "{max_steps}").format(max_steps=self.max_steps))
        if self.model != "stack":
            from ..models import ZOO

            if self.model not in ZOO:
                raise ValueError(_("unknown model {self_model!r}; the zoo has: {join_zoo}").format(self_model=self.model, join_zoo=', '.join(ZOO)))

    @property
    def model_input_shape(self) -> tuple[int, int, int]:
        if self.model == "stack":
            return tuple(int(v) for v in self.input_shape)  # type: ignore[arg-type,return-value]
        from ..models import input_shape_for

        return input_shape_for(self.model)

    @property
    def title(self) -> str:
        """A short description, e.g. "simple_convnet · adam 0.001 · batch 64 · 3 ep"."""
        text = f"{self.model} · {self.optimizer} {self.lr:g} · batch {self.batch_size} · {self.epochs} ep"
        if self.augment:
            text += " · aug"
        if self.bf16:
            text += " · bf16"
        if self.label_smoothing:
            text += f" · ls {self.label_smoothing:g}"
        if self.weight_decay:
            text += f" · wd {self.weight_decay:g}"
        if self.max_steps:
            text += f" · steps={self.max_steps}"
        return f"{self.label}: {text}" if self.label else text

    def build_model(self, num_classes: int) -> nn.Module:
        """A fresh model for this run (the seed fixes its initial weights)."""
        if self.model == "stack":
            from ..models import seeded
            from ..stack import build_stack  # the convolution lab's layer stacks

            with seeded(self.seed):
                return build_stack([dict(layer) for layer in self.spec], self.model_input_shape)  # type: ignore[union-attr]
        from ..models import build_model

        return build_model(self.model, num_classes=num_classes, in_channels=self.model_input_shape[0], seed=self.seed)

    def fit_options(self) -> dict[str, Any]:
        """Keyword options of ``cnnviz.training.fit`` for this run."""
        opts: dict[str, Any] = {
            "epochs": self.epochs, "batch_size": self.batch_size, "optimizer": self.optimizer, "lr": self.lr,
            "momentum": self.momentum, "weight_decay": self.weight_decay, "augment": self.augment, "seed": self.seed,
            "schedule": self.schedule, "log_every": self.log_every, "model_name": self.model, "bf16": self.bf16,
            "dataset": Path(self.dataset).name, "label_smoothing": self.label_smoothing, "max_steps": self.max_steps,
        }
        if self.model == "stack":
            opts["spec"] = [dict(layer) for layer in self.spec]  # type: ignore[union-attr]
        if self.preset:
            opts["meta"] = {"preset": self.preset}  # in the checkpoints, and the studio finds the notes' plot by it
        return opts

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["spec"] = [dict(layer) for layer in self.spec] if self.spec else None
        d["input_shape"] = list(self.input_shape) if self.input_shape else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """The config a config.json holds, every field checked (a newer cnnviz's fields are ignored). Raises
        ValueError (RunDamaged: the field that is wrong)."""
        return cls(**config_kwargs(d, {f.name for f in fields(cls)}))


@dataclass(frozen=True)
class RunInfo:
    """A run on disk: its folder, config (None for a CLI run), history (None before the first epoch), and for a
    damaged folder the reason (``problem``; status "damaged", neither config nor history: it can only be deleted)."""

    path: Path
    config: RunConfig | None
    history: History | None
    created: float
    problem: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def title(self) -> str:
        return self.config.title if self.config else self.name

    @property
    def status(self) -> str:
        """The history's status, except that a run nobody is training any more (the server stopped or crashed while
        it trained or waited) is "interrupted": Resume continues it from its last save."""
        if self.problem:
            return "damaged"
        status = self.history.status if self.history else "new"
        if status in ("running", "queued", "new"):
            live = run_is_live(self.path)
            if status == "new":  # no history written yet: started (a checkpoint on disk), or created and never started
                started = bool(self.checkpoints) or (self.path / STATE_FILE).is_file()
                return "running" if live else "interrupted" if started else "new"
            if not live:
                return "interrupted"
        return status

    @property
    def resumable(self) -> bool:
        """Stopped or interrupted, with the config to rebuild it (a CLI run has none)."""
        return self.config is not None and self.status in ("stopped", "interrupted")

    @property
    def checkpoints(self) -> list[Path]:
        """epoch_NN.pt files sorted by epoch."""
        return epoch_checkpoints(self.path)


_DIFFERENCES = (  # (field, how it is written) for run_labels
    ("model", "{v}"), ("dataset", "{v}"), ("optimizer", "{v}"), ("lr", "lr={v:g}"), ("batch_size", "batch={v}"),
    ("epochs", "epochs={v}"), ("train_size", "n={v}"), ("augment", "aug={v}"), ("schedule", "{v}"),
    ("momentum", "m={v:g}"), ("seed", "seed={v}"), ("bf16", "bf16={v}"),
    ("label_smoothing", "ls={v:g}"), ("weight_decay", "wd={v:g}"), ("max_steps", "steps={v}"),
)


def run_labels(infos: list[RunInfo]) -> list[str]:
    """A label per run that names what differs between them (e.g. "2. adam · n=1000" vs "3. adam · n=60000"),
    so an overlay's legend shows the setting being compared; the run's own name (label) first when it has one."""
    configs = [i.config for i in infos]
    differ = [(f, fmt) for f, fmt in _DIFFERENCES
              if len({getattr(c, f, None) if c else None for c in configs}) > 1]
    out = []
    for n, (info, c) in enumerate(zip(infos, configs), start=1):
        if c is None:
            out.append(f"{n}. {info.name}")
            continue
        parts = [fmt.format(v=getattr(c, f) if getattr(c, f) is not None else "all") for f, fmt in differ] or [
            f"{c.model} · {c.optimizer} lr={c.lr:g}"]
        out.append(f"{n}. " + (c.label + ": " if c.label else "") + " · ".join(parts))
    return out


def load_run(path: str | Path) -> RunInfo:
    """Read a run folder: every file checked, so a damaged one (a file cut short or of the wrong kind, files
    missing, a config of another cnnviz) comes back as a RunInfo with ``problem`` set, never as an exception.
    Raises ValueError only when ``path`` is no folder at all."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(_("{name} is not a training run (not a folder)").format(name=path.name))
    try:
        return _read_run(path)
    except RunDamaged as err:
        return RunInfo(path, None, None, _modified(path), str(err))
    except Exception:  # noqa: BLE001 - whatever a folder holds, the pages that list runs keep working
        return RunInfo(path, None, None, _modified(path), _("its files cannot be read"))


def _read_run(path: Path) -> RunInfo:
    cfg_file, hist_file = path / CONFIG_FILE, path / HISTORY_FILE
    has_config, has_history = cfg_file.exists(), hist_file.exists()
    if not has_config and not has_history:
        raise RunDamaged(_("it holds neither {config_file} nor {history_file}").format(
            config_file=CONFIG_FILE, history_file=HISTORY_FILE))
    config = history = None
    if has_config:
        try:
            config = RunConfig.from_dict(read_json(cfg_file))
        except RunDamaged:
            raise
        except (TypeError, ValueError) as err:  # RunConfig's own checks: an unknown model, optimizer, schedule
            raise RunDamaged(_("config.json: {err}").format(err=err)) from None
    if has_history:
        d = read_json(hist_file)
        check_history(d)
        try:
            history = History.from_dict(d)
        except (TypeError, ValueError):
            raise RunDamaged(_("history.json holds no training history")) from None
    created = (cfg_file if has_config else hist_file).stat().st_mtime
    return RunInfo(path, config, history, created)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def list_runs(folder: str | Path) -> list[RunInfo]:
    """The runs in ``folder``, oldest first: every sub-folder (hidden ones and NOT_RUNS aside), a damaged one with
    its ``problem``."""
    folder = Path(folder)
    try:
        subs = [sub for sub in folder.iterdir() if sub.is_dir() and not sub.name.startswith(".")
                and sub.name not in NOT_RUNS]
    except OSError:  # no folder yet, or one that cannot be read
        return []
    return sorted((load_run(sub) for sub in subs), key=lambda r: (r.created, r.name))


def delete_run(path: str | Path, *, folder: str | Path) -> None:
    """Delete one run folder (damaged or not), which must be a sub-folder of ``folder`` (links are not followed
    out of it). Raises ValueError otherwise, and when the disk refuses (one sentence, no path)."""
    path, folder = Path(path), Path(folder).resolve()
    if (path.is_symlink() or path.resolve().parent != folder or path.name.startswith(".") or path.name in NOT_RUNS
            or _holds_runs(path)):
        raise ValueError(_("{name} is not a run of this session").format(name=path.name))
    load_run(path)  # raises if it is not a folder
    try:
        shutil.rmtree(path.resolve())
    except OSError:  # its text names the server's paths: a sentence instead
        raise ValueError(_("the server would not remove all of its files (ask the teacher to look at the runs "
                           "folder)")) from None


def _holds_runs(path: Path) -> bool:
    """Whether ``path`` is a folder of runs (a session's), not a run: a run never holds another run."""
    try:
        return any(sub.is_dir() and ((sub / CONFIG_FILE).is_file() or (sub / HISTORY_FILE).is_file())
                   for sub in path.iterdir())
    except OSError:
        return False


def _new_run_dir(folder: Path, config: RunConfig) -> Path:
    """A new run folder, named for when and what (``20261124-090512-adam-vs-sgd-3f9c1a``), unique whatever the
    names and the clocks: a random part, and created only if nothing has that name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", config.label or config.model).strip("-")[:40] or "run"
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        path = folder / f"{stamp}-{slug}-{secrets.token_hex(3)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def new_run_job(folder: str | Path, config: RunConfig, *, train: ImageData | None = None,
                test: ImageData | None = None, threads: int | None = None, quota: int | None = None) -> TrainJob:
    """Create a run folder (config.json), build the model and return its ``TrainJob`` (not started yet).

    ``train``/``test`` default to ``load_train_test`` of the config (already converted to the model's
    input shape when given). ``quota``: the bytes ``folder`` may hold (``runs_quota()`` on a shared server); the
    run's checkpoints must fit in what is left. Raises ValueError for a bad config or data, QuotaFull.
    """
    if train is None or test is None:
        train, test = load_train_test(config.dataset, input_shape=config.model_input_shape,
                                      train_size=config.train_size, test_size=config.test_size, seed=config.seed)
    if train.input_shape != config.model_input_shape:
        raise ValueError(_("images are {train_input_shape} but {config_model} takes {config_model_input_shape}").format(train_input_shape=train.input_shape, config_model=config.model, config_model_input_shape=config.model_input_shape))
    model = config.build_model(len(train.classes))
    check_quota(folder, adding=run_bytes(sum(p.numel() for p in model.parameters()), config.epochs), quota=quota)
    run_dir = _new_run_dir(Path(folder), config)
    (run_dir / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=1), encoding="utf-8")
    return TrainJob(model, train, test, checkpoint_dir=run_dir, threads=threads, **config.fit_options())


def resume_run_job(run_dir: str | Path, *, train: ImageData | None = None, test: ImageData | None = None,
                   threads: int | None = None, quota: int | None = None) -> TrainJob:
    """A ``TrainJob`` for a run on disk (e.g. after a server restart); ``job.resume()`` continues it. Raises
    ValueError for a run that cannot be resumed, QuotaFull when its session's runs already fill ``quota``."""
    info = load_run(run_dir)
    check_quota(info.path.parent, quota=quota)
    if info.config is None:
        raise ValueError(_("{run_dir} has no {config_file}; it cannot be resumed here").format(run_dir=info.path.name, config_file=CONFIG_FILE))
    config = info.config
    if train is None or test is None:
        train, test = load_train_test(config.dataset, input_shape=config.model_input_shape,
                                      train_size=config.train_size, test_size=config.test_size, seed=config.seed)
    model = config.build_model(len(train.classes))
    job = TrainJob(model, train, test, checkpoint_dir=info.path, threads=threads, **config.fit_options())
    if info.history is not None:
        job._publish(info.history)
    return job
