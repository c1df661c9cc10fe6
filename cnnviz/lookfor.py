"""What does a filter look for? Receptive fields, top-activating examples and activation maximization.

Three answers, as in DeepVis and Distill's "Feature Visualization" (Olah et al. 2017):

* ``receptive_field``: which input pixels one cell of a layer's map can see, traced through the model's real
  forward pass (convolutions, pooling, padding — also TensorFlow's 'same' padding — and skip connections).
* ``index_layer`` + ``top_examples``: run a layer over a set of images once, keep each channel's strongest
  positions, then show the images (or image patches) that excite a channel most, each cropped to the receptive
  field around its strongest position, with the activation value.
* ``visualize_channel``: an input optimized by gradient ascent to excite one channel, made readable the way
  Lucid/Lucent do it: a Fourier-space image with a 1/f spectrum, decorrelated colours, a sigmoid to keep pixels
  in range, and random jitter, scale and rotation at every step; snapshots show it improving.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .errors import shape_mismatch_reason
from .i18n import _

__all__ = [
    "Example",
    "LayerIndex",
    "ReceptiveField",
    "Visualization",
    "check_channel",
    "channel_count",
    "crop",
    "default_settings",
    "folder_set",
    "image_set",
    "photo_set",
    "index_layer",
    "receptive_field",
    "stage_row",
    "top_examples",
    "visualize_channel",
    "visualize_channels",
]

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------------- receptive fields


@dataclass(frozen=True)
class ReceptiveField:
    """The input window of one cell of a layer's map, per axis (rows, columns).

    Cell (i, j) sees input rows ``start[0] + i·jump[0]`` … ``+ size[0] − 1`` (and the same for columns). ``start``
    is negative where the window reaches into the padding. ``whole`` when a global pooling lets a cell see all.
    """

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[int, int]
    whole: bool = False

    def box(self, i: int, j: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of cell (i, j)'s window in input pixels; bottom/right exclusive."""
        top = self.start[0] + i * self.jump[0]
        left = self.start[1] + j * self.jump[1]
        return top, left, top + self.size[0], left + self.size[1]

    def centre(self, i: int, j: int) -> tuple[float, float]:
        """The input position (row, column) at the centre of cell (i, j)'s window."""
        top, left, bottom, right = self.box(i, j)
        return (top + bottom - 1) / 2, (left + right - 1) / 2


@dataclass
class _Geo:  # one axis pair of a traced tensor: (size, jump, start) for rows and for columns
    size: list[int]
    jump: list[int]
    start: list[int]
    whole: bool = False


def _pair(v, n: int = 2) -> list[int]:
    if isinstance(v, (list, tuple)):
        return [int(x) for x in v] if len(v) == n else [int(v[0])] * n
    return [int(v)] * n


