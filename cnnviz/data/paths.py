"""Where cnnviz's data lives on disk: the bundled assets, and the folder torchvision's datasets download into.

``DEFAULT_ROOT`` is read from this module at every use (``paths.DEFAULT_ROOT``, never a copy), so setting it here
moves the download folder for every reader."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ASSETS", "DEFAULT_ROOT", "shown_path"]

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_ROOT = Path(os.environ.get("CNNVIZ_DATA", Path.home() / ".cache" / "cnnviz" / "data"))


def shown_path(path: str | Path) -> str:
    """A folder as a message may name it: inside the home folder as ``~/…`` (no user name or server layout)."""
    path = Path(path).expanduser()
    try:
        return str(Path("~") / path.resolve().relative_to(Path.home().resolve()))
    except (ValueError, RuntimeError, OSError):
        return str(path)
