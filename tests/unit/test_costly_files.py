"""The cost bound: every file within the upload limit costs at most about 2 s of CPU and little memory beyond its
pixel budget to analyse, in the upload handler (probe) and in the worker (analyse) alike. Files whose structure
cannot be worth their cost are refused by a walk of that structure before Pillow touches them
(tagging/analysis/structure.py); the files come from tests/hostile.py.

CPU is measured in this process (time.process_time); Python memory with tracemalloc, which sees the objects
Pillow would keep for every marker segment, chunk or tag value.
"""

from __future__ import annotations

import io
import time
import tracemalloc
from collections.abc import Callable

import pytest
from PIL import Image

from tagging.analysis import analyse, probe
from tagging.analysis import opening as opening_module
from tagging.analysis.structure import MAX_COUNTED_FRAMES, MAX_RLE_BMP_PIXELS, MAX_SCAN_MEGAPIXELS, walk
from tagging.errors import ImageTooComplexError, ImageTooLargeError
from tests.hostile import (
    MAX_UPLOAD,
    gif_extension_flood,
    jpeg_marker_flood,
    png_chunk_flood,
    progressive_jpeg,
    rle_bmp,
    tiff_page_chain,
    tiff_with_values,
    webp_chunk_flood,
)
from tests.images import animated_gif, save

LIMIT = 100_000_000  # the default TAGGING_MAX_PIXELS
CPU_BOUND = 2.0  # seconds
MEMORY_BOUND = 64 * 1024 * 1024  # bytes beyond the pixels

