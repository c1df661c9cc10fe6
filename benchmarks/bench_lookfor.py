"""What a filter looks for, timed on the CPU against the issue's budget.

    .venv/bin/python benchmarks/bench_lookfor.py [--layers blocks.1 blocks.3 blocks.6] [--channel 3] [--repeat 2]

For the bundled ImageNet network (EfficientNet-Lite0) at the page's settings (128×128, 96 steps, the whole map as
objective, Fourier image, decorrelated colours, jitter/scale/rotation): one channel's optimized input, budget 10 s on
2 cores. Also the index of the bundled photos (once per layer), the Fashion-MNIST CNN's channel (28×28, 128 steps)
and the page's layer-by-layer row. Each time is also given as a ratio to 96 plain forward+backward passes of the same
network at the same size, measured in the same run: on a shared 2-core machine the ratio is stable, the absolute
numbers swing up to 2× (and far more when other programs keep the cores busy: then the CPU seconds on one thread,
also printed, are the steadier figure). Prints the optimized input's activation next to the best photo patch's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz import capture, cards, lookfor  # noqa: E402

BUDGET_S = 10.0


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def cpu_seconds(fn) -> float:
    """CPU seconds ``fn`` takes (run it on ONE thread: then the figure barely moves with other programs on the
    machine, unlike wall time: with two threads on a machine whose cores are busy, PyTorch's threads wait on each
    other)."""
    t = time.process_time()
    fn()
    return time.process_time() - t


def baseline(model, size: int, steps: int) -> float:
    """Seconds for ``steps`` plain forward+backward passes of the whole network on one image (a floor)."""
    x = torch.randn(1, 3, size, size, requires_grad=True)
    t = time.perf_counter()
    for _ in range(steps):
        model(x).sum().backward()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", nargs="+", default=["blocks.1", "blocks.3", "blocks.6"])
    ap.add_argument("--channel", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads\n")

    model = cnnviz.load_imagenet_model("efficientnet_lite0", download=False)
    card = cards.card_for_imagenet("efficientnet_lite0")
    settings = lookfor.default_settings(card.input_shape)
    size, steps = settings["input_shape"][1], settings["steps"]
    photos = lookfor.photo_set(list(cnnviz.sample_images().values()), channels=3)
    worst = 0.0
    print(f"EfficientNet-Lite0, one channel at {size}×{size}, {steps} steps (objective: {settings['objective']}); "
          f"budget {BUDGET_S:.0f} s")
    for layer in args.layers:
        index, t_index = timed(lambda: lookfor.index_layer(model, layer, photos, mean=card.mean, std=card.std))
        times, ratios = [], []
        for r in range(args.repeat):
            vis, t = timed(lambda: lookfor.visualize_channel(model, layer, args.channel, mean=card.mean,
                                                             std=card.std, seed=r, **settings))
            floor = baseline(lookfor.layers.private_copy(model), size, steps)
            times.append(t)
            ratios.append(t / floor)
        t = statistics.median(times)
        cpu = cpu_seconds(lambda: lookfor.visualize_channel(model, layer, args.channel, mean=card.mean,
                                                            std=card.std, threads=1, **settings))
        worst = max(worst, t)
        print(f"  {layer:9s} channel {args.channel}: {t:5.2f} s on {torch.get_num_threads()} threads "
              f"({statistics.median(ratios):.2f}× {steps} full forward+backward passes), {cpu:5.2f} CPU-s on one "
              f"thread — optimized input {vis.activation:8.3f} vs best photo patch {index.best(args.channel):8.3f} "
              f"({len(photos)} photo sizes indexed in {t_index:.2f} s)")

    row_settings = lookfor.default_settings(card.input_shape, quick=True)
    stages = capture.overview_layers(model)
    stages = [stages[0], stages[len(stages) // 2], stages[-1]]
    picks = lookfor.stage_row(model, stages, count=5, input_shape=card.input_shape)
    _, t_row = timed(lambda: [lookfor.visualize_channels(model, s, picks[s], mean=card.mean, std=card.std,
                                                         **row_settings) for s in stages])
    print(f"  the page's row ({', '.join(stages)}; 5 channels each, {row_settings['input_shape'][1]} px, "
          f"{row_settings['steps']} steps): {t_row:.1f} s")

    from cnnviz.training import pretrained_checkpoints

    ckpt = cnnviz.load_checkpoint(pretrained_checkpoints()[-1])
    small, small_card = cnnviz.model_from_checkpoint(ckpt).eval(), cards.card_for_checkpoint(ckpt)
    test = cnnviz.load_fashion_mnist(train=False)
    images = lookfor.image_set("fashion", test.images, whole_images=True)
    index, t_index = timed(lambda: lookfor.index_layer(small, "features.3", images, mean=small_card.mean,
                                                       std=small_card.std))
    vis, t = timed(lambda: lookfor.visualize_channel(small, "features.3", 5, mean=small_card.mean,
                                                     std=small_card.std, **lookfor.default_settings((1, 28, 28))))
    print(f"\nFashion-MNIST CNN features.3 channel 5: index of 10,000 test images {t_index:.2f} s; optimized input "
          f"{t:.2f} s — activation {vis.activation:.3f} vs best test image {index.best(5):.3f}")
    print(f"\nslowest ImageNet channel {worst:.2f} s: {'within' if worst <= BUDGET_S else 'OVER'} the {BUDGET_S:.0f} s "
          f"budget (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: a loaded machine slows "
          "the two-thread figure, the one-thread CPU seconds much less)")


if __name__ == "__main__":
    main()
