"""Safe decoding, measurements and thumbnails: the only module that imports Pillow.

Uploads come from strangers, so every open is restricted to the formats we accept (Pillow otherwise tries
dozens of plugins, some of which allocate hundreds of MB for a tiny hostile file), the pixel count is checked
from the header before any pixel is decoded, and every decoder failure becomes one domain error.

Decoding dominates the cost of an image, so it happens once, at the smallest scale the measures need: JPEG
decodes at 1/2..1/8 scale through `draft`, other formats are reduced right after decoding, and every measure
then works on an image of at most 512 px.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PIL import Image, ImageFilter, ImageStat, UnidentifiedImageError
from PIL import _imaging as pillow_core

from tagging import memory, vocabulary
from tagging.errors import ImageTooLargeError, InvalidImageError, UnsupportedMediaError
from tagging.model import Analysis, PhotoMetadata, Tag

logger = logging.getLogger(__name__)

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
    "HEIF": ("heic", "image/heic"),
}
_OPENERS = ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF"]

try:  # HEIC (iPhone photos) only where pillow-heif is installed; it registers the HEIF opener.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    _OPENERS.append("HEIF")
except ImportError:  # pragma: no cover - depends on the environment
    pass

# Pillow allocates pixels in blocks (16 MiB by default). Blocks above glibc's largest mmap threshold (32 MiB)
# are mappings of their own, returned to the system when the image is freed; smaller ones stay behind in the
# malloc arena of the thread that decoded them, and a worker of many threads grows by a large image per thread.
_PIXEL_BLOCK_BYTES = 64 * 1024 * 1024
pillow_core.set_block_size(_PIXEL_BLOCK_BYTES)

ACCEPTED_FORMATS = ", ".join(sorted({name.upper() for name, _ in (_ACCEPTED[f] for f in _OPENERS)}))

# Decoders signal hostile or broken input with many exception types; all of them mean "cannot decode".
_DECODE_ERRORS = (
    OSError, ValueError, SyntaxError, NotImplementedError, TypeError, EOFError, IndexError, KeyError,
    ZeroDivisionError, RuntimeError, struct.error, MemoryError,
)  # fmt: skip

THUMBNAIL_SIZE = 256
THUMBNAIL_CONTENT_TYPE = "image/webp"
# Decode (and reduce) no further than a long side of this to twice it: blur that shows on a screen still
# shows at this scale, where at 256 px it has already gone (see the calibration in vocabulary.py).
_WORKING_SIZE = 512
_SMALL_SIZE = 64
_SHARPNESS_CROP = 256
_COLORS = 16
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
_INDEXED_MODES = frozenset({"1", "P", "PA"})
_STRIP_ROWS = 32  # output rows per strip when reducing with alpha
_ANIMATION_FORMATS = frozenset({"gif", "png", "webp", "avif"})
# The most a decoded pixel takes, so that the largest image allowed fits the decode budget.
_MAX_BYTES_PER_PIXEL = 4
# 64 coefficients of 2 bytes per 8x8 block, for luma and two quarter-size chroma planes (4:2:0).
_PROGRESSIVE_BYTES_PER_PIXEL = 3

_ORIENTATION, _MAKE, _MODEL, _DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL, _LENS_MODEL = 0x9003, 0x9011, 0xA434
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


@dataclass(frozen=True)
class ImageHeader:
    """What the header alone tells: enough to accept or refuse an upload without decoding it."""

    format: str
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Decoded:
    """An image decoded once at working scale, upright, with what its header and metadata said."""

    format: str
    width: int
    height: int
    frames: int
    mode: str
    metadata: PhotoMetadata
    image: Image.Image
    alpha: bool


def probe(data: bytes, max_pixels: int) -> ImageHeader:
    """Identify an upload from its bytes (never from what the client claims); decodes no pixels."""
    with _opened(data, max_pixels) as image:
        name, content_type = _ACCEPTED[image.format or ""]
        return ImageHeader(format=name, content_type=content_type, width=image.width, height=image.height)


def analyse(data: bytes, max_pixels: int) -> Analysis:
    return describe(decode(data, max_pixels))


def decode(data: bytes, max_pixels: int) -> Decoded:
    """Open, check and decode the first frame at the smallest useful scale, EXIF orientation applied."""
    with _opened(data, max_pixels) as image:
        name, _ = _ACCEPTED[image.format or ""]
        try:
            mode = image.mode
            width, height = image.size  # draft() below changes what size reports
            image.draft("RGB", draft_size(width, height))
            budget = max_pixels * _MAX_BYTES_PER_PIXEL
            with memory.decode_budget.reserve(decode_cost(image, width, height), budget):
                # An MPO's second picture is the camera's preview of the first, not a frame of an animation.
                frames = 1 if image.format == "MPO" else int(getattr(image, "n_frames", 1))
                # Inside the reservation: a PNG's EXIF may follow its pixels, so reading it decodes them.
                exif = image.getexif()
                metadata = _metadata(exif)
                orientation = exif.get(_ORIENTATION, 1)
                image.load()
                # Reduced in its own mode first: converting at full size would copy it at full size.
                working = _upright_rgb(_reduced(image), orientation)
        except _DECODE_ERRORS as exc:
            raise InvalidImageError(f"The {name.upper()} data is damaged and cannot be decoded ({exc}).") from exc
        if orientation in _TRANSPOSED_ORIENTATIONS:
            width, height = height, width
        return Decoded(name, width, height, frames, mode, metadata, working, working.mode == "RGBA")


def describe(decoded: Decoded) -> Analysis:
    """Measure the decoded image and turn the measures into tags."""
    image = decoded.image
    # Colour, light and the hash need only ~100 px; reduce() is a cheap box filter.
    small = image.reduce(max(1, max(image.size) // _SMALL_SIZE))
    small_rgb = small.convert("RGB") if small.mode == "RGBA" else small
    small_grey = small_rgb.convert("L")
    width, height = decoded.width, decoded.height
    tags: list[Tag] = [
        Tag(f"format:{decoded.format}", 1.0, vocabulary.SOURCE),
        Tag(f"orientation:{vocabulary.orientation(width, height)}", 1.0, vocabulary.SOURCE),
    ]
    if max(width, height) >= vocabulary.PANORAMA_ASPECT * min(width, height):
        tags.append(Tag("panorama", 1.0, vocabulary.SOURCE))
    tags.append(Tag(f"resolution:{vocabulary.resolution(width * height)}", 1.0, vocabulary.SOURCE))
    tags.extend(vocabulary.dominant_colors(_color_shares(small_rgb)))
    saturation = ImageStat.Stat(small_rgb.convert("HSV")).mean[1] / 255
    grey_stats = ImageStat.Stat(small_grey)
    tags.extend(
        vocabulary.light_tags(
            luminance=grey_stats.mean[0] / 255,
            saturation=saturation,
            grey_mode=decoded.mode in _GREY_MODES,
        )
    )
    sharpness = vocabulary.sharpness_tag(*edge_measures(image), contrast=grey_stats.stddev[0])
    if sharpness is not None:
        tags.append(sharpness)
    if decoded.alpha and _min_alpha(image) < 255:
        tags.append(Tag("transparent", 1.0, vocabulary.SOURCE))
    if decoded.frames > 1 and decoded.format in _ANIMATION_FORMATS:  # a TIFF's pages are a document, not a film
        tags.append(Tag("animated", 1.0, vocabulary.SOURCE))
    meta = decoded.metadata
    tags.extend(vocabulary.metadata_tags(meta))
    return Analysis(
        format=decoded.format,
        width=width,
        height=height,
        tags=tuple(tags),
        frames=decoded.frames,
        mode=decoded.mode,
        metadata=meta,
        dhash=dhash(small_grey),
    )


def thumbnail(decoded: Decoded) -> bytes:
    """A WebP whose long side is THUMBNAIL_SIZE (never enlarged), upright, alpha kept."""
    image = decoded.image.copy()
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue()


def edge_measures(image: Image.Image) -> tuple[float, float]:
    """(ratio, energy) of edges in the central 256 px of the working image.

    `energy` is the gradient energy; `ratio` divides it by the same at half scale. Blur removes the finest
    detail first, so a blurred image keeps far less of its edge energy at full scale than at half, whatever its
    content; a crop keeps the cost fixed, and the centre is where the subject usually is.
    """
    width, height = image.size
    side = min(_SHARPNESS_CROP, width, height)
    left, top = (width - side) // 2, (height - side) // 2
    grey = image.crop((left, top, left + side, top + side)).convert("L")
    full = _edge_variance(grey)
    half = _edge_variance(grey.reduce(2)) if side >= 8 else 0.0
    return (full / half if half else 0.0), full


# A 3x3 Laplacian shifted to mid-grey: its variance is the classic measure of fine detail.
_LAPLACIAN = ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128)


def _edge_variance(grey: Image.Image) -> float:
    if grey.width < 3 or grey.height < 3:
        return 0.0
    edges = grey.filter(_LAPLACIAN)
    # The filter leaves a one-pixel frame of copied pixels at the border.
    inner = edges.crop((1, 1, edges.width - 1, edges.height - 1))
    return float(ImageStat.Stat(inner).var[0])


def dhash(grey: Image.Image) -> str:
    """64-bit difference hash as 16 hex digits: near-identical pictures differ in few bits."""
    cells = grey.resize((9, 8), Image.Resampling.BOX).tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (cells[row * 9 + col] > cells[row * 9 + col + 1])
    return f"{bits:016x}"


def _min_alpha(image: Image.Image) -> int:
    low, _ = image.getchannel("A").getextrema()
    return int(low)  # type: ignore[arg-type]  # one band: extrema is a pair of ints


def _color_shares(small: Image.Image) -> dict[str, float]:
    # FASTOCTREE costs 0.2 ms at 64 px where median cut costs 20-35 ms, and naming 16 colours is all we need.
    quantized = small.quantize(_COLORS, method=Image.Quantize.FASTOCTREE)
    palette = quantized.getpalette() or []
    counts = quantized.getcolors() or []
    total = sum(count for count, _ in counts) or 1
    shares: dict[str, float] = {}
    for count, index in counts:
        start = int(index) * 3  # type: ignore[arg-type]  # a P image's colours are palette indexes
        red, green, blue = palette[start : start + 3]
        name = vocabulary.color_name(red, green, blue)
        shares[name] = shares.get(name, 0.0) + count / total
    return shares


def _upright_rgb(image: Image.Image, orientation: int) -> Image.Image:
    """The first frame as RGB or RGBA, whatever the mode it was stored in, turned as EXIF says."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greys: scale to 8 bits instead of letting convert() clip everything above 255 to white.
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    elif mode == "F":
        image = image.convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        converted = image.convert("RGBA")
    elif image.mode == "RGB":
        converted = image
    else:
        converted = image.convert("RGB")  # CMYK, YCbCr, L, 1, P...
    if orientation in _TRANSPOSE:
        converted = converted.transpose(_TRANSPOSE[orientation])
    return converted


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def draft_size(width: int, height: int) -> tuple[int, int]:
    """What to ask JPEG's draft() for so that the long side, not both sides, stays at least _WORKING_SIZE:
    a 2560x1600 photo then decodes at 1/4 (640x400) rather than 1/2."""
    scale = min(1.0, _WORKING_SIZE / max(width, height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _reduced(image: Image.Image) -> Image.Image:
    """Shrunk by a whole factor to a long side of _WORKING_SIZE to twice it, in the image's own mode."""
    factor = max(image.size) // _WORKING_SIZE
    if factor < 2:
        return image
    size = (-(-image.width // factor), -(-image.height // factor))  # as reduce() rounds: up
    if image.mode in _INDEXED_MODES or image.mode.startswith("I;16"):
        # reduce() refuses these modes; averaging palette indexes would invent colours, so those are sampled.
        sampling = Image.Resampling.NEAREST if image.mode in _INDEXED_MODES else Image.Resampling.BOX
        return image.resize(size, sampling)
    if image.mode in ("LA", "RGBA"):
        # Pillow reduces these premultiplied, through a converted copy of the whole image: a strip at a time
        # keeps that copy small.
        reduced = Image.new(image.mode, size)
        rows = factor * _STRIP_ROWS
        for top in range(0, image.height, rows):
            strip = image.crop((0, top, image.width, min(top + rows, image.height)))
            reduced.paste(strip.reduce(factor), (0, top // factor))
        return reduced
    return image.reduce(factor)


def decode_cost(image: Image.Image, width: int, height: int) -> int:
    """The bytes decoding `image` holds: its pixels at the scale it decodes to (after draft) and, for a
    progressive JPEG, libjpeg's coefficient buffer for the whole image at full size (`width` x `height`)."""
    mode = image.mode
    # Pillow keeps 1, L and P in a byte per pixel, 16-bit greys in two, every other mode (RGB too) in four.
    depth = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else _MAX_BYTES_PER_PIXEL
    cost = image.width * image.height * depth
    if image.format in ("JPEG", "MPO") and image.info.get("progressive"):
        cost += _PROGRESSIVE_BYTES_PER_PIXEL * width * height
    return cost


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    width, height = size
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _metadata(exif: Image.Exif) -> PhotoMetadata:
    """Camera, lens, date and position from EXIF; unreadable metadata is ignored, never fatal."""
    try:
        details = exif.get_ifd(_EXIF_IFD)
        gps = exif.get_ifd(_GPS_IFD)
        latitude = _degrees(gps.get(2), gps.get(1), "S")
        longitude = _degrees(gps.get(4), gps.get(3), "W")
        taken = _taken_at(details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME), details.get(_OFFSET_TIME_ORIGINAL))
        return PhotoMetadata(
            camera_make=_text(exif.get(_MAKE)),
            camera_model=_text(exif.get(_MODEL)),
            lens=_text(details.get(_LENS_MODEL)),
            taken_at=taken,
            latitude=latitude,
            longitude=longitude,
        )
    except _DECODE_ERRORS as exc:
        logger.info("Ignoring unreadable EXIF metadata (%s)", exc)
        return PhotoMetadata()


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    # EXIF strings are C strings: anything after a NUL is padding or garbage.
    cleaned = "".join(ch for ch in value.split("\0", 1)[0] if ch.isprintable()).strip()
    return cleaned[:100] or None


def _taken_at(value: Any, offset: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    try:
        taken = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if not 1826 <= taken.year <= datetime.now(UTC).year + 1:  # the first photograph; clocks set in the future
        return None
    zone = _text(offset)
    return taken.isoformat() + (zone if zone and len(zone) == 6 else "")


def _degrees(value: Any, reference: Any, negative: str) -> float | None:
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    degrees, minutes, seconds = (float(part) for part in value)
    result = degrees + minutes / 60 + seconds / 3600
    if _text(reference) == negative:
        result = -result
    limit = 90 if negative == "S" else 180
    return round(result, 6) if -limit <= result <= limit else None


_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _claimed_format(data: bytes) -> str | None:
    """The accepted format a file's first bytes announce, if any: a damaged image is not an unsupported one."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "AVIF"
    return None


@contextmanager
def _opened(data: bytes, max_pixels: int) -> Iterator[Image.Image]:
    if not data:
        raise InvalidImageError("The image is empty.")
    try:
        with warnings.catch_warnings():
            # Our own limit below is the hard one; Pillow's is only a warning up to twice its default.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Pillow refuses twice its own limit outright: at our limit, the refusal is ours whatever the setting.
            Image.MAX_IMAGE_PIXELS = max_pixels
            image = Image.open(io.BytesIO(data), formats=_OPENERS)
    except UnidentifiedImageError as exc:
        claimed = _claimed_format(data)
        if claimed:
            raise InvalidImageError(f"This starts like a {claimed} file but its header is damaged.") from exc
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
