"""Place tags from GPS, offline: the nearest GeoNames place, or nothing when the position says nothing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tagging import analysis
from tagging.labels.places import MAX_DISTANCE_KM, Gazetteer, PlaceTagger, Row, save_table, tag_name
from tagging.taggers import TaggerInput
from tests.images import PHOTOS, exif_jpeg

GAZETTEER = Gazetteer()


def tags_for(data: bytes) -> list[str]:
    decoded = analysis.decode(data, 10**8)
    image = TaggerInput("0" * 32, data, "image/jpeg", analysis.describe(decoded), None, decoded.image)
    return [tag.name for tag in PlaceTagger().tag(image)]


@pytest.mark.parametrize(
    ("position", "place", "country"),
    [
        ((48.8584, 2.2945), "Paris", "France"),
        ((-33.8568, 151.2153), "Sydney", "Australia"),
        ((35.6586, 139.7454), None, "Japan"),
        ((64.1466, -21.9426), "Reykjavík", "Iceland"),
        ((-18.1416, 178.4419), "Suva", "Fiji"),
    ],
)
def test_a_position_gets_its_nearest_place_and_country(
    position: tuple[float, float], place: str | None, country: str
) -> None:
    found = GAZETTEER.nearest(*position)
    assert found is not None
    assert found.country == country
    assert found.distance_km <= MAX_DISTANCE_KM
    if place:
        assert found.name == place


@pytest.mark.parametrize(
    "position",
    [(0.0, 0.0), (-45.0, -140.0), (90.0, 0.0), (math.nan, 10.0), (10.0, math.inf), (91.0, 0.0), (0.0, 181.0)],
    ids=["null-island", "mid-pacific", "north-pole", "nan", "infinite", "beyond-90", "beyond-180"],
)
def test_nowhere_and_impossible_positions_get_nothing(position: tuple[float, float]) -> None:
    assert GAZETTEER.nearest(*position) is None


def test_distances_wrap_around_the_180th_meridian(tmp_path: Path) -> None:
    table = tmp_path / "places.npz"
    rows = [Row(0.5, 179.95, 5000, "KI", "East"), Row(0.5, 170.0, 5000, "KI", "Far")]
    save_table(table, rows, {"KI": "Kiribati"})
    found = Gazetteer(table).nearest(0.5, -179.95)
    assert found is not None
    assert found.name == "East"
    assert found.distance_km == pytest.approx(11.1, abs=0.2)


def test_a_big_city_holds_the_positions_nearer_a_suburbs_centre_than_its_own() -> None:
    eiffel_tower = GAZETTEER.nearest(48.8584, 2.2945)
    assert eiffel_tower is not None
    assert eiffel_tower.name == "Paris"
    centre_of_neuilly = GAZETTEER.nearest(48.8846, 2.2697)
    assert centre_of_neuilly is not None
    assert centre_of_neuilly.name == "Neuilly-sur-Seine"


def test_a_geotagged_photo_is_tagged_with_its_country_and_place() -> None:
    assert tags_for(exif_jpeg(gps=(55.6761, 12.5683))) == ["country:denmark", "place:copenhagen"]
    assert tags_for(exif_jpeg(gps=(0.0, 0.0))) == []
    assert tags_for(exif_jpeg()) == []


def test_names_become_tags_an_owner_can_type() -> None:
    assert tag_name("country", "United Kingdom") == "country:united-kingdom"
    assert tag_name("place", "São Paulo") == "place:são-paulo"
    assert tag_name("place", "Saint-Denis / Réunion") == "place:saint-denis-réunion"


@pytest.mark.skipif(not PHOTOS.is_dir(), reason="the shared photos are not on this machine")
def test_the_shared_photo_with_gps_is_placed_in_denmark() -> None:
    assert "country:denmark" in tags_for((PHOTOS / "ColorfulCups_2560x1600.jpg").read_bytes())
