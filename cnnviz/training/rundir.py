"""What a training run keeps on disk: the names of its files, where a stopped run would resume, and the
shipped Fashion-MNIST and MNIST checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import ASSETS
from ..i18n import _

__all__ = ["HISTORY_FILE", "PRETRAINED_DIR", "PRETRAINED_DIRS", "STATE_FILE", "epoch_checkpoints", "epoch_number",
           "pretrained_checkpoints", "resume_point"]

PRETRAINED_DIR = ASSETS / "pretrained" / "fashion_mnist_cnn"
# the zoo's mnist_cnn trained here on each bundled dataset, a checkpoint per epoch (assets/pretrained/README.md)
PRETRAINED_DIRS = {"fashion_mnist": PRETRAINED_DIR, "mnist": ASSETS / "pretrained" / "mnist_cnn"}
STATE_FILE = "trainer_state.pt"
HISTORY_FILE = "history.json"


def epoch_number(path: str | Path) -> int | None:
    """The epoch of a checkpoint file named epoch_NN.pt (0 = the initial weights); None for any other name."""
    stem = Path(path).stem
    number = stem.removeprefix("epoch_")
    return int(number) if number != stem and number.isdigit() else None


def epoch_checkpoints(folder: str | Path) -> list[Path]:
    """A run's epoch_NN.pt files (epoch_00.pt = its initial weights), sorted by epoch; [] without the folder."""
    found = [p for p in Path(folder).glob("epoch_*.pt") if epoch_number(p) is not None]
    return sorted(found, key=epoch_number)


def pretrained_checkpoints(dataset: str = "fashion_mnist") -> list[Path]:
    """The shipped checkpoints of the zoo's ``mnist_cnn`` trained on ``dataset`` ("fashion_mnist" or "mnist";
    epoch_00.pt = untrained), by epoch. Raises ValueError for another dataset."""
    if dataset not in PRETRAINED_DIRS:
        raise ValueError(_("no shipped network was trained on {dataset!r}; choose one of {choices}").format(
            dataset=dataset, choices=", ".join(PRETRAINED_DIRS)))
    return epoch_checkpoints(PRETRAINED_DIRS[dataset])


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
