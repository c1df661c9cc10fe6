"""The convolution lab's pages swept with Hypothesis through AppTest: random settings of every widget (and random
edits of the editable tables), some left as the previous example set them, as a class clicks around.

Properties, on every page: no exception element ever; every number shown (metrics, the typeset rule's result, table
cells, figure titles and the numbers in figures) equals PyTorch's for the settings the page's widgets hold after the
run; an impossible setting gives exactly one error (st.error) of one line and nothing else. A fixed budget of
examples per page, derandomized and with no example database (CI runs the same cases every time).
"""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz import ops, stack
from cnnviz.stack.analysis import MAX_STACK_ACTIVATIONS, MAX_STACK_PARAMS
from test_pages_conv import plotly_array
from torch_oracles import conv_length, latex_value, pool_length, ranges, read_cells, transposed_length


SCALE = int(os.environ.get("CNNVIZ_SWEEP_SCALE", "1"))  # e.g. 10 to sweep ten times deeper by hand, once


def budget(n: int):
    return settings(max_examples=n * SCALE, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


WIDGETS = ("slider", "select_slider", "number_input", "radio", "checkbox", "toggle", "selectbox", "text_input",
           "multiselect")


def value(at, key: str):
    """The value the page's widget ``key`` holds after the run (None: not drawn)."""
    for kind in WIDGETS:
        try:
            return getattr(at, kind)(key=key).value
        except KeyError:
            continue
    return None


PRESENT = "present"  # a setting of the example that is no widget: presenter mode (?present=1), or not


def setup(at, state: dict, keep: dict[str, bool]) -> None:
    """Put the example's settings into the widgets (a key whose ``keep`` is True keeps its previous value) and run."""
    for key, v in state.items():
        if key == PRESENT:
            at.query_params[PRESENT] = "1" if v else "0"
        elif not keep.get(key):
            at.session_state[key] = v
    at.run()


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at) -> dict[str, dict]:
    return {el.key: json.loads(el.proto.spec) for el in at.get("plotly_chart")}


def title(spec: dict) -> str:
    return (spec["layout"].get("title") or {}).get("text", "")


def z_of(spec: dict) -> np.ndarray:
    return plotly_array(spec["data"][0]["z"]).astype(float)


def no_exception(at) -> None:
    assert not at.exception, at.exception[0].value if at.exception else ""


def one_error(at) -> str:
    """Exactly one st.error, one line, no traceback, no exception: the sentence an impossible setting gives."""
    no_exception(at)
    assert len(at.error) == 1, [e.value for e in at.error]
    text = at.error[0].value
    assert "\n" not in text.strip() and "Traceback" not in text, text
    return text


def no_error(at) -> None:
    no_exception(at)
    assert not at.error, [e.value for e in at.error]


def keeps(keys: tuple[str, ...]):
    """For each widget: True (one time in four) to leave it as the previous example set it."""
    return st.fixed_dictionaries({k: st.sampled_from([False, False, False, True]) for k in keys})


# ---------------------------------------------------------------------------- Output size

OS_KEYS = ("os_kind", "os_h", "os_w", "os_square", "os_k", "os_kh", "os_kw", "os_s", "os_d", "os_ceil", "os_tp",
           "os_op", "os_pad_mode", "os_p")
small = st.integers(1, 14)


@st.composite
def output_size_settings(draw):
    kind = draw(st.sampled_from(["conv", "pool", "transposed"]))
    h = draw(st.one_of(small, small, st.integers(15, 40), st.integers(41, 1024)))
    s, d = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    state = {"os_kind": kind, "os_h": h, "os_w": draw(st.one_of(st.just(h), small, st.integers(15, 1024))),
             "os_square": draw(st.booleans()), "os_k": draw(st.integers(1, 11)), "os_kh": draw(st.integers(1, 11)),
             "os_kw": draw(st.integers(1, 11)), "os_s": s, "os_d": d, "os_ceil": draw(st.booleans()),
             "os_tp": draw(st.integers(0, 6)), "os_op": draw(st.integers(0, max(s, d) - 1)),
             "os_pad_mode": draw(st.sampled_from(["valid", "same", "custom"])), "os_p": draw(st.integers(0, 6)),
             PRESENT: draw(st.booleans())}
    return state, draw(keeps(OS_KEYS)), draw(st.integers(0, 10**6))


