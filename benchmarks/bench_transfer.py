"""What each transfer strategy costs per training step, and what it buys with few labels.

    .venv/bin/python benchmarks/bench_transfer.py [--repeat 5] [--accuracy]

1. Training throughput (images/s, one fit-like step = forward + backward + Adam) of each strategy for
   the project's CNN at 28×28 and for ResNet-18 / VGG16 at 32×32, as a ratio to "fine-tune everything"
   measured in the same run (a frozen base needs no backward pass through it). Random weights: speed
   does not depend on them.
2. EfficientNet-Lite0 (ImageNet weights, bundled) on Fashion-MNIST at 64×64: seconds per epoch of the frozen
   strategy (a head trained on features computed once) against fine-tuning everything, measured in one run.
   ``--labels``: test accuracy of each strategy with 5, 20 and 100 labels per class at the same budget.
3. ``--accuracy``: the offline held-out comparison (source pretrained here on Fashion-MNIST classes 0-4,
   target classes 5-9) with 5 and 50 labels per class, 10 epochs, batch 16: final test accuracy per strategy.
   Takes a few minutes the first time (the source is pretrained once and cached under the runs folder).
4. ``--mnist`` (only this): the shipped Fashion-MNIST CNN to MNIST's digits (clothes to handwriting) with 5, 20 and
   100 labels per class, at the Compare strategies page's defaults (10 epochs, Adam 1e-3, batch 16, 100 test images
   per class, seed 0): final test accuracy of each strategy.
On a shared 2-core machine compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from cnnviz import transfer  # noqa: E402


def step_timer(arch: str, strategy: str, shape: tuple[int, int, int], batch: int):
    """A function doing one training step of ``strategy`` (forward, backward, Adam) and returning its seconds."""
    model = transfer.build_transfer_model(arch, strategy, num_classes=10, input_shape=shape)
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))

    def step() -> float:
        t = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - t

    step()  # warm up
    return step


def throughputs(arch: str, shape: tuple[int, int, int], *, batch: int, repeat: int) -> dict[str, float]:
    """Images/s per strategy; the strategies take turns in each round so that machine load hits them alike."""
    steps = {s: step_timer(arch, s, shape, batch) for s in transfer.STRATEGIES}
    times: dict[str, list[float]] = {s: [] for s in steps}
    for _ in range(repeat):
        for s, step in steps.items():
            times[s].append(step())
    return {s: batch / statistics.median(t) for s, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--accuracy", action="store_true")
    ap.add_argument("--labels", action="store_true", help="EfficientNet-Lite0 with 5, 20 and 100 labels per class")
    ap.add_argument("--mnist", action="store_true", help="only: the shipped CNN to MNIST with 5, 20 and 100 labels")
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"threads: {torch.get_num_threads()}")
    if args.mnist:
        print("shipped Fashion-MNIST CNN → MNIST digits 28×28, 10 epochs, Adam 1e-3, batch 16, 100 test images/class")
        for shots in (5, 20, 100):
            config = transfer.ComparisonConfig(source="shipped_cnn", target="mnist", shots=shots, epochs=10,
                                               batch_size=16, test_per_class=100)
            t = time.perf_counter()
            result = transfer.run_comparison(config)
            row = "  ".join(f"{r.title}: {r.final_acc:.1%}" for r in result.runs)
            print(f"{shots:>3} labels/class ({time.perf_counter() - t:.0f} s): {row}", flush=True)
        return
    print(f"{'backbone':<14}{'strategy':<30}{'images/s':>10}{'× full':>9}")
    for arch, shape, batch in (("mnist_cnn", (1, 28, 28), 64), ("resnet18", (3, 32, 32), 32), ("vgg16", (3, 32, 32), 16)):
        speeds = throughputs(arch, shape, batch=batch, repeat=args.repeat)
        for s, v in speeds.items():
            print(f"{arch:<14}{transfer.STRATEGIES[s].title:<30}{v:>10.0f}{v / speeds['full']:>9.2f}")
    lite = dict(source="efficientnet_lite0", target="fashion_mnist", epochs=4, batch_size=32, lr=1e-3,
                image_size=64, test_per_class=50)
    result = transfer.run_comparison(transfer.ComparisonConfig(strategies=("frozen", "full"), shots=20, **lite))
    per_epoch = {}
    for run in result.runs:  # epochs 2..n: the frozen strategy's first epoch also pays for computing the features
        later = [b.elapsed_s - a.elapsed_s for a, b in zip(run.epochs, run.epochs[1:])]
        per_epoch[run.strategy] = statistics.median(later)
    first = result.runs[0].epochs[0].elapsed_s
    print(f"\nEfficientNet-Lite0 → Fashion-MNIST 64×64, 20 labels/class (200 images), batch 32: seconds per epoch "
          f"frozen {per_epoch['frozen']:.4f} vs full fine-tuning {per_epoch['full']:.3f}: "
          f"{per_epoch['full'] / per_epoch['frozen']:.0f}× faster per epoch (budget 20×); "
          f"computing the features once: {first:.2f} s")
    if args.labels:
        print("\nEfficientNet-Lite0 → Fashion-MNIST 64×64, 8 epochs, Adam 1e-3, batch 32, 100 test images/class")
        for shots in (5, 20, 100):
            config = transfer.ComparisonConfig(shots=shots, **{**lite, "epochs": 8, "test_per_class": 100})
            t = time.perf_counter()
            result = transfer.run_comparison(config)
            row = "  ".join(f"{r.title}: {r.final_acc:.1%}" for r in result.runs)
            print(f"{shots:>3} labels/class ({time.perf_counter() - t:.0f} s): {row}")
    if args.accuracy:
        print("\nheld-out Fashion-MNIST classes 5-9, source pretrained on 0-4; 10 epochs, Adam 1e-3, batch 16")
        for shots in (5, 50):
            config = transfer.ComparisonConfig(shots=shots, epochs=10, batch_size=16, test_per_class=200)
            t = time.perf_counter()
            result = transfer.run_comparison(config)
            row = "  ".join(f"{r.title}: {r.final_acc:.1%}" for r in result.runs)
            print(f"{shots:>3} labels/class ({time.perf_counter() - t:.0f} s): {row}")


if __name__ == "__main__":
    main()
