"""Decoding once, at the smallest scale the measures need, within the process's decode budget.

Decoding dominates the cost of an image: JPEG decodes at 1/2..1/8 scale through `draft`, other formats are reduced
right after decoding, in their own mode, and every measure then works on an image of at most about 1024 px.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from tagging import memory
from tagging.analysis.exif import ORIENTATION, metadata
from tagging.analysis.opening import ACCEPTED, DECODE_ERRORS, opened
from tagging.analysis.structure import Structure
from tagging.errors import InvalidImageError
from tagging.model import PhotoMetadata

# Decode (and reduce) no further than a long side of this to twice it: blur that shows on a screen still
# shows at this scale, where at 256 px it has already gone (see the calibration in vocabulary.py).
WORKING_SIZE = 512
_INDEXED_MODES = frozenset({"1", "P", "PA"})
_STRIP_ROWS = 32  # output rows per strip when reducing with alpha
# The most a decoded pixel takes, so that the largest image allowed fits the decode budget.
_MAX_BYTES_PER_PIXEL = 4
# 64 coefficients of 2 bytes per 8x8 block, for luma and two quarter-size chroma planes (4:2:0).
_PROGRESSIVE_BYTES_PER_PIXEL = 3
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


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


def decode(data: bytes, max_pixels: int) -> Decoded:
    """Open, check and decode the first frame at the smallest useful scale, EXIF orientation applied."""
    with opened(data, max_pixels) as found:
        image = found.image
        name, _ = ACCEPTED[image.format or ""]
        try:
            mode = image.mode
            width, height = image.size  # draft() below changes what size reports
            image.draft("RGB", draft_size(width, height))
            budget = max_pixels * _MAX_BYTES_PER_PIXEL
            with memory.decode_budget.reserve(decode_cost(image, width, height), budget):
                frames = _frames(image, found.structure)
                # Inside the reservation: a PNG's EXIF may follow its pixels, so reading it decodes them.
                exif = image.getexif()
                read = metadata(exif)
                orientation = exif.get(ORIENTATION, 1)
                image.load()
                # Reduced in its own mode first: converting at full size would copy it at full size.
                working = _upright_rgb(_reduced(image), orientation)
        except DECODE_ERRORS as exc:
            raise InvalidImageError(f"The {name.upper()} data is damaged and cannot be decoded ({exc}).") from exc
        if orientation in _TRANSPOSED_ORIENTATIONS:
            width, height = height, width
        return Decoded(name, width, height, frames, mode, read, working, working.mode == "RGBA")


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


def _frames(image: Image.Image, structure: Structure) -> int:
    """Frames (or pages) as the structure walk counted them; Pillow's own count, where the walk counts none, is
    cheap for those formats (AVIF, HEIF, BMP)."""
    if image.format == "MPO":
        return 1  # the second picture is the camera's preview of the first, not a frame of an animation
    if structure.frames is not None:
        return structure.frames
    return int(getattr(image, "n_frames", 1))


def draft_size(width: int, height: int) -> tuple[int, int]:
    """What to ask JPEG's draft() for so that the long side, not both sides, stays at least WORKING_SIZE:
    a 2560x1600 photo then decodes at 1/4 (640x400) rather than 1/2."""
    scale = min(1.0, WORKING_SIZE / max(width, height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _reduced(image: Image.Image) -> Image.Image:
    """Shrunk by a whole factor to a long side of WORKING_SIZE to twice it, in the image's own mode."""
    factor = max(image.size) // WORKING_SIZE
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
