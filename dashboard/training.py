"""The training side of the server: the one training queue, each session's job (found again after a reload), the
training data, confusion matrices and checkpoint models the training pages read."""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz.i18n import N_, _
from dashboard.data import fashion_mnist
from dashboard.layout import spinner
from dashboard.session import training_runs_folder, training_session_id

TRAIN_JOB_KEY = "cnnviz.training.job"  # the session's cnnviz.training.TrainJob (running or last one)


DEFAULT_TRAINING_SPEED = 1_000.0  # images/s of a small CNN on 2 cores, for estimates before any run has a speed


def training_speed(model: str) -> float:
    """This session's measured training speed (images/s) for ``model``: the last epoch of its latest run with that
    model; a rough default before there is one."""
    from cnnviz import runs

    try:
        for run in reversed(runs.list_runs(training_runs_folder())):
            if run.config is not None and run.config.model == model and run.history and run.history.epochs:
                return float(run.history.epochs[-1].images_per_s)
    except (OSError, ValueError):
        pass
    return DEFAULT_TRAINING_SPEED


@st.cache_resource
def work_queue():
    """The server's one training queue: at most $CNNVIZ_MAX_JOBS runs (default: the cores) train at once, one run
    waiting or training per student ($CNNVIZ_JOBS_PER_STUDENT)."""
    from cnnviz.background import WorkQueue

    return WorkQueue()


@st.cache_resource
def _live_jobs() -> dict:
    return {}  # runs id -> that session's job while it waits or trains (lets a reloaded page find it again)


def _prune_live_jobs(jobs: dict) -> None:
    """Ended jobs leave the server-wide table (their runs are on disk): closed sessions leave nothing behind."""
    for sid, job in list(jobs.items()):
        if not getattr(job, "running", False):
            jobs.pop(sid, None)


def training_job():
    """This session's latest cnnviz.training.TrainJob, or None."""
    job = st.session_state.get(TRAIN_JOB_KEY)
    if job is not None:
        return job
    jobs = _live_jobs()
    _prune_live_jobs(jobs)
    job = jobs.get(training_session_id())
    if job is not None:
        st.session_state[TRAIN_JOB_KEY] = job
    return job


def start_training_job(job, *, resume: bool = False):
    """Queue ``job`` for this session (it starts when a slot is free) and keep it; raises QueueFull / ValueError."""
    job.expected_speed = training_speed(job.options.get("model_name") or "")
    job.enqueue(work_queue(), owner=training_session_id())
    job.start(resume=resume)
    st.session_state[TRAIN_JOB_KEY] = job
    jobs = _live_jobs()
    _prune_live_jobs(jobs)
    jobs[training_session_id()] = job
    return job


@spinner(N_("Loading the training data …"))
@st.cache_resource(max_entries=6, show_spinner=False)
def training_data(dataset: str, input_shape: tuple[int, int, int], train_size: int | None, test_size: int | None,
                  seed: int):
    """(train, test) ImageData for a run, converted to the model's input shape; shared, read-only."""
    from cnnviz import training

    return training.load_train_test(dataset, input_shape=input_shape, train_size=train_size, test_size=test_size,
                                    seed=seed, download=False)


@spinner(N_("Classifying the test images …"))
@st.cache_data(max_entries=8, show_spinner=False)
def training_confusion(path: str, mtime: float, dataset: str, test_size: int | None):
    """(ConfusionResult, converted test ImageData) of a checkpoint on a dataset's test set (or a random subset)."""
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
    job.expected_speed = training_speed(job.jobs[0].options.get("model_name") or "")
    job.enqueue(work_queue(), owner=training_session_id())
    job.start()
    st.session_state[PAIR_JOB_KEY] = job
    jobs = _live_jobs()
    _prune_live_jobs(jobs)
    jobs[(training_session_id(), "pair")] = job
    return job
