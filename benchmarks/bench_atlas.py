"""The channel atlas, timed: every channel of a middle stage of EfficientNet-Lite0, one at a time against batched.

    .venv/bin/python benchmarks/bench_atlas.py [--layer blocks.3] [--single 3] [--batch 20] [--no-bf16]

At the page's default settings for the bundled ImageNet network (128×128, 96 steps, the whole map as objective,
Fourier image, decorrelated colours, jitter/scale/rotation). "One at a time" optimizes ``--single`` channels each on
its own (as the page's button does) and gives channels per second; "batched" optimizes all the layer's channels
(80 for blocks.3) in batches of ``--batch`` images, one forward and one backward pass per step for a whole batch, as
the atlas does, in fp32 and, where the CPU has a bfloat16 unit, in bfloat16 autocast too. Budget: the whole layer
in 2 minutes on 2 cores. Prints the CPU capability (torch.backends.cpu.get_cpu_capability()), the threads, the load
average (on a shared machine the wall times swing; the ratio of the two speeds measured in one run is steadier).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz import cards, lookfor  # noqa: E402
from cnnviz.lookfor.atlas import ATLAS_BATCH  # noqa: E402
from cnnviz.training.cpu import bf16_fast  # noqa: E402

BUDGET_S = 120.0


def batched(model, card, layer: str, channels: int, batch: int, settings: dict, bf16: bool,
            threads: int | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for every channel of ``layer`` in batches of ``batch``."""
    t, c = time.perf_counter(), time.process_time()
    for i in range(0, channels, batch):
        lookfor.visualize_channels(model, layer, list(range(i, min(channels, i + batch))), mean=card.mean,
                                   std=card.std, bf16=bf16, threads=threads, **settings)
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer", default="blocks.3")
    ap.add_argument("--single", type=int, default=3, help="channels timed one at a time")
    ap.add_argument("--batch", type=int, default=ATLAS_BATCH)
    ap.add_argument("--no-bf16", action="store_true", help="skip the bfloat16 run even on a CPU with a bf16 unit")
    ap.add_argument("--threads", type=int, default=None,
                    help="PyTorch threads (default: all cores; 1 gives steadier figures on a busy machine)")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{args.threads or torch.get_num_threads()} threads, bf16 unit: {'yes' if bf16_fast() else 'no'}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    model = cnnviz.load_imagenet_model("efficientnet_lite0", download=False)
    card = cards.card_for_imagenet("efficientnet_lite0")
    settings = lookfor.default_settings(card.input_shape)
    size, steps = settings["input_shape"][1], settings["steps"]
    channels = lookfor.channel_count(model, args.layer, card.input_shape)
    print(f"EfficientNet-Lite0 {args.layer}: {channels} channels at {size}×{size}, {steps} steps")

    t, c = time.perf_counter(), time.process_time()
    for ch in range(args.single):
        lookfor.visualize_channel(model, args.layer, ch, mean=card.mean, std=card.std, threads=args.threads,
                                  **settings)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    one = args.single / wall
    one_cpu = cpu / args.single
    print(f"  one at a time: {one:.3f} channels/s ({wall / args.single:.2f} s, {one_cpu:.2f} CPU-s a "
          f"channel; the whole layer would take {channels / one:.0f} s)", flush=True)
    results = {}
    for bf16 in ([False, True] if bf16_fast() and not args.no_bf16 else [False]):
        wall, cpu = batched(model, card, args.layer, channels, args.batch, settings, bf16, args.threads)
        results[bf16] = wall
        name = "bfloat16" if bf16 else "fp32"
        print(f"  batched ({args.batch} a batch, {name}): {channels / wall:.3f} channels/s, the whole layer in "
              f"{wall:.1f} s ({cpu:.0f} CPU-s: {cpu / channels:.2f} a channel), {channels / wall / one:.1f}× one at a "
              f"time ({one_cpu * channels / cpu:.1f}× in CPU-s)", flush=True)
    best = min(results.values())
    print(f"\nthe atlas of {args.layer} in {best:.1f} s: {'within' if best <= BUDGET_S else 'OVER'} the "
          f"{BUDGET_S:.0f} s budget (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
