"""Training runs kept on disk: whose they are, what each holds, and the errors a trained model makes.

A runs folder holds one sub-folder per run::

    runs/                               $CNNVIZ_RUNS, or ./runs
      sessions/<session id>/            one per dashboard session: a session sees only its own runs
        20261122-071502-simple_convnet-3f9c1a/   when, what, and a random part: unique whatever the names and clocks
          config.json                   the RunConfig
          history.json                  the training History (updated each epoch, on stop and at the end)
          epoch_00.pt … epoch_NN.pt     cnnviz checkpoints (epoch 0 = the initial weights)
          trainer_state.pt              weights + optimizer + position, to resume with no step lost
        transfer/<time>-<source>-<target>/comparison.json   saved transfer-learning comparisons

The CLI's ``cnnviz train --out DIR`` writes the same files (minus config.json).

``sessions``: the runs folder, session tokens, folders and tags, share links, client addresses; ``store``:
``RunConfig``, ``RunInfo``, listing, deleting, the job that trains a run; ``damage``: a run folder's files read with
every field checked (a damaged folder is listed with one reason); ``quota``: the disk a session's runs may use;
``confusion``: error analysis of a trained model.
"""

from .confusion import ConfusionResult, checkpoint_confusion, checkpoint_norm, confusion
from .damage import RunDamaged
from .quota import QUOTA_ENV, QuotaFull, check_quota, folder_bytes, run_bytes, runs_quota
from .sessions import (
    LOCAL,
    SHARE_ID,
    TRUSTED_PROXY_ENV,
    client_address,
    is_session_token,
    new_session_token,
    runs_root,
    session_folder,
    session_id_for,
    session_tag,
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
    "LOCAL",
    "QUOTA_ENV",
    "TRUSTED_PROXY_ENV",
    "SHARE_ID",
    "ConfusionResult",
    "QuotaFull",
    "RunDamaged",
    "RunConfig",
    "RunInfo",
    "check_quota",
    "checkpoint_confusion",
    "checkpoint_norm",
    "client_address",
    "confusion",
    "delete_run",
    "folder_bytes",
    "is_session_token",
    "list_runs",
    "load_run",
    "new_run_job",
    "new_session_token",
    "resume_run_job",
    "run_bytes",
    "run_labels",
    "runs_quota",
    "runs_root",
    "session_folder",
    "session_id_for",
    "session_tag",
    "shared_folder",
]
