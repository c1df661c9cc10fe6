"""A drawing as a 28×28 input, the way MNIST was made (LeCun, Cortes and Burges).

MNIST's recipe: the digit's ink is cropped, scaled (keeping its shape) to fit a 20×20 box, and placed in a 28×28
image so that its centre of mass sits at the centre; the ink is light on a dark background. A drawing on a white
canvas is dark on light, so it is inverted first. ``prepare_drawing`` returns every step so a page can show them.
Fashion-MNIST's clothes fill more of the frame; ``box`` says how big the drawing is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .i18n import N_, _

__all__ = ["CLOTHES_EXAMPLES", "DIGIT_EXAMPLES", "EXAMPLES", "Drawing", "example_drawing", "ink_from_canvas",
           "prepare_drawing", "render_objects"]

INK = 0.1  # a pixel with at least this much ink counts as drawn
MIN_INK_PIXELS = 4


@dataclass(frozen=True)
class Drawing:
    """A drawing prepared as a model input: ``image`` uint8 size×size (light ink on black), and each step."""

    image: np.ndarray
    steps: tuple[tuple[str, np.ndarray], ...]  # (N_-marked step name, uint8 image), in order
    box: int
    centre_of_mass: tuple[float, float]  # of the scaled ink, in the final image before the shift
    shift: tuple[int, int]  # (rows, columns) the ink was moved to centre its mass

    def step_names(self) -> list[str]:
        return [_(name) for name, _img in self.steps]


def ink_from_canvas(pixels: np.ndarray) -> np.ndarray:
    """How much ink each pixel of a canvas holds, 0 … 1: dark strokes on a light (or transparent) background.

    ``pixels``: uint8 H×W (grey), H×W×3 (RGB) or H×W×4 (RGBA; transparent counts as paper). Raises ``ValueError``
    for any other shape.
    """
    arr = np.asarray(pixels)
    if arr.ndim == 2:
        grey, alpha = arr.astype(np.float32) / 255, np.ones(arr.shape, np.float32)
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        rgb = arr[..., :3].astype(np.float32) / 255
        grey = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
        alpha = arr[..., 3].astype(np.float32) / 255 if arr.shape[2] == 4 else np.ones(arr.shape[:2], np.float32)
    else:
        raise ValueError(_("a drawing must be a grey, RGB or RGBA image, got shape {shape}").format(shape=arr.shape))
    return np.clip((1 - grey) * alpha, 0, 1)


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 H×W → (height, width), smoothed (Lanczos), like MNIST's anti-aliased scaling."""
    return np.asarray(Image.fromarray(img).resize((size[1], size[0]), Image.Resampling.LANCZOS))


