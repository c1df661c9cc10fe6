"""Layer stacks: a list of layer dicts -> shapes, parameters and receptive fields, and a PyTorch model.

The spec format (the training studio consumes it too)::

    [{"type": "conv", "out_channels": 32, "kernel": 3, "stride": 1, "padding": 1, "dilation": 1, "activation": "relu"},
     {"type": "pool", "mode": "max", "kernel": 2, "stride": 2},
     {"type": "flatten"},
     {"type": "linear", "out_features": 10, "activation": None}]

with an input shape (C, H, W). Optional keys take PyTorch's defaults (conv stride 1, padding 0, dilation 1;
pool stride = kernel, padding 0). ``padding`` may also be "valid" (0) or "same" (keeps the size at stride 1).
A ``{"type": "dropout", "p": 0.5}`` layer is accepted too (no parameters, shape unchanged).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .arithmetic import conv_output_size, pool_output_size, same_padding
from .i18n import N_, _

__all__ = ["LAYER_TYPES", "STACK_ACTIVATIONS", "PRESETS", "LayerInfo", "LayerProblem", "StackAnalysis", "StackPreset",
           "TABLE_COLUMNS", "Verification", "analyze_stack", "build_stack", "from_table", "preset", "to_table",
           "torch_failure", "verify_stack"]

LAYER_TYPES = ("conv", "pool", "flatten", "linear", "dropout")
# A shared server trains these stacks for a whole class: refuse, before anything is built, a stack whose weights
# (with their gradients and Adam's two moments: 4 copies) or whose activations for a batch of 64 would not fit.
MAX_STACK_PARAMS = 20_000_000  # 320 MB with gradients and Adam's moments
MAX_STACK_ACTIVATIONS = 4_000_000  # numbers all layers output for one image: ~2 GB for a batch of 64 (+ backward)
STACK_ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu")
Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerInfo:
    """One layer of an analysed stack."""

    index: int  # 0-based position in the spec
    type: str
    label: str  # e.g. "conv 5×5 → 32, stride 1, padding 2, ReLU"
    input_shape: Shape
    output_shape: Shape
    params: int
    receptive_field: int | None  # input pixels one output cell sees (per side); None: the whole input
    jump: int | None  # input pixels between neighbouring output cells


@dataclass(frozen=True)
class LayerProblem:
    """The first layer that cannot work, and why."""

    index: int
    type: str
    reason: str

    def __str__(self) -> str:
        return _("layer {n} ({type}) is impossible: {reason}").format(n=self.index + 1, type=self.type,
                                                                      reason=self.reason)


@dataclass(frozen=True)
class StackAnalysis:
    input_shape: Shape
    layers: tuple[LayerInfo, ...]  # the layers before the problem, if any
    problem: LayerProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape if self.layers else self.input_shape


def _int(layer: dict, key: str, default: int | None, minimum: int) -> int:
    value = layer.get(key, default)
    if value is None:
        raise ValueError(_("needs '{key}'").format(key=key))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(_("'{key}' must be a whole number, got {value!r}").format(key=key, value=value))
    if value < minimum:
        raise ValueError(_("'{key}' must be >= {minimum}, got {value}").format(key=key, minimum=minimum, value=value))
    return value


def _activation(layer: dict) -> str | None:
    act = layer.get("activation")
    if act in (None, "", "none", "None"):
        return None
    if act not in STACK_ACTIVATIONS:
        raise ValueError(_("unknown activation {act!r}; choose one of {join_stack_activations} or None").format(act=act, join_stack_activations=', '.join(STACK_ACTIVATIONS)))
    return act


def _conv_geometry(layer: dict, *, pool: bool) -> tuple[int, int, int, int]:
    kernel = _int(layer, "kernel", None, 1)
    stride = _int(layer, "stride", kernel if pool else 1, 1)
    dilation = 1 if pool else _int(layer, "dilation", 1, 1)
    padding = layer.get("padding", 0)
    if padding == "valid":
        padding = 0
    elif padding == "same":
        if stride != 1:
            raise ValueError(_("padding 'same' keeps the size only at stride 1; give a number instead"))
        padding = same_padding(kernel, dilation=dilation)
    padding = _int({"padding": padding}, "padding", 0, 0)
    return kernel, stride, padding, dilation


def _normalise(layer: Any, shape: Shape) -> tuple[dict, Shape, int, str]:
    """Check one layer against the incoming shape: (normalised layer, output shape, params, label)."""
    if not isinstance(layer, dict):
        raise ValueError(_("each layer must be a dict, got {type_layer_name}").format(type_layer_name=type(layer).__name__))
    kind = layer.get("type")
    if kind not in LAYER_TYPES:
        raise ValueError(_("unknown type {kind!r}; choose one of {join_layer_types}").format(kind=kind, join_layer_types=', '.join(LAYER_TYPES)))
    if kind in ("conv", "pool") and len(shape) != 3:
        raise ValueError(_("a {kind} layer needs a C×H×W input but gets a flat vector of {shape_0}: put it before the flatten layer").format(kind=kind, shape_0=shape[0]))
    if kind == "linear" and len(shape) != 1:
        raise ValueError(_("a linear layer needs a flat vector but gets {join_map_str_shape}: add a flatten layer before it").format(join_map_str_shape='×'.join(map(str, shape))))
    if kind == "conv":
        out = _int(layer, "out_channels", None, 1)
        k, s, p, d = _conv_geometry(layer, pool=False)
        act = _activation(layer)
        h = conv_output_size(shape[1], k, stride=s, padding=p, dilation=d)
        w = conv_output_size(shape[2], k, stride=s, padding=p, dilation=d)
        norm = {"type": "conv", "out_channels": out, "kernel": k, "stride": s, "padding": p, "dilation": d,
                "activation": act}
        label = _("conv {k}×{k} → {out}, stride {s}, padding {p}").format(k=k, out=out, s=s, p=p)
        if d > 1:
            label += ", " + _("dilation {d}").format(d=d)
        label += f", {act}" if act else ""
        return norm, (out, h, w), out * shape[0] * k * k + out, label
    if kind == "pool":
        mode = layer.get("mode", "max")
        if mode not in ("max", "avg"):
            raise ValueError(_("pool mode must be 'max' or 'avg', got {mode!r}").format(mode=mode))
        k, s, p, _dilation = _conv_geometry(layer, pool=True)
        h = pool_output_size(shape[1], k, stride=s, padding=p)
        w = pool_output_size(shape[2], k, stride=s, padding=p)
        norm = {"type": "pool", "mode": mode, "kernel": k, "stride": s, "padding": p}
        label = (_("max pool {k}×{k}, stride {s}") if mode == "max" else _("average pool {k}×{k}, stride {s}")).format(
            k=k, s=s)
        return norm, (shape[0], h, w), 0, label + (", " + _("padding {p}").format(p=p) if p else "")
    if kind == "flatten":
        n = 1
        for v in shape:
            n *= v
        return {"type": "flatten"}, (n,), 0, _("flatten")
    if kind == "dropout":
        prob = layer.get("p", 0.5)
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob < 1:
            raise ValueError(_("dropout 'p' must be a number in [0, 1), got {prob!r}").format(prob=prob))
        return {"type": "dropout", "p": float(prob)}, shape, 0, _("dropout p={p}").format(p=prob)
    out = _int(layer, "out_features", None, 1)
    act = _activation(layer)
    norm = {"type": "linear", "out_features": out, "activation": act}
    return norm, (out,), shape[0] * out + out, _("linear {n_in} → {n_out}").format(n_in=shape[0], n_out=out) + (
        f", {act}" if act else "")


def _check_input(input_shape: Any) -> Shape:
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ValueError(_("input shape must be (C, H, W) whole numbers, got {input_shape!r}").format(input_shape=input_shape)) from None
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(_("input shape must be three positive numbers (C, H, W), got {input_shape!r}").format(input_shape=input_shape))
    return shape


def _walk(spec: Any, input_shape: Any) -> tuple[Shape, list[tuple[dict, LayerInfo]], LayerProblem | None]:
    shape = _check_input(input_shape)
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ValueError(_("a stack is a non-empty list of layer dicts"))
    done: list[tuple[dict, LayerInfo]] = []
    rf, jump = 1, 1
    current = shape
    total_params = 0
    total_acts = 0
    for i, layer in enumerate(spec):
        kind = layer.get("type", "?") if isinstance(layer, dict) else "?"
        try:
            norm, out, params, label = _normalise(layer, current)
        except (ValueError, TypeError) as err:
            return shape, done, LayerProblem(i, str(kind), str(err))
        total_params += params
        acts = 1
        for v in out:
            acts *= v
        total_acts += acts
        if total_params > MAX_STACK_PARAMS:
            return shape, done, LayerProblem(i, str(kind), _(
                "it brings the stack to {n:,} parameters, more than the {limit:,} this shared server trains (make "
                "the layer smaller, or pool before it)").format(n=total_params, limit=MAX_STACK_PARAMS))
        if total_acts > MAX_STACK_ACTIVATIONS:
            return shape, done, LayerProblem(i, str(kind), _(
                "the layers up to here output {n:,} numbers per image, more than the {limit:,} a batch can hold in "
                "this shared server's memory (use fewer channels, a stride or pooling)").format(
                n=total_acts, limit=MAX_STACK_ACTIVATIONS))
        if norm["type"] in ("conv", "pool") and rf is not None:
            span = norm.get("dilation", 1) * (norm["kernel"] - 1) + 1
            rf, jump = rf + (span - 1) * jump, jump * norm["stride"]
        elif norm["type"] in ("flatten", "linear"):
            rf = jump = None
        done.append((norm, LayerInfo(i, norm["type"], label, current, out, params, rf, jump)))
        current = out
    return shape, done, None


def analyze_stack(spec: list[dict], input_shape: tuple[int, int, int]) -> StackAnalysis:
    """Shapes, parameters and receptive fields of each layer; stops at the first impossible layer
    (``problem`` says which and why). Raises ``ValueError`` only for a malformed input shape or an empty spec."""
    shape, done, problem = _walk(spec, input_shape)
    return StackAnalysis(shape, tuple(info for _, info in done), problem)


def _act_module(name: str):
    from torch import nn

    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}[name]()


def _modules(spec: list[dict], input_shape: tuple[int, int, int]) -> list[tuple[int, str, Any]]:
    from torch import nn

    shape, done, problem = _walk(spec, input_shape)
    if problem is not None:
        raise ValueError(str(problem))
    mods: list[tuple[int, str, Any]] = []
    counts: dict[str, int] = {}

    def name(base: str) -> str:
        counts[base] = counts.get(base, 0) + 1
        return f"{base}{counts[base]}"

    for norm, info in done:
        t, i = norm["type"], info.index
        if t == "conv":
            mods.append((i, name("conv"), nn.Conv2d(info.input_shape[0], norm["out_channels"], norm["kernel"],
                                                     stride=norm["stride"], padding=norm["padding"],
                                                     dilation=norm["dilation"])))
        elif t == "pool":
            cls = nn.MaxPool2d if norm["mode"] == "max" else nn.AvgPool2d
            mods.append((i, name("pool"), cls(norm["kernel"], stride=norm["stride"], padding=norm["padding"])))
        elif t == "flatten":
            mods.append((i, name("flatten"), nn.Flatten()))
        elif t == "dropout":
            mods.append((i, name("dropout"), nn.Dropout(norm["p"])))
        else:
            mods.append((i, name("fc"), nn.Linear(info.input_shape[0], norm["out_features"])))
        if norm.get("activation"):
            mods.append((i, name(norm["activation"]), _act_module(norm["activation"])))
    return mods


def build_stack(spec: list[dict], input_shape: tuple[int, int, int]):
    """The stack as a ``torch.nn.Sequential`` with named layers (conv1, relu1, pool1, flatten1, fc1, ...).

    Raises ``ValueError`` naming the first impossible layer and the reason.
    """
    from torch import nn

    return nn.Sequential(OrderedDict((n, m) for _, n, m in _modules(spec, input_shape)))


@dataclass(frozen=True)
class Verification:
    """PyTorch's own shapes and parameter counts for each spec layer, next to the analysis."""

    shapes: tuple[Shape, ...]
    params: tuple[int, ...]
    agrees: bool
    mismatches: tuple[str, ...]

    @property
    def total_params(self) -> int:
        return sum(self.params)


