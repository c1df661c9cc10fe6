"""How training uses the CPU: running fits share its cores (``THREADS``), and ``bf16_fast`` says whether it
computes bfloat16 natively.

PyTorch's thread count belongs to the thread that sets it: ``torch.set_num_threads`` changes the OpenMP pool of
the calling thread (and the default of threads that start using PyTorch later), not the pools of other threads
already training. So the budget never sets threads for a fit: it keeps a generation number that changes whenever a
fit starts or ends, and each fit's own thread checks it once per step (``Lease.refresh``, an integer comparison)
and sets its own count when its share changed.
"""

from __future__ import annotations

import os
import threading

import torch

from ..i18n import _

__all__ = ["MACHINE_THREADS", "THREADS", "TRAIN_THREAD_NAME", "Lease", "bf16_fast", "bf16_slow_message", "cpu_capability", "name_os_thread"]

# PyTorch's threads when cnnviz is imported (the number of cores unless $OMP_NUM_THREADS says otherwise): what running
# fits share. Read once: torch.set_num_threads anywhere also changes the count that threads started later begin with.
MACHINE_THREADS = torch.get_num_threads()

# oneDNN instruction sets (ONEDNN_MAX_CPU_ISA) at or above which it computes bfloat16 natively
_BF16_ISAS = ("ALL", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10")


def cpu_capability() -> str:
    """The vector instructions PyTorch's own kernels use here: "AVX2", "AVX512", … (``ATEN_CPU_CAPABILITY`` may lower it)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # older torch
        return "unknown"


def bf16_fast() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX-512 BF16): then ``bf16=True`` trains faster.

    Without such a unit bfloat16 autocast trains about ten times *slower* than float32. The answer follows the
    hardware and what PyTorch is allowed to use of it (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``), so an
    AVX-512 machine told to behave like an AVX2 one answers False.
    """
    if not cpu_capability().upper().startswith("AVX512"):
        return False
    isa = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    if isa and not isa.startswith(_BF16_ISAS):
        return False
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except Exception:  # older torch or another platform: assume not
        return False


TRAIN_THREAD_NAME = "cnnviz-train"  # what ps, top and psutil call a training thread (and the OpenMP threads it starts)


def name_os_thread(name: str) -> bool:
    """Give the calling thread ``name`` (15 characters at most) in the operating system, where ps, top and psutil read
    it; threads it starts later (PyTorch's OpenMP workers) inherit it. Linux only; returns whether it was set. A
    benchmark tells a server's training threads from the ones that draw pages this way."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as f:
            f.write(name[:15])
        return True
    except OSError:
        return False


def bf16_slow_message() -> str:
    """The one line said when bfloat16 is asked for on a CPU that would run it about ten times slower."""
    return _("bfloat16 ignored: this CPU has no native bfloat16 unit ({cap}), where it trains about ten times slower; "
             "training in float32.").format(cap=cpu_capability())


class Lease:
    """One running fit's place in the budget. Its thread calls ``refresh()`` every step: when the number of fits
    running changed since the last call, it sets the thread count of *this* thread to its new share."""

    def __init__(self, budget: _ThreadBudget, cap: int | None) -> None:
        self._budget = budget
        self.cap = cap
        self.seen = -1  # the budget's generation this thread last applied
        self.threads_before = 0

    def refresh(self) -> None:
        if self.seen != self._budget.generation:  # the cheap check, done every step
            self._budget.apply(self)

    def __enter__(self) -> Lease:
        self.threads_before = torch.get_num_threads()
        self._budget.join(self)
        self.refresh()
        return self

    def __exit__(self, *exc: object) -> None:
        self._budget.leave(self)


class _ThreadBudget:
    """Running fits share the CPU: each gets cores // (number running) PyTorch threads (at least 1, at most its cap).

    ``with THREADS.lease(cap) as lease:`` around a fit, and ``lease.refresh()`` in its loop, in its own thread.
    """

    def __init__(self, cores: int | None = None) -> None:
        self._lock = threading.Lock()
        self._active: list[Lease] = []
        self._cores = cores
        self.generation = 0

    @property
    def cores(self) -> int:
        """The threads shared out: PyTorch's count when cnnviz was imported (``MACHINE_THREADS``; normally the number
        of cores). Not the count of the first fit's thread: a new thread takes the default that the last
        ``torch.set_num_threads`` anywhere left (a server's warm-up set 1 once, and every studio run trained on one
        thread)."""
        return self._cores or MACHINE_THREADS or os.cpu_count() or 1

    def lease(self, cap: int | None = None) -> Lease:
        return Lease(self, cap)

    def running(self) -> int:
        with self._lock:
            return len(self._active)

    def share(self, lease: Lease) -> int:
        with self._lock:
            return self._share(lease)

    def _share(self, lease: Lease) -> int:
        share = max(1, self.cores // max(1, len(self._active)))
        return max(1, min(share, lease.cap)) if lease.cap else share

    def join(self, lease: Lease) -> None:
        with self._lock:
            self._active.append(lease)
            self.generation += 1

    def apply(self, lease: Lease) -> None:
        """Set the calling thread's PyTorch threads to ``lease``'s share (called from the fit's own thread)."""
        with self._lock:
            lease.seen = self.generation
            wanted = self._share(lease)
            if torch.get_num_threads() != wanted:
                torch.set_num_threads(wanted)

    def leave(self, lease: Lease) -> None:
        """The fit ended: give its thread back its count (all cores when it was the last), tell the others."""
        with self._lock:
            if lease in self._active:
                self._active.remove(lease)
            self.generation += 1
            # set_num_threads also sets the default that threads starting PyTorch later pick up: the last fit to
            # leave puts back the whole machine, under the lock so that no other leaver overwrites it afterwards
            restore = self.cores if not self._active else (lease.threads_before or self.cores)
            if torch.get_num_threads() != restore:
                torch.set_num_threads(restore)


THREADS = _ThreadBudget()
