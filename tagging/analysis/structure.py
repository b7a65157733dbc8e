"""The container's structure, walked before Pillow touches a file: refused when what it would cost to decode
cannot be worth it, and its frames counted without decoding any (Pillow counts a TIFF's pages in time quadratic in
their number, and a GIF's frames by reading every one).

Each walk is linear in the file and stops at its first limit, so an upload of any size costs milliseconds here. A
file whose structure the walk cannot follow is left to Pillow, which says how it is damaged.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from tagging.errors import ImageTooComplexError

# JPEG: libjpeg walks every block of the image for every scan of a progressive file, even at 1/8 scale: about
# 0.8 ms per megapixel per scan here. Encoders write about ten scans; 1,600 megapixel-scans (16 at 100 MP, 160 at
# 10 MP) keep the worst at about 1.3 s, and no more than 256 scans whatever the size.
MAX_SCAN_MEGAPIXELS = 1_600
MAX_SCANS = 256
# Pillow keeps an object for every marker segment: real files have a few dozen (up to about 300 with an ICC
# profile split in 255 parts); a file of millions of empty ones took 385 MB.
MAX_JPEG_SEGMENTS = 1_000
# TIFF: pages are counted here in a linear walk; Pillow reads the first page's tags, whose arrays (strip and tile
# offsets) it holds as Python objects: a 100 MP image in one-row strips has 20,000 of them.
MAX_TIFF_PAGES = 10_000
MAX_TIFF_VALUES = 200_000
# PNG: Pillow handles chunks one by one in Python. Data chunks (IDAT, fdAT) of a 20 MB file in the usual 8-64 KB
# pieces number in the hundreds or thousands; other chunks, a few.
MAX_PNG_DATA_CHUNKS = 50_000
MAX_PNG_OTHER_CHUNKS = 1_000
# GIF: Pillow reads the blocks before the first frame in Python.
MAX_GIF_BLOCKS_BEFORE_FRAME = 1_000
# WebP: libwebp reads its chunks in C, but a million of them is still no photo.
MAX_WEBP_CHUNKS = 20_000
# BMP: plain pixel arrays are decoded in C, but run-length-encoded ones (RLE8, RLE4: Windows icons and wallpapers,
# never a camera's) in Python, a pair of bytes at a time and padding rows a byte at a time: about 0.5 us a pixel
# and 0.3 us a byte of the file here (RLE4 runs of one pixel: 0.8 s a megapixel), so a 40 KB file of 100 MP
# costs 17 s. They are accepted up to 1 MP, in at most 2 bytes a pixel and 2 a row (the most an encoder writes:
# runs of one pixel, an end of line per row).
MAX_RLE_BMP_PIXELS = 1_000_000
_BMP_RLE = (1, 2)
_BMP_HEADERS = 14 + 124 + 1024  # file header, the largest info header, a 256-colour palette
# Frames are counted up to this many (the walk over a GIF of a million tiny frames would itself cost seconds);
# beyond it the count stands at the cap.
MAX_COUNTED_FRAMES = 10_000

_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


@dataclass(frozen=True)
class Structure:
    """What the walk found: the frames (or pages) counted, when the format's walk counts them."""

    frames: int | None = None


