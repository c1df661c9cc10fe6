"""Feature maps and Grad-CAM on the CPU, against the issue's budgets.

    .venv/bin/python benchmarks/bench_capture.py [--repeat 7]

1. One small-CNN layer's maps plus the mosaic figure (built and serialised): budget 50 ms.
2. ResNet-50 at 224×224, all five stages (conv1, layer1-4) captured in one pass: budget 1 s.
3. Grad-CAM on ResNet-18 at 224×224 (captum LayerGradCam, given class): budget 40 ms (torch-cam: 40.7 ms).
Each is also given as a ratio to a plain forward pass of the same model, measured in the same run:
on a shared 2-core machine the ratios are stable, the absolute numbers swing up to 2×.
Random weights: speed does not depend on them.
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

import cnnviz  # noqa: E402
from cnnviz import capture, gradcam  # noqa: E402
from cnnviz.plots import maps  # noqa: E402


def paired(fn, base, repeat: int) -> tuple[float, float]:
    """Medians (ms) of ``fn`` and ``base`` timed alternately, so that load from other programs hits both alike."""
    fn(), base()
    a, b = [], []
    for _ in range(repeat):
        for f, out in ((fn, a), (base, b)):
            t = time.perf_counter()
            f()
            out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(a), statistics.median(b)


def forward(model, x):
    def run():
        with torch.no_grad():
            model(x)
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads; medians of {args.repeat} runs\n")
    rows = []

    small = cnnviz.build_model("mnist_cnn", seed=0).eval()
    x28, x256 = torch.randn(1, 28, 28), torch.randn(1, 170, 256)

    def small_maps(x):
        def run():
            maps.mosaic_figure(capture.feature_maps(small, x, "features.0")).to_json()
        return run

    rows.append(("mnist_cnn features.0: 32 maps 28×28 + mosaic figure (json)", *paired(
        small_maps(x28), forward(small, x28[None]), args.repeat), 50, "mnist_cnn"))
    rows.append(("mnist_cnn features.0 on a 256×170 photo + mosaic (JPEG trace)", *paired(
        small_maps(x256), forward(small, x28[None]), args.repeat), None, "mnist_cnn"))

    r50 = cnnviz.build_model("resnet50", seed=0).eval()
    x224 = torch.randn(3, 224, 224)
    stages = capture.overview_layers(r50)
    rows.append((f"ResNet-50 224×224, all stages ({', '.join(stages)})", *paired(
        lambda: capture.feature_maps_many(r50, x224, stages), forward(r50, x224[None]), args.repeat), 1000,
        "ResNet-50"))
    del r50

    r18 = cnnviz.build_model("resnet18", seed=0).eval()
    rows.append(("Grad-CAM ResNet-18 224×224 at layer4, class given", *paired(
        lambda: gradcam.grad_cam(r18, x224, 3), forward(r18, x224[None]), args.repeat), 40, "ResNet-18"))
    rows.append(("Grad-CAM ResNet-18 224×224, predicted class (one more forward)", *paired(
        lambda: gradcam.grad_cam(r18, x224), forward(r18, x224[None]), args.repeat), None, "ResNet-18"))

    lite = cnnviz.load_imagenet_model("efficientnet_lite0", download=False)
    layer = capture.overview_layers(lite)[3]
    rows.append((f"EfficientNet-Lite0 224×224: {layer} maps + mosaic figure (json); budget 2× forward", *paired(
        lambda: maps.mosaic_figure(capture.feature_maps(lite, x224, layer)).to_json(), forward(lite, x224[None]),
        args.repeat), None, "EfficientNet-Lite0"))
    rows.append(("Grad-CAM EfficientNet-Lite0 224×224 at conv_head, class given; budget 2.5× forward", *paired(
        lambda: gradcam.grad_cam(lite, x224, 281, "conv_head"), forward(lite, x224[None]), args.repeat), None,
        "EfficientNet-Lite0"))

    print(f"{'what':<72}{'ms':>9}{'budget':>9}{'forward ms':>12}{'× forward':>11}")
    for what, ms, fwd, budget, name in rows:
        verdict = "" if budget is None else ("  ok" if ms <= budget else "  over (busy machine? see × forward)")
        print(f"{what:<72}{ms:9.1f}{'' if budget is None else budget:>9}{fwd:12.1f}{ms / fwd:11.2f}{verdict}")
    print("\n'forward ms' is a plain no-grad forward pass of the same model timed alternately with the row.")

if __name__ == "__main__":
    main()