def prepare_drawing(ink: np.ndarray, *, box: int = 20, size: int = 28) -> Drawing:
    """MNIST's preprocessing of a drawing's ink (0 … 1, H×W, e.g. from ``ink_from_canvas``).

    Steps: invert (light ink on black), crop to the ink, scale the longer side to ``box`` keeping the shape, place in
    ``size``×``size`` with the centre of mass at the centre. Raises ``ValueError`` for an empty drawing or a box that
    does not fit.
    """
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2:
        raise ValueError(_("a drawing must be a grey, RGB or RGBA image, got shape {shape}").format(shape=ink.shape))
    if not 4 <= box <= size:
        raise ValueError(_("the box must be between 4 and {size} pixels, got {box}").format(size=size, box=box))
    drawn = ink >= INK
    if drawn.sum() < MIN_INK_PIXELS:
        raise ValueError(_("the drawing is empty: draw something on the canvas first"))
    paper = np.round((1 - ink) * 255).astype(np.uint8)  # dark on light, as drawn
    inverted = np.round(ink * 255).astype(np.uint8)
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    cropped = inverted[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = cropped.shape
    scale = box / max(h, w)
    scaled = _resize(cropped, (max(1, round(h * scale)), max(1, round(w * scale))))
    in_box = np.zeros((box, box), np.uint8)
    top, left = (box - scaled.shape[0]) // 2, (box - scaled.shape[1]) // 2
    in_box[top:top + scaled.shape[0], left:left + scaled.shape[1]] = scaled
    # place the box in the middle, then move the ink so its centre of mass is the image's centre
    placed = np.zeros((size, size), np.float32)
    off = (size - box) // 2
    placed[off:off + box, off:off + box] = in_box
    mass = placed.sum()
    yy, xx = np.indices(placed.shape)
    com = (float((yy * placed).sum() / mass), float((xx * placed).sum() / mass))
    centre = (size - 1) / 2
    dy, dx = int(round(centre - com[0])), int(round(centre - com[1]))
    final = np.zeros_like(placed)
    ys, yd = (slice(0, size - dy), slice(dy, size)) if dy >= 0 else (slice(-dy, size), slice(0, size + dy))
    xs, xd = (slice(0, size - dx), slice(dx, size)) if dx >= 0 else (slice(-dx, size), slice(0, size + dx))
    final[yd, xd] = placed[ys, xs]
    final_u8 = final.round().astype(np.uint8)
    steps = (
        (N_("your drawing"), paper),
        (N_("inverted"), inverted),
        (N_("cropped to the ink"), cropped),
        (N_("scaled into the box"), in_box),
        (N_("centred by mass"), final_u8),
    )
    return Drawing(final_u8, steps, box, com, (dy, dx))


# ---------------------------------------------------------------------------- canvas objects (Fabric.js JSON)


def _path_points(path: Sequence) -> tuple[list[list[tuple[float, float]]], bool]:
    """Polylines of a Fabric.js path (M, L, Q, C, Z commands; curves sampled) and whether it closes."""
    lines: list[list[tuple[float, float]]] = []
    closed = False
    cur: tuple[float, float] = (0.0, 0.0)
    for cmd in path:
        op, args = str(cmd[0]).upper(), [float(v) for v in cmd[1:]]
        if op == "M":
            cur = (args[0], args[1])
            lines.append([cur])
        elif op == "L":
            cur = (args[0], args[1])
            lines[-1].append(cur) if lines else lines.append([cur])
        elif op in ("Q", "C"):
            pts = [cur, *[(args[i], args[i + 1]) for i in range(0, len(args), 2)]]
            for t in np.linspace(0, 1, 9)[1:]:
                p = list(pts)
                while len(p) > 1:  # de Casteljau
                    p = [((1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1]) for a, b in zip(p, p[1:])]
                if lines:
                    lines[-1].append(p[0])
                else:
                    lines.append([p[0]])
            cur = pts[-1]
        elif op == "Z":
            closed = True
    return lines, closed


def render_objects(objects: Sequence[dict], *, width: int, height: int) -> np.ndarray:
    """Draw a canvas's Fabric.js path objects (as the canvas keeps them) on white paper: uint8 RGB H×W×3.

    Used for drawings the browser has not rendered yet (an example put on the canvas). Strokes take the object's
    ``strokeWidth``; a closed path with a fill colour is filled. Other object types are skipped.
    """
    img = Image.new("L", (width, height), 255)
    pen = ImageDraw.Draw(img)
    for obj in objects or ():
        if obj.get("type", "").lower() != "path":
            continue
        lines, closed = _path_points(obj.get("path") or [])
        sw = max(1, round(float(obj.get("strokeWidth") or 1)))
        filled = closed and obj.get("fill") not in (None, "", "transparent", "rgba(0, 0, 0, 0)")
        for line in lines:
            if filled and len(line) >= 3:
                pen.polygon(line, fill=0)
            if len(line) >= 2:
                pen.line(line + ([line[0]] if closed else []), fill=0, width=sw, joint="curve")
            for x, y in (line[0], line[-1]):
                pen.ellipse((x - sw / 2, y - sw / 2, x + sw / 2, y + sw / 2), fill=0)
    return np.stack([np.asarray(img)] * 3, axis=2)


# Example drawings on a 280×280 canvas: digits drawn with a pen (MNIST's), and filled silhouettes of clothes
# (Fashion-MNIST's). Each: title, one polyline, filled, pen width, closed.
_ZERO = [(140 + 62 * np.sin(t), 140 - 92 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 24, endpoint=False)]
_SHAPES: dict[str, tuple[str, list[tuple[float, float]], bool, int, bool]] = {
    "one": (N_("the digit 1"), [(132, 62), (150, 40), (146, 242)], False, 24, False),
    "seven": (N_("the digit 7"), [(75, 55), (205, 55), (125, 245)], False, 24, False),
    "zero": (N_("the digit 0"), [(round(x), round(y)) for x, y in _ZERO], False, 24, True),
    "two": (N_("the digit 2"), [(78, 88), (104, 54), (150, 44), (194, 68), (200, 110), (170, 150), (78, 236),
                                (212, 236)], False, 24, False),
    "four": (N_("the digit 4"), [(172, 244), (172, 40), (62, 172), (216, 172)], False, 24, False),
    "trouser": (N_("a trouser"), [(95, 20), (185, 20), (200, 262), (152, 262), (140, 95), (128, 262), (80, 262)],
                True, 6, True),
    "tshirt": (N_("a T-shirt"), [(105, 35), (125, 45), (155, 45), (175, 35), (250, 85), (225, 135), (200, 115),
                                 (200, 255), (80, 255), (80, 115), (55, 135), (30, 85)], True, 6, True),
    "sneaker": (N_("a sneaker"), [(20, 200), (30, 150), (70, 155), (115, 120), (150, 125), (190, 165), (255, 180),
                                  (262, 222), (20, 222)], True, 6, True),
}
EXAMPLES: dict[str, str] = {key: shape[0] for key, shape in _SHAPES.items()}  # N_-marked titles
DIGIT_EXAMPLES = ("one", "seven", "zero", "two", "four")  # for a network trained on MNIST
CLOTHES_EXAMPLES = ("trouser", "tshirt", "sneaker")  # for one trained on Fashion-MNIST


def example_drawing(name: str, *, scale: float = 1.0) -> dict:
    """An example as a canvas drawing (Fabric.js JSON, ``initial_drawing`` of the canvas) on a 280×280 canvas
    (times ``scale``). Raises ``ValueError`` for an unknown name."""
    if name not in _SHAPES:
        raise ValueError(_("unknown example {name!r}; choose one of {names}").format(name=name,
                                                                                    names=", ".join(_SHAPES)))
    _title, pts, fill, width, closed = _SHAPES[name]
    pts = [(x * scale, y * scale) for x, y in pts]
    sw = width * scale
    path = [["M", *pts[0]], *[["L", *p] for p in pts[1:]]] + ([["Z"]] if closed else [])
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    obj = {"type": "Path", "version": "7.4.0", "originX": "left", "originY": "top",
           "left": min(xs) - sw / 2, "top": min(ys) - sw / 2,
           "width": max(xs) - min(xs), "height": max(ys) - min(ys),
           "fill": "#000000" if fill else None, "stroke": "#000000", "strokeWidth": sw,
           "strokeLineCap": "round", "strokeLineJoin": "round", "path": path}
    return {"version": "7.4.0", "objects": [obj]}
