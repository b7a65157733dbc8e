"""Real camera photos, when this machine has them (tests/images.py PHOTOS; skipped otherwise)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFilter

from tagging.analysis import analyse
from tests.images import NO_PHOTOS, PHOTOS

pytestmark = pytest.mark.skipif(not PHOTOS.is_dir(), reason=NO_PHOTOS)
LIMIT = 100_000_000
ALL = sorted(p.name for p in PHOTOS.glob("*.jpg")) if PHOTOS.is_dir() else []


def tags_of(name: str) -> set[str]:
    return {tag.name for tag in analyse((PHOTOS / name).read_bytes(), LIMIT).tags}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ColorfulCups_2560x1600.jpg", {"geotagged", "camera:sony-nex-3n", "taken:2014", "orientation:landscape"}),
        ("friends_by_Aitzol_Berasategi.jpg", {"orientation:portrait", "resolution:high"}),
        ("Wine_by_Jakkub_Mede.jpg", {"orientation:portrait"}),
        ("FallenLeaf_2560x1600.jpg", {"camera:canon-eos-70d", "color:orange"}),
        ("Path_2560x1600.jpg", {"camera:olympus-e-m1", "dark"}),
        ("Wood.jpg", {"camera:konica-minolta-dimage-z5"}),
        ("Blinds.jpg", {"camera:canon-eos-350d-digital", "resolution:medium"}),
        ("Kleiber_by_Lukas_Baubkus.jpg", {"resolution:very-high"}),
        ("LadyBird.jpg", {"color:green"}),
    ],
)
def test_what_the_manifest_says_is_found(name: str, expected: set[str]) -> None:
    assert expected <= tags_of(name)


def test_only_the_photo_with_gps_is_geotagged() -> None:
    assert [name for name in ALL if "geotagged" in tags_of(name)] == ["ColorfulCups_2560x1600.jpg"]


@pytest.mark.parametrize("name", ALL)
def test_every_photo_is_sharp_and_a_visibly_blurred_copy_is_blurry(name: str) -> None:
    assert "sharp" in tags_of(name)
    with Image.open(PHOTOS / name) as photo:
        # 4 px of blur per 2560 px: clearly soft on a screen.
        blurred = photo.filter(ImageFilter.GaussianBlur(4 * max(photo.size) / 2560))
    out = io.BytesIO()
    blurred.save(out, format="JPEG", quality=90)
    assert "blurry" in {tag.name for tag in analyse(out.getvalue(), LIMIT).tags}
