from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFilter

from tagging.analysis import analyse, decode, decode_cost, draft_size, probe, thumbnail
from tagging.errors import ImageTooLargeError, InvalidImageError, UnsupportedMediaError
from tests.images import (
    exif_jpeg,
    image_bytes,
    jpeg_with_orientation,
    noisy_jpeg,
    png_header_claiming,
    save,
    scene,
    truncated,
)

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
        analyse(image_bytes("PNG", (64, 48)), max_pixels=2000)
    with pytest.raises(ImageTooLargeError, match="more than 1,000 pixels"):
        analyse(image_bytes("PNG", (64, 48)), max_pixels=1000)
    assert analyse(image_bytes("PNG", (64, 48)), max_pixels=64 * 48).width == 64


def test_a_pixel_limit_above_pillows_own_is_honoured() -> None:
    # Pillow alone refuses anything over 179 MP; a deployment that allows more must get what it set.
    header = png_header_claiming(20_000, 10_000)
    assert probe(header, max_pixels=300_000_000).width == 20_000
    with pytest.raises(ImageTooLargeError, match="200,000,000 pixels"):
        probe(header, max_pixels=150_000_000)


def test_a_truncated_jpeg_passes_the_header_probe_but_fails_to_decode() -> None:
    damaged = truncated(noisy_jpeg(), 0.5)
    assert probe(damaged, LIMIT).format == "jpeg"
    with pytest.raises(InvalidImageError, match="damaged"):
        analyse(damaged, LIMIT)


def test_a_truncated_png_fails_to_decode() -> None:
    with pytest.raises(InvalidImageError):
        analyse(truncated(image_bytes("PNG", (300, 300), color=(1, 2, 3)), 0.6), LIMIT)


def names(data: bytes) -> set[str]:
    return {tag.name for tag in analyse(data, LIMIT).tags}


def test_a_pure_red_square_is_red_square_and_low_resolution() -> None:
    result = analyse(image_bytes("PNG", (100, 100), color=(230, 10, 20)), LIMIT)
    tags = {tag.name: tag for tag in result.tags}
    assert tags["color:red"].confidence == 1.0
    assert {"orientation:square", "resolution:low"} <= set(tags)
    assert "monochrome" not in tags


def test_a_grey_gradient_is_monochrome() -> None:
    gradient = Image.linear_gradient("L").resize((300, 200)).convert("RGB")
    assert "monochrome" in names(save(gradient, "PNG"))
    assert "monochrome" not in names(image_bytes("PNG", (300, 200), color=(200, 120, 40)))


def test_dark_and_bright_images() -> None:
    assert "dark" in names(image_bytes("PNG", (50, 50), color=(20, 20, 30)))
    assert "bright" in names(image_bytes("PNG", (50, 50), color=(240, 240, 235)))


def test_a_sharp_picture_and_its_blurred_copy() -> None:
    sharp = scene((1024, 768))
    assert "sharp" in names(save(sharp, "PNG"))
    blurred = sharp.filter(ImageFilter.GaussianBlur(6))
    assert "blurry" in names(save(blurred, "PNG"))


def test_a_flat_colour_is_neither_sharp_nor_blurry() -> None:
    assert not {"sharp", "blurry"} & names(image_bytes("PNG", (400, 300)))


def test_panorama_from_aspect_ratio() -> None:
    assert "panorama" in names(image_bytes("PNG", (400, 200)))
    assert "panorama" not in names(image_bytes("PNG", (399, 200)))


def test_real_alpha_is_transparent_but_an_opaque_alpha_channel_is_not() -> None:
    see_through = Image.new("RGBA", (40, 40), (200, 0, 0, 255))
    see_through.putpixel((5, 5), (0, 0, 0, 0))
    assert "transparent" in names(save(see_through, "PNG"))
    assert "transparent" not in names(save(Image.new("RGBA", (40, 40), (200, 0, 0, 255)), "PNG"))


