"""Training speed, measured side by side in one run (absolute numbers swing on a shared machine; ratios hold).

    python benchmarks/bench_training.py                 # throughput + live-metrics overhead + fast preset
    python benchmarks/bench_training.py --only throughput overhead
    python benchmarks/bench_training.py --ten-minutes   # also: best test accuracy within 10 minutes

1. throughput: the lecture notes' loop (torchvision FashionMNIST + ToTensor/Normalize + DataLoader,
   batch 64) against ``cnnviz.training.fit`` for the same model (mnist_cnn), batch and optimizer
   (SGD 0.01, momentum 0.5), interleaved, best of ``--repeats``.
2. overhead: ``fit`` with live metrics (a History snapshot every 10 steps, as the studio does)
   against a bare loop over the same tensors, same model settings and memory layout.
   fp32 is the default; ``bf16=True`` (bfloat16 autocast) is the studio's "fast math" switch.
3. fast: the studio's "fast" preset on all of Fashion-MNIST: seconds until the test accuracy first
   reaches 0.91, and the accuracy at the end.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cnnviz  # noqa: E402
from cnnviz import training  # noqa: E402
from cnnviz.data import FASHION_DIR  # noqa: E402


def notes_loop(steps: int, root: Path) -> float:
    """The notes' PyTorch loop; returns training images per second over ``steps`` batches (after 3 warm-up)."""
    from torchvision import datasets, transforms

    ds = datasets.FashionMNIST(str(root), train=True, download=False, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))]))
    loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True)
    model = cnnviz.build_model("mnist_cnn", seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    model.train()
    seen, t0 = 0, None
    for i, (data, target) in enumerate(loader):
        if i == 3:
            t0, seen = time.perf_counter(), 0
        optimizer.zero_grad()
        output = model(data)
        loss = F.cross_entropy(output, target)
        loss.backward()
        optimizer.step()
        seen += len(target)
        if i == steps + 2:
            break
    return seen / (time.perf_counter() - t0)


def cnnviz_fit(steps: int, train: cnnviz.ImageData, test: cnnviz.ImageData, **kw) -> float:
    """``fit`` for one epoch of ``steps`` batches of 64; returns its measured training images per second."""
    model = cnnviz.build_model("mnist_cnn", seed=0)
    sub = train.subset(steps * 64, seed=1)
    h = training.fit(model, sub, test, epochs=1, batch_size=64, optimizer="sgd", lr=0.01, momentum=0.5,
                     mean=[0.2860], std=[0.3530], **kw)
    return h.epochs[-1].images_per_s


def bare_loop(model_name: str, x: torch.Tensor, y: torch.Tensor, batch: int, channels_last: bool) -> float:
    model = cnnviz.build_model(model_name, seed=0)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    for i in range(0, len(y), batch):
        idx = order[i : i + batch]
        xb = x[idx]
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(y) / (time.perf_counter() - t0)


def live_fit(model_name: str, data: cnnviz.ImageData, test: cnnviz.ImageData, batch: int, *, live: bool = True) -> float:
    """``fit`` for one epoch; ``live`` publishes a History every 10 steps to a job-like holder (else never)."""
    model = cnnviz.build_model(model_name, seed=0)
    job = training.TrainJob(model, data, test, epochs=1)  # only its lock-protected _publish is used
    t0 = time.perf_counter()
    training.fit(model, data, test, epochs=1, batch_size=batch, optimizer="adam", lr=1e-3, mean=[0.2860],
                 std=[0.3530], callback=job._publish if live else None, log_every=10 if live else 10**9)
    return len(data) / (time.perf_counter() - t0)


def torchvision_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="cnnviz-bench-"))
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in FASHION_DIR.glob("*-ubyte.gz"):
        with gzip.open(gz, "rb") as src, open(raw / gz.name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["throughput", "overhead", "fast"],
                        choices=["throughput", "overhead", "fast"])
    parser.add_argument("--steps", type=int, default=150, help="batches per throughput measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ten-minutes", action="store_true", help="also train 10 minutes for the best accuracy")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    train = cnnviz.load_fashion_mnist(train=True)
    test = cnnviz.load_fashion_mnist(train=False)
    tiny_test = test.subset(64, seed=0)

    if "throughput" in args.only:
        root = torchvision_root()
        try:
            rows: dict[str, list[float]] = {"notes": [], "fit": [], "fit_fp32_contiguous": [], "fit_bf16": []}
            for _ in range(args.repeats):  # interleaved, so both see the same machine load
                rows["notes"].append(notes_loop(args.steps, root))
                rows["fit"].append(cnnviz_fit(args.steps, train, tiny_test))
                rows["fit_fp32_contiguous"].append(cnnviz_fit(args.steps, train, tiny_test, channels_last=False))
                rows["fit_bf16"].append(cnnviz_fit(args.steps, train, tiny_test, bf16=True))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print("\n1. throughput, mnist_cnn, SGD 0.01 momentum 0.5, batch 64, images/s per interleaved round; "
              "ratio = median over rounds of (fit / notes in the same round)")
        print(f"   notes' DataLoader loop        {[round(x) for x in rows['notes']]}")
        for key, label in (("fit", "cnnviz fit (fp32, NHWC)    "), ("fit_fp32_contiguous", "cnnviz fit (fp32, NCHW)    "),
                           ("fit_bf16", "cnnviz fit (bf16, NHWC)    ")):
            ratios = sorted(a / b for a, b in zip(rows[key], rows["notes"]))
            print(f"   {label}   {[round(x) for x in rows[key]]}   ratio {ratios[len(ratios) // 2]:.2f}x "
                  f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")

    if "overhead" in args.only:
        sub = train.subset(64 * args.steps, seed=2)
        x = training.normalize(sub.images, mean=[0.2860], std=[0.3530])
        bare, quiet, live = [], [], []
        for _ in range(args.repeats):
            bare.append(bare_loop("simple_convnet", x, sub.labels, 64, channels_last=True))
            quiet.append(live_fit("simple_convnet", sub, tiny_test, 64, live=False))
            live.append(live_fit("simple_convnet", sub, tiny_test, 64))
        print(f"\n2. live-metrics overhead, simple_convnet, Adam, batch 64, {len(sub):,} images, interleaved rounds")
        print(f"   bare loop over float tensors  {[round(x) for x in bare]} images/s")
        print(f"   fit, no History published     {[round(x) for x in quiet]} images/s")
        print(f"   fit, History every 10 steps   {[round(x) for x in live]} images/s")
        for name, ref in (("bare loop", bare), ("fit without publishing", quiet)):
            costs = sorted(100 * (b / li - 1) for b, li in zip(ref, live))
            print(f"   cost against the {name}: median {costs[len(costs) // 2]:+.1f} % "
                  f"(rounds: {', '.join(f'{c:+.1f}' for c in costs)})")

    if "fast" in args.only:
        p = training.PRESETS["fast"]
        model = cnnviz.build_model(p.model, seed=0)
        marks: list[tuple[int, float, float]] = []
        t0 = time.perf_counter()
        h = training.fit(model, train, test, seed=0, callback=lambda h: marks.append(
            (len(h.epochs), h.epochs[-1].test_acc, time.perf_counter() - t0)) if h.epochs and (
            not marks or marks[-1][0] != len(h.epochs)) else None, **p.options())
        wall = time.perf_counter() - t0
        first = next(((e, t) for e, acc, t in marks if acc >= 0.91), None)
        print(f"\n3. fast preset ({p.title}) on all 60,000 images, {torch.get_num_threads()} threads")
        for e, acc, t in marks:
            print(f"   epoch {e}: test accuracy {acc:.4f} at {t:5.1f} s")
        print(f"   reached 0.91 after {first[1]:.1f} s (epoch {first[0]})" if first else "   never reached 0.91")
        print(f"   final {h.epochs[-1].test_acc:.4f}, best {h.best_test_acc:.4f}, wall {wall:.1f} s")

    if args.ten_minutes:
        model = cnnviz.build_model("mnist_cnn", seed=0)
        stop_at = time.perf_counter() + 600
        import threading

        stop = threading.Event()

        def watch(h: training.History) -> None:
            if time.perf_counter() > stop_at:
                stop.set()

        bf16 = training.bf16_fast()
        h = training.fit(model, train, test, epochs=30, batch_size=128, optimizer="adam", lr=2e-3, augment=True,
                         schedule="onecycle", seed=0, callback=watch, stop=stop, bf16=bf16)
        print(f"\n4. ten minutes: mnist_cnn, Adam one-cycle 2e-3 (30 epochs planned), batch 128, augmentation, "
              f"bf16={bf16}: {h.status} after {len(h.epochs)} epochs in {h.elapsed_s:.0f} s, "
              f"best test accuracy {h.best_test_acc:.4f}, last {h.epochs[-1].test_acc:.4f}")


if __name__ == "__main__":
    main()
