"""An honest training ceiling: what this CPU can compute per second, measured the way fit computes (oneDNN) and from
its specification (frequency × vector width × FMA units × cores), for float32 and bfloat16.

PyTorch's plain ``torch.mm`` goes through MKL or OpenBLAS, which on some CPUs (AMD's) does not use AVX-512 where
oneDNN, which runs the convolutions, does: a matrix-product ceiling alone can read lower than fit's own rate.

    python benchmarks/ceiling.py          # prints every ceiling with the CPU capability
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

__all__ = ["Spec", "cpu_spec", "implied_ghz", "measure", "onednn_conv", "onednn_linear", "peak_gflops", "plain_matmul"]


@dataclass(frozen=True)
class Spec:
    """What the CPU's specification says: clock (GHz, the highest known), fp32 lanes of the widest vector oneDNN may
    use, fused multiply-add units per core at that width, cores, whether it has a native bfloat16 dot product."""

    ghz: float
    fp32_lanes: int
    fma_units: int
    cores: int
    bf16_dot: bool
    vendor: str


def peak_gflops(spec: Spec, dtype: torch.dtype = torch.float32) -> float:
    """Theoretical peak GFLOP/s: GHz × lanes × 2 (a multiply and an add per FMA) × FMA units × cores; bfloat16's dot
    product (VDPBF16PS) does two multiply-adds per fp32 lane, so twice that where the CPU has it."""
    per_cycle = spec.fp32_lanes * 2 * spec.fma_units
    if dtype == torch.bfloat16 and spec.bf16_dot:
        per_cycle *= 2
    return spec.ghz * per_cycle * spec.cores


def cpu_spec(cpuinfo: str | None = None, isa_limit: str | None = None, cores: int | None = None) -> Spec:
    """Read ``/proc/cpuinfo`` (or ``cpuinfo``): vendor, flags, clock. ``isa_limit`` is $ONEDNN_MAX_CPU_ISA (AVX2 caps
    the width at 256 bits). FMA units: two at the widest width, except AMD before Zen 5, whose AVX-512 runs on two
    256-bit units (the same FLOPs per cycle as AVX2)."""
    text = cpuinfo if cpuinfo is not None else Path("/proc/cpuinfo").read_text()
    isa_limit = (isa_limit if isa_limit is not None else os.environ.get("ONEDNN_MAX_CPU_ISA", "")).upper()
    flags = set((re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE) or [None, ""])[1].split())
    vendor = (re.search(r"^vendor_id\s*:\s*(\S+)", text, re.MULTILINE) or [None, "?"])[1]
    family = int((re.search(r"^cpu family\s*:\s*(\d+)", text, re.MULTILINE) or [None, "0"])[1])
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", text, re.MULTILINE)]
    avx512 = "avx512f" in flags and not isa_limit.startswith("AVX2")
    lanes = 16 if avx512 else 8 if "avx2" in flags else 4
    units = 2
    if avx512 and vendor == "AuthenticAMD" and family < 0x1A:  # Zen 4 (family 0x19): 512 bits as 2 × 256
        units = 1
    bf16 = "avx512_bf16" in flags and avx512
    return Spec(ghz=max(mhz, default=0.0) / 1000, fp32_lanes=lanes, fma_units=units,
                cores=cores if cores is not None else (os.cpu_count() or 1), bf16_dot=bf16, vendor=vendor)


def implied_ghz(spec: Spec, gflops: float, dtype: torch.dtype = torch.float32) -> float:
    """The clock at which the spec's peak would equal ``gflops`` measured: above the reported clock, the CPU boosts
    (a virtual machine reports its base clock) or does more per cycle than assumed."""
    return gflops / (peak_gflops(spec, dtype) / spec.ghz) if spec.ghz else float("nan")


def measure(fn, flops: float, repeats: int = 8) -> float:
    """Best GFLOP/s of ``fn()`` (which computes ``flops``) over ``repeats`` tries, after two warm-up calls."""
    fn()
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return flops / best / 1e9


def plain_matmul(size: int = 2048, dtype: torch.dtype = torch.float32) -> float:
    """``torch.mm`` of two size×size matrices (MKL/OpenBLAS for float32)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    return measure(lambda: torch.mm(a, b), 2 * size**3)


def onednn_conv(dtype: torch.dtype = torch.float32, n: int = 16, c: int = 256, hw: int = 28) -> float:
    """A large 3×3 convolution, channels-last, as fit runs them (oneDNN)."""
    x = torch.randn(n, c, hw, hw, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(c, c, 3, 3, dtype=dtype).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        return measure(lambda: F.conv2d(x, w, padding=1), 2 * n * c * c * 9 * hw * hw)


def onednn_linear(size: int = 2048, dtype: torch.dtype = torch.float32) -> float:
    """A size×size matrix product through oneDNN (``torch.backends.mkldnn``'s inner product)."""
    x, w = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    if dtype == torch.float32:
        xm, wm = x.to_mkldnn(), w.to_mkldnn()
        return measure(lambda: torch._C._nn.mkldnn_linear(xm, wm, None), 2 * size**3)
    return measure(lambda: F.linear(x, w), 2 * size**3)  # bfloat16 matmuls go through oneDNN already


def main() -> None:
    spec = cpu_spec()
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, load "
          f"{os.getloadavg()[0]:.2f}; spec: {spec}")
    print(f"theoretical fp32 {peak_gflops(spec):.0f} GFLOP/s, bf16 {peak_gflops(spec, torch.bfloat16):.0f} GFLOP/s")
    conv = onednn_conv()
    print(f"torch.mm fp32 {plain_matmul():.0f}, oneDNN linear fp32 {onednn_linear():.0f}, oneDNN 3×3 conv fp32 "
          f"{conv:.0f} GFLOP/s (the spec's peak at {implied_ghz(spec, conv):.2f} GHz)")
    if spec.bf16_dot:
        print(f"oneDNN linear bf16 {onednn_linear(dtype=torch.bfloat16):.0f}, oneDNN 3×3 conv bf16 "
              f"{onednn_conv(torch.bfloat16):.0f} GFLOP/s")


if __name__ == "__main__":
    main()