def walk(data: bytes) -> Structure:
    """The structure of an upload, by its signature; ImageTooComplexError when it cannot be worth decoding."""
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _tiff(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    if data.startswith(b"BM"):
        return _bmp(data)
    return Structure()


def _refuse(what: str) -> ImageTooComplexError:
    return ImageTooComplexError(f"{what}: no photo is made so, and decoding it would cost far more than it is worth.")


def _jpeg(data: bytes) -> Structure:
    position, segments, scans, megapixels = 2, 0, 0, 0.0
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            break  # not a marker where one must be: Pillow will say what is damaged
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == 0xD9:  # end of image; what follows (an MPO's second picture) is not this image's
            break
        if marker in _STANDALONE:
            position += 2
            continue
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            raise _refuse(f"This JPEG has more than {MAX_JPEG_SEGMENTS:,} marker segments")
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if marker in _SOF and position + 9 <= len(data):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            megapixels = width * height / 1e6
        position += 2 + length
        if marker == 0xDA:
            scans += 1
            if scans > MAX_SCANS or scans * megapixels > MAX_SCAN_MEGAPIXELS:
                raise _refuse(
                    f"This progressive JPEG has at least {scans} scans of {megapixels:.0f} megapixels (at most "
                    f"{MAX_SCAN_MEGAPIXELS:,} megapixel-scans, and {MAX_SCANS} scans)"
                )
            found = _JPEG_MARKER.search(data, position)  # the entropy-coded data runs to the next marker
            if found is None:
                break
            position = found.start()
    return Structure(frames=1)


def _tiff(data: bytes) -> Structure:
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")
    count_format, entry_size, offset_format = (f"{order}Q", 20, f"{order}Q") if big else (f"{order}H", 12, f"{order}I")
    count_size, offset_size = struct.calcsize(count_format), struct.calcsize(offset_format)
    first = 8 if big else 4
    if len(data) < first + offset_size:
        return Structure()
    offset = struct.unpack_from(offset_format, data, first)[0]
    pages, seen = 0, set()
    while offset and offset not in seen and offset + count_size <= len(data):
        seen.add(offset)
        pages += 1
        if pages > MAX_TIFF_PAGES:
            raise _refuse(f"This TIFF has more than {MAX_TIFF_PAGES:,} pages")
        entries = struct.unpack_from(count_format, data, offset)[0]
        table = offset + count_size
        if pages == 1:
            _check_tiff_values(data, order, big, table, entries)
        next_at = table + entries * entry_size
        if next_at + offset_size > len(data):
            break
        offset = struct.unpack_from(offset_format, data, next_at)[0]
    return Structure(frames=max(pages, 1))


def _check_tiff_values(data: bytes, order: str, big: bool, table: int, entries: int) -> None:
    """The values the first page's tags hold, which Pillow keeps as Python objects."""
    count_format = f"{order}Q" if big else f"{order}I"
    entry_size = 20 if big else 12
    values = 0
    for index in range(entries):
        at = table + index * entry_size + 4  # after the tag number and the type
        if at + struct.calcsize(count_format) > len(data):
            break
        values += struct.unpack_from(count_format, data, at)[0]
        if values > MAX_TIFF_VALUES:
            raise _refuse(f"This TIFF's first page has tags holding more than {MAX_TIFF_VALUES:,} values")


def _png(data: bytes) -> Structure:
    position, data_chunks, other_chunks, frames = 8, 0, 0, 1
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind in (b"IDAT", b"fdAT"):
            data_chunks += 1
            if data_chunks > MAX_PNG_DATA_CHUNKS:
                raise _refuse(f"This PNG has its pixels in more than {MAX_PNG_DATA_CHUNKS:,} chunks")
        else:
            other_chunks += 1
            if other_chunks > MAX_PNG_OTHER_CHUNKS:
                raise _refuse(f"This PNG has more than {MAX_PNG_OTHER_CHUNKS:,} chunks besides its pixels")
            if kind == b"acTL" and length >= 4 and position + 12 <= len(data):
                frames = max(1, struct.unpack_from(">I", data, position + 8)[0])
            if kind == b"IEND":
                break
        position += 12 + length
    return Structure(frames=frames)


def _gif(data: bytes) -> Structure:
    if len(data) < 13:
        return Structure()
    position = 13
    if data[10] & 0x80:  # global colour table
        position += 3 * (2 << (data[10] & 0x07))
    frames, blocks = 0, 0
    while position < len(data):
        introducer = data[position]
        if introducer == 0x3B:  # trailer
            break
        if introducer == 0x21:  # extension: label, then sub-blocks
            if frames == 0:
                blocks += 1
                if blocks > MAX_GIF_BLOCKS_BEFORE_FRAME:
                    raise _refuse(f"This GIF has more than {MAX_GIF_BLOCKS_BEFORE_FRAME:,} blocks before its picture")
            position = _skip_sub_blocks(data, position + 2)
        elif introducer == 0x2C and position + 10 <= len(data):  # image: descriptor, colours, LZW size, sub-blocks
            frames += 1
            if frames == MAX_COUNTED_FRAMES:
                break
            flags = data[position + 9]
            position += 10 + (3 * (2 << (flags & 0x07)) if flags & 0x80 else 0)
            position = _skip_sub_blocks(data, position + 1)
        else:
            break
    return Structure(frames=max(frames, 1))


def _skip_sub_blocks(data: bytes, position: int) -> int:
    while position < len(data):
        size = data[position]
        position += 1 + size
        if size == 0:
            break
    return position


def _webp(data: bytes) -> Structure:
    position, chunks, frames = 12, 0, 0
    while position + 8 <= len(data):
        kind, size = struct.unpack_from("<4sI", data, position)
        chunks += 1
        if chunks > MAX_WEBP_CHUNKS:
            raise _refuse(f"This WebP has more than {MAX_WEBP_CHUNKS:,} chunks")
        frames += kind == b"ANMF"
        position += 8 + size + (size & 1)
    return Structure(frames=max(frames, 1))


def _bmp(data: bytes) -> Structure:
    if len(data) < 34 or int.from_bytes(data[14:18], "little") < 40:
        return Structure(frames=1)  # an OS/2 header has no compression; Pillow judges a short one
    width, height, _, _, compression = struct.unpack_from("<iiHHI", data, 18)
    if compression in _BMP_RLE:
        pixels, rows = abs(width) * abs(height), abs(height)
        if pixels > MAX_RLE_BMP_PIXELS:
            raise _refuse(
                f"This run-length-encoded BMP has {pixels:,} pixels (at most {MAX_RLE_BMP_PIXELS:,}: Pillow decodes "
                "these in Python)"
            )
        if len(data) > _BMP_HEADERS + 2 * (pixels + rows + 1):
            raise _refuse(f"This run-length-encoded BMP takes {len(data):,} bytes for {pixels:,} pixels")
    return Structure(frames=1)