def verify_stack(spec: list[dict], input_shape: tuple[int, int, int]) -> Verification:
    """Build the stack in PyTorch, run a zero batch through it and compare with ``analyze_stack``.

    Runs on PyTorch's meta device: PyTorch's own shape rules and parameter tensors, without the arithmetic
    (on a busy 2-core machine a CPU forward pass of even a tiny batch can take 100+ ms in the thread pool).
    Raises ``ValueError`` naming the first impossible layer.
    """
    import torch

    analysis = analyze_stack(spec, input_shape)
    shapes: dict[int, Shape] = {}
    params: dict[int, int] = {}
    with torch.device("meta"), torch.no_grad():
        mods = _modules(spec, input_shape)
        x = torch.zeros(1, *analysis.input_shape)
        for i, _name, mod in mods:
            mod.eval()
            x = mod(x)
            shapes[i] = tuple(x.shape[1:])
            params[i] = params.get(i, 0) + sum(p.numel() for p in mod.parameters())
    mismatches = []
    for info in analysis.layers:
        if shapes[info.index] != info.output_shape:
            mismatches.append(_("layer {n}: shape {ours} vs PyTorch {theirs}").format(
                n=info.index + 1, ours=info.output_shape, theirs=shapes[info.index]))
        if params[info.index] != info.params:
            mismatches.append(_("layer {n}: {ours} parameters vs PyTorch {theirs}").format(
                n=info.index + 1, ours=info.params, theirs=params[info.index]))
    order = [info.index for info in analysis.layers]
    return Verification(tuple(shapes[i] for i in order), tuple(params[i] for i in order), not mismatches,
                        tuple(mismatches))


