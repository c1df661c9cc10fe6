"""Comparison results (frozen dataclasses, JSON round trip) and saving / reopening them under the runs folder.

A comparison has a folder of its own from the moment it is started: ``<runs>/transfer/<time>-<source>-<target>/``
with ``comparison.json`` (its settings and the results so far, rewritten as it goes; status "queued", "running",
then "finished", "stopped" or "failed") and, while a process trains it, a held lock file. One whose file still
says "running" but that no process holds was interrupted (the server stopped): ``comparison_state`` says so."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..files import atomic_write_text, json_safe, num_or_nan
from ..i18n import N_, _
from ..runs import runs_root
from ..training.job import run_is_live
from ..training.records import EpochRecord, status_label
from .config import SHORT_NAMES, ComparisonConfig
from .params import LayerChange, ParamCounts
from .strategies import STRATEGIES


@dataclass(frozen=True)
class StrategyResult:
    strategy: str
    status: str  # finished, stopped, failed
    message: str
    epochs: tuple[EpochRecord, ...]
    counts: ParamCounts
    changes: tuple[LayerChange, ...] = ()
    initial_test_acc: float = float("nan")

    @property
    def title(self) -> str:
        return _(STRATEGIES[self.strategy].title) if self.strategy in STRATEGIES else self.strategy

    @property
    def final_acc(self) -> float:
        return self.epochs[-1].test_acc if self.epochs else float("nan")

    @property
    def best_acc(self) -> float:
        return max((e.test_acc for e in self.epochs), default=float("nan"))

    @property
    def elapsed_s(self) -> float:
        return self.epochs[-1].elapsed_s if self.epochs else 0.0


@dataclass(frozen=True)
class ComparisonResult:
    config: ComparisonConfig
    runs: tuple[StrategyResult, ...]
    classes: tuple[str, ...]
    train_size: int
    test_size: int
    source_info: str
    status: str  # queued, running (while it trains), finished, stopped, failed
    message: str = ""
    created: str = ""
    path: str | None = None  # where it was saved

    @property
    def title(self) -> str:
        c = self.config
        source, target = _(SHORT_NAMES.get(c.source, c.source)), _(SHORT_NAMES.get(c.target, c.target))
        shots = _("all") if not c.shots else str(c.shots)
        return _("{source} → {target}, {shots} per class, {epochs} epochs").format(
            source=source, target=target, shots=shots, epochs=c.epochs)

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "format": "cnnviz-transfer-1",
            "config": self.config.to_dict(),
            "runs": [{"strategy": r.strategy, "status": r.status, "message": r.message,
                      "epochs": [asdict(e) for e in r.epochs], "counts": asdict(r.counts),
                      "changes": [asdict(ch) for ch in r.changes], "initial_test_acc": r.initial_test_acc}
                     for r in self.runs],
            "classes": list(self.classes), "train_size": self.train_size, "test_size": self.test_size,
            "source_info": self.source_info, "status": self.status, "message": self.message, "created": self.created,
        })

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, path: str | None = None) -> ComparisonResult:
        """Rebuild a result from ``to_dict()``'s output. Raises ``ValueError`` if it is not one."""
        if not isinstance(d, dict) or d.get("format") != "cnnviz-transfer-1":
            raise ValueError(_("not a cnnviz transfer-learning comparison (format cnnviz-transfer-1)"))
        try:
            runs = tuple(StrategyResult(
                r["strategy"], r["status"], r.get("message", ""),
                tuple(EpochRecord.from_dict(e) for e in r["epochs"]),
                ParamCounts(int(r["counts"]["total"]), int(r["counts"]["trainable"])),
                tuple(LayerChange(ch["name"], ch["kind"], int(ch["params"]), num_or_nan(ch["relative"]), bool(ch["trainable"]))
                      for ch in r.get("changes", ())),
                num_or_nan(r.get("initial_test_acc"))) for r in d["runs"])
            return cls(ComparisonConfig.from_dict(d["config"]), runs, tuple(d["classes"]), int(d["train_size"]),
                       int(d["test_size"]), d.get("source_info", ""), d["status"], d.get("message", ""),
                       d.get("created", ""), path)
        except (KeyError, TypeError, ValueError):
            raise ValueError(_("the comparison file is damaged: its values are not of the kinds a comparison holds")
                             ) from None


ROW_LABELS = {"strategy": N_("strategy"), "status": N_("status"), "total params": N_("total params"),
              "trainable": N_("trainable"), "frozen": N_("frozen"), "trainable %": N_("trainable %"),
              "test acc. before": N_("test acc. before"), "test acc. final": N_("test acc. final"),
              "test acc. best": N_("test acc. best"), "time (s)": N_("time (s)")}
PERCENT_COLUMNS = ("test acc. before", "test acc. final", "test acc. best")
COUNT_COLUMNS = ("total params", "trainable", "frozen")


def labelled_rows(result: ComparisonResult) -> list[dict[str, Any]]:
    """``result_rows`` with the column names and statuses in the reader's language, the status second (a wide
    table must never hide it at its right edge)."""
    out = []
    interrupted = comparison_state(result) == "interrupted"  # its strategy under way stopped with the server
    for row in result_rows(result):
        row = {"strategy": row["strategy"], "status": row["status"], **row}
        row["status"] = status_label("interrupted" if interrupted and row["status"] == "running" else row["status"])
        out.append({_(ROW_LABELS[k]): v for k, v in row.items()})
    return out


