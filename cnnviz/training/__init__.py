"""The training loop, a background training job and a live history: one trainer for the CLI and the studio.

``fit`` trains any ``nn.Module`` on an ``ImageData`` held in memory. It converts and normalises one
batch at a time (uint8 → float, per-channel mean/std), so there is no per-image ``DataLoader`` and no
per-image Python transform: that is where the lecture notes' loop spends much of its time.

Runs are reproducible (the seed fixes the initial weights, the order of the images, the augmentation and the
dropout masks, all drawn from the run's own generators, never from the global one other threads share), can be stopped
and resumed with no step lost (``checkpoint_dir`` holds ``epoch_NN.pt`` per epoch, ``history.json``
and ``trainer_state.pt``, all written atomically), and stop with a clear message when the loss turns
NaN or infinite.

``TrainJob`` runs ``fit`` in a background thread: a dashboard page keeps the job in its session state
and draws ``job.history`` (a frozen snapshot) while the thread trains. Running jobs share the CPU: the
number of PyTorch threads is the machine's cores divided by the jobs running, so two classroom
sessions training at once both make progress.

The modules, one idea each:

- ``records``: ``StepRecord``, ``EpochRecord`` and ``History`` (a run's snapshot, as JSON);
- ``presets``: ``TrainPreset`` and ``PRESETS`` (the notes' runs, the fast and accurate ones);
- ``notes``: the notes' two MNIST runs, how the notes plot them and what they gave here (``NOTES_RUNS``);
- ``cpu``: the thread budget shared by running fits, and ``bf16_fast``;
- ``tensors``: statistics, normalisation, augmentation, evaluation, datasets fitted to a model;
- ``randomness``: a run's own random streams (seeds per step, dropout drawing from the run's generator);
- ``rundir``: a run's files on disk, ``resume_point`` and the shipped checkpoints (Fashion-MNIST and MNIST);
- ``settings``: what ``fit`` checks and prepares first (options, optimizer, schedule, a resume's state);
- ``loop``: ``fit``;
- ``job``: ``TrainJob``, ``fit`` in a background thread.
"""

from .cpu import bf16_fast
from .job import TrainJob, run_is_live
from .loop import fit
from .presets import PRESETS, TrainPreset
from .records import RUN_STATUSES, EpochRecord, History, StepRecord, status_label
from .notes import NOTES_RUNS, NotesRun, SeedResult, measured_history, seed_results
from .rundir import HISTORY_FILE, PRETRAINED_DIR, PRETRAINED_DIRS, pretrained_checkpoints, resume_point
from .settings import OPTIMIZERS, SCHEDULES
from .tensors import (
    augment_batch,
    channel_stats,
    evaluate,
    fit_images,
    load_train_test,
    normalize,
    predict_proba,
)

__all__ = [
    "HISTORY_FILE",
    "NOTES_RUNS",
    "OPTIMIZERS",
    "PRESETS",
    "PRETRAINED_DIR",
    "PRETRAINED_DIRS",
    "RUN_STATUSES",
    "SCHEDULES",
    "EpochRecord",
    "History",
    "NotesRun",
    "SeedResult",
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
    "measured_history",
    "normalize",
    "predict_proba",
    "pretrained_checkpoints",
    "resume_point",
    "run_is_live",
    "seed_results",
    "status_label",
]
