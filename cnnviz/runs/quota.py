"""How much disk one session's runs and saved comparisons may use on a shared server (``$CNNVIZ_RUNS_QUOTA``), and
the check before a run or a comparison starts: what it would save, against what is left."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..i18n import _

__all__ = ["DEFAULT_QUOTA", "QUOTA_ENV", "QuotaFull", "check_quota", "folder_bytes", "run_bytes", "runs_quota"]

QUOTA_ENV = "CNNVIZ_RUNS_QUOTA"
DEFAULT_QUOTA = 500 * 1024**2  # 30 students: 15 GB at most; a 10-epoch SimpleConvNet run saves about 25 MB
MAX_ENTRIES = 100_000  # a folder count never walks more entries than this (a session has a few hundred)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class QuotaFull(ValueError):
    """A session's runs would use more disk than the server allows it; the message says how much and what to do."""


def runs_quota(environ: Mapping[str, str] | None = None) -> int | None:
    """Bytes one session's runs and comparisons may use: ``$CNNVIZ_RUNS_QUOTA`` ("500M", "2G", bytes; "0" or "none"
    for no limit), else DEFAULT_QUOTA. A value that cannot be read keeps the default."""
    text = (os.environ if environ is None else environ).get(QUOTA_ENV, "").strip().upper()
    if text in ("0", "NONE", "OFF"):
        return None
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)I?B?", text)
    if not found:
        return DEFAULT_QUOTA
    return max(1, int(float(found.group(1)) * _UNITS[found.group(2)]))


def folder_bytes(folder: str | Path) -> int:
    """The bytes of every file under ``folder`` (links are not followed; at most MAX_ENTRIES entries are looked at,
    so a count never walks a whole disk). 0 when there is no folder."""
    total, seen, todo = 0, 0, [str(folder)]
    while todo and seen < MAX_ENTRIES:
        try:
            with os.scandir(todo.pop()) as entries:
                for entry in entries:
                    seen += 1
                    if seen > MAX_ENTRIES:
                        break
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            todo.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def run_bytes(parameters: int, epochs: int) -> int:
    """About what a training run saves: a checkpoint per epoch and the initial one (4 bytes a weight) and the
    trainer's state (weights and Adam's two moments), plus its small JSON files."""
    return 4 * int(parameters) * (int(epochs) + 1 + 3) + 256 * 1024


def check_quota(folder: str | Path, *, adding: int = 0, quota: int | None = None) -> None:
    """Raises QuotaFull when ``folder`` (a session's runs) already uses ``quota`` bytes, or would with ``adding``
    more. ``quota`` None: no limit."""
    if quota is None:
        return
    used = folder_bytes(folder)
    if used + max(0, int(adding)) <= quota:
        return
    mb = lambda n: max(0, n) / 1024**2  # noqa: E731
    if used >= quota:
        raise QuotaFull(_("Your runs and saved comparisons already use {used:,.0f} MB of the {quota:,.0f} MB each "
                          "student may keep on this server. Delete some on Compare runs or Saved comparisons first."
                          ).format(used=mb(used), quota=mb(quota)))
    raise QuotaFull(_("This run would save about {adding:,.0f} MB, and only {left:,.0f} MB of the {quota:,.0f} MB each "
                      "student may keep on this server are left. Train fewer epochs or a smaller model, or delete "
                      "runs on Compare runs first.").format(adding=mb(adding), left=mb(quota - used), quota=mb(quota)))
