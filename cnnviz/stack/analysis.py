"""A layer stack analysed without PyTorch: each layer checked, with its output shape, parameters and receptive field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..arithmetic import conv_output_size, pool_output_size, same_padding
from ..i18n import _

__all__ = ["LAYER_TYPES", "MAX_STACK_ACTIVATIONS", "MAX_STACK_LAYERS", "MAX_STACK_PARAMS", "STACK_ACTIVATIONS", "LayerInfo", "LayerProblem",
           "StackAnalysis", "analyze_stack", "walk"]

LAYER_TYPES = ("conv", "pool", "flatten", "linear", "dropout")
# A shared server trains these stacks for a whole class: refuse, before anything is built, a stack whose weights
# (with their gradients and Adam's two moments: 4 copies) or whose activations for a batch of 64 would not fit.
MAX_STACK_PARAMS = 20_000_000  # 320 MB with gradients and Adam's moments
MAX_STACK_ACTIVATIONS = 4_000_000  # numbers all layers output for one image: ~2 GB for a batch of 64 (+ backward)
MAX_STACK_LAYERS = 100  # a stack's layers (a crafted checkpoint once listed 100,000 dropouts: 16 s and 450 MB to build)
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


def walk(spec: Any, input_shape: Any) -> tuple[Shape, list[tuple[dict, LayerInfo]], LayerProblem | None]:
    """(input shape, [(normalised layer, its info)] up to the first impossible layer, that layer's problem or None)."""
    shape = _check_input(input_shape)
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ValueError(_("a stack is a non-empty list of layer dicts"))
    if len(spec) > MAX_STACK_LAYERS:
        raise ValueError(_("a stack of {n:,} layers is more than the {limit} this dashboard builds").format(
            n=len(spec), limit=MAX_STACK_LAYERS))
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
    shape, done, problem = walk(spec, input_shape)
    return StackAnalysis(shape, tuple(info for _, info in done), problem)