def result_rows(result: ComparisonResult) -> list[dict[str, Any]]:
    """One plain row per strategy: parameters (total/trainable/frozen), accuracy before/after, time."""
    return [{"strategy": r.title, "total params": r.counts.total, "trainable": r.counts.trainable,
             "frozen": r.counts.frozen, "trainable %": round(100 * r.counts.trainable / max(r.counts.total, 1), 2),
             "test acc. before": r.initial_test_acc, "test acc. final": r.final_acc, "test acc. best": r.best_acc,
             "time (s)": round(r.elapsed_s, 1), "status": r.status} for r in result.runs]


COMPARISON_FILE = "comparison.json"


def _comparisons_dir(root: str | Path | None) -> Path:
    return (Path(root) if root is not None else runs_root()) / "transfer"


def now_stamp() -> str:
    """The time a comparison is created, as its file records it (UTC, e.g. 2026-11-22T07:15:02Z)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_comparison_folder(config: ComparisonConfig, created: str, *, root: str | Path | None = None,
                          name: str | None = None) -> Path:
    """Create a new, empty folder for a comparison: ``<root>/transfer/<time>-<source>-<target>`` (``~2``, ``~3`` …
    when that name is taken); returns it."""
    slug = name or f"{re.sub(r'[^0-9]', '', created)[:14]}-{config.source}-{config.target}"
    folder = _comparisons_dir(root) / re.sub(r"[^A-Za-z0-9_.-]", "_", slug)
    folder.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
            folder = folder.with_name(f"{folder.name.rsplit('~', 1)[0]}~{n}")


def write_comparison(result: ComparisonResult, folder: str | Path) -> Path:
    """Write ``result`` as ``folder``/comparison.json (atomically: a reader never sees half a file); returns the path."""
    return atomic_write_text(Path(folder) / COMPARISON_FILE, json.dumps(result.to_dict(), indent=1))


def save_comparison(result: ComparisonResult, *, root: str | Path | None = None, name: str | None = None) -> Path:
    """Write ``result`` as ``<runs>/transfer/<time>-<source>-<target>/comparison.json`` (atomically); returns the path."""
    created = result.created or now_stamp()
    return write_comparison(result, new_comparison_folder(result.config, created, root=root, name=name))


def comparison_state(result: ComparisonResult) -> str:
    """What a saved comparison is doing: its file's status, except that one whose file says "running" or "queued"
    but that no process holds any more (the server stopped or crashed) is "interrupted"."""
    if result.status in ("running", "queued") and result.path and not run_is_live(Path(result.path).parent):
        return "interrupted"
    return result.status


def load_comparison(path: str | Path) -> ComparisonResult:
    """Reopen a saved comparison (a comparison.json or its folder). Raises ``ValueError`` if unreadable."""
    path = Path(path)
    if path.is_dir():
        path = path / "comparison.json"
    try:
        if path.stat().st_size > MAX_COMPARISON_BYTES:
            raise ValueError(_("the comparison file is far larger than a comparison can be"))
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, cut short, not JSON, nested too deep
        raise ValueError(_("the comparison file cannot be read, or is cut short")) from None
    try:
        return _checked(ComparisonResult.from_dict(d, path=str(path)))
    except ValueError:
        raise
    except Exception:  # noqa: BLE001 - a list where a dict belongs, and the like: one sentence, never a traceback
        raise ValueError(_("the comparison file is damaged: its values are not of the kinds a comparison holds")
                         ) from None


MAX_COMPARISON_BYTES = 16 * 1024 * 1024


def _checked(result: ComparisonResult) -> ComparisonResult:
    """``result`` if the values the pages draw are of the right kinds (a damaged file can hold anything)."""
    texts = (result.status, result.message, result.created, result.source_info, *result.classes,
             result.config.source, result.config.target, result.config.arch)
    numbers = (result.config.epochs, result.config.image_size, result.train_size, result.test_size)
    if (not all(isinstance(t, str) for t in texts) or not all(isinstance(n, int) and not isinstance(n, bool)
                                                             for n in numbers)
            or not (result.config.shots is None or isinstance(result.config.shots, int))
            or not all(isinstance(r.strategy, str) and isinstance(r.status, str) and isinstance(r.message, str)
                       for r in result.runs)):
        raise ValueError(_("the comparison file is damaged: its values are not of the kinds a comparison holds"))
    return result


def delete_comparison(path: str | Path, *, root: str | Path) -> None:
    """Delete a saved comparison (its folder), which must be one of ``list_comparisons(root=root)`` and not running.
    Raises ValueError otherwise, and when the disk refuses."""
    path = Path(path)
    folder = path.parent if path.name == "comparison.json" else path
    if folder.is_symlink() or folder.resolve().parent != _comparisons_dir(root).resolve():
        raise ValueError(_("{name} is not a saved comparison of this session").format(name=folder.name))
    if run_is_live(folder):  # its job still writes there
        raise ValueError(_("{name} is still running: stop it on *Compare strategies* first").format(name=folder.name))
    try:
        shutil.rmtree(folder.resolve())
    except OSError:  # its text names the server's paths: a sentence instead
        raise ValueError(_("the server would not remove all of its files (ask the teacher to look at the runs "
                           "folder)")) from None


def list_comparisons(*, root: str | Path | None = None, everywhere: bool = False) -> list[Path]:
    """Saved comparison files under ``root/transfer`` (``everywhere``: anywhere under ``root``), newest first."""
    base = Path(root) if root is not None else runs_root()
    if not base.is_dir():
        return []
    found = base.rglob("comparison.json") if everywhere else _comparisons_dir(base).glob("*/comparison.json")

    def modified(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:  # deleted meanwhile
            return 0.0

    return sorted((p for p in found if p.is_file()), key=modified, reverse=True)
