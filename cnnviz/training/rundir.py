"""What a training run keeps on disk: the names of its files, where a stopped run would resume, and the
shipped Fashion-MNIST checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import ASSETS

__all__ = ["HISTORY_FILE", "PRETRAINED_DIR", "STATE_FILE", "pretrained_checkpoints", "resume_point"]

PRETRAINED_DIR = ASSETS / "pretrained" / "fashion_mnist_cnn"
STATE_FILE = "trainer_state.pt"
HISTORY_FILE = "history.json"


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
