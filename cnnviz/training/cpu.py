"""How training uses the CPU: running fits share its cores (``THREADS``), and ``bf16_fast`` says whether it
computes bfloat16 natively."""

from __future__ import annotations

import os
import threading

import torch

__all__ = ["THREADS", "bf16_fast"]


def bf16_fast() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX-512 BF16): then ``bf16=True`` trains much faster."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except Exception:  # older torch or another platform: assume not
        return False


class _ThreadBudget:
    """Running fits share the CPU: each gets cores // (number running) PyTorch threads (at least 1).

    PyTorch's thread count is one per process here, so the budget is set process-wide whenever a
    fit starts or ends, and restored when none runs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, int | None] = {}
        self._original: int | None = None

    def enter(self, key: int, threads: int | None) -> None:
        with self._lock:
            if not self._active:
                self._original = torch.get_num_threads()
            self._active[key] = threads
            self._apply()

    def leave(self, key: int) -> None:
        with self._lock:
            self._active.pop(key, None)
            if not self._active and self._original is not None:
                torch.set_num_threads(self._original)
            elif self._active:
                self._apply()

    def running(self) -> int:
        with self._lock:
            return len(self._active)

    def _apply(self) -> None:
        cores = self._original or os.cpu_count() or 1
        share = max(1, cores // len(self._active))
        wanted = [t for t in self._active.values() if t]
        torch.set_num_threads(max(1, min([share, *wanted])) if wanted else share)


THREADS = _ThreadBudget()
