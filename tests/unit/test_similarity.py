"""The perceptual hash survives what happens to photos and tells different ones apart; the bands find every pair
within the distance (measured on photo-like pictures made here; bench/similarity.py does it on the real photos)."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from tagging import similarity
from tagging.analysis import analyse
from tests.images import PHOTOS, save, scene, variants

LIMIT = 10**8


def phash_of(data: bytes) -> str:
    value = analyse(data, LIMIT).phash
    assert value is not None
    return value


@pytest.mark.parametrize("seed", [3, 7, 11])
def test_the_same_picture_after_what_happens_to_photos_is_within_the_default_distance(seed: int) -> None:
    picture = scene((1200, 900), seed=seed)
    original = phash_of(save(picture, "PNG"))
    moved = {name: similarity.distance(original, phash_of(data)) for name, data in variants(picture).items()}
    assert {name: bits for name, bits in moved.items() if bits > similarity.DEFAULT_DISTANCE} == {}


def test_different_pictures_of_one_kind_are_far_apart() -> None:
    hashes = [phash_of(save(scene((1200, 900), seed=seed), "PNG")) for seed in range(8)]
    closest = min(similarity.distance(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :])
    assert closest > 2 * similarity.MAX_DISTANCE, closest
    # Two framings of one scene: its left and right parts.
    wide = scene((2400, 900), seed=5)
    left, right = wide.crop((0, 0, 1100, 900)), wide.crop((1300, 0, 2400, 900))
    assert similarity.distance(phash_of(save(left, "PNG")), phash_of(save(right, "PNG"))) > similarity.MAX_DISTANCE


@pytest.mark.parametrize(
    "picture",
    [
        pytest.param(Image.new("RGB", (640, 480), (120, 30, 200)), id="solid"),
        pytest.param(Image.effect_noise((640, 480), 2).convert("RGB"), id="faint-noise"),
        pytest.param(scene((12, 9)), id="tiny"),
    ],
)
def test_a_picture_with_too_little_detail_has_no_hash(picture: Image.Image) -> None:
    assert analyse(save(picture, "PNG"), LIMIT).phash is None


def test_every_hash_has_half_its_bits_set_so_distances_are_even() -> None:
    value = phash_of(save(scene((800, 600)), "PNG"))
    assert len(value) == 16
    assert int(value, 16).bit_count() == 32


def test_bands_cover_the_hash_and_two_hashes_within_the_distance_share_one() -> None:
    rng = random.Random(1)
    for _ in range(2000):
        a = rng.getrandbits(64)
        flips = rng.sample(range(64), rng.randint(0, similarity.MAX_DISTANCE))
        b = a
        for bit in flips:
            b ^= 1 << bit
        left, right = f"{a:016x}", f"{b:016x}"
        assert similarity.distance(left, right) == len(flips)
        assert set(similarity.bands(left)) & set(similarity.bands(right))
    assert len(similarity.bands("0123456789abcdef")) == similarity.BANDS
    # Each band value names its band: equal values of different bands never meet.
    assert similarity.bands("0" * 16) == [f"{band:02d}-00" for band in range(similarity.BANDS)]


@pytest.mark.skipif(not PHOTOS.is_dir(), reason="the shared photos are not on this machine")
def test_on_the_shared_photos_variants_find_each_other_and_different_photos_do_not() -> None:
    photos = sorted(PHOTOS.glob("*.jpg"))
    originals = {}
    for path in photos:
        with Image.open(path) as opened:
            picture = opened.convert("RGB")
        originals[path.name] = phash_of(path.read_bytes())
        for name, data in variants(picture).items():
            assert similarity.distance(originals[path.name], phash_of(data)) <= similarity.DEFAULT_DISTANCE, name
    values = list(originals.values())
    assert min(similarity.distance(a, b) for i, a in enumerate(values) for b in values[i + 1 :]) >= 20
