"""Where cnnviz's data lives on disk: the bundled assets, and the folder torchvision's datasets download into."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ASSETS", "DEFAULT_ROOT", "default_root"]

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_ROOT = Path(os.environ.get("CNNVIZ_DATA", Path.home() / ".cache" / "cnnviz" / "data"))


def default_root() -> Path:
    """The download folder: ``cnnviz.data.DEFAULT_ROOT`` ($CNNVIZ_DATA, else ~/.cache/cnnviz/data) as it stands now,
    read at every call, so that setting it on the package (as a notebook or a test may) takes effect everywhere."""
    from .. import data

    return data.DEFAULT_ROOT