# ---------------------------------------------------------------------------- presets


@dataclass(frozen=True)
class StackPreset:
    name: str  # same name as the model in cnnviz.models' zoo
    title: str
    input_shape: tuple[int, int, int]
    spec: tuple[dict, ...]
    note: str


def _conv(out: int, k: int, p: int | str = 0, act: str | None = "relu") -> dict:
    return {"type": "conv", "out_channels": out, "kernel": k, "stride": 1, "padding": p, "dilation": 1,
            "activation": act}


def _pool(mode: str = "max", k: int = 2) -> dict:
    return {"type": "pool", "mode": mode, "kernel": k, "stride": k, "padding": 0}


def _fc(out: int, act: str | None = "relu") -> dict:
    return {"type": "linear", "out_features": out, "activation": act}


FLAT = {"type": "flatten"}
_LENET = (_conv(6, 5, 0, "tanh"), _pool("avg"), _conv(16, 5, 0, "tanh"), _pool("avg"), FLAT, _fc(120, "tanh"),
          _fc(84, "tanh"), _fc(10, None))

PRESETS: dict[str, StackPreset] = {p.name: p for p in [
    StackPreset("mnist_cnn", N_("PyTorch MNIST CNN (3 conv)"), (1, 28, 28),
                (_conv(32, 5, 2), _pool(), _conv(64, 5, 2), _pool(), _conv(128, 5, 2), _pool(), FLAT, _fc(128),
                 _fc(10, None)),
                N_("The notes apply max-pool then ReLU; ReLU then max-pool gives the same numbers (both keep the largest).")),
    StackPreset("keras_cifar10", N_("Keras CIFAR-10 CNN"), (3, 32, 32),
                (_conv(32, 3, 1), _pool(), _conv(64, 3, 1), _pool(), _conv(64, 3, 1), FLAT, _fc(128),
                 _fc(10, None)),
                N_("Keras's padding='same' with a 3×3 kernel is padding 1.")),
    StackPreset("simple_convnet", "SimpleConvNet", (1, 28, 28),
                (_conv(30, 5, 0), _pool(), FLAT, _fc(100), _fc(10, None)),
                N_("conv(30 filters, 5×5, no padding) - ReLU - pool - affine 100 - ReLU - affine 10.")),
    StackPreset("tf_mnist", N_("TensorFlow MNIST CNN (fc1024)"), (1, 28, 28),
                (_conv(32, 5, 2), _pool(), _conv(64, 5, 2), _pool(), FLAT, _fc(1024),
                 {"type": "dropout", "p": 0.5}, _fc(10, None)),
                N_("Almost all of its 3.3 million parameters sit in the 3136 → 1024 fully connected layer.")),
    StackPreset("lenet5", N_("LeNet-5 (classic, 32×32)"), (1, 32, 32), _LENET,
                N_("LeCun 1998: tanh and average pooling, on 32×32 input.")),
    StackPreset("lenet5_28", N_("LeNet-5 (28×28 variant)"), (1, 28, 28),
                (_conv(6, 5, 2, "tanh"),) + _LENET[1:],
                N_("Padding 2 on the first conv lets 28×28 MNIST in unchanged.")),
]}