class _Tracer(TorchFunctionMode):
    """Follows every spatial tensor of a forward pass and the input window of its cell (0, 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.geo: dict[int, _Geo] = {}
        self.keep: list[Tensor] = []  # tensors stay alive during the trace, so their ids are not reused

    def track(self, t: Tensor, g: _Geo) -> None:
        self.geo[id(t)] = g
        self.keep.append(t)

    def of(self, t) -> _Geo | None:
        return self.geo.get(id(t)) if isinstance(t, Tensor) else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        first = out[0] if isinstance(out, (tuple, list)) and out and isinstance(out[0], Tensor) else out
        if not isinstance(first, Tensor) or first.ndim != 4:
            return out
        name = getattr(func, "__name__", "")
        src = args[0] if args else kwargs.get("input")
        g = self.of(src)
        new: _Geo | None = None
        if g is not None and not g.whole and name in ("conv2d", "max_pool2d", "avg_pool2d", "max_pool2d_with_indices"):
            new = self._window(name, g, args, kwargs, src)
        elif g is not None and name == "pad":
            pad = list(args[1] if len(args) > 1 else kwargs["pad"])
            before = [pad[2] if len(pad) > 2 else 0, pad[0]]  # F.pad lists the last axis first
            new = _Geo(list(g.size), list(g.jump), [g.start[a] - before[a] * g.jump[a] for a in range(2)], g.whole)
        elif g is not None and name.startswith("adaptive_") and tuple(first.shape[-2:]) != (1, 1) and \
                tuple(first.shape[-2:]) == tuple(src.shape[-2:]):
            new = _Geo(list(g.size), list(g.jump), list(g.start), g.whole)
        elif name.startswith("adaptive_") or name in ("interpolate", "upsample", "upsample_bilinear2d",
                                                       "upsample_nearest2d", "grid_sampler"):
            new = _Geo([0, 0], [1, 1], [0, 0], whole=True) if g is not None else None
        else:  # element-wise or channel-wise work (activations, batch norm, additions of a skip connection):
            # the union of the windows of every traced input with the same map size
            shapes = tuple(first.shape[-2:])
            inputs = [self.of(a) for a in (*args, *kwargs.values())
                      if isinstance(a, Tensor) and a.ndim == 4 and tuple(a.shape[-2:]) == shapes]
            inputs += [self.of(a) for seq in args if isinstance(seq, (list, tuple)) for a in seq
                       if isinstance(a, Tensor) and a.ndim == 4 and tuple(a.shape[-2:]) == shapes]
            inputs = [x for x in inputs if x is not None]
            if inputs:
                if any(x.whole for x in inputs):
                    new = _Geo([0, 0], [1, 1], [0, 0], whole=True)
                else:
                    start = [min(x.start[a] for x in inputs) for a in range(2)]
                    end = [max(x.start[a] + x.size[a] for x in inputs) for a in range(2)]
                    new = _Geo([end[a] - start[a] for a in range(2)], [max(x.jump[a] for x in inputs)
                                                                       for a in range(2)], start)
        if new is not None:
            self.track(first, new)
        return out

    @staticmethod
    def _window(name: str, g: _Geo, args, kwargs, src: Tensor) -> _Geo:
        def arg(i: int, key: str, default):
            return args[i] if len(args) > i else kwargs.get(key, default)

        if name == "conv2d":
            weight = arg(1, "weight", None)
            k = [int(weight.shape[2]), int(weight.shape[3])]
            s, p, d = _pair(arg(3, "stride", 1)), arg(4, "padding", 0), _pair(arg(5, "dilation", 1))
            if isinstance(p, str):  # 'valid' or 'same' (stride 1): PyTorch puts the odd zero after
                p = [0, 0] if p == "valid" else [d[a] * (k[a] - 1) // 2 for a in range(2)]
            p = _pair(p)
        else:
            k = _pair(arg(1, "kernel_size", 1))
            stride = arg(2, "stride", None)
            s = _pair(stride) if stride not in (None, [], ()) else list(k)
            p = _pair(arg(3, "padding", 0))
            d = _pair(arg(4, "dilation", 1)) if name != "avg_pool2d" else [1, 1]
        return _Geo([g.size[a] + d[a] * (k[a] - 1) * g.jump[a] for a in range(2)],
                    [g.jump[a] * s[a] for a in range(2)],
                    [g.start[a] - p[a] * g.jump[a] for a in range(2)])


class _Stop(Exception):
    """Raised by a hook once the wanted layer has run: the rest of the forward pass is skipped."""


def _layer_module(model: nn.Module, layer: str) -> nn.Module:
    modules = dict(model.named_modules())
    if layer not in modules or not layer:
        raise ValueError(_("unknown layer {layer!r}; choose one of the model's layers, e.g. {examples}").format(
            layer=layer, examples=", ".join(list(modules)[1:4])))
    return modules[layer]


def _no_maps(layer: str, module: nn.Module, shape) -> ValueError:
    return ValueError(_("layer {layer} ({kind}) has no feature maps: its output has shape {shape}, not "
                        "channels × height × width. Pick a conv, pooling or activation layer.").format(
        layer=layer, kind=type(module).__name__, shape=tuple(shape)))


def _output_of(model: nn.Module, layer: str, x: Tensor, context=None):
    """What ``layer`` returns for the batch ``x``: the forward pass stops right after it (inside ``context``, e.g.
    ``torch.no_grad()``). Raises ``ValueError`` for an input the model cannot take or a layer it never runs."""
    module = _layer_module(model, layer)
    got: list = []

    def hook(_m, _i, output):
        got.append(output)
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        with context if context is not None else contextlib.nullcontext():
            model(x)
    except _Stop:
        pass
    except RuntimeError as err:
        raise ValueError(_("the model cannot take a {shape} input: {reason}").format(
            shape="×".join(map(str, x.shape[1:])), reason=shape_mismatch_reason(err))) from None
    finally:
        handle.remove()
    if not got:
        raise ValueError(_("layer {layer} is not run by the model's forward pass").format(layer=layer))
    out = got[0]
    if not isinstance(out, Tensor) or out.ndim != 4:
        raise _no_maps(layer, module, out.shape if isinstance(out, Tensor) else (type(out).__name__,))
    return out


def _run_to(model: nn.Module, layer: str, x: Tensor) -> Tensor:
    """The output of ``layer`` for the batch ``x``; the forward pass stops right after it (gradients kept if on)."""
    return _output_of(model, layer, x)


def receptive_field(model: nn.Module, layer: str, input_shape: tuple[int, int, int]) -> ReceptiveField:
    """The receptive field of one cell of ``layer``'s maps for an input of ``input_shape`` (C, H, W).

    Traced through one forward pass (no gradients, on a private copy): every conv, pooling and padding on the way,
    the union of both branches where a skip connection adds them. Raises ``ValueError`` for an unknown layer or a
    layer without spatial maps.
    """
    model = _private(model)
    x = torch.zeros((1, *input_shape))
    tracer = _Tracer()
    tracer.track(x, _Geo([1, 1], [1, 1], [0, 0]))
    with torch.no_grad():
        out = _output_of(model, layer, x, tracer)
    g = tracer.of(out)
    if g is None or g.whole:
        return ReceptiveField((int(input_shape[1]), int(input_shape[2])), (1, 1), (0, 0), whole=True)
    return ReceptiveField(tuple(g.size), tuple(g.jump), tuple(g.start))


def _private(model: nn.Module) -> nn.Module:
    """An eval-mode copy without parameter gradients: hooks and autograd on it never touch a shared model.

    Copied under the model's capture lock, so no other session's hooks are on it (or copied) meanwhile."""
    from .capture import model_lock

    with model_lock(model):
        copied = copy.deepcopy(model)
    copied.eval()
    for p in copied.parameters():
        p.requires_grad_(False)
    return copied


# ---------------------------------------------------------------------------- checks


def channel_count(model: nn.Module, layer: str, input_shape: tuple[int, int, int]) -> int:
    """How many channels ``layer`` outputs for an input of ``input_shape``; ValueError when it has no maps."""
    with torch.no_grad():
        out = _run_to(_private(model), layer, torch.zeros((1, *input_shape)))
    return int(out.shape[1])


def check_channel(channel: int, channels: int, layer: str) -> int:
    """``channel`` as an int when ``layer`` has it; else ValueError in one sentence."""
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= int(channel) < channels:
        raise ValueError(_("channel {channel} does not exist: layer {layer} has {n} channels, numbered 0 to "
                           "{last}").format(channel=channel, layer=layer, n=channels, last=channels - 1))
    return int(channel)


# ---------------------------------------------------------------------------- image sets and the index


@dataclass(frozen=True)
class ImageSet:
    """Images to search, as the model's input: ``images`` uint8 C×H×W each (sizes may differ), with names."""

    name: str
    images: tuple[Tensor, ...]
    names: tuple[str, ...]
    whole_images: bool  # True: each image counts once (a dataset); False: several patches per photo
    sources: tuple[str, ...] = ()  # the photo each image was made from (a file's name without its suffix)

    def __len__(self) -> int:
        return len(self.images)


