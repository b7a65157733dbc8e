"""Measures of a decoded image and the tags they give, its perceptual hash, and its thumbnail."""

from __future__ import annotations

import io
from functools import cache
from typing import TYPE_CHECKING

from PIL import Image, ImageFilter, ImageStat

from tagging import vocabulary
from tagging.analysis.decoding import Decoded
from tagging.model import Analysis, Tag

if TYPE_CHECKING:
    import numpy as np

THUMBNAIL_SIZE = 256
THUMBNAIL_CONTENT_TYPE = "image/webp"
_SMALL_SIZE = 64
_SHARPNESS_CROP = 256
_COLORS = 16
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
_ANIMATION_FORMATS = frozenset({"gif", "png", "webp", "avif"})


def describe(decoded: Decoded) -> Analysis:
    """Measure the decoded image and turn the measures into tags."""
    image = decoded.image
    small = small_copy(image)
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
        phash=phash(image),
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


# The perceptual hash: the 64 lowest frequencies (by their sum, the DC left out) of a 32 x 32 grey copy's DCT,
# each a 1 bit when above their median. Low frequencies are what resizing, recompression, re-encoding, a small
# brightness change or a crop of a few percent leave alone; the median split gives every hash 32 ones, so two
# hashes are always an even number of bits apart. Chosen over the difference hash on the shared photos and their
# variants (bench/similarity.py): a 2% crop moved it 8 bits where the difference hash moved 16 (it compares
# neighbouring cells, which a crop shifts), and different photos stayed 20 bits or more apart where the difference
# hash came within 11.
_HASH_GRID = 32
_FREQUENCIES = sorted(
    ((u, v) for u in range(16) for v in range(16) if (u, v) != (0, 0)), key=lambda uv: (uv[0] + uv[1], uv[0])
)[:64]


@cache
def _dct() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The DCT matrix and the rows and columns of the kept frequencies, made on the first hash: numpy is imported
    by the worker's first image, not by indexing the app (a third of the import time of function_app)."""
    import numpy as np

    matrix = np.cos(np.pi * np.outer(np.arange(_HASH_GRID), 2 * np.arange(_HASH_GRID) + 1) / (2 * _HASH_GRID))
    return matrix, np.array([u for u, _ in _FREQUENCIES]), np.array([v for _, v in _FREQUENCIES])


# Below this grey standard deviation (of 255) on the 32 x 32 copy, or from a picture smaller than the grid, the
# hash is noise: a flat colour or a few pixels would be "similar" to every other one. No hash then.
MIN_HASH_CONTRAST = 4.0


def small_copy(picture: Image.Image) -> Image.Image:
    """The 64-127 px copy that colour and light are measured on: reduce() is a cheap box filter."""
    return picture.reduce(max(1, max(picture.size) // _SMALL_SIZE))


def phash(picture: Image.Image) -> str | None:
    """64-bit perceptual hash as 16 hex digits, or None for a picture with too little detail to compare.

    The whole working picture is averaged into the grid, then made grey: both are linear, and in this order no
    grey copy of the whole picture is made (it cost 2 MB of peak memory). From the 64 px copy the colours use the
    hash would cost a tenth, but a copy of a quarter the size then moved 10 bits instead of 4 (bench/similarity.py)."""
    if min(picture.size) < _HASH_GRID // 2:
        return None
    cells = picture.resize((_HASH_GRID, _HASH_GRID), Image.Resampling.BOX).convert("L")
    import numpy as np

    matrix, rows, columns = _dct()
    grey = np.asarray(cells, dtype=np.float64)
    if grey.std() < MIN_HASH_CONTRAST:
        return None
    coefficients = (matrix @ grey @ matrix.T)[rows, columns].tolist()
    # The median of 64 by sorting them: np.median's first call in a process costs 1.3 MB of imports.
    ordered = sorted(coefficients)
    median = (ordered[31] + ordered[32]) / 2
    bits = 0
    for value in coefficients:
        bits = (bits << 1) | (value > median)
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
