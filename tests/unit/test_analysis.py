from __future__ import annotations

import pytest

from tagging.analysis import analyse, probe
from tagging.errors import ImageTooLargeError, InvalidImageError, UnsupportedMediaError
from tests.images import image_bytes, jpeg_with_orientation, noisy_jpeg, png_header_claiming, truncated

LIMIT = 100_000_000


@pytest.mark.parametrize(
    ("fmt", "name", "content_type"),
    [
        ("JPEG", "jpeg", "image/jpeg"),
        ("PNG", "png", "image/png"),
        ("GIF", "gif", "image/gif"),
        ("WEBP", "webp", "image/webp"),
        ("BMP", "bmp", "image/bmp"),
        ("TIFF", "tiff", "image/tiff"),
        ("AVIF", "avif", "image/avif"),
    ],
)
def test_accepted_formats_are_identified_from_their_bytes(fmt: str, name: str, content_type: str) -> None:
    header = probe(image_bytes(fmt, (40, 30)), LIMIT)
    assert (header.format, header.content_type, header.width, header.height) == (name, content_type, 40, 30)
    result = analyse(image_bytes(fmt, (40, 30)), LIMIT)
    assert result.tags[0].name == f"format:{name}"


@pytest.mark.parametrize(
    ("size", "orientation"),
    [((64, 48), "landscape"), ((48, 64), "portrait"), ((50, 50), "square"), ((1000, 1004), "square")],
)
def test_orientation_follows_the_aspect(size: tuple[int, int], orientation: str) -> None:
    result = analyse(image_bytes("PNG", size), LIMIT)
    names = [tag.name for tag in result.tags]
    assert f"orientation:{orientation}" in names
    assert (result.width, result.height) == size
    assert all(0 <= tag.confidence <= 1 and tag.source == "analysis" for tag in result.tags)


@pytest.mark.parametrize(
    ("exif_orientation", "expected"), [(1, "landscape"), (3, "landscape"), (6, "portrait"), (8, "portrait")]
)
def test_exif_orientation_is_applied_before_measuring(exif_orientation: int, expected: str) -> None:
    result = analyse(jpeg_with_orientation((80, 40), exif_orientation), LIMIT)
    assert f"orientation:{expected}" in [tag.name for tag in result.tags]
    assert (result.width, result.height) == ((80, 40) if expected == "landscape" else (40, 80))


@pytest.mark.parametrize("data", [b"hello, world", b"%PDF-1.7\n", b"\x00" * 64, b"GIF8"])
def test_things_that_are_not_images_are_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaError, match="accepted format"):
        probe(data, LIMIT)


def test_formats_we_do_not_accept_are_unsupported_even_though_pillow_reads_them() -> None:
    with pytest.raises(UnsupportedMediaError):
        probe(image_bytes("ICO", (32, 32)), LIMIT)
    with pytest.raises(UnsupportedMediaError):
        probe(image_bytes("PPM", (32, 32)), LIMIT)


def test_an_empty_body_is_not_an_image() -> None:
    with pytest.raises(InvalidImageError, match="empty"):
        probe(b"", LIMIT)


def test_a_header_claiming_ten_billion_pixels_is_refused_before_decoding() -> None:
    bomb = png_header_claiming(100_000, 100_000)
    assert len(bomb) < 100
    with pytest.raises(ImageTooLargeError, match="pixels"):
        probe(bomb, LIMIT)


def test_the_pixel_limit_is_a_setting() -> None:
    with pytest.raises(ImageTooLargeError, match="64x48"):
        analyse(image_bytes("PNG", (64, 48)), max_pixels=1000)
    assert analyse(image_bytes("PNG", (64, 48)), max_pixels=64 * 48).width == 64


def test_a_truncated_jpeg_passes_the_header_probe_but_fails_to_decode() -> None:
    damaged = truncated(noisy_jpeg(), 0.5)
    assert probe(damaged, LIMIT).format == "jpeg"
    with pytest.raises(InvalidImageError, match="damaged"):
        analyse(damaged, LIMIT)


def test_a_truncated_png_fails_to_decode() -> None:
    with pytest.raises(InvalidImageError):
        analyse(truncated(image_bytes("PNG", (300, 300), color=(1, 2, 3)), 0.6), LIMIT)