def image_set(name: str, images: Sequence[Tensor], names: Sequence[str] | None = None, *,
              whole_images: bool = False) -> ImageSet:
    """An ``ImageSet`` from uint8 C×H×W tensors (an N×C×H×W tensor works too). Raises ``ValueError`` when empty."""
    imgs = tuple(images[i] for i in range(len(images)))
    if not imgs:
        raise ValueError(_("there are no images to search"))
    for t in imgs:
        if not isinstance(t, Tensor) or t.ndim != 3 or t.dtype != torch.uint8:
            raise TypeError(_("images must be uint8 tensors C×H×W"))
    labels = tuple(names) if names is not None else tuple(str(i) for i in range(len(imgs)))
    return ImageSet(name, imgs, labels, whole_images)


PHOTO_SIDES = (192, 320)  # each photo is searched at these longer sides: small and large patterns
MAX_FOLDER_IMAGES = 200


def photo_set(files: Sequence, *, channels: int, sides: Sequence[int] = PHOTO_SIDES, name: str = "photos",
              names: Sequence[str] | None = None) -> ImageSet:
    """Photos (paths or bytes) as an ``ImageSet`` of uint8 C×H×W images, each photo at every longer side in
    ``sides`` (a conv layer runs on any size). Unreadable files are skipped; ``ValueError`` when none is left."""
    from .data import ImageError, decode_image, image_to_tensor

    imgs: list[Tensor] = []
    labels: list[str] = []
    sources: list[str] = []
    for i, f in enumerate(files):
        try:
            img = decode_image(f, max_side=max(sides) * 2)
        except (ImageError, OSError):
            continue
        label = names[i] if names is not None else getattr(f, "stem", str(i))
        for side in sides:
            x = image_to_tensor(img, channels=channels, max_side=side)
            if max(x.shape[1:]) < side:  # a small photo is enlarged to the side wanted
                from PIL import Image

                scale = side / max(img.size)
                big = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                                 Image.Resampling.BICUBIC)
                x = image_to_tensor(big, channels=channels)
            imgs.append((x * 255).round().to(torch.uint8))
            labels.append(f"{label} · {max(x.shape[1:])}px")
            sources.append(str(label))
    if not imgs:
        raise ValueError(_("no readable image found"))
    return ImageSet(name, tuple(imgs), tuple(labels), whole_images=False, sources=tuple(sources))


