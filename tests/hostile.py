"""Files made to cost far more to decode than their size suggests, for the tests of the cost bound.

Each is valid enough to pass a header probe: the cost hides in the structure (repeated scans, floods of marker
segments, chunks or blocks, chains of pages, tags holding huge arrays).
"""

from __future__ import annotations

import io
import re
import struct
import zlib

from PIL import Image

MAX_UPLOAD = 20 * 1024 * 1024


def progressive_jpeg(side: int, scans: int | None = None, size: int | None = None) -> bytes:
    """A flat progressive JPEG `side` pixels square whose last scan is repeated until it has `scans` scans, or
    until the file is `size` bytes: libjpeg decodes every scan over the whole image."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(out, "JPEG", quality=80, progressive=True)
    data = out.getvalue()
    starts = [m.start() for m in re.finditer(rb"\xff\xda", data)]
    last = starts[-1]
    end = data.rindex(b"\xff\xd9")
    head, scan, tail = data[:last], data[last:end], data[end:]
    copies = 1
    if scans is not None:
        copies = scans - (len(starts) - 1)
    elif size is not None:
        copies = max(1, (size - len(head) - len(tail)) // len(scan))
    return head + scan * copies + tail


def jpeg_marker_flood(size: int = MAX_UPLOAD) -> bytes:
    """An 8x8 JPEG with empty comment segments (FF FE 00 02) filling it to `size` bytes."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, "JPEG")
    data = out.getvalue()
    flood = b"\xff\xfe\x00\x02" * ((size - len(data)) // 4)
    return data[:2] + flood + data[2:]


def tiff_page_chain(pages: int) -> bytes:
    """A little-endian TIFF of `pages` one-pixel pages, each an IFD pointing to the next, all sharing one strip."""
    strip_at = 8
    first_ifd = 10
    entries = [(256, 4, 1), (257, 4, 1), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, strip_at), (277, 3, 1),
               (278, 4, 1), (279, 4, 1)]  # fmt: skip
    ifd_size = 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", first_ifd) + b"\x80\x00")
    for page in range(pages):
        at = first_ifd + page * ifd_size
        following = at + ifd_size if page + 1 < pages else 0
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            out += struct.pack("<HHII", tag, kind, 1, value)
        out += struct.pack("<I", following)
    return bytes(out)


def tiff_with_values(values: int) -> bytes:
    """A one-page 1x1 TIFF whose StripByteCounts claims `values` values (Pillow would hold them all)."""
    strip_at, table_at = 8, 10
    counts_at = table_at + 2 + 12 * 9 + 4
    entries = [(256, 4, 1, 1), (257, 4, 1, 1), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, strip_at),
               (277, 3, 1, 1), (278, 4, 1, 1), (279, 4, values, counts_at)]  # fmt: skip
    out = bytearray(b"II*\x00" + struct.pack("<I", table_at) + b"\x80\x00" + struct.pack("<H", len(entries)))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHII", tag, kind, count, value)
    out += struct.pack("<I", 0)
    return bytes(out) + struct.pack("<I", 1) * values


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_chunk_flood(chunks: int, kind: bytes = b"tEXt") -> bytes:
    """A 1x1 PNG with `chunks` small chunks of `kind` before its pixels (IDAT: the pixels themselves in pieces)."""
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    pixels = zlib.compress(b"\x00\x00")
    if kind == b"IDAT":
        body = b"".join(_png_chunk(b"IDAT", pixels[n : n + 1]) for n in range(len(pixels)))
        body += _png_chunk(b"IDAT", b"") * (chunks - len(pixels))
    else:
        body = _png_chunk(kind, b"k\x00v") * chunks + _png_chunk(b"IDAT", pixels)
    return b"\x89PNG\r\n\x1a\n" + header + body + _png_chunk(b"IEND", b"")


def gif_extension_flood(blocks: int) -> bytes:
    """A 1x1 GIF with `blocks` empty comment extensions before its picture."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    picture = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return screen + b"\x21\xfe\x00" * blocks + picture + b"\x3b"


def webp_chunk_flood(chunks: int) -> bytes:
    """A small WebP with `chunks` empty unknown chunks after its picture."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, "WEBP", lossless=True)
    riff = out.getvalue()
    body = riff[12:] + b"XTRA\x00\x00\x00\x00" * chunks
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def rle_bmp(width: int, height: int, run: int, *, bits: int = 8, rows: int | None = None) -> bytes:
    """A run-length-encoded BMP (RLE8, or RLE4 with `bits=4`) whose first `rows` rows (all by default) are runs of
    `run` pixels, each row closed by an end of line; with `run` 0, each row is one pixel and an end of line, which
    Pillow pads to the row's width a byte at a time. Then `rows` may repeat beyond `height` to fill a file: Pillow
    reads pairs until the pixels are complete."""
    colours = 1 << bits
    palette = b"".join(bytes((n % 256, n % 256, n % 256, 0)) for n in range(colours))
    if run == 0:
        row = b"\x01\x17\x00\x00"
    else:
        full, rest = divmod(width, run)
        row = bytes((run, 0x17)) * full + (bytes((rest, 0x17)) if rest else b"") + b"\x00\x00"
    body = row * (height if rows is None else rows) + b"\x00\x01"
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 1 if bits == 8 else 2, len(body), 2835, 2835,
                       colours, 0)  # fmt: skip
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + palette + body
