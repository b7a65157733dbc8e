from __future__ import annotations

import pytest

from tagging import vocabulary
from tagging.model import PhotoMetadata


@pytest.mark.parametrize(
    ("make", "model", "tag"),
    [
        ("Canon", "Canon EOS 70D", "camera:canon-eos-70d"),
        ("OLYMPUS IMAGING CORP.", "E-M1", "camera:olympus-e-m1"),
        ("KONICA MINOLTA", "DiMAGE Z5", "camera:konica-minolta-dimage-z5"),
        ("SONY", "NEX-3N", "camera:sony-nex-3n"),
        ("NIKON CORPORATION", "NIKON D750", "camera:nikon-d750"),
        ("Apple", "iPhone 15 Pro", "camera:apple-iphone-15-pro"),
        ("EASTMAN KODAK COMPANY", "KODAK Z981 ZOOM DIGITAL CAMERA", "camera:kodak-z981-zoom-digital-camera"),
        ("Acme Imaging Co., Ltd.", "X1", "camera:acme-x1"),
        ("Canon", None, "camera:canon"),
        (None, "Mystery 3000", "camera:mystery-3000"),
    ],
)
def test_camera_tags_normalise_the_brand_and_do_not_repeat_it(make: str | None, model: str | None, tag: str) -> None:
    found = vocabulary.camera_tag(make, model)
    assert found is not None
    assert found.name == tag


def test_no_camera_no_tag() -> None:
    assert vocabulary.camera_tag(None, None) is None
    assert vocabulary.camera_tag("  ", "") is None


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((220, 20, 30), "red"),
        ((250, 140, 20), "orange"),
        ((240, 220, 30), "yellow"),
        ((30, 180, 40), "green"),
        ((20, 170, 170), "teal"),
        ((30, 60, 220), "blue"),
        ((130, 40, 200), "purple"),
        ((240, 120, 200), "pink"),
        ((250, 180, 180), "pink"),
        ((120, 70, 30), "brown"),
        ((5, 5, 5), "black"),
        ((128, 128, 128), "gray"),
        ((250, 250, 250), "white"),
    ],
)
def test_colours_get_their_palette_name(rgb: tuple[int, int, int], name: str) -> None:
    assert vocabulary.color_name(*rgb) == name


def test_up_to_three_dominant_colours_with_their_share_as_confidence() -> None:
    tags = vocabulary.dominant_colors({"red": 0.5, "blue": 0.3, "green": 0.13, "pink": 0.05, "gray": 0.02})
    assert [(t.name, t.confidence) for t in tags] == [("color:red", 0.5), ("color:blue", 0.3), ("color:green", 0.13)]
    assert [t.name for t in vocabulary.dominant_colors(dict.fromkeys("abcdefghij", 0.1))] == ["color:a"]


@pytest.mark.parametrize(
    ("pixels", "name"),
    [(999_999, "low"), (1_000_000, "medium"), (3_999_999, "medium"), (15_999_999, "high"), (16_000_000, "very-high")],
)
def test_resolution_bounds(pixels: int, name: str) -> None:
    assert vocabulary.resolution(pixels) == name


def test_light_tags() -> None:
    assert [t.name for t in vocabulary.light_tags(luminance=0.1, saturation=0.5, grey_mode=False)] == ["dark"]
    assert [t.name for t in vocabulary.light_tags(luminance=0.9, saturation=0.02, grey_mode=False)] == [
        "monochrome",
        "bright",
    ]
    assert [t.name for t in vocabulary.light_tags(luminance=0.5, saturation=0.5, grey_mode=True)] == ["monochrome"]
    assert vocabulary.light_tags(luminance=0.5, saturation=0.5, grey_mode=False) == []


def test_sharpness_rules() -> None:
    assert vocabulary.sharpness_tag(0.5, 500, contrast=40).name == "sharp"  # type: ignore[union-attr]
    assert vocabulary.sharpness_tag(0.1, 500, contrast=40).name == "blurry"  # type: ignore[union-attr]
    assert vocabulary.sharpness_tag(0.9, 5, contrast=40).name == "blurry"  # type: ignore[union-attr]
    assert vocabulary.sharpness_tag(0.22, 500, contrast=40) is None  # undecided: no tag rather than a wrong one
    assert vocabulary.sharpness_tag(0.0, 0, contrast=0) is None  # a flat image is neither


def test_confidences_stay_between_half_and_one() -> None:
    assert vocabulary.beyond(0.25, 0.25, 0.1) == 0.5
    assert vocabulary.beyond(10.0, 0.25, 0.1) == 1.0


def test_metadata_tags() -> None:
    meta = PhotoMetadata("Canon", "Canon EOS 70D", None, "2015-10-29T15:44:44", 56.1, 10.2)
    assert [t.name for t in vocabulary.metadata_tags(meta)] == ["camera:canon-eos-70d", "taken:2015", "geotagged"]
    assert vocabulary.metadata_tags(PhotoMetadata()) == []
