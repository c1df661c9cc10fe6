"""The Feature space page's projections, timed: PCA and t-SNE of the penultimate features of 2,000 Fashion-MNIST
test images through the shipped network (budget for t-SNE: 20 s on 2 cores), each run twice to check that the
same seed gives the same points; openTSNE beside scikit-learn when it is importable (it is not a dependency).

    python benchmarks/bench_projection.py [--size 2000] [--threads 2]

scikit-learn's Barnes-Hut t-SNE is what cnnviz uses (``cnnviz.projection.tsne_2d``: PCA to 50 dimensions first,
started from the PCA layout, 500 iterations). Measured on a 2-core machine with openTSNE 1.0.4 installed aside, on
the raw 128 features with 1,000 iterations: scikit-learn 36-42 s, openTSNE Barnes-Hut 79 s, openTSNE FFT 208 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cnnviz  # noqa: E402
from cnnviz import projection  # noqa: E402
from cnnviz.training import pretrained_checkpoints  # noqa: E402
from cnnviz.training.cpu import cpu_capability  # noqa: E402


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=projection.PROJECTION_SIZE, help="test images projected")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (t-SNE uses all cores it may)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, CPU capability {cpu_capability()}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores, load {load:.1f}")
    ck = cnnviz.load_checkpoint(pretrained_checkpoints()[-1])
    model = cnnviz.model_from_checkpoint(ck).eval()
    test = cnnviz.load_fashion_mnist(train=False)
    idx = projection.sample_indices(len(test), args.size)
    (feats, _preds, layer), seconds = timed(lambda: projection.penultimate_features(
        model, test.images[torch.from_numpy(idx)], mean=ck.meta["mean"], std=ck.meta["std"]))
    print(f"features of {len(idx):,} images at {layer} ({feats.shape[1]} numbers each): {seconds:.2f} s")
    for name, f in (("PCA", lambda: projection.pca_2d(feats)[0]), ("t-SNE (scikit-learn)",
                                                                     lambda: projection.tsne_2d(feats, seed=0))):
        a, seconds = timed(f)
        b, _s = timed(f)
        print(f"{name:22s} {seconds:6.2f} s, the same seed twice: {'identical' if np.array_equal(a, b) else 'DIFFERS'}")
    try:
        import openTSNE
    except ImportError:
        print("openTSNE is not installed: scikit-learn only")
        return
    x, _explained = projection.pca_2d(feats, projection.TSNE_PCA_DIMS)
    for method in ("bh", "fft"):
        _points, seconds = timed(lambda: np.asarray(openTSNE.TSNE(
            n_jobs=args.threads, random_state=0, negative_gradient_method=method, n_iter=500).fit(x)))
        print(f"t-SNE (openTSNE {method:3s})  {seconds:6.2f} s")


if __name__ == "__main__":
    main()