def folder_set(folder, *, channels: int, sides: Sequence[int] = PHOTO_SIDES,
               max_images: int = MAX_FOLDER_IMAGES) -> ImageSet:
    """Every image under ``folder`` (sub-folders too, at most ``max_images``), as ``photo_set`` reads them.

    The folder must lie under ``cnnviz.data.data_roots()`` (a shared server shows no other files). Raises
    ``ValueError`` for a folder outside them, or without a readable image.
    """
    from .data import IMAGE_EXTENSIONS, allowed_folder

    root = allowed_folder(folder)
    files = []
    for f in sorted(root.rglob("*")):
        if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file():
            files.append(f)
            if len(files) >= max_images:
                break
    if not files:
        raise ValueError(_("no image found in {folder}").format(folder=folder))
    return photo_set(files, channels=channels, sides=sides, name=str(root.name),
                     names=[str(f.relative_to(root)) for f in files])


@dataclass(frozen=True)
class LayerIndex:
    """One layer's strongest positions over an image set, for every channel.

    ``values`` N×C×K: the K strongest activations of each channel in each image (K = 1 for whole images: the
    image's maximum; else the maximum of each of K regions of the map); ``rows``/``cols`` N×C×K their map
    positions. ``fields`` the receptive field for each image's input size.
    """

    layer: str
    images: ImageSet
    values: Tensor
    rows: Tensor
    cols: Tensor
    fields: tuple[ReceptiveField, ...]
    map_sizes: tuple[tuple[int, int], ...]

    @property
    def channels(self) -> int:
        return int(self.values.shape[1])

    def best(self, channel: int) -> float:
        """The strongest activation of ``channel`` over every image and position."""
        return float(self.values[:, check_channel(channel, self.channels, self.layer)].max())


