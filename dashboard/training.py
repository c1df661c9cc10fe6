"""The training side of the server: the one training queue, each session's job (found again after a reload), the
training data, confusion matrices and checkpoint models the training pages read."""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz.i18n import N_, _
from dashboard.data import fashion_mnist
from dashboard.layout import spinner
from dashboard.session import client_address, training_runs_folder, training_session_id

TRAIN_JOB_KEY = "cnnviz.training.job"  # the session's cnnviz.training.TrainJob (running or last one)


@spinner(N_("Measuring this computer's training speed …"))
@st.cache_data(max_entries=16, ttl=600, show_spinner=False)
def measured_speed(model: str, batch_size: int, bf16: bool) -> float | None:
    """Images/s a run of zoo ``model`` would train at on this computer now (four batches of real training steps,
    ``cnnviz.training.speed``); measured again after 10 minutes, as the load changes. None if it cannot be."""
    from cnnviz.training.speed import measure_speed

    try:
        return measure_speed(model, batch_size=batch_size, bf16=bf16)
    except (ValueError, RuntimeError):
        return None


def training_speed(model: str, batch_size: int = 64, bf16: bool = False) -> float | None:
    """The training speed (images/s) to estimate a run's length with: measured on this computer (a zoo model),
    else the last epoch of this session's latest run of ``model``; None when neither is known."""
    from cnnviz import runs

    if model in cnnviz.ZOO and not cnnviz.ZOO[model].torchvision:
        speed = measured_speed(model, int(batch_size), bool(bf16))
        if speed:
            return speed
    try:
        for run in reversed(runs.list_runs(training_runs_folder())):
            if run.config is not None and run.config.model == model and run.history and run.history.epochs:
                return float(run.history.epochs[-1].images_per_s)
    except (OSError, ValueError):
        pass
    return None


def run_length(model: str, dataset: str, train_size: int | None, batch_size: int, epochs: int, bf16: bool,
               max_steps: int = 0) -> str:
    """How long a run of these settings will take here, in words: its steps (``max_steps`` ends it sooner), and the
    time at the training speed measured on this computer just now (or this session's last run of the model)."""
    from cnnviz.i18n import _
    from cnnviz.training.presets import run_estimate_s, run_steps

    images = train_size or (cnnviz.DATASETS[dataset].train_size if dataset in cnnviz.DATASETS else None)
    if not images:
        return ""
    images = min(images, cnnviz.DATASETS[dataset].train_size) if dataset in cnnviz.DATASETS else images
    steps = run_steps(epochs, images, batch_size)
    steps = min(steps, max_steps) if max_steps else steps
    speed = training_speed(model, batch_size, bf16)
    if not speed:
        return _("{steps:,} steps; no time estimate yet (this computer's speed for this model is not known).").format(
            steps=steps)
    return _("{steps:,} steps; about {time} (min:s) at {speed:,.0f} images/s, this computer's measured speed for "
             "this model.").format(steps=steps, time=clock(run_estimate_s(steps, batch_size, speed)),
                                          speed=speed)


def clock(seconds: float | None) -> str:
    """A duration as the studio shows every one: m:ss (0:18, 5:34), h:mm:ss from an hour on; "–" when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@st.cache_resource
def work_queue():
    """The server's one training queue: at most $CNNVIZ_MAX_JOBS runs (default: the cores) train at once, one run
    waiting or training per student ($CNNVIZ_JOBS_PER_STUDENT), two per computer ($CNNVIZ_JOBS_PER_ADDRESS), 30
    waiting in all ($CNNVIZ_MAX_QUEUE)."""
    from cnnviz.background import WorkQueue

    return WorkQueue()


@st.cache_resource
def _live_jobs() -> dict:
    return {}  # (session key, runs id) -> that browser's job while it waits or trains (a reload, a second tab)


def _prune_live_jobs(jobs: dict) -> None:
    """Ended jobs leave the server-wide table (their runs are on disk): closed sessions leave nothing behind."""
    for sid, job in list(jobs.items()):
        if not getattr(job, "running", False):
            jobs.pop(sid, None)


def session_job(key: str):
    """The latest background job this browser keeps under session key ``key`` (its training run, its transfer
    comparison), or None: one that waits or runs comes first, also when another tab or the page before a reload
    started it (the runs cookie says whose it is); else the one this tab last knew."""
    jobs = _live_jobs()
    _prune_live_jobs(jobs)
    job = jobs.get((key, training_session_id())) or st.session_state.get(key)
    if job is not None:
        st.session_state[key] = job
    return job


def keep_session_job(key: str, job) -> None:
    """Keep ``job`` (just started) under ``key`` for this tab, and for this browser's other tabs and reloads."""
    st.session_state[key] = job
    jobs = _live_jobs()
    _prune_live_jobs(jobs)
    jobs[(key, training_session_id())] = job


def training_job():
    """This session's latest cnnviz.training.TrainJob, or None."""
    return session_job(TRAIN_JOB_KEY)