def test_a_palette_image_with_a_transparent_index_is_transparent() -> None:
    image = Image.new("P", (40, 40), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    assert "transparent" in names(save(image, "PNG", transparency=0))


def test_an_animated_gif_records_its_frames_and_is_tagged_from_the_first() -> None:
    frames = [Image.new("RGB", (30, 30), color) for color in ((250, 0, 0), (0, 0, 250), (0, 250, 0))]
    data = save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    result = analyse(data, LIMIT)
    assert result.frames == 3
    assert {"animated", "color:red"} <= {tag.name for tag in result.tags}
    assert analyse(image_bytes("GIF"), LIMIT).frames == 1


def test_camera_date_lens_and_position_come_from_exif() -> None:
    data = exif_jpeg(make="Canon", model="Canon EOS 70D", taken="2015:10:29 15:44:44", gps=(-33.8568, 151.2153),
                     lens="EF50mm f/1.8 II")  # fmt: skip
    result = analyse(data, LIMIT)
    assert {"camera:canon-eos-70d", "taken:2015", "geotagged"} <= {tag.name for tag in result.tags}
    meta = result.metadata
    assert (meta.camera_make, meta.camera_model, meta.lens) == ("Canon", "Canon EOS 70D", "EF50mm f/1.8 II")
    assert meta.taken_at == "2015-10-29T15:44:44"
    assert meta.latitude == pytest.approx(-33.8568, abs=1e-4)
    assert meta.longitude == pytest.approx(151.2153, abs=1e-4)


@pytest.mark.parametrize("taken", ["0000:00:00 00:00:00", "garbage", "2999:01:01 00:00:00"])
def test_nonsense_dates_are_ignored(taken: str) -> None:
    result = analyse(exif_jpeg(taken=taken), LIMIT)
    assert result.metadata.taken_at is None
    assert not any(tag.name.startswith("taken:") for tag in result.tags)


def test_a_cmyk_jpeg_is_decoded_in_colour() -> None:
    cmyk = Image.new("CMYK", (60, 40), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    result = analyse(save(cmyk, "JPEG"), LIMIT)
    assert result.mode == "CMYK"
    assert "color:red" in {tag.name for tag in result.tags}


def test_a_16_bit_greyscale_png_keeps_its_tones() -> None:
    image = Image.new("I;16", (64, 64))
    image.putdata([30000] * (64 * 64))  # mid grey in 16 bits; a clipping conversion would make it white
    result = analyse(save(image, "PNG"), LIMIT)
    assert result.mode.startswith("I;16")  # type: ignore[union-attr]
    tags = {tag.name for tag in result.tags}
    assert "monochrome" in tags
    assert not {"bright", "color:white"} & tags


def test_the_thumbnail_is_an_upright_webp_of_256_px_never_enlarged() -> None:
    big = Image.open(io.BytesIO(thumbnail(decode(jpeg_with_orientation((800, 400), 6), LIMIT))))
    assert (big.format, big.size) == ("WEBP", (128, 256))
    small = Image.open(io.BytesIO(thumbnail(decode(image_bytes("PNG", (100, 50)), LIMIT))))
    assert small.size == (100, 50)
    clear = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    assert Image.open(io.BytesIO(thumbnail(decode(save(clear, "PNG"), LIMIT)))).mode == "RGBA"


def test_large_jpegs_decode_at_reduced_scale() -> None:
    decoded = decode(image_bytes("JPEG", (4000, 3000)), LIMIT)
    assert (decoded.width, decoded.height) == (4000, 3000)  # the image's own size is reported
    assert max(decoded.image.size) < 1024  # but the pixels were decoded at 1/4 or less
    assert draft_size(2560, 1600) == (512, 320)


def test_heic_is_accepted_where_pillow_heif_is_installed() -> None:
    pytest.importorskip("pillow_heif")
    result = analyse(image_bytes("HEIF", (64, 48), color=(20, 40, 220)), LIMIT)
    assert {"format:heic", "color:blue"} <= {tag.name for tag in result.tags}


def test_a_camera_mpo_is_one_picture_not_an_animation() -> None:
    # Cameras write a preview as the second picture of an MPO: it is not a frame of an animation.
    photo, preview = scene((640, 480)), scene((160, 120), seed=2)
    mpo = save(photo, "MPO", save_all=True, append_images=[preview])
    assert Image.open(io.BytesIO(mpo)).format == "MPO"
    result = analyse(mpo, LIMIT)
    assert result.format == "jpeg"
    assert result.frames == 1
    assert "animated" not in {tag.name for tag in result.tags}


def test_a_multi_page_tiff_records_its_pages_but_is_not_animated() -> None:
    pages = [Image.new("RGB", (60, 40), color) for color in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    result = analyse(save(pages[0], "TIFF", save_all=True, append_images=pages[1:]), LIMIT)
    assert result.frames == 3
    assert "animated" not in {tag.name for tag in result.tags}


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "I;16", "1", "CMYK"])
def test_large_images_of_every_mode_decode_small_keeping_colour_and_alpha(mode: str) -> None:
    picture = Image.new("RGB", (2400, 1200), (210, 30, 30))
    if mode in ("RGBA", "LA"):
        picture.putalpha(Image.linear_gradient("L").resize(picture.size))
    image = picture.convert(mode) if mode != "I;16" else picture.convert("L").convert("I").point(lambda v: v * 256)
    image = image.convert("I;16") if mode == "I;16" else image
    fmt = "TIFF" if mode in ("CMYK", "I;16", "LA") else "PNG"
    decoded = decode(save(image, fmt), LIMIT)
    assert (decoded.width, decoded.height) == (2400, 1200)
    assert max(decoded.image.size) < 1024
    assert decoded.image.mode in ("RGB", "RGBA")
    names = {tag.name for tag in analyse(save(image, fmt), LIMIT).tags}
    assert ("transparent" in names) == (mode in ("RGBA", "LA"))
    if mode in ("RGBA", "P", "CMYK"):
        assert "color:red" in names


def test_decoding_reserves_what_the_decoder_holds() -> None:
    big = scene((4000, 3000))
    baseline, progressive = save(big, "JPEG"), save(big, "JPEG", progressive=True)
    with Image.open(io.BytesIO(baseline)) as image:
        image.draft("RGB", draft_size(4000, 3000))
        drafted = decode_cost(image, 4000, 3000)
    assert drafted == 1000 * 750 * 4  # a quarter of each side, four bytes a pixel
    with Image.open(io.BytesIO(progressive)) as image:
        image.draft("RGB", draft_size(4000, 3000))
        # libjpeg keeps every coefficient of a progressive JPEG at full size, however small it decodes.
        assert decode_cost(image, 4000, 3000) == drafted + 3 * 4000 * 3000
    with Image.open(io.BytesIO(save(Image.new("L", (100, 50)), "PNG"))) as image:
        assert decode_cost(image, 100, 50) == 100 * 50
