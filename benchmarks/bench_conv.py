"""How long one slider change takes on each convolution-lab page (budget: well under 100 ms).

    .venv/bin/python benchmarks/bench_conv.py [--repeat 7] [--no-apptest]

Part 1 times the work a page does after a slider moves: the backend call plus building and serialising
its plotly figures (what Streamlit sends to the browser). Part 2 times a whole script rerun of each page
under Streamlit's AppTest after one widget change (Streamlit's own overhead included; no browser).
Medians in milliseconds; on a shared 2-core machine compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cnnviz  # noqa: E402
from cnnviz import ops, stack  # noqa: E402
from cnnviz.plots import conv as plots  # noqa: E402

BUDGET_MS = 100.0


def timed(fn, repeat: int) -> float:
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def photo(max_side: int) -> np.ndarray:
    img = cnnviz.decode_image(cnnviz.sample_images()["cat"])
    return ops.photo_to_array(img, channels=3, max_side=max_side)


def backend_cases() -> dict[str, callable]:
    cat256, cat384 = photo(256), photo(384)
    grid6 = ops.example_grid(6, 6, pattern="random digits")
    sobel = ops.KERNELS["Sobel x (vertical edges)"]
    rng = np.random.default_rng(0)
    x8, w8 = rng.normal(size=(3, 8, 8)), rng.normal(size=(4, 3, 4, 4))

    def output_size(n: int):
        def run():
            info = cnnviz.explain_output_size(n, 3, stride=1, padding=1)
            from cnnviz import arithmetic
            cells = arithmetic.window_cells(0, kernel=3)
            plots.window_grid(n, n, padding=1, rows=cells, cols=cells, unread_rows=info.uncovered).to_json()
            plots.window_grid(info.output, info.output, rows=[0], cols=[0]).to_json()
        return run

    def sliding():
        out = ops.conv2d(grid6, sobel, padding=1)
        win = ops.conv_window(grid6, sobel, out_row=2, out_col=3, padding=1)
        plots.window_grid(6, 6, padding=1, rows=win.rows, cols=win.cols, values=grid6).to_json()
        plots.matrix_figure(win.products).to_json()
        plots.matrix_figure(out, highlight=(2, 3)).to_json()
        win.expression()

    def layer_stack(name: str):
        spec, shape = stack.preset(name)
        return lambda: (stack.analyze_stack(spec, shape), stack.verify_stack(spec, shape))

    def pooling():
        ops.pool2d(cat256, mode="max", kernel=4), ops.pool2d(cat256, mode="avg", kernel=4)
        res = ops.shift_test(cat256, kernel=4)
        for a in (cat256, res.max_before, res.avg_before):
            plots.image_figure(a).to_json()

    def activations():
        x = np.linspace(-5, 5, 401)
        curves = {n: ops.activation(n, x) for n in ops.ACTIVATIONS}
        plots.activation_figure(x, curves).to_json()

    def gradient(depth: int):
        return lambda: plots.gradient_flow_figure(
            [ops.gradient_flow(depth, activation="sigmoid"), ops.gradient_flow(depth, activation="relu")]).to_json()

    def im2col():
        res = ops.im2col_conv(x8, w8, stride=1, padding=2)
        for m in (res.columns, res.weight_matrix, res.product):
            plots.matrix_figure(m, signed=False, annotate=m.size <= 900).to_json()

    def kernels(img):
        def run():
            res = ops.apply_kernel(img, sobel, stride=1, padding=1)
            plots.image_figure(img).to_json()
            for a in (res.total, *res.per_channel, res.total):
                plots.image_figure(a, signed=True).to_json()
        return run

    return {
        "output size 7x7 (grid + output figure)": output_size(7),
        "output size 38x38 (largest drawn grid)": output_size(38),
        "sliding window 6x6 (conv + 3 figures)": sliding,
        "layer stack lenet5 (analyse + PyTorch check)": layer_stack("lenet5"),
        "layer stack tf_mnist (3.3 M params, PyTorch check)": layer_stack("tf_mnist"),
        "pooling cat 3x170x256 (max/avg/shift + 3 images)": pooling,
        "activations 5 curves x 401 points": activations,
        "vanishing gradient depth 10 (2 nets)": gradient(10),
        "vanishing gradient depth 40 (2 nets)": gradient(40),
        "im2col 3x8x8, 4 kernels 4x4, padding 2": im2col,
        "classic kernel cat 3x170x256 (5 images)": kernels(cat256),
        "classic kernel cat 3x255x384 (5 images)": kernels(cat384),
    }


APPTEST_CASES = [  # page, widget kind, key, new value
    ("10_output_size.py", "slider", "os_k", 5),
    ("11_sliding_window.py", "select_slider", "sw_pos", 4),
    ("12_layer_stack.py", "number_input", "ls_h_mnist_cnn", 30),
    ("13_pooling.py", "slider", "pl_photo_k", 3),
    ("14_activations.py", "slider", "ac_depth", 12),
    ("15_softmax_losses.py", "slider", "sm_temp", 2.0),
    ("16_im2col.py", "slider", "ic_s", 2),
    ("17_classic_kernels.py", "slider", "ck_stride", 2),
]


def apptest_reruns(repeat: int) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    out = {}
    for page, kind, key, value in APPTEST_CASES:
        at = AppTest.from_file(str(ROOT / "dashboard" / "main.py"), default_timeout=120)
        at.run()
        at.switch_page(f"../pages/{page}")
        at.run()
        widget = getattr(at, kind)(key=key)
        start = widget.value
        times = []
        for i in range(repeat):
            t = time.perf_counter()
            getattr(at, kind)(key=key).set_value(value if i % 2 == 0 else start).run()
            times.append((time.perf_counter() - t) * 1e3)
            if at.exception:
                raise RuntimeError(f"{page}: {at.exception}")
        out[f"{page} ({key} changed)"] = statistics.median(times)
    return out


def report(title: str, results: dict[str, float]) -> None:
    print(f"\n{title}")
    width = max(map(len, results))
    for name, ms in results.items():
        print(f"  {name:<{width}}  {ms:8.1f} ms   {ms / BUDGET_MS:5.2f} of the 100 ms budget")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-apptest", action="store_true", help="skip the whole-page reruns")
    args = ap.parse_args()
    report("Backend + figures per slider change (median)",
           {name: timed(fn, args.repeat) for name, fn in backend_cases().items()})
    if not args.no_apptest:
        report("Whole page rerun under AppTest after one widget change (median)", apptest_reruns(args.repeat))


if __name__ == "__main__":
    main()
