"""Images made at test time, so the suite needs no files from outside the repository (photo-like ones and the
real photos, when there, come from bench.photos, which the benchmarks use too)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from bench.photos import NO_PHOTOS, PHOTOS, save, scene, variants

EXIF_ORIENTATION = 0x0112


def image_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 40, 40), **save: object
) -> bytes:
    mode = "RGB" if fmt not in ("GIF",) else "P"
    image = Image.new("RGB", size, color)
    if mode == "P":
        image = image.convert("P")
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def jpeg_with_orientation(size: tuple[int, int], orientation: int) -> bytes:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return image_bytes("JPEG", size, exif=exif.tobytes())


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas: the pixel limit must refuse it before any decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def noisy_jpeg(size: tuple[int, int] = (640, 480), seed: int = 1) -> bytes:
    """A JPEG with real entropy, so that truncating it really cuts into the compressed data."""
    image = Image.effect_noise(size, 64 + seed).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def exif_jpeg(
    size: tuple[int, int] = (64, 48),
    *,
    make: str | None = None,
    model: str | None = None,
    taken: str | None = None,
    gps: tuple[float, float] | None = None,
    lens: str | None = None,
) -> bytes:
    """A JPEG carrying camera EXIF written with Pillow's own Exif API."""
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    details = exif.get_ifd(0x8769)
    if taken:
        details[0x9003] = taken
    if lens:
        details[0xA434] = lens
    if gps:
        lat, lon = gps
        exif.get_ifd(0x8825).update(
            {1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W", 4: _dms(lon)}
        )
    return image_bytes("JPEG", size, exif=exif.tobytes())


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4))


# PNG colour type, bit depth and bytes per pixel of the modes black_png writes.
_PNG_LAYOUTS = {"RGB": (2, 8, 3), "RGBA": (6, 8, 4), "I;16": (0, 16, 2)}


def black_png(width: int, height: int, mode: str = "RGB") -> bytes:
    """An all-black (and transparent, for RGBA) PNG written row by row: a 100 MP image in a few hundred KB
    without 300 MB in memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    color_type, depth, pixel_bytes = _PNG_LAYOUTS[mode]
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + pixel_bytes * width)  # filter byte + pixels
    parts = [compressor.compress(row) for _ in range(height)]
    idat = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif_header_claiming(width: int, height: int) -> bytes:
    """A GIF's first bytes announcing a huge logical screen (GIF sizes are 16-bit: at most 65535)."""
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0, 0, 0)
        + b",\x00\x00\x00\x00"
        + struct.pack("<HH", width, height)
        + b"\x00\x02\x02\x44\x01\x00;"
    )


def animated_gif(frames: int, size: tuple[int, int] = (64, 64)) -> bytes:
    images = [Image.new("P", size, n % 256) for n in range(frames)]
    for n, image in enumerate(images):
        image.putpalette([(n * 7 + i) % 256 for i in range(768)])
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=20, optimize=False)
    return out.getvalue()


__all__ = ["NO_PHOTOS", "PHOTOS", "save", "scene", "variants"]
