"""Safe decoding and tag derivation: the only module that imports Pillow.

Uploads come from strangers, so every open is restricted to the formats we accept (Pillow otherwise tries
dozens of plugins, some of which allocate hundreds of MB for a tiny hostile file), the pixel count is checked
from the header before any pixel is decoded, and every decoder failure becomes one domain error.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from tagging.errors import ImageTooLargeError, InvalidImageError, UnsupportedMediaError
from tagging.model import Analysis, Tag

# Pillow format name -> (tag value, content type). MPO is how Pillow names multi-picture camera JPEGs.
_ACCEPTED: dict[str, tuple[str, str]] = {
    "JPEG": ("jpeg", "image/jpeg"),
    "MPO": ("jpeg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
    "TIFF": ("tiff", "image/tiff"),
    "AVIF": ("avif", "image/avif"),
}
_OPENERS = ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF"]
ACCEPTED_FORMATS = "JPEG, PNG, GIF, WebP, BMP, TIFF or AVIF"

# Decoders signal hostile or broken input with many exception types; all of them mean "cannot decode".
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    NotImplementedError,
    TypeError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    MemoryError,
)

SOURCE = "analysis"
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
# A decode only has to prove the pixels are readable and feed small-scale measures: JPEG can do it at 1/8.
_WORKING_SIZE = (256, 256)


@dataclass(frozen=True)
class ImageHeader:
    """What the header alone tells: enough to accept or refuse an upload without decoding it."""

    format: str
    content_type: str
    width: int
    height: int


def probe(data: bytes, max_pixels: int) -> ImageHeader:
    """Identify an upload from its bytes (never from what the client claims); decodes no pixels."""
    with _opened(data, max_pixels) as image:
        name, content_type = _ACCEPTED[image.format or ""]
        return ImageHeader(format=name, content_type=content_type, width=image.width, height=image.height)


def analyse(data: bytes, max_pixels: int) -> Analysis:
    """Decode the image (at reduced scale where the format allows) and derive its tags."""
    with _opened(data, max_pixels) as image:
        name, _ = _ACCEPTED[image.format or ""]
        width, height = image.size
        try:
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            image.draft("RGB", _WORKING_SIZE)
            image.load()
        except _DECODE_ERRORS as exc:
            raise InvalidImageError(f"The {name.upper()} data is damaged and cannot be decoded ({exc}).") from exc
        if orientation in _TRANSPOSED_ORIENTATIONS:
            width, height = height, width
        tags = (Tag(f"format:{name}", 1.0, SOURCE), Tag(f"orientation:{_orientation(width, height)}", 1.0, SOURCE))
        return Analysis(format=name, width=width, height=height, tags=tags)


def _orientation(width: int, height: int) -> str:
    # Within 1% counts as square: a 1000x1004 scan is square to anyone looking at it.
    if abs(width - height) <= 0.01 * max(width, height):
        return "square"
    return "landscape" if width > height else "portrait"


@contextmanager
def _opened(data: bytes, max_pixels: int) -> Iterator[Image.Image]:
    if not data:
        raise InvalidImageError("The image is empty.")
    try:
        with warnings.catch_warnings():
            # Our own limit below is the hard one; Pillow's is only a warning up to twice its default.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_OPENERS)
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaError(f"This is not an image in an accepted format ({ACCEPTED_FORMATS}).") from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The image has more than {max_pixels:,} pixels.") from exc
    except _DECODE_ERRORS as exc:
        raise InvalidImageError(f"The image header is damaged and cannot be read ({exc}).") from exc
    with image:
        if image.format not in _ACCEPTED:
            raise UnsupportedMediaError(f"This is not an image in an accepted format ({ACCEPTED_FORMATS}).")
        pixels = image.width * image.height
        if pixels > max_pixels:
            raise ImageTooLargeError(
                f"The image is {image.width}x{image.height} ({pixels:,} pixels); the limit is {max_pixels:,} pixels."
            )
        if pixels == 0:
            raise InvalidImageError("The image has no pixels.")
        yield image
