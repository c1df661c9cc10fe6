"""Small file helpers shared by checkpoints, training runs and transfer results: atomic writes, JSON."""

from __future__ import annotations

import glob
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

__all__ = ["atomic_torch_save", "atomic_write", "atomic_write_text", "json_safe", "num_or_nan", "sweep_temp_files"]


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would race with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _temp_prefix(name: str, pid: int) -> str:
    return f".{name}.{pid}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: alive
    return True


LEGACY_TEMP_AGE_S = 600.0


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


def sweep_temp_files(folder: str | Path, name: str | None = None) -> list[Path]:
    """Delete the temp files that killed writers left in ``folder`` (of target ``name`` only, if given).

    ``atomic_write`` names its temp file ``.NAME.PID.RANDOM.tmp``; one whose process is gone (SIGKILL, a power
    cut) is stray and goes; a temp of a live process (this one included: another thread may be writing) stays.
    Returns the deleted paths.
    """
    folder = Path(folder)
    gone: list[Path] = []
    try:
        candidates = list(folder.glob(f".{glob.escape(name)}.*.tmp" if name else ".*.tmp"))
    except OSError:
        return gone
    for tmp in candidates:
        parts = tmp.name[:-len(".tmp")].rsplit(".", 2)  # [".NAME", "PID", "RANDOM"]
        if len(parts) == 3 and parts[1].isdigit():
            if _pid_alive(int(parts[1])):
                continue
        elif not _older_than(tmp, LEGACY_TEMP_AGE_S):  # written before temp names carried a process id
            continue
        try:
            tmp.unlink()
            gone.append(tmp)
        except OSError:
            pass
    return gone


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` through ``write(file)`` into a temp file beside it, then rename it into place.

    A run stopped mid-write never leaves a half-written file behind; the old file stays as it was. A process
    killed mid-write (SIGKILL) leaves its temp file, named after its process id: the next write of the same
    file, or ``sweep_temp_files`` of the folder, deletes it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_temp_files(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path.name, os.getpid()), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; these are ordinary, shareable files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    return atomic_write(path, lambda f: torch.save(obj, f))


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN/inf floats turned into None (JSON has no NaN), recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def num_or_nan(v: Any) -> float:
    """The inverse of ``json_safe`` for one number: None back to NaN."""
    return float("nan") if v is None else float(v)
