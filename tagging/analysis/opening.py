"""Opening an upload safely: only the accepted formats, the pixel count checked from the header before any pixel
is decoded, and every decoder failure turned into one domain error.

Uploads come from strangers, so every open is restricted to the formats we accept: Pillow otherwise tries
dozens of plugins, some of which allocate hundreds of MB for a tiny hostile file.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, PngImagePlugin, UnidentifiedImageError
from PIL import _imaging as pillow_core

from tagging.analysis.structure import Structure, walk
from tagging.errors import ImageTooLargeError, InvalidImageError, UnsupportedMediaError

# Pillow format name -> (tag value, content type). MPO is how Pillow names multi-picture camera JPEGs.
ACCEPTED: dict[str, tuple[str, str]] = {
    "JPEG": ("jpeg", "image/jpeg"),
    "MPO": ("jpeg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
    "TIFF": ("tiff", "image/tiff"),
    "AVIF": ("avif", "image/avif"),
    "HEIF": ("heic", "image/heic"),
}
_BASE_OPENERS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")

# libheif decodes a HEIC whole, with no reduced scale, at about 60 ms a megapixel here (a 12 MP iPhone photo in
# 0.7 s): the most it may hold to stay within about 2 s of CPU.
MAX_HEIC_PIXELS = 32_000_000

# Pillow allocates pixels in blocks (16 MiB by default). Blocks above glibc's largest mmap threshold (32 MiB)
# are mappings of their own, returned to the system when the image is freed; smaller ones stay behind in the
# malloc arena of the thread that decoded them, and a worker of many threads grows by a large image per thread.
_PIXEL_BLOCK_BYTES = 64 * 1024 * 1024
_MAX_PNG_TEXT_BYTES = 4 * 1024 * 1024

# Decoders signal hostile or broken input with many exception types; all of them mean "cannot decode".
DECODE_ERRORS = (
    OSError, ValueError, SyntaxError, NotImplementedError, TypeError, EOFError, IndexError, KeyError,
    ZeroDivisionError, RuntimeError, struct.error, MemoryError,
)  # fmt: skip


@dataclass(frozen=True)
class ImageHeader:
    """What the header alone tells: enough to accept or refuse an upload without decoding it."""

    format: str
    content_type: str
    width: int
    height: int


def probe(data: bytes, max_pixels: int) -> ImageHeader:
    """Identify an upload from its bytes (never from what the client claims); decodes no pixels."""
    with opened(data, max_pixels) as found:
        image = found.image
        name, content_type = ACCEPTED[image.format or ""]
        return ImageHeader(format=name, content_type=content_type, width=image.width, height=image.height)


_setup_lock = threading.Lock()
_openers: tuple[str, ...] | None = None


def openers() -> tuple[str, ...]:
    """The Pillow formats an upload may open as, with Pillow set up for them on first use (never at import: the
    host imports the app just to index it)."""
    global _openers
    with _setup_lock:
        if _openers is None:
            pillow_core.set_block_size(_PIXEL_BLOCK_BYTES)
            # Text chunks are metadata we never read: Pillow holds up to 64 MB of them by default.
            PngImagePlugin.MAX_TEXT_MEMORY = _MAX_PNG_TEXT_BYTES
            try:  # HEIC (iPhone photos) only where pillow-heif is installed; it registers the HEIF opener.
                from pillow_heif import register_heif_opener
            except ImportError:  # pragma: no cover - depends on the environment
                _openers = _BASE_OPENERS
            else:
                register_heif_opener()
                _openers = (*_BASE_OPENERS, "HEIF")
        return _openers


def accepted_formats() -> str:
    """The formats an upload may be in, for people: HEIC only where pillow-heif is installed."""
    return ", ".join(sorted({ACCEPTED[name][0].upper() for name in openers()}))


_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def claimed_format(data: bytes) -> str | None:
    """The accepted format a file's first bytes announce, if any: a damaged image is not an unsupported one."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "AVIF"
    return None


@dataclass(frozen=True)
class Opened:
    """An image opened, not decoded, with what the walk of its structure found."""

    image: Image.Image
    structure: Structure


@contextmanager
def opened(data: bytes, max_pixels: int) -> Iterator[Opened]:
    """The upload opened as an accepted format within the pixel limit, its structure walked first; every way in
    which it is not is one domain error."""
    if not data:
        raise InvalidImageError("The image is empty.")
    structure = walk(data)
    try:
        with warnings.catch_warnings():
            # Our own limit below is the hard one; Pillow's is only a warning up to twice its default.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Pillow refuses twice its own limit outright: at our limit, the refusal is ours whatever the setting.
            Image.MAX_IMAGE_PIXELS = max_pixels
            image = Image.open(io.BytesIO(data), formats=openers())
    except UnidentifiedImageError as exc:
        claimed = claimed_format(data)
        if claimed:
            raise InvalidImageError(f"This starts like a {claimed} file but its header is damaged.") from exc
        raise UnsupportedMediaError(f"This is not an image in an accepted format ({accepted_formats()}).") from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The image has more than {max_pixels:,} pixels.") from exc
    except DECODE_ERRORS as exc:
        raise InvalidImageError(f"The image header is damaged and cannot be read ({exc}).") from exc
    with image:
        if image.format not in ACCEPTED:
            raise UnsupportedMediaError(f"This is not an image in an accepted format ({accepted_formats()}).")
        pixels = image.width * image.height
        if pixels > max_pixels:
            raise ImageTooLargeError(
                f"The image is {image.width}x{image.height} ({pixels:,} pixels); the limit is {max_pixels:,} pixels."
            )
        if image.format == "HEIF" and pixels > MAX_HEIC_PIXELS:
            raise ImageTooLargeError(
                f"The HEIC image is {image.width}x{image.height} ({pixels:,} pixels); HEIC is decoded whole, at "
                f"about 60 ms a megapixel, so the limit for it is {MAX_HEIC_PIXELS:,} pixels. Send it as JPEG."
            )
        if pixels == 0:
            raise InvalidImageError("The image has no pixels.")
        yield Opened(image, structure)
