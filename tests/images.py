"""Images made at test time, so the suite needs no files from outside the repository."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

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
