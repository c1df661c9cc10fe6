"""Images from uploads and files: decoded safely whatever is uploaded (hostile-input guards), turned into tensors;
and the bundled sample photos."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import io
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ..i18n import N_, _
from .paths import ASSETS

__all__ = ["IMAGE_EXTENSIONS", "LARGE_DECODE", "MAX_IMAGE_PIXELS", "PILLOW_HARD_LIMIT", "SAMPLE_TITLES", "SAMPLES_DIR", "ImageError",
           "ImageTooLarge", "decode_image", "decoded_pixels", "image_to_tensor", "sample_images", "sample_title"]

SAMPLES_DIR = ASSETS / "samples"

# Pixels decoded for one image (a JPEG counts at the reduced scale it is decoded at): 40 MP are 160 MB as RGBA.
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class ImageError(ValueError):
    """An uploaded file is not an image this app can read; the message says why."""


class ImageTooLarge(ImageError):
    """An image has more pixels than this server decodes (read from its header, before any decoding)."""


def _format_by_magic(head: bytes) -> str | None:
    """The image format a file's first bytes announce (None when they announce none we read)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
          (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
# Pillow refuses outright above twice its own bomb limit, before a size can be read: that is the last word for any file.
PILLOW_HARD_LIMIT = 2 * Image.MAX_IMAGE_PIXELS
LARGE_DECODE = 8_000_000  # decodes of more pixels than this run at most two at a time in the whole server
_LARGE_DECODES = threading.BoundedSemaphore(2)


def _damaged(fmt: str | None) -> ImageError:
    if fmt:
        return ImageError(_("the {format} file is damaged or truncated (cut short), so it cannot be read to the "
                            "end. Save or export it again.").format(format=fmt))
    return ImageError(_("the image file is damaged or truncated (cut short), so it cannot be read to the end. Save "
                        "or export it again."))


def _too_large(w: int, h: int, limit: int, fmt: str | None) -> ImageTooLarge:
    return ImageTooLarge(_("the {format} image is {w}×{h} = {mp:.0f} megapixels: too large for this server, which reads "
                           "at most {limit:.0f} megapixels of it (a JPEG photo is read shrunk, up to {pillow:.0f} "
                           "megapixels). Make it smaller first.").format(
        format=fmt or _("uploaded"), w=w, h=h, mp=w * h / 1e6, limit=limit / 1e6, pillow=PILLOW_HARD_LIMIT / 1e6))


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """A WebP file's width and height from its first 30 bytes (lossy VP8, lossless VP8L or extended VP8X), or None.
    Pillow's WebP reader allocates the whole canvas when it opens a file, before any size can be checked."""
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(head) >= 30:
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _open_header(source: bytes | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """The image opened lazily: only its header is read. Raises ImageError with a plain sentence."""
    if isinstance(source, Path):
        try:
            size = source.stat().st_size
            with open(source, "rb") as f:
                head = f.read(30)
        except OSError:
            raise ImageError(_("the file cannot be read")) from None
    else:
        size, head = len(source), source[:30]
    if size == 0:
        raise ImageError(_("the file is empty (0 bytes)"))
    fmt = _format_by_magic(head)
    webp = _webp_size(head) if fmt == "WebP" else None
    if webp is not None and webp[0] * webp[1] > max_pixels:  # too large: refused before Pillow allocates it
        raise _too_large(webp[0], webp[1], max_pixels, fmt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limits follow, in plain words
            return Image.open(source if isinstance(source, Path) else io.BytesIO(source))
    except Image.DecompressionBombError:
        raise ImageTooLarge(_("the image has more than {limit:.0f} megapixels: too large for this server. Make it "
                           "smaller first.").format(limit=PILLOW_HARD_LIMIT / 1e6)) from None
    except MemoryError:
        raise ImageError(_("the server has not enough free memory to open this image now; try a smaller one")) from None
    except Exception:  # UnidentifiedImageError, SyntaxError, struct.error, ValueError, OSError … from a bad header
        if fmt:
            raise _damaged(fmt) from None
        raise ImageError(_("this file is not an image that can be read (PNG, JPEG, WebP, BMP, GIF or TIFF)")) from None


def _reduced_scale(img: Image.Image, *, max_pixels: int, max_side: int | None) -> int:
    """The scale (1, 2, 4 or 8) at which a JPEG is decoded: as small as ``max_side`` allows, and small enough to stay
    within ``max_pixels``. 1 for other formats (they decode at full size). Raises ImageError when even 1/8 is too big."""
    w, h = img.size
    if img.format != "JPEG" or len(getattr(img, "tile", ())) != 1:
        if w * h > max_pixels:
            raise _too_large(w, h, max_pixels, img.format)
        return 1
    needed = next((s for s in (1, 2, 4, 8) if -(-w // s) * -(-h // s) <= max_pixels), None)
    if needed is None:
        raise _too_large(w, h, max_pixels, img.format)
    allowed = max((s for s in (1, 2, 4, 8) if max_side and max(w, h) // s >= max_side), default=1)
    return max(needed, allowed)


def decoded_pixels(source: bytes | str | Path, *, max_pixels: int = MAX_IMAGE_PIXELS,
                   max_side: int | None = None) -> int:
    """How many pixels ``decode_image`` with these options would decode, read from the header only (nothing is
    decoded). Raises ``ImageError`` as ``decode_image`` would for an unreadable or too large file."""
    img = _open_header(Path(source) if isinstance(source, str) else source, max_pixels)
    with img:
        scale = _reduced_scale(img, max_pixels=max_pixels, max_side=max_side)
        w, h = img.size
    return (-(-w // scale)) * (-(-h // scale))


def decode_image(data: bytes | str | Path, *, max_pixels: int = MAX_IMAGE_PIXELS,
                 max_side: int | None = None) -> Image.Image:
    """Decode an uploaded file into an 8-bit RGB or L (grayscale) PIL image, oriented as shot.

    Handles PNG, JPEG, WebP, BMP, TIFF and GIF (first frame); EXIF rotation; palette, alpha (over
    white), CMYK and 16-bit images. Sizes are read from the header before anything is decoded: a JPEG is decoded
    at 1/2, 1/4 or 1/8 scale when ``max_side`` allows it, or when its full size has more than ``max_pixels`` pixels
    (a phone's 144-megapixel panorama is read shrunk); another format with more than ``max_pixels`` pixels is
    refused. ``max_side`` then shrinks the result so that its longer side is at most that, so a server keeps
    working copies of a bounded size whatever is uploaded. Large decodes run at most two at a time per process.
    Raises ``ImageError`` with one plain sentence (never a library's message) for a non-image, an empty, damaged
    or truncated file, one too large, or too little memory.
    """
    source = Path(data) if isinstance(data, str) else data
    img = opened = _open_header(source, max_pixels)
    fmt, done = img.format, False
    try:
        scale = _reduced_scale(img, max_pixels=max_pixels, max_side=max_side)
        w, h = img.size
        if scale > 1:
            img.draft(img.mode, (w // scale, h // scale))
        pixels = img.size[0] * img.size[1]
        gate = _LARGE_DECODES if pixels > LARGE_DECODE else contextlib.nullcontext()
        with gate, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.seek(0)  # first frame of a GIF/TIFF
            img.load()
            if max_side and max(img.size) > 2 * max_side and img.mode in _REDUCIBLE:
                img = img.reduce(max(img.size) // max_side)  # a fast box shrink first: less to convert and rotate
            img = _normalise_mode(img)
            img = ImageOps.exif_transpose(img) or img
            if max_side and max(img.size) > max_side:
                img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        done = True
    except ImageError:
        raise
    except MemoryError:
        raise ImageError(_("the server has not enough free memory to open this image now; try a smaller one")) from None
    except Exception:  # OSError "image file is truncated", SyntaxError, ValueError, EOFError, zlib errors …
        raise _damaged(fmt) from None
    finally:
        if img is not opened or not done:
            opened.close()  # the full-size original and its file
    if pixels > LARGE_DECODE:
        _release_freed_memory()
    return img


_REDUCIBLE = ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F")


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _release_freed_memory() -> None:
    """Hand the memory a large decode freed back to the system. glibc keeps freed blocks of tens of MB in the
    arena of the thread that used them (every Streamlit rerun runs in its own thread), so without this a server's
    resident memory grew by ~100 MB with each different large photo, for a long while."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _normalise_mode(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.array(img, dtype=np.float32)  # float32, in place: a 40 MP 16-bit scan stays at 160 MB
        lo, hi = float(arr.min()), float(arr.max())
        if hi > lo:
            arr -= lo
            arr *= 255 / (hi - lo)
        else:
            arr[...] = 0
        return Image.fromarray(np.rint(arr, out=arr).astype(np.uint8), mode="L")
    if img.mode in ("1", "L"):
        return img.convert("L")
    if img.mode == "LA" or img.mode == "PA" or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    return img.convert("RGB")


def image_to_tensor(
    img: Image.Image,
    *,
    channels: int | None = None,
    size: tuple[int, int] | None = None,
    max_side: int | None = None,
) -> torch.Tensor:
    """A PIL image as float32 C×H×W in [0, 1].

    ``channels`` 1 or 3 converts to grayscale or RGB; ``size`` (H, W) resizes exactly; ``max_side``
    shrinks (never enlarges) so that the longer side is at most that, keeping the aspect ratio.
    """
    if channels not in (None, 1, 3):
        raise ValueError(_("channels must be 1 or 3, got {channels}").format(channels=channels))
    if channels == 1:
        img = img.convert("L")
    elif channels == 3:
        img = img.convert("RGB")
    if size is not None:
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    elif max_side is not None and max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr))


def sample_images() -> dict[str, Path]:
    """The bundled sample photos, by name (``cat``, ``astronaut``, ...)."""
    return {p.stem: p for p in sorted(SAMPLES_DIR.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}


SAMPLE_TITLES = {"astronaut": N_("astronaut"), "cameraman": N_("cameraman"), "cat": N_("cat"), "coffee": N_("coffee"),
                 "rocket": N_("rocket")}


def sample_title(name: str) -> str:
    """A sample photo's name in the current language (the file's name for photos with no title)."""
    return _(SAMPLE_TITLES[name]) if name in SAMPLE_TITLES else name