HOSTILE: dict[str, Callable[[], bytes]] = {
    "progressive jpeg of 100 MP, its last scan repeated to 20 MiB": lambda: progressive_jpeg(10_000, size=MAX_UPLOAD),
    "jpeg of 5 million empty marker segments": jpeg_marker_flood,
    "tiff chain of a million pages": lambda: tiff_page_chain(MAX_UPLOAD // 126),
    "tiff whose first page holds 5 million values": lambda: tiff_with_values(MAX_UPLOAD // 4 - 64),
    "png of 1.5 million text chunks": lambda: png_chunk_flood((MAX_UPLOAD - 100) // 15),
    "png of its pixels in 1.5 million pieces": lambda: png_chunk_flood((MAX_UPLOAD - 100) // 12, b"IDAT"),
    "gif of 7 million comments before its picture": lambda: gif_extension_flood((MAX_UPLOAD - 100) // 3),
    "webp of 2.6 million chunks": lambda: webp_chunk_flood((MAX_UPLOAD - 100) // 8),
    "run-length-encoded bmp of 100 MP in 40 KB": lambda: rle_bmp(10_000, 10_000, 0),
    "run-length-encoded bmp of 1 MP, runs of one pixel repeated to 20 MiB": lambda: rle_bmp(
        1000, 1000, 1, rows=MAX_UPLOAD // 2004
    ),
}


def costs(step: Callable[[], object]) -> tuple[float, int, BaseException | None]:
    """CPU seconds, peak Python memory, and the error of one step."""
    tracemalloc.start()
    started = time.process_time()
    failure: BaseException | None = None
    try:
        step()
    except Exception as exc:  # returned, for the test to look at
        failure = exc
    cpu = time.process_time() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return cpu, peak, failure


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_file_whose_structure_costs_too_much_is_refused_within_the_bound(name: str) -> None:
    data = HOSTILE[name]()
    assert len(data) <= MAX_UPLOAD
    for step in (lambda: probe(data, LIMIT), lambda: analyse(data, LIMIT)):  # the upload handler, the worker
        cpu, peak, failure = costs(step)
        assert isinstance(failure, ImageTooComplexError), failure
        assert "no photo is made so" in str(failure)
        assert cpu <= CPU_BOUND, f"{cpu:.2f} s of CPU"
        assert peak <= MEMORY_BOUND, f"{peak / 1e6:.0f} MB of Python memory"


def test_a_progressive_jpeg_at_the_scan_budget_is_decoded_within_about_the_bound() -> None:
    """The most scans allowed at 25 MP (1,600 megapixel-scans): every one is decoded, at about 0.8 ms a megapixel.
    Measured here at about 1.1 s; the bound allows for a noisy machine."""
    data = progressive_jpeg(5_000, scans=MAX_SCAN_MEGAPIXELS // 25)
    cpu, _, failure = costs(lambda: analyse(data, LIMIT))
    assert failure is None
    assert cpu <= CPU_BOUND * 1.25, f"{cpu:.2f} s of CPU"
    with pytest.raises(ImageTooComplexError, match="at least 65 scans"):
        analyse(progressive_jpeg(5_000, scans=MAX_SCAN_MEGAPIXELS // 25 + 1), LIMIT)


@pytest.mark.parametrize("bits", [8, 4])
def test_the_costliest_run_length_encoded_bmp_allowed_is_decoded_within_about_the_bound(bits: int) -> None:
    """Runs of one pixel at the RLE pixel limit: Pillow's Python decoder takes a pair of bytes per pixel, and RLE4
    splits each into nibbles. Measured here at about 0.5 s (RLE8) and 0.8 s (RLE4)."""
    side = int(MAX_RLE_BMP_PIXELS**0.5)
    data = rle_bmp(side, side, 1, bits=bits)
    started = time.process_time()  # without tracemalloc, which would trace every byte the decoder appends
    assert analyse(data, LIMIT).width == side
    cpu = time.process_time() - started
    assert cpu <= CPU_BOUND, f"{cpu:.2f} s of CPU"
    with pytest.raises(ImageTooComplexError, match="run-length-encoded BMP has 1,002,001 pixels"):
        analyse(rle_bmp(side + 1, side + 1, 0, bits=bits), LIMIT)


def test_pages_and_frames_are_counted_in_linear_time() -> None:
    """Pillow's n_frames for a TIFF walks its pages in time quadratic in their number (16k / 32k / 64k pages took
    4.4 / 14.2 / 42.5 s): the walk counts them instead, and a GIF's frames up to a cap."""
    tiff = tiff_page_chain(10_000)
    cpu, _, failure = costs(lambda: analyse(tiff, LIMIT))
    assert failure is None
    assert cpu <= CPU_BOUND
    assert analyse(tiff, LIMIT).frames == 10_000
    frame = animated_gif(2)
    million = frame[: frame.rindex(b"\x21\xf9")] + frame[frame.rindex(b"\x21\xf9") : -1] * 200_000 + b"\x3b"
    cpu, _, failure = costs(lambda: analyse(million, LIMIT))
    assert failure is None
    assert cpu <= CPU_BOUND
    assert analyse(million, LIMIT).frames == MAX_COUNTED_FRAMES


@pytest.mark.parametrize(
    "kind",
    ["gif", "png", "webp", "tiff"],
)
def test_the_walk_counts_frames_as_pillow_does(kind: str) -> None:
    frames = [Image.new("RGB", (24, 16), (n * 40, 90, 200 - n * 30)) for n in range(5)]
    out = io.BytesIO()
    params = {"save_all": True, "append_images": frames[1:]}
    frames[0].save(out, {"gif": "GIF", "png": "PNG", "webp": "WEBP", "tiff": "TIFF"}[kind], **params)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as image:
        expected = image.n_frames
    assert walk(data).frames == expected == 5
    assert analyse(data, LIMIT).frames == 5


def test_a_heic_over_its_own_limit_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """libheif decodes a HEIC whole, at about 60 ms a megapixel here: HEIC has a lower pixel limit of its own."""
    data = save(Image.new("RGB", (64, 48), (10, 20, 30)), "HEIF")
    monkeypatch.setattr(opening_module, "MAX_HEIC_PIXELS", 64 * 48 - 1)
    with pytest.raises(ImageTooLargeError, match="HEIC is decoded whole"):
        probe(data, LIMIT)
