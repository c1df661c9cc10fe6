"""Runs and transfer comparisons written by hand into a session's runs folder, for tests that need a page with
something to show (no training, no waiting): a finished run with the shipped network's 8-epoch history, a saved
comparison of one strategy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cnnviz import runs, training, transfer
from cnnviz.runs import RunConfig
from cnnviz.training import EpochRecord


def finished_run(folder: Path, name: str = "20260101-000000-adam", **config) -> Path:
    """A finished run in ``folder``: its config (``RunConfig(**config)``) and the shipped network's history."""
    path = folder / name
    path.mkdir(parents=True)
    (path / runs.CONFIG_FILE).write_text(json.dumps(RunConfig(**config).to_dict()), encoding="utf-8")
    shutil.copy(training.PRETRAINED_DIR / "history.json", path / training.HISTORY_FILE)
    return path


def saved_comparison(folder: Path, *, shots: int = 5) -> None:
    """A finished comparison (the frozen strategy, one epoch) saved in the session folder ``folder``."""
    pts = (EpochRecord(1, 1.0, 0.5, 1.0, 0.6, 2.0),)
    run = transfer.StrategyResult("frozen", "finished", "", pts, transfer.ParamCounts(100, 10),
                                  (transfer.LayerChange("head.1", "Linear", 10, 0.2, True),), 0.2)
    result = transfer.ComparisonResult(transfer.ComparisonConfig(shots=shots), (run,), ("a", "b"), 4, 4, "toy",
                                       "finished", created=f"2026-01-0{1 + shots // 50}T00:00:00Z")
    transfer.save_comparison(result, root=folder)


def seeded_session(root: Path) -> str:
    """A new session token whose runs folder under ``root`` holds a finished run and a saved comparison (a browser
    that sends it in the runs cookie sees them)."""
    token = runs.new_session_token()
    folder = runs.session_folder(runs.session_id_for(token), root=root)
    finished_run(folder)
    saved_comparison(folder)
    return token