def preset(name: str) -> tuple[list[dict], tuple[int, int, int]]:
    """A fresh copy of a preset's (spec, input_shape). Raises ``ValueError`` for an unknown name."""
    if name not in PRESETS:
        raise ValueError(_("unknown preset {name!r}; choose one of {join_presets}").format(name=name, join_presets=', '.join(PRESETS)))
    p = PRESETS[name]
    return copy.deepcopy(list(p.spec)), p.input_shape


# ---------------------------------------------------------------------------- tables and PyTorch's own verdict

TABLE_COLUMNS = ("type", "out", "kernel", "stride", "padding", "dilation", "mode", "activation", "p")


def to_table(spec: list[dict]) -> list[dict]:
    """Spec -> rows for an editable table (one row per layer, the columns of ``TABLE_COLUMNS``)."""
    rows = []
    for layer in spec:
        t = layer.get("type")
        rows.append({
            "type": t,
            "out": layer.get("out_channels") if t == "conv" else layer.get("out_features") if t == "linear" else None,
            "kernel": layer.get("kernel"),
            "stride": layer.get("stride", layer.get("kernel") if t == "pool" else 1) if t in ("conv", "pool") else None,
            "padding": layer.get("padding", 0) if t in ("conv", "pool") else None,
            "dilation": layer.get("dilation", 1) if t == "conv" else None,
            "mode": layer.get("mode", "max") if t == "pool" else None,
            "activation": layer.get("activation") if t in ("conv", "linear") else None,
            "p": layer.get("p", 0.5) if t == "dropout" else None,
        })
    return rows