def index_layer(model: nn.Module, layer: str, images: ImageSet, *, mean: Sequence[float], std: Sequence[float],
                regions: int = 3, batch_size: int = 256, progress: Progress | None = None) -> LayerIndex:
    """Run ``layer`` over every image once and keep each channel's strongest positions.

    Images of one size go through in batches; each is normalised with ``mean``/``std`` first. For a photo set
    (``images.whole_images`` false) the map is split into ``regions`` × ``regions`` parts and each part's maximum
    kept, so one photo can give several different patches. ``progress(done, total)`` is called after each batch.
    Raises ``ValueError`` for a layer without maps or an input the model cannot take.
    """
    net = _private(model)
    m = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
    n = len(images)
    k = 1 if images.whole_images else regions * regions
    by_size: dict[tuple[int, ...], list[int]] = {}
    for i, t in enumerate(images.images):
        by_size.setdefault(tuple(t.shape), []).append(i)
    values = rows = cols = None
    fields: list[ReceptiveField | None] = [None] * n
    map_sizes: list[tuple[int, int]] = [(0, 0)] * n
    done = 0
    for shape, ids in by_size.items():
        rf = receptive_field(net, layer, shape)
        for b in range(0, len(ids), batch_size):
            part = ids[b:b + batch_size]
            x = (torch.stack([images.images[i] for i in part]).float() / 255 - m) / s
            with torch.no_grad():
                out = _run_to(net, layer, x).float()
            c, h, w = out.shape[1:]
            if values is None:
                values = torch.empty((n, c, k))
                rows = torch.empty((n, c, k), dtype=torch.int32)
                cols = torch.empty((n, c, k), dtype=torch.int32)
            if k == 1:
                v, flat = out.flatten(2).max(dim=2)
                v, flat = v.unsqueeze(-1), flat.unsqueeze(-1)
            else:
                g = (min(regions, h), min(regions, w))
                v, flat = F.adaptive_max_pool2d(out, g, return_indices=True)
                v, flat = v.flatten(2), flat.flatten(2)
                if v.shape[2] < k:  # a map smaller than the regions: repeat its cells
                    reps = math.ceil(k / v.shape[2])
                    v, flat = v.repeat(1, 1, reps)[..., :k], flat.repeat(1, 1, reps)[..., :k]
            ids_t = torch.tensor(part)
            values[ids_t] = v
            rows[ids_t] = (flat // w).to(torch.int32)
            cols[ids_t] = (flat % w).to(torch.int32)
            for i in part:
                fields[i] = rf
                map_sizes[i] = (int(h), int(w))
            done += len(part)
            if progress is not None:
                progress(done, n)
    return LayerIndex(layer, images, values, rows, cols, tuple(fields), tuple(map_sizes))


# ---------------------------------------------------------------------------- top examples


@dataclass(frozen=True)
class Example:
    """One top-activating example: which image, where, how strong, and the crop the cell sees."""

    image: int  # index into the image set
    name: str
    value: float
    row: int  # position in the map
    col: int
    box: tuple[int, int, int, int]  # (top, left, bottom, right) in the image, may reach outside it
    centre: tuple[float, float]  # the window's centre in the image (row, column)
    crop: np.ndarray  # uint8 H×W (grey) or H×W×3, exactly the receptive field's size


def crop(image: Tensor | np.ndarray, box: tuple[int, int, int, int], *, fill: int = 128) -> np.ndarray:
    """The part of ``image`` (uint8 C×H×W tensor or H×W(×3) array) inside ``box``, exactly the box's size: where
    the box reaches past the image (into the padding), ``fill`` grey."""
    arr = image.numpy() if isinstance(image, Tensor) else np.asarray(image)
    if isinstance(image, Tensor):
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    top, left, bottom, right = box
    h, w = arr.shape[:2]
    out = np.full((bottom - top, right - left, *arr.shape[2:]), fill, dtype=np.uint8)
    y0, y1, x0, x1 = max(top, 0), min(bottom, h), max(left, 0), min(right, w)
    if y0 < y1 and x0 < x1:
        out[y0 - top:y1 - top, x0 - left:x1 - left] = arr[y0:y1, x0:x1]
    return out


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    h = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    w = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return h * w / area if area else 0.0


def top_examples(index: LayerIndex, channel: int, *, k: int = 9, max_overlap: float = 0.5) -> list[Example]:
    """The ``k`` strongest examples of ``channel``, strongest first, each cropped to its receptive field.

    A photo may give several patches, but never two that overlap by more than ``max_overlap`` of their area.
    Raises ``ValueError`` for a channel the layer does not have.
    """
    channel = check_channel(channel, index.channels, index.layer)
    vals = index.values[:, channel].flatten()
    order = torch.argsort(vals, descending=True).tolist()
    per = index.values.shape[2]
    picked: list[Example] = []
    for flat in order:
        i, r = divmod(flat, per)
        row, col = int(index.rows[i, channel, r]), int(index.cols[i, channel, r])
        rf = index.fields[i]
        if rf.whole:
            h, w = index.images.images[i].shape[1:]
            box = (0, 0, int(h), int(w))
            centre = ((h - 1) / 2, (w - 1) / 2)
        else:
            box = rf.box(row, col)
            centre = rf.centre(row, col)
        if any(e.image == i and (_overlap(box, e.box) > max_overlap or (e.row, e.col) == (row, col))
               for e in picked):
            continue
        picked.append(Example(i, index.images.names[i], float(vals[flat]), row, col, box, centre,
                              crop(index.images.images[i], box)))
        if len(picked) >= k:
            break
    return picked


# ---------------------------------------------------------------------------- activation maximization

# Lucid's colour correlation of ImageNet photos (square root of the covariance, by SVD), normalised
_COLOR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_CORRELATION = _COLOR_CORRELATION / _COLOR_CORRELATION.norm(dim=0).max()


@dataclass(frozen=True)
class Visualization:
    """An input optimized to excite one channel.

    ``image`` uint8 H×W or H×W×3; ``snapshots`` (step, image) as it improved; ``activation`` the channel's
    strongest activation on ``image`` (the same measure as ``LayerIndex.best``); ``history`` the objective (the
    channel's mean activation under the random transformations) at every step.
    """

    layer: str
    channel: int
    image: np.ndarray
    activation: float
    snapshots: tuple[tuple[int, np.ndarray], ...]
    history: tuple[float, ...]
    steps: int
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)