def keras_same(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """Keras/TensorFlow 'same': ⌈n/s⌉ outputs, the odd zero after (TensorFlow's documented rule)."""
    total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def listed(text: str) -> list[tuple[int, int]]:
    """The never-read ranges a message lists ("1, 3–4, …, 27 (14 ranges …)"), the "…" left out."""
    m = re.search(r"(?:\(counting from 0\): |input (?:rows and columns|rows|columns) )"
                  r"(.*?)(?: \(\d[\d,]* ranges|\.$| are never read)", text)
    assert m, text
    out = []
    for part in m.group(1).split(", "):
        if part != "…":
            a, _, b = part.replace(",", "").partition("–")
            out.append((int(a), int(b or a)))
    return out


def check_never_read(at, axis: str, never: set[int]) -> None:
    notes = [el.value for el in [*at.warning, *at.info] if "never read" in el.value and f" {axis}" in el.value]
    if not never:
        assert not notes, notes
        return
    assert len(notes) == 1, notes
    want = ranges(never)
    got = listed(notes[0])
    assert got == want or (got == want[:len(got) - 1] + want[-1:] and len(want) > len(got)), (got, want)
    assert "too many" not in notes[0]


@budget(80)
@given(case=output_size_settings())
def test_output_size_page_agrees_with_pytorch_everywhere(pages, case):
    state, keep, cell = case
    # The output padding's slider ends at max(stride, dilation) − 1. A value put into session state would outlive a
    # slider whose range then shrinks, which no browser can do (there the slider starts again at 0): so it is moved
    # as a user moves it, once the slider is there.
    output_padding = state.pop("os_op")
    at = pages("output_size")
    setup(at, state, keep)
    no_exception(at)
    if not keep["os_op"] and value(at, "os_op") is not None:
        at.slider(key="os_op").set_value(min(output_padding, int(at.slider(key="os_op").max))).run()
        no_exception(at)
    kind, h, w, square = (value(at, k) for k in ("os_kind", "os_h", "os_w", "os_square"))
    kh, kw = (value(at, "os_k"),) * 2 if square else (value(at, "os_kh"), value(at, "os_kw"))
    s = value(at, "os_s")
    d = 1 if kind == "pool" else value(at, "os_d")
    ceil_mode = kind == "pool" and value(at, "os_ceil")
    pad_mode = None if kind == "transposed" else value(at, "os_pad_mode")

    def axis(n: int, k: int) -> tuple[int | None, tuple[int, int]]:
        if kind == "transposed":
            p, op = value(at, "os_tp"), value(at, "os_op") or 0
            return transposed_length(n, k, s, p, d, op), (p, p)
        pads = {"valid": (0, 0), "custom": (value(at, "os_p"),) * 2}.get(pad_mode) or keras_same(n, k, s, d)
        if kind == "pool":
            pads = (min(max(pads), k // 2),) * 2 if pad_mode == "same" else pads
            out = pool_length(n, k, s, pads[0], ceil_mode=ceil_mode, mode="max")
            assert out == pool_length(n, k, s, pads[0], ceil_mode=ceil_mode, mode="avg")
            return out, pads
        return conv_length(n, k, s, pads, d), pads

    (oh, pads_h), (ow, pads_w) = axis(h, kh), axis(w, kw)
    if oh is None or ow is None:
        assert "Impossible" in one_error(at) and "Output height" not in metrics(at)
        return
    no_error(at)
    m = metrics(at)
    assert (m["Output height"], m["Output width"]) == (str(oh), str(ow))
    typeset = [el.value for el in at.get("latex")
               if "_{out} =" in el.value and not el.value.strip("$\n ").startswith("N")]  # H_out and W_out
    assert len(typeset) == 2
    for tex, want in zip(typeset, (oh, ow)):
        assert latex_value(tex) == (want, want), tex  # the rule with the numbers evaluates to PyTorch's size
    if kind == "transposed":
        figure = charts(at).get("os_transposed")
        if figure is not None:  # the spread-out input: a stride-1 convolution over it gives the output
            side = z_of(figure).shape[0]
            assert side - (d * (kh - 1) + 1) + 1 == oh and title(figure).endswith(f"{oh}×{oh}")
        return
    assert m["Window positions"] == str(oh * ow)
    if pad_mode == "same" and kind == "conv":
        assert (oh, ow) == (-(-h // s), -(-w // s))  # Keras's promise: ⌈N/s⌉
    if pad_mode == "same" and kind == "pool" and (pads_h, pads_w) != (keras_same(h, kh, s, 1), keras_same(w, kw, s, 1)):
        assert any("pads both sides equally" in i.value for i in at.info)
    reads = {}
    for name, n, k, pads in (("rows", h, kh, pads_h), ("columns", w, kw, pads_w)):
        if n <= 2000:
            reads[name] = read_cells(n, k, s, pads, d, pooling=kind == "pool", ceil_mode=ceil_mode)
            check_never_read(at, name, set(range(n)) - reads[name])
    hp, wp = h + sum(pads_h), w + sum(pads_w)
    over_h = max(0, (oh - 1) * s + d * (kh - 1) + 1 - hp)
    over_w = max(0, (ow - 1) * s + d * (kw - 1) + 1 - wp)
    if max(hp + over_h, wp + over_w) > 40:
        assert any("too large to draw" in i.value for i in at.info)
        return
    if oh * ow > 1:  # move the window to a random output cell and look again
        at.select_slider(key="os_pos").set_value(cell % (oh * ow)).run()
        no_exception(at)
    r, c = divmod(value(at, "os_pos") or 0, ow)
    figures = charts(at)
    assert title(figures["os_out"]) == f"Output {oh}×{ow}" and z_of(figures["os_out"]).shape == (oh, ow)
    grid = z_of(figures["os_grid"])
    assert title(figures["os_grid"]) == f"Padded input {hp}×{wp}: the window of output cell ({r}, {c})"
    assert grid.shape == (hp + over_h, wp + over_w)
    inside = grid[pads_h[0]:pads_h[0] + h, pads_w[0]:pads_w[0] + w]
    never = np.zeros((h, w), dtype=bool)
    never[sorted(set(range(h)) - reads["rows"]), :] = True
    never[:, sorted(set(range(w)) - reads["columns"])] = True
    assert ((inside == 2) == never).all()  # red: the cells no window reads (no gradient from any output)
    window = np.zeros((h, w), dtype=bool)
    rows = read_cells(h, kh, s, pads_h, d, pooling=kind == "pool", ceil_mode=ceil_mode, window=r)
    cols = read_cells(w, kw, s, pads_w, d, pooling=kind == "pool", ceil_mode=ceil_mode, window=c)
    window[np.ix_(sorted(rows), sorted(cols))] = True
    assert ((inside == 3) == window).all()  # orange: the cells output cell (r, c)'s gradient reaches
    assert any(f"Output cell **({r}, {c})** reads" in md.value for md in at.markdown)


# ---------------------------------------------------------------------------- Sliding window


@st.composite
def sliding_window_settings(draw):
    size, pattern = draw(st.integers(3, 9)), draw(st.sampled_from(ops.EXAMPLE_PATTERNS))
    kernel = draw(st.sampled_from([*ops.KERNELS, "custom"]))
    state = {"sw_size": size, "sw_pattern": pattern, "sw_kernel": kernel, "sw_bias": float(draw(st.integers(-10, 10))),
             "sw_stride": draw(st.integers(1, 3)), "sw_padding": draw(st.integers(0, 2)), PRESENT: draw(st.booleans())}
    cellv = st.one_of(st.integers(-9, 9), st.none())
    grid_edits = draw(st.dictionaries(st.integers(0, size - 1), st.dictionaries(
        st.integers(0, size - 1).map(str), cellv, max_size=2), max_size=2))
    kern_edits = draw(st.dictionaries(st.integers(0, 2), st.dictionaries(
        st.integers(0, 2).map(str), st.integers(-3, 3), max_size=2), max_size=1))
    return state, draw(keeps(tuple(state))), grid_edits, kern_edits, draw(st.integers(0, 10**6))


@budget(30)
@given(case=sliding_window_settings())
def test_sliding_window_page_is_f_conv2d(pages, case):
    state, keep, grid_edits, kern_edits, cell = case
    at = pages("sliding_window")
    size, pattern, kname = state["sw_size"], state["sw_pattern"], state["sw_kernel"]
    keep.update(sw_size=False, sw_pattern=False, sw_kernel=False)  # the editable tables' keys follow these three
    state.update({f"sw_grid_{size}_{pattern}": {"edited_rows": grid_edits, "added_rows": [], "deleted_rows": []},
                  f"sw_kern_{kname}": {"edited_rows": kern_edits, "added_rows": [], "deleted_rows": []}})
    setup(at, state, keep)
    stride, padding, bias = value(at, "sw_stride"), value(at, "sw_padding"), value(at, "sw_bias")
    x = ops.example_grid(size, size, pattern=pattern).astype(object)
    k = np.round(ops.KERNELS.get(kname, np.zeros((3, 3))), 4)
    for i, row in grid_edits.items():
        for j, v in row.items():
            x[i, int(j)] = math.nan if v is None else v
    for i, row in kern_edits.items():
        for j, v in row.items():
            k[i, int(j)] = v
    x = x.astype(float)
    if np.isnan(x).any():
        assert "Cannot convolve" in one_error(at)
        return
    no_error(at)
    ref = F.conv2d(torch.from_numpy(x)[None, None], torch.from_numpy(k)[None, None], stride=stride,
                   padding=padding)[0, 0].numpy() + bias
    h_out, w_out = ref.shape
    if h_out * w_out > 1:
        at.select_slider(key="sw_pos").set_value(cell % (h_out * w_out)).run()
        no_exception(at)
    r, c = divmod(value(at, "sw_pos") or 0, w_out)
    figures = charts(at)
    shown_input = np.array(plotly_array(figures["sw_in"]["data"][0]["text"]), dtype=float)
    np.testing.assert_array_equal(shown_input[padding:padding + size, padding:padding + size], x)
    assert title(figures["sw_out"]) == f"Output {h_out}×{w_out}"
    np.testing.assert_allclose(z_of(figures["sw_out"]), ref, atol=1e-9)
    shown = float(metrics(at)[f"Output cell ({r}, {c})"])
    assert shown == pytest.approx(ref[r, c], rel=1e-5, abs=1e-9)
    assert z_of(figures["sw_prod"]).sum() + bias == pytest.approx(ref[r, c], abs=1e-9)
    expression = next(md.value for md in at.markdown if md.value.startswith("**Multiply-add:**"))
    assert float(expression.rsplit("= ", 1)[1].strip("()").replace("−", "-")) == pytest.approx(ref[r, c], abs=0.006)


# ---------------------------------------------------------------------------- Layer stack

COLUMN_VALUES = {
    "type": st.sampled_from(stack.LAYER_TYPES), "out": st.one_of(st.none(), st.integers(1, 2048)),
    "kernel": st.one_of(st.none(), st.integers(1, 12)), "stride": st.one_of(st.none(), st.integers(1, 4)),
    "padding": st.one_of(st.none(), st.integers(0, 4)), "dilation": st.one_of(st.none(), st.integers(1, 3)),
    "mode": st.sampled_from([None, "max", "avg"]), "activation": st.sampled_from([None, *stack.STACK_ACTIVATIONS]),
    "p": st.one_of(st.none(), st.sampled_from([0.0, 0.1, 0.5, 0.99]))}  # what the editor's columns let a user type
LAYER_ROW = st.fixed_dictionaries(COLUMN_VALUES)


@st.composite
def cell_edits(draw):
    """Some cells of one row: {column: new value (None: blanked)}."""
    columns = draw(st.lists(st.sampled_from(list(stack.TABLE_COLUMNS)), unique=True, min_size=1, max_size=3))
    return {c: draw(COLUMN_VALUES[c]) for c in columns}


@st.composite
def layer_stack_settings(draw):
    name = draw(st.sampled_from(list(stack.PRESETS)))
    rows = len(stack.preset(name)[0])
    c0, h0, w0 = stack.PRESETS[name].input_shape
    state = {"ls_preset": name,
             f"ls_c_{name}": draw(st.one_of(st.just(c0), st.integers(1, 8), st.integers(9, 512))),
             f"ls_h_{name}": draw(st.one_of(st.just(h0), st.integers(1, 64), st.integers(65, 1024))),
             f"ls_w_{name}": draw(st.one_of(st.just(w0), st.integers(1, 64)))}
    edited = draw(st.dictionaries(st.integers(0, rows - 1), cell_edits(), max_size=3))
    added = draw(st.lists(LAYER_ROW, max_size=2))
    deleted = draw(st.lists(st.integers(0, rows - 1), max_size=2, unique=True))
    state[f"ls_table_{name}"] = {"edited_rows": edited, "added_rows": added, "deleted_rows": deleted}
    return state


def table_layers(name: str, edits: dict) -> list[dict]:
    """The rows the editor holds after the edits (Streamlit's order: edited, minus deleted, plus added), as the page
    documents them: blank cells take PyTorch's defaults, rows without a type are skipped."""
    rows = [dict(r) for r in stack.to_table(stack.preset(name)[0])]
    for i, cells in edits["edited_rows"].items():
        rows[i].update(cells)
    rows = [r for i, r in enumerate(rows) if i not in edits["deleted_rows"]] + [dict(r) for r in edits["added_rows"]]
    return [r for r in rows if r.get("type")]


def pytorch_stack(layers: list[dict], shape: tuple[int, int, int]):
    """Each layer built straight in PyTorch and run on zeros (on the meta device for shapes and parameter counts;
    on the CPU too when it is small): [(output shape, parameters)] up to the first layer PyTorch refuses or that
    cannot mean what it says (a linear layer on an image), and the index of that layer (None: all run)."""

    def build(x, device):
        done = []
        for i, r in enumerate(layers):
            t = r["type"]
            try:
                with torch.device(device), torch.no_grad():
                    if t == "conv":
                        mods = [nn.Conv2d(x.shape[1], r["out"], r["kernel"], r["stride"] or 1, r["padding"] or 0,
                                          r["dilation"] or 1)]
                    elif t == "pool":
                        cls = nn.AvgPool2d if r["mode"] == "avg" else nn.MaxPool2d
                        mods = [cls(r["kernel"], r["stride"] or r["kernel"], r["padding"] or 0)]
                    elif t == "flatten":
                        mods = [nn.Flatten()]
                    elif t == "dropout":
                        mods = [nn.Dropout(0.5 if r["p"] is None else r["p"]).eval()]
                    else:
                        if x.dim() != 2:
                            return done, i
                        mods = [nn.Linear(x.shape[1], r["out"])]
                    if t in ("conv", "linear") and r["activation"]:
                        mods.append({"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
                                     "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}[r["activation"]]())
                    for mod in mods:
                        x = mod(x)
            except Exception:  # noqa: BLE001 - whatever PyTorch raises (RuntimeError, IndexError, TypeError …)
                return done, i
            done.append((tuple(x.shape[1:]), sum(p.numel() for m in mods for p in m.parameters())))
        return done, None

    done, bad = build(torch.zeros(1, *shape, device="meta"), "meta")
    macs = sum(int(np.prod(out)) * (shape[0] if i == 0 else 64) * (layers[i]["kernel"] or 1) ** 2
               for i, (out, _) in enumerate(done))
    if macs < 2e7 and int(np.prod(shape)) < 200_000:
        assert build(torch.zeros(1, *shape), "cpu") == (done, bad)  # the meta device's shapes are the CPU's
    budget_hit = None
    params = acts = 0
    for i, (out, n) in enumerate(done):  # the shared server's limits: refused before anything is built
        params, acts = params + n, acts + int(np.prod(out))
        if params > MAX_STACK_PARAMS or acts > MAX_STACK_ACTIVATIONS:
            budget_hit = i
            break
    if budget_hit is not None:
        return done[:budget_hit], budget_hit
    return done, bad


@budget(40)
@given(state=layer_stack_settings())
def test_layer_stack_page_shapes_and_parameters_are_pytorchs(pages, state):
    at = pages("layer_stack")
    setup(at, state, {})
    name = value(at, "ls_preset")
    shape = tuple(int(value(at, f"ls_{a}_{name}")) for a in "chw")
    layers = table_layers(name, state[f"ls_table_{name}"])
    no_exception(at)
    editor = next(d for d in at.data_editor if d.key == f"ls_table_{name}")
    assert editor.proto.HasField("placeholder") and editor.proto.placeholder == ""  # blank cells blank, not "None"
    if not layers:
        assert not at.error and any("The stack is empty" in w.value for w in at.warning)
        return
    done, bad = pytorch_stack(layers, shape)
    m = metrics(at)
    assert m["Layers"] == str(len(layers))
    assert m["Total parameters"] == f"{sum(n for _, n in done):,}"
    table = next(d.value for d in at.dataframe if "output shape (C×H×W)" in d.value.columns)
    body = table.iloc[1:1 + len(done)]
    assert list(body["output shape (C×H×W)"]) == [" × ".join(map(str, out)) for out, _ in done]
    assert [int(v) for v in body["parameters"]] == [n for _, n in done]
    if bad is None:  # the bars of "Where do the parameters sit?"
        bars = charts(at)["ls_params"]["data"][0]
        assert [int(v) for v in plotly_array(bars["y"])] == [n for _, n in done]
    if bad is not None:
        assert f"layer {bad + 1} (" in one_error(at)
        assert "✖" in table.iloc[-1]["layer"]
        return
    no_error(at)
    assert m["Output shape"] == " × ".join(map(str, done[-1][0]))
    assert any("Verified by PyTorch" in s.value for s in at.success)


# ---------------------------------------------------------------------------- Pooling


def tiny_png(w: int, h: int, seed: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


uploads = st.one_of(st.none(), st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(0, 99)),
                    st.just("damaged"))


def upload(at, key: str, what) -> None:
    if what == "damaged":
        at.file_uploader(key=key).set_value(("photo.png", b"\x89PNG\r\n\x1a\n broken", "image/png"))
    elif what is not None:
        at.file_uploader(key=key).set_value(("small.png", tiny_png(*what), "image/png"))
    else:
        at.file_uploader(key=key).set_value(None)


@st.composite
def pooling_settings(draw):
    state = {"pl_size": draw(st.integers(4, 10)), "pl_k": draw(st.integers(2, 4)), "pl_s": draw(st.integers(1, 4)),
             "pl_seed": draw(st.integers(0, 999)), "pl_dir": draw(st.sampled_from(["right", "down"])),
             "pl_photo_k": draw(st.integers(2, 16)), "pl_colour": draw(st.booleans())}
    return state, draw(keeps(tuple(state))), draw(uploads)


def pooled(x: np.ndarray, k: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    t = torch.from_numpy(x)[None]
    return F.max_pool2d(t, k, s)[0].numpy(), F.avg_pool2d(t, k, s)[0].numpy()


@budget(20)
@given(case=pooling_settings())
def test_pooling_page_is_f_max_pool2d_and_f_avg_pool2d(pages, case):
    state, keep, photo = case
    at = pages("pooling")
    upload(at, "pl_upload", photo)
    setup(at, state, keep)
    no_exception(at)
    k, s, direction, big_k = (value(at, key) for key in ("pl_k", "pl_s", "pl_dir", "pl_photo_k"))
    figures = charts(at)
    grid = z_of(figures["pl_in"])
    mx, av = pooled(grid, k, s)
    np.testing.assert_allclose(z_of(figures["pl_max"]), mx)
    np.testing.assert_allclose(z_of(figures["pl_avg"]), av, atol=1e-12)
    m = metrics(at)
    assert m["Output size"] == f"{mx.shape[0]} × {mx.shape[1]}" and m["Parameters"] == "0"
    assert m["Top-left max / average"] == f"{mx[0, 0]:g} / {av[0, 0]:.2f}"
    before = ((0, 0), (1, 0)) if direction == "right" else ((1, 0), (0, 0))  # one pixel in, the edge repeated
    shifted = np.pad(grid, before, mode="edge")[:grid.shape[0], :grid.shape[1]]
    np.testing.assert_array_equal(z_of(figures["pl_shift_in"]), shifted)
    smx, sav = pooled(shifted, k, s)
    np.testing.assert_allclose(z_of(figures["pl_shift_max"]), smx)
    assert m["Max-pool outputs unchanged"] == f"{np.isclose(mx, smx).mean():.0%}"
    assert m["Average-pool outputs unchanged"] == f"{np.isclose(av, sav).mean():.0%}"
    if photo == "damaged":
        assert "Cannot use this file" in one_error(at)
        return
    channels = 3 if value(at, "pl_colour") else 1
    shown = ((channels, photo[1], photo[0]) if photo else
             tuple(int(v) for v in title(figures["pl_photo"]).split(" ", 1)[1].split(" × ")))
    try:
        want = tuple(F.max_pool2d(torch.zeros(shown), big_k).shape)
    except RuntimeError:
        assert "Impossible pooling on this photo" in one_error(at)
        return
    no_error(at)
    assert title(figures["pl_photo_max"]) == "Max pool → " + " × ".join(map(str, want))
    assert title(figures["pl_photo_avg"]) == "Average pool → " + " × ".join(map(str, want))
    assert title(figures["pl_photo"]) == "Photo " + " × ".join(map(str, shown))
    assert m["Channels in → out"] == f"{channels} → {want[0]}"


# ---------------------------------------------------------------------------- im2col


@st.composite
def im2col_settings(draw):
    state = {"ic_c": draw(st.integers(1, 3)), "ic_size": draw(st.integers(3, 8)), "ic_k": draw(st.integers(1, 4)),
             "ic_o": draw(st.integers(1, 4)), "ic_s": draw(st.integers(1, 3)), "ic_p": draw(st.integers(0, 2)),
             "ic_seed": draw(st.integers(0, 999)), PRESENT: draw(st.booleans())}
    return state, draw(keeps(tuple(state)))


@budget(25)
@given(case=im2col_settings())
def test_im2col_page_is_f_unfold_and_f_conv2d(pages, case):
    state, keep = case
    at = pages("im2col")
    setup(at, state, keep)
    c, n, k, o, s, p = (value(at, key) for key in ("ic_c", "ic_size", "ic_k", "ic_o", "ic_s", "ic_p"))
    if conv_length(n, k, s, (p, p)) is None:
        assert "Impossible" in one_error(at)
        return
    no_error(at)
    figures = charts(at)
    x = torch.from_numpy(np.stack([z_of(figures[f"ic_x{i}"]) for i in range(c)]))
    weights = torch.from_numpy(z_of(figures["ic_w"]).T.reshape(o, c, k, k))  # columns k0, k1, … of the matrix
    ref = F.conv2d(x[None], weights, stride=s, padding=p)[0]
    cols = F.unfold(x[None], k, padding=p, stride=s)[0].T  # PyTorch's own im2col: one row per window
    np.testing.assert_array_equal(z_of(figures["ic_cols"]), cols.numpy())
    np.testing.assert_allclose(z_of(figures["ic_prod"]), ref.reshape(o, -1).T.numpy(), atol=1e-9)
    for i in range(o):
        np.testing.assert_allclose(z_of(figures[f"ic_out{i}"]), ref[i].numpy(), atol=1e-9)
        assert title(figures[f"ic_out{i}"]) == f"output channel {i}"
    m = metrics(at)
    assert float(m["Max |im2col − F.conv2d|"]) == 0
    assert int(m["Numbers in the input"]) == x.numel() and int(m["Numbers in the im2col matrix"]) == cols.numel()
    assert m["Memory cost"] == f"{cols.numel() / x.numel():.2f}×"


# ---------------------------------------------------------------------------- Softmax and losses

plain = st.one_of(st.integers(-50, 50).map(str), st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: f"{v:g}"))
any_float = st.floats(allow_nan=False, allow_infinity=False).map(repr)  # to ±1.8e308, as a student may type
odd = st.sampled_from(["1e400", "nan", "inf", "-inf", "two", "", "0x10", "1_000", " 3 "])


@st.composite
def softmax_settings(draw):
    tokens = draw(st.one_of(st.lists(plain, min_size=2, max_size=7), st.lists(any_float, min_size=2, max_size=7),
                            st.lists(st.one_of(plain, odd), min_size=1, max_size=7)))
    state = {"sm_logits": draw(st.sampled_from([", ", ",", "; "])).join(tokens),
             "sm_temp": round(draw(st.integers(1, 50)) / 10, 1), "sm_true": draw(st.integers(0, 6)),
             "sm_p": round(draw(st.integers(1, 99)) / 100, 2), "sm_y": draw(st.sampled_from([1, 0])),
             PRESENT: draw(st.booleans())}
    return state, draw(keeps(tuple(state)))


def parse_logits(text: str) -> np.ndarray | None:
    """What the page promises to read: comma- (or semicolon-) separated numbers, at least two, all finite."""
    try:
        z = np.array([float(v) for v in text.replace(";", ",").split(",") if v.strip()])
    except ValueError:
        return None
    return z if len(z) >= 2 and np.isfinite(z).all() else None


@budget(50)
@given(case=softmax_settings())
def test_softmax_page_is_f_softmax_and_f_cross_entropy(pages, case):
    state, keep = case
    at = pages("softmax")
    logits = parse_logits(value(at, "sm_logits") if keep["sm_logits"] else state["sm_logits"])
    try:  # a class that both the selectbox on the screen and the one the page draws next offer
        shown = len(at.selectbox(key="sm_true").options)
    except KeyError:
        shown = 7
    state["sm_true"] %= min(shown, 7 if logits is None else len(logits))
    setup(at, state, keep)
    z, t = parse_logits(value(at, "sm_logits")), value(at, "sm_temp")
    zt = None if z is None else torch.tensor(z, dtype=torch.float64) / t
    if zt is None or not torch.isfinite(zt).all():
        assert one_error(at).startswith("Cannot read these logits")
        return
    no_error(at)
    probs = F.softmax(zt, dim=0)
    m = metrics(at)
    top = int(m["Predicted class"].removeprefix("class "))
    assert probs[top] == probs.max() and m["Its probability"] == f"{probs.max().item():.3f}"
    assert m["Sum of probabilities"] == f"{probs.sum().item():.3f}"
    np.testing.assert_allclose(plotly_array(charts(at)["sm_bars"]["data"][0]["y"]), probs.numpy(), atol=1e-12)
    target = value(at, "sm_true")
    ce = F.cross_entropy(zt[None], torch.tensor([target])).item()
    assert m["Cross-entropy  −log p(correct)"] == f"{ce:.4f}"
    assert m["MSE against the one-hot target"] == f"{F.mse_loss(probs, torch.eye(len(z))[target].double()).item():.4f}"
    assert m["p(correct)"] == f"{probs[target].item():.4f}"
    p_hat, y = value(at, "sm_p"), value(at, "sm_y")
    bce = F.binary_cross_entropy(torch.tensor([p_hat], dtype=torch.float64),
                                 torch.tensor([float(y)], dtype=torch.float64)).item()
    assert m["Binary cross-entropy"] == f"{bce:.4f}"


# ---------------------------------------------------------------------------- Classic kernels


@st.composite
def classic_kernel_settings(draw):
    name = draw(st.sampled_from([*ops.KERNELS, "Custom"]))
    state = {"ck_kernel": name, "ck_stride": draw(st.integers(1, 8)), "ck_padding": draw(st.integers(0, 4)),
             "ck_colour": draw(st.booleans()), "ck_side": draw(st.sampled_from([64, 128, 192, 256, 384])),
             PRESENT: draw(st.booleans())}
    edits = draw(st.dictionaries(st.integers(0, 2), st.dictionaries(
        st.integers(0, 2).map(str), st.one_of(st.integers(-4, 4), st.none()), max_size=2), max_size=1))
    state[f"ck_edit_{name}"] = {"edited_rows": edits, "added_rows": [], "deleted_rows": []}
    return state, draw(keeps(tuple(state))), draw(uploads)


@budget(20)
@given(case=classic_kernel_settings())
def test_classic_kernels_page_sizes_are_f_conv2d(pages, case):
    state, keep, photo = case
    keep[f"ck_edit_{state['ck_kernel']}"] = keep["ck_kernel"] = False
    at = pages("classic_kernels")
    upload(at, "ck_upload", photo)
    setup(at, state, keep)
    if photo == "damaged":
        assert "Cannot use this file" in one_error(at)
        return
    edits = state[f"ck_edit_{state['ck_kernel']}"]["edited_rows"]
    if any(v is None for row in edits.values() for v in row.values()):
        assert "Cannot apply this kernel" in one_error(at)
        return
    stride, padding = value(at, "ck_stride"), value(at, "ck_padding")
    figures, m = charts(at), metrics(at)
    c = 3 if value(at, "ck_colour") else 1
    h, w = (photo[1], photo[0]) if photo else (int(v) for v in m["Input"].split(" × ")[1:])
    try:
        out = tuple(F.conv2d(torch.zeros(1, c, h, w), torch.zeros(1, c, 3, 3), stride=stride,
                             padding=padding).shape[-2:])
    except RuntimeError:
        assert "Cannot apply this kernel" in one_error(at)
        return
    no_error(at)
    assert m["Input"] == f"{c} × {h} × {w}"
    assert m["Output"] == f"{out[0]} × {out[1]}" and title(figures["ck_total"]) == f"Output {out[0]}×{out[1]}"
    formulas = re.findall(r"`([^`]*)`", next(md.value for md in at.markdown if md.value.startswith("Height:")))
    for formula, want in zip(formulas, out):
        lhs, rhs = formula.split(" = ")
        expr = lhs.replace("⌊", "math.floor(").replace("⌋", ")").replace("·", "*").replace("−", "-")
        assert eval(expr, {"math": math}) == int(rhs) == want  # noqa: S307 - the page's digits and operators
    assert len(figures) == (6 if c == 3 else 2)


# ---------------------------------------------------------------------------- Activations


@st.composite
def activation_settings(draw):
    lo = draw(st.integers(-20, 19)) / 2
    hi = draw(st.integers(int(lo * 2), 20)) / 2
    state = {"ac_names": draw(st.lists(st.sampled_from(list(ops.ACTIVATIONS)), unique=True)),
             "ac_slope": draw(st.integers(0, 50)) / 100, "ac_alpha": draw(st.integers(1, 30)) / 10,
             "ac_range": (lo, hi), "ac_probe": draw(st.integers(-100, 100)) / 10,
             "ac_depth": draw(st.integers(1, 40)), PRESENT: draw(st.booleans()),
             "ac_compare": draw(st.sampled_from(["relu", "tanh", "leaky_relu", "elu"]))}
    return state, draw(keeps(tuple(state)))


@budget(15)
@given(case=activation_settings())
def test_activations_page_values_are_autograds(pages, case):
    state, keep = case
    lo, hi = state["ac_range"]
    state["ac_probe"] = min(max(state["ac_probe"], lo), hi)
    at = pages("activations")
    setup(at, state, keep)
    lo, hi = value(at, "ac_range")
    if lo >= hi:
        assert "left end smaller" in one_error(at)
        return
    no_error(at)
    names = value(at, "ac_names")
    if not names:
        assert any("Pick at least one" in i.value for i in at.info)
        return
    probe, slope, alpha = value(at, "ac_probe"), value(at, "ac_slope"), value(at, "ac_alpha")
    assert lo <= probe <= hi  # the point evaluated lies on the curves drawn
    fns = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "leaky_relu": lambda v: F.leaky_relu(v, slope), "elu": lambda v: F.elu(v, alpha)}
    m = metrics(at)
    labels = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "Leaky ReLU", "elu": "ELU"}
    spec = charts(at)["ac_curves"]
    for name in names:
        x = torch.tensor(probe, dtype=torch.float64, requires_grad=True)
        y = fns[name](x)
        y.backward()
        assert m[labels[name]] == f"f = {y.item():.4f}"
        assert any(cap.value == f"slope f′ = {x.grad.item():.4f}" for cap in at.caption)
        curve = next(t for t in spec["data"] if t["name"] == labels[name])
        xs, ys = plotly_array(curve["x"]), plotly_array(curve["y"])
        assert xs[0] == lo and xs[-1] == hi and len(xs) >= 400
        np.testing.assert_allclose(ys, fns[name](torch.tensor(xs)).numpy(), atol=1e-12)
        assert curve["line"]["simplify"] is False  # drawn through every point: a smooth curve, not a polyline


# ---------------------------------------------------------------------------- the pages, opened once


@pytest.fixture(scope="module")
def pages():
    """Each lab page opened once (when first asked for) and driven by every example of its property."""
    from streamlit.testing.v1 import AppTest

    from conftest import APP

    files = {"output_size": "10_output_size.py", "sliding_window": "11_sliding_window.py",
             "layer_stack": "12_layer_stack.py", "pooling": "13_pooling.py", "activations": "14_activations.py",
             "softmax": "15_softmax_losses.py", "im2col": "16_im2col.py", "classic_kernels": "17_classic_kernels.py"}
    opened: dict = {}

    def page(name: str):
        if name not in opened:
            at = AppTest.from_file(str(APP), default_timeout=120)
            at.run()
            at.switch_page(f"../pages/{files[name]}")
            at.run()
            no_exception(at)
            opened[name] = at
        return opened[name]

    return page
