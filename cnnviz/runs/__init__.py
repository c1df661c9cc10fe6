"""Training runs kept on disk: whose they are, what each holds, and the errors a trained model makes.

A runs folder holds one sub-folder per run::

    runs/                               $CNNVIZ_RUNS, or ./runs
      sessions/<session id>/            one per dashboard session: a session sees only its own runs
        20261122-071502-simple_convnet/
          config.json                   the RunConfig
          history.json                  the training History (updated each epoch, on stop and at the end)
          epoch_00.pt … epoch_NN.pt     cnnviz checkpoints (epoch 0 = the initial weights)
          trainer_state.pt              weights + optimizer + position, to resume with no step lost

The CLI's ``cnnviz train --out DIR`` writes the same files (minus config.json).

``sessions``: the runs folder, session tokens and folders, share links; ``store``: ``RunConfig``, ``RunInfo``,
listing, deleting, the job that trains a run; ``confusion``: error analysis of a trained model.
"""

from .confusion import ConfusionResult, checkpoint_confusion, checkpoint_norm, confusion
from .sessions import (
    SHARE_ID,
    is_session_token,
    new_session_token,
    runs_root,
    session_folder,
    session_id_for,
    shared_folder,
)
from .store import (
    CONFIG_FILE,
    RunConfig,
    RunInfo,
    delete_run,
    list_runs,
    load_run,
    new_run_job,
    resume_run_job,
    run_labels,
)

__all__ = [
    "CONFIG_FILE",
    "SHARE_ID",
    "ConfusionResult",
    "RunConfig",
    "RunInfo",
    "checkpoint_confusion",
    "checkpoint_norm",
    "confusion",
    "delete_run",
    "is_session_token",
    "list_runs",
    "load_run",
    "new_run_job",
    "new_session_token",
    "resume_run_job",
    "run_labels",
    "runs_root",
    "session_folder",
    "session_id_for",
    "shared_folder",
]