def _freqs(h: int, w: int) -> Tensor:
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class _FourierImage:
    """Lucid's parameterisation: the image's 2-D spectrum, scaled by 1/frequency (natural images' spectrum), so
    gradient steps change low frequencies first; colours through the decorrelation matrix; sigmoid into [0, 1]."""

    def __init__(self, batch: int, channels: int, h: int, w: int, *, generator: torch.Generator, sd: float = 0.01,
                 decay: float = 1.0, fourier: bool = True, decorrelate: bool = True) -> None:
        self.shape = (batch, channels, h, w)
        self.fourier = fourier
        self.decorrelate = decorrelate and channels == 3
        if fourier:
            f = _freqs(h, w)
            self.scale = (1.0 / torch.clamp(f, min=1.0 / max(h, w)) ** decay)[None, None]
            spectrum = torch.randn((batch, channels, *f.shape, 2), generator=generator) * sd
            self.param = spectrum.requires_grad_(True)
        else:
            self.param = (torch.randn(self.shape, generator=generator) * sd).requires_grad_(True)

    def __call__(self) -> Tensor:
        if self.fourier:
            spec = torch.view_as_complex(self.param) * self.scale
            x = torch.fft.irfft2(spec, s=self.shape[-2:], norm="ortho") / 4.0  # Lucid's "magic" 4: less saturation
        else:
            x = self.param
        if self.decorrelate:
            x = torch.einsum("bchw,dc->bdhw", x, _COLOR_CORRELATION)
        return torch.sigmoid(x)