def _blank(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and v != v)  # NaN from a table


def from_table(rows: list[dict]) -> list[dict]:
    """Rows of an edited table -> spec; blank cells take the defaults, rows without a type are skipped."""
    spec = []
    for row in rows:
        t = row.get("type")
        if _blank(t):
            continue
        get = {k: (None if _blank(row.get(k)) else row.get(k)) for k in TABLE_COLUMNS}
        get = {k: int(v) if isinstance(v, float) and v.is_integer() and k != "p" else v for k, v in get.items()}
        if t == "conv":
            layer = {"type": "conv", "out_channels": get["out"], "kernel": get["kernel"], "stride": get["stride"] or 1,
                     "padding": 0 if get["padding"] is None else get["padding"], "dilation": get["dilation"] or 1,
                     "activation": get["activation"]}
        elif t == "pool":
            layer = {"type": "pool", "mode": get["mode"] or "max", "kernel": get["kernel"],
                     "stride": get["stride"] or get["kernel"], "padding": get["padding"] or 0}
        elif t == "linear":
            layer = {"type": "linear", "out_features": get["out"], "activation": get["activation"]}
        elif t == "dropout":
            layer = {"type": "dropout", "p": 0.5 if get["p"] is None else get["p"]}
        else:
            layer = {"type": t}
        spec.append(layer)
    return spec


def torch_failure(spec: list[dict], input_shape: tuple[int, int, int], *,
                  device: str = "meta") -> tuple[int, str] | None:
    """Build the layers one by one straight in PyTorch (no checks of ours) and push a zero batch through:
    (index, PyTorch's message) of the first layer PyTorch rejects, or None. ``device="cpu"`` really computes."""
    import torch
    from torch import nn

    with torch.device(device):
        x = torch.zeros(1, *input_shape)
    for i, layer in enumerate(spec):
        t = layer.get("type")
        try:
            with torch.device(device), torch.no_grad():
                if t == "conv":
                    mod = nn.Conv2d(x.shape[1], layer["out_channels"], layer["kernel"], stride=layer.get("stride", 1),
                                    padding=layer.get("padding", 0), dilation=layer.get("dilation", 1))
                elif t == "pool":
                    cls = nn.MaxPool2d if layer.get("mode", "max") == "max" else nn.AvgPool2d
                    mod = cls(layer["kernel"], stride=layer.get("stride") or layer["kernel"],
                              padding=layer.get("padding", 0))
                elif t == "flatten":
                    mod = nn.Flatten()
                elif t == "linear":
                    mod = nn.Linear(x.shape[-1], layer["out_features"])
                elif t == "dropout":
                    mod = nn.Dropout(layer.get("p", 0.5)).eval()
                else:
                    return i, _("PyTorch has no layer type {t!r}").format(t=t)
                x = mod(x)
        except Exception as err:  # noqa: BLE001 - PyTorch raises RuntimeError/ValueError/TypeError
            return i, str(err).splitlines()[0]
    return None