def start_training_job(job, *, resume: bool = False):
    """Queue ``job`` for this session (it starts when a slot is free) and keep it; raises QueueFull / ValueError."""
    o = job.options
    job.expected_speed = training_speed(o.get("model_name") or "", o.get("batch_size", 64), o.get("bf16", False)) \
        or job.expected_speed
    job.enqueue(work_queue(), owner=training_session_id(), address=client_address())
    job.start(resume=resume)
    keep_session_job(TRAIN_JOB_KEY, job)
    return job


@spinner(N_("Loading the training data …"))
@st.cache_resource(max_entries=6, show_spinner=False)
def training_data(dataset: str, input_shape: tuple[int, int, int], train_size: int | None, test_size: int | None,
                  seed: int):
    """(train, test) ImageData for a run, converted to the model's input shape; shared, read-only. A folder of
    images must lie in the folders the teacher allows (links out of them are refused here, not only on the page)."""
    from cnnviz import data, training

    return training.load_train_test(dataset, input_shape=input_shape, train_size=train_size, test_size=test_size,
                                    seed=seed, download=False,
                                    roots=None if dataset in data.DATASETS else data.data_roots())


@spinner(N_("Classifying the test images …"))
@st.cache_resource(max_entries=8, show_spinner=False)
def training_confusion(path: str, mtime: float, dataset: str, test_size: int | None):
    """(ConfusionResult, converted test ImageData) of a checkpoint on a dataset's test set (or a random subset);
    shared, read-only. Kept, not pickled: with every test image the data is the shared Fashion-MNIST itself, and
    pickling the result on a write once raised a RuntimeError that Streamlit showed as a traceback (bench_hostile)."""
    from cnnviz import runs

    test = (fashion_mnist(False) if dataset == "fashion_mnist"
            else cnnviz.load_dataset(dataset, train=False, download=False))
    return runs.checkpoint_confusion(path, test.subset(test_size, seed=1))


@spinner(N_("Loading the checkpoint …"))
@st.cache_resource(max_entries=4, show_spinner=False)
def training_checkpoint_model(path: str, mtime: float):
    """(eval-mode model, mean, std) of a checkpoint; shared, read-only. Raises CheckpointError."""
    from cnnviz import runs

    ckpt = cnnviz.load_checkpoint(path)
    model = cnnviz.model_from_checkpoint(ckpt).eval()
    mean, std = runs.checkpoint_norm(ckpt.meta, (ckpt.input_shape or (1,))[0])
    return model, mean, std


DATASET_TITLES = {"fashion_mnist": N_("Fashion-MNIST"), "mnist": N_("MNIST"), "cifar10": N_("CIFAR-10")}


def dataset_title(dataset: str) -> str:
    """A run's dataset as a reader names it: "Fashion-MNIST" for fashion_mnist (translated), a folder by its name."""
    from pathlib import Path

    from cnnviz.i18n import _

    if dataset in DATASET_TITLES:
        return _(DATASET_TITLES[dataset])
    if dataset in cnnviz.DATASETS:
        return cnnviz.DATASETS[dataset].title
    return _("folder {name}").format(name=Path(dataset).name)


# ---- the studio's presets: a widget that can hold every preset's value, and what a student changed
SETTING_LABELS = {"model": N_("model"), "optimizer": N_("optimizer"), "lr": N_("learning rate"),
                  "batch_size": N_("batch size"), "epochs": N_("epochs"), "momentum": N_("momentum"),
                  "augment": N_("augmentation"), "schedule": N_("learning-rate schedule"),
                  "train_size": N_("training images"), "bf16": N_("fast math (bfloat16)")}


def holding(options: list, *values) -> list:
    """``options`` with ``values`` added where missing, in order (None, "every image", last): a slider whose
    options lack a preset's value would snap to another one (the fast preset's 0.002 once became 0.00001)."""
    extra = [v for v in values if v not in options]
    merged = list(dict.fromkeys([*options, *extra]))
    return sorted((v for v in merged if v is not None)) + ([None] if None in merged else [])


def setting_text(value) -> str:
    """A setting's value as the studio's notes write it."""
    from cnnviz.i18n import _

    if value is None:
        return _("all")
    if isinstance(value, bool):
        return _("on") if value else _("off")
    if isinstance(value, float):
        return f"{value:g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def preset_changes(preset, settings: dict) -> list[str]:
    """"learning rate 0.002 → 0.001" for each of ``settings`` (RunConfig field → the widget's value) that differs
    from ``preset``'s."""
    from cnnviz.i18n import _

    wanted = preset.run_settings()
    if "bf16" in settings:  # its epochs follow the fast-math switch (the accurate preset: 13 in bfloat16, 11 without)
        wanted["epochs"] = preset.epochs_for(bool(settings["bf16"]))
    return [_("{setting} {preset} → {now}").format(setting=_(SETTING_LABELS.get(k, k)), preset=setting_text(wanted[k]),
                                                   now=setting_text(v))
            for k, v in settings.items() if k in wanted and v != wanted[k]]


