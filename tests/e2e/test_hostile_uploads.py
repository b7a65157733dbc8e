"""A corpus of broken and hostile files, made at test time, through the whole running system.

Each one is refused at upload with a 4xx and a JSON reason, or ends `failed` with a reason, or is tagged; the
worker never crashes, and its process stays within MEMORY_BOUND_MB even while several images at the pixel limit
decode at once: decoded pixels in flight are capped at what one image at the limit takes (4 bytes a pixel: 400 MB at
the default 100 MP; lower TAGGING_MAX_PIXELS to lower the bound).
"""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from tests.hostile import (
    gif_extension_flood,
    jpeg_marker_flood,
    png_chunk_flood,
    progressive_jpeg,
    rle_bmp,
    tiff_page_chain,
    webp_chunk_flood,
)
from tests.images import (
    animated_gif,
    black_png,
    gif_header_claiming,
    image_bytes,
    noisy_jpeg,
    png_header_claiming,
    save,
    truncated,
)
from tests.stack import Stack

pytestmark = pytest.mark.e2e

MEMORY_BOUND_MB = 768
LIMIT = 100_000_000  # the default TAGGING_MAX_PIXELS


def sixteen_bit_png() -> bytes:
    image = Image.new("I;16", (300, 200))
    image.putdata([(x * 200) % 65536 for x in range(300 * 200)])
    return save(image, "PNG")


CORPUS: dict[str, tuple[bytes, set[str]]] = {
    # name: (bytes, the outcomes that are acceptable for it)
    "zero bytes": (b"", {"400"}),
    "one byte": (b"\xff", {"415"}),
    "truncated jpeg": (truncated(noisy_jpeg(), 0.5), {"failed"}),
    "truncated png": (truncated(save(Image.effect_noise((200, 200), 50), "PNG"), 0.5), {"failed", "400"}),
    "png claiming 100000x100000": (png_header_claiming(100_000, 100_000), {"413"}),
    "gif claiming 65535x65535": (gif_header_claiming(65535, 65535), {"413"}),
    "black png just under the limit": (black_png(10_000, 9_999), {"done"}),
    "black png just over the limit": (black_png(10_001, 10_000), {"413"}),
    "deep animated gif": (animated_gif(400), {"done"}),
    "cmyk jpeg": (save(Image.new("CMYK", (120, 80), (0, 200, 200, 0)), "JPEG"), {"done"}),
    "16-bit png": (sixteen_bit_png(), {"done"}),
    "random bytes after a jpeg header": (noisy_jpeg()[:300] + random.Random(5).randbytes(20_000), {"failed", "400"}),
    "ico (not accepted)": (image_bytes("ICO", (32, 32)), {"415"}),
    "ppm (not accepted)": (image_bytes("PPM", (32, 32)), {"415"}),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", {"415"}),
    "html": (b"<!doctype html><script>alert(1)</script>", {"415"}),
    "png sent as image/jpeg named x.jpg": (image_bytes("PNG", (20, 20)), {"done"}),
    # Files whose structure would cost far more to decode than any photo (tests/hostile.py): refused at upload.
    "progressive jpeg of 150 scans of 16 MP": (progressive_jpeg(4000, scans=150), {"422"}),
    "jpeg of 450,000 empty marker segments": (jpeg_marker_flood(1_800_000), {"422"}),
    "tiff chain of 15,000 pages": (tiff_page_chain(15_000), {"422"}),
    "png of 100,000 text chunks": (png_chunk_flood(100_000), {"422"}),
    "gif of 600,000 comments before its picture": (gif_extension_flood(600_000), {"422"}),
    "webp of 200,000 chunks": (webp_chunk_flood(200_000), {"422"}),
    "run-length-encoded bmp of 25 MP in 20 KB": (rle_bmp(5000, 5000, 0), {"422"}),
    "run-length-encoded bmp of 0.25 MP, runs of one pixel": (rle_bmp(500, 500, 1, bits=4), {"done"}),
}


@pytest.mark.parametrize("name", CORPUS)
def test_each_hostile_file_gets_a_clear_outcome(stack: Stack, name: str) -> None:
    data, acceptable = CORPUS[name]
    who = f"hostile-{uuid.uuid4().hex[:8]}"
    response = stack.upload(data, who, **{"Content-Disposition": 'attachment; filename="x.jpg"'})
    if response.status_code >= 400:
        assert str(response.status_code) in acceptable, f"{name}: {response.status_code} {response.text}"
        assert response.json()["error"]["message"]
        return
    assert response.status_code == 202, response.text
    shown = stack.settled(response.json()["id"], who)
    assert shown["status"] in acceptable, f"{name}: {shown}"
    if shown["status"] == "failed":
        assert shown["error"]
    assert stack.process.poll() is None, "the worker crashed"


def test_images_at_the_pixel_limit_decoding_at_once_stay_within_the_memory_bound(stack: Stack) -> None:
    # The worker takes several messages at once, and each of these holds 200-400 MB once decoded: together they
    # would need 1.4 GB. The peak also covers whatever this runner processed before.
    near_limit = [
        black_png(10_000, 9_999, "RGBA"),
        black_png(10_000, 9_998, "RGBA"),
        black_png(10_000, 9_999, "I;16"),
        black_png(10_000, 9_998),
    ]
    who = f"hostile-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(len(near_limit)) as pool:
        responses = list(pool.map(lambda data: stack.upload(data, who), near_limit))
    assert [response.status_code for response in responses] == [202] * len(near_limit)
    for response in responses:
        assert stack.settled(response.json()["id"], who, timeout=90)["status"] == "done"
    assert stack.process.poll() is None, "the worker crashed"
    assert stack.peak_rss_mb() < MEMORY_BOUND_MB


def test_a_png_typed_as_jpeg_is_stored_and_served_as_png(stack: Stack) -> None:
    who = f"hostile-{uuid.uuid4().hex[:8]}"
    response = stack.upload(image_bytes("PNG", (20, 20)), who)  # the helper declares image/jpeg
    image_id = response.json()["id"]
    assert stack.settled(image_id, who)["format"] == "png"
    assert stack.content(image_id, who).headers["content-type"] == "image/png"


def test_a_header_of_bytes_that_are_not_utf8_is_a_clear_400(stack: Stack) -> None:
    response = httpx.get(f"{stack.url}/api/images", headers={"X-MS-CLIENT-PRINCIPAL-ID": b"\xff\xfeme"}, timeout=30)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.headers["x-content-type-options"] == "nosniff"