def _transform(x: Tensor, gen: torch.Generator, *, jitter: int, scale: float, rotate: float, pad: int) -> Tensor:
    """Lucid's standard robustness transforms, batched: pad, jitter, random scale, random rotation, jitter."""
    b = x.shape[0]
    if pad:
        x = F.pad(x, [pad] * 4, mode="constant", value=0.5)

    def shift(t: Tensor, d: int) -> Tensor:
        if d <= 0:
            return t
        dy, dx = (int(v) for v in torch.randint(-d, d + 1, (2,), generator=gen))
        return torch.roll(t, shifts=(dy, dx), dims=(2, 3))

    x = shift(x, jitter)
    if scale or rotate:
        s = 1 + (torch.rand(b, generator=gen) * 2 - 1) * scale
        a = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(rotate)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = torch.cos(a) / s
        theta[:, 0, 1] = -torch.sin(a) / s
        theta[:, 1, 0] = torch.sin(a) / s
        theta[:, 1, 1] = torch.cos(a) / s
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return shift(x, max(1, jitter // 2))


def _to_uint8(x: Tensor) -> np.ndarray:
    arr = (x.detach().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)


def visualize_channels(model: nn.Module, layer: str, channels: Sequence[int], *, input_shape: tuple[int, int, int],
                       mean: Sequence[float], std: Sequence[float], steps: int = 96, lr: float = 0.05,
                       fourier: bool = True, decorrelate: bool = True, jitter: int | None = None,
                       scale: float = 0.1, rotate: float = 5.0, objective: str = "channel", polish: float = 0.25, decay: float = 1.0,
                       snapshots: int = 6,
                       seed: int = 0, progress: Progress | None = None,
                       on_snapshot: Callable[[int, np.ndarray], None] | None = None,
                       threads: int | None = None) -> list[Visualization]:
    """Activation maximization for several channels of one layer at once (one batch: one image per channel).

    Each image is optimized by Adam to raise its channel's mean activation, seen through random jitter, scale and
    rotation; ``fourier`` and ``decorrelate`` choose Lucid's parameterisation (off: plain pixels, which gives the
    noisy high-frequency patterns the paper warns about). Pixels stay in [0, 1] like a real image's and are
    normalised with ``mean``/``std``. ``objective`` "channel" raises the mean of the whole map (textures),
    "neuron" the centre cell only (one object). The last ``polish`` part of the steps sees the image untransformed.
    ``progress(step, steps)`` after every step, ``on_snapshot(step, first image)`` at every snapshot. The work
    takes its share of the cores beside running fits (``cnnviz.training.cpu.THREADS``), at most ``threads``. Raises
    ``ValueError`` for a layer without maps, a missing channel or an unknown objective.
    """
    import time

    if objective not in OBJECTIVES:
        raise ValueError(_("objective must be one of {names}, got {objective!r}").format(
            names=", ".join(OBJECTIVES), objective=objective))

    t0 = time.perf_counter()
    c, h, w = (int(v) for v in input_shape)
    if steps < 1 or not 8 <= min(h, w) <= 1024:
        raise ValueError(_("the optimization needs at least one step and an image of 8 to 1024 pixels a side"))
    net = _private(model)
    total = channel_count(net, layer, (c, h, w))
    chans = [check_channel(ch, total, layer) for ch in channels]
    if not chans:
        raise ValueError(_("choose at least one channel"))
    gen = torch.Generator().manual_seed(seed)
    jitter = max(1, round(min(h, w) / 16)) if jitter is None else jitter
    pad = max(1, round(min(h, w) / 16))
    img = _FourierImage(len(chans), c, h, w, generator=gen, fourier=fourier, decorrelate=decorrelate, decay=decay)
    opt = torch.optim.Adam([img.param], lr=lr)
    m = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
    pick = torch.tensor(chans)
    rows = torch.arange(len(chans))
    every = max(1, steps // max(1, snapshots))
    shots: list[list[tuple[int, np.ndarray]]] = [[] for _c in chans]
    history: list[list[float]] = [[] for _c in chans]
    from .training.cpu import THREADS

    def ascent(step: int) -> None:
        opt.zero_grad()
        x = img()
        if (step - 1) % every == 0:
            for b in range(len(chans)):
                shots[b].append((step - 1, _to_uint8(x[b])))
            if on_snapshot is not None:
                on_snapshot(step - 1, shots[0][-1][1])
        robust = step <= steps - round(polish * steps)  # the last steps see the image as it is, to sharpen it
        t = _transform(x, gen, jitter=jitter, scale=scale, rotate=rotate, pad=pad) if robust else x
        maps = _run_to(net, layer, (t - m) / s)[rows, pick]
        act = maps[:, maps.shape[1] // 2, maps.shape[2] // 2] if objective == "neuron" else maps.mean(dim=(1, 2))
        (-act.sum()).backward()
        opt.step()
        for b, v in enumerate(act.tolist()):
            history[b].append(v)
        if progress is not None:
            progress(step, steps)

    with THREADS.lease(threads) as lease:  # share the cores with training runs and other optimizations, as a fit does
        for step in range(1, steps + 1):
            lease.refresh()
            ascent(step)
    with torch.no_grad():
        x = (img() * 255).round() / 255  # measured on the image as shown (8-bit pixels)
        final = _run_to(net, layer, (x - m) / s)[rows, pick].flatten(1).max(dim=1).values.tolist()
    seconds = time.perf_counter() - t0
    settings = {"steps": steps, "lr": lr, "fourier": fourier, "decorrelate": decorrelate and c == 3,
                "jitter": jitter, "scale": scale, "rotate": rotate, "size": (h, w), "seed": seed}
    return [Visualization(layer, ch, _to_uint8(x[b]), float(final[b]), (*shots[b], (steps, _to_uint8(x[b]))),
                          tuple(history[b]), steps, seconds, dict(settings)) for b, ch in enumerate(chans)]


OBJECTIVES = ("channel", "neuron")


def default_settings(input_shape: Sequence[int], *, quick: bool = False) -> dict:
    """Settings of ``visualize_channels`` that read well for a model's input shape (C, H, W): a small grey net
    (28×28) is optimized at its own size for its centre cell, with gentle jitter; an ImageNet network at 128×128
    (96 for ``quick``, e.g. a whole row) for the mean of the map, with Lucid's jitter, scale and rotation."""
    c, h, w = (int(v) for v in input_shape)
    if max(h, w) <= 64:
        return {"input_shape": (c, h, w), "steps": 96 if quick else 128, "lr": 0.1, "objective": "neuron",
                "jitter": 1, "scale": 0.05, "rotate": 0.0, "decay": 0.5, "polish": 0.5}
    side = 96 if quick else 128
    return {"input_shape": (c, side, side), "steps": 64 if quick else 96, "lr": 0.05, "objective": "channel",
            "jitter": None, "scale": 0.1, "rotate": 5.0, "decay": 1.0, "polish": 0.25}


def visualize_channel(model: nn.Module, layer: str, channel: int, **options) -> Visualization:
    """Activation maximization for one channel: ``visualize_channels`` with one channel (same options)."""
    return visualize_channels(model, layer, [channel], **options)[0]


def stage_row(model: nn.Module, stages: Sequence[str], *, count: int = 6,
              input_shape: tuple[int, int, int]) -> dict[str, list[int]]:
    """For a layer-by-layer row: ``count`` channels of each stage, spread evenly over the channels that respond at
    all (a channel whose map is constant on random inputs, e.g. a filter pruned to zero, would show plain grey)."""
    net = _private(model)
    x = torch.rand((2, *input_shape), generator=torch.Generator().manual_seed(0))
    out: dict[str, list[int]] = {}
    for layer in stages:
        with torch.no_grad():
            maps = _run_to(net, layer, x).float()
        spread = maps.transpose(0, 1).flatten(1).std(dim=1)
        alive = torch.nonzero(spread > 1e-3 * float(spread.max())).flatten().tolist() or list(range(maps.shape[1]))
        k = min(count, len(alive))
        out[layer] = sorted({alive[round(i * (len(alive) - 1) / max(1, k - 1))] for i in range(k)})
    return out