def preset_hidden(preset) -> str:
    """The preset's settings that have no widget, in words ("" when it has none)."""
    from cnnviz.i18n import _

    parts = []
    if preset.label_smoothing:
        parts.append(_("label smoothing {value:g}").format(value=preset.label_smoothing))
    if preset.weight_decay:
        parts.append(_("weight decay {value:g}").format(value=preset.weight_decay))
    if preset.log_every:
        parts.append(_("a point of the training curve every {n} steps").format(n=preset.log_every))
    return ", ".join(parts)


@st.cache_data(max_entries=4, show_spinner=False)
def notes_measured(preset: str, mtime: float):
    """The history of a notes' run as it was run here (``cnnviz.training.measured_history``), read once per file
    version; None when it is not there."""
    from cnnviz import training

    return training.measured_history(preset)


@st.cache_data(max_entries=4, show_spinner=False)
def notes_seeds(preset: str, mtimes: tuple[float, ...]):
    """Every run of a notes' run made here (``cnnviz.training.seed_results``: seed, final and best test accuracy),
    read once per version of the files (``mtimes``)."""
    from cnnviz import training

    return training.seed_results(preset)


# ---- what a run recorded: its layers over time, its feature space, the vanishing-gradient pair
PAIR_JOB_KEY = "cnnviz.training.pair"  # the session's cnnviz.runs.experiments.PairJob (running or last one)


@st.cache_data(max_entries=8, show_spinner=False)
def training_probes(path: str, mtime: float):
    """The cnnviz.training.probes.Probes a run recorded (``path``: its probes.npz; ``mtime`` keys the cache).
    Raises ValueError in one sentence for a damaged file."""
    from cnnviz.training import probes

    return probes.load_probes(path)


@spinner(N_("Reading the weights of every checkpoint …"))
@st.cache_data(max_entries=8, show_spinner=False)
def training_checkpoint_probes(paths: tuple[str, ...], mtimes: tuple[float, ...], steps_per_epoch: int):
    """Weight statistics computed from a run's epoch checkpoints (for runs recorded without probes, and the shipped
    network); raises ValueError."""
    from cnnviz.training import probes

    return probes.probes_from_checkpoints(paths, steps_per_epoch=steps_per_epoch)


@spinner(N_("Loading the test images …"))
@st.cache_resource(max_entries=4, show_spinner=False)
def feature_space_test_set(dataset: str, input_shape: tuple[int, int, int], seed: int):
    """The test images of a run's dataset in its model's input shape (a folder's: the run's own test split);
    shared, read-only."""
    from cnnviz import training

    if dataset == "fashion_mnist":
        return training.fit_images(fashion_mnist(False), input_shape)
    return training.load_train_test(dataset, input_shape=input_shape, seed=seed, download=False)[1]


@spinner(N_("Projecting the features of 2,000 test images …"))
@st.cache_data(max_entries=32, show_spinner=False)
def feature_space(path: str, mtime: float, dataset: str, input_shape: tuple[int, int, int], seed: int, method: str,
                  keep_on_disk: bool):
    """The cnnviz.projection.Projection of a checkpoint's penultimate features (computed once: also kept in the run
    folder when ``keep_on_disk``). Raises CheckpointError / ValueError."""
    from cnnviz import projection

    test = feature_space_test_set(dataset, input_shape, seed)
    return projection.checkpoint_projection(path, test, method=method, cache=keep_on_disk)


@st.cache_data(max_entries=64, show_spinner=False)
def test_image_png(dataset: str, index: int) -> bytes:
    """Test image ``index`` of a named dataset (fashion_mnist, mnist, cifar10) as PNG bytes, as the dataset has it.
    Raises ValueError / DatasetUnavailable."""
    import io

    from PIL import Image

    test = fashion_mnist(False) if dataset == "fashion_mnist" else cnnviz.load_dataset(dataset, train=False,
                                                                                         download=False)
    if not 0 <= index < len(test):
        raise ValueError(_("{dataset} has no test image {index}").format(dataset=dataset, index=index))
    img = test.images[index].numpy()
    buf = io.BytesIO()
    Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)).save(buf, format="PNG")
    return buf.getvalue()


def pair_job():
    """This session's vanishing-gradient pair (a cnnviz.runs.experiments.PairJob), or None."""
    job = st.session_state.get(PAIR_JOB_KEY)
    if job is not None:
        return job
    jobs = _live_jobs()
    _prune_live_jobs(jobs)
    job = jobs.get((training_session_id(), "pair"))
    if job is not None:
        st.session_state[PAIR_JOB_KEY] = job
    return job


def start_pair_job(job):
    """Queue the pair for this session (one place in the queue, like one run) and keep it; raises QueueFull."""
    o = job.jobs[0].options
    job.expected_speed = training_speed(o.get("model_name") or "", o.get("batch_size", 64), o.get("bf16", False)) \
        or job.expected_speed
    job.enqueue(work_queue(), owner=training_session_id(), address=client_address())
    job.start()
    st.session_state[PAIR_JOB_KEY] = job
    jobs = _live_jobs()
    _prune_live_jobs(jobs)
    jobs[(training_session_id(), "pair")] = job
    return job
