"""Place tags from a photo's GPS position, offline: the GeoNames place (of 1,000 people or more) it is in.

A place is a point, so "in" is estimated: each place is given a radius growing with the square root of its
population (a town's area grows with its people), and the position belongs to the place it is nearest to relative
to that radius. The Eiffel Tower is 3.4 km from the centre of Neuilly-sur-Seine and 4.1 km from that of Paris, and
it is in Paris. `country:<name>` and `place:<name>` are given only when such a place lies within MAX_DISTANCE_KM:
a position at sea, in a desert or from a broken receiver gets nothing rather than a town that is not there. Null
Island (0, 0), where receivers with no fix write their zeros, counts as no position. The table is loaded once per
process, on the first geotagged photo, and shared by every thread; a query scans only the places within a band
of latitude, found by bisection.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagging.model import Tag
from tagging.taggers import TaggerInput

DATA = Path(__file__).parent / "data" / "places.npz"
SOURCE = "geonames"
MAX_DISTANCE_KM = 30.0
_EARTH_RADIUS_KM = 6371.0
_BAND_DEGREES = MAX_DISTANCE_KM / 111.0  # a degree of latitude is 111 km everywhere
# A place's radius: 1 km at 10,000 people, 14.5 km for Paris's 2.1 million; never under 1 km.
_RADIUS_KM_PER_ROOT_PERSON = 0.01
_MIN_RADIUS_KM = 1.0
# The table keeps positions in 1e-5 degrees (about a metre) and populations as a quarter-octave size,
# 4 log2(population): the radius needs no more, and the file stays under 2 MB (it ships in the package).
_UNITS_PER_DEGREE = 100_000
_SIZE_STEPS_PER_OCTAVE = 4


@dataclass(frozen=True)
class Row:
    """One place as the table is made from it."""

    latitude: float
    longitude: float
    population: int
    country_code: str
    name: str


def save_table(path: Path, rows: Sequence[Row], countries: Mapping[str, str]) -> None:
    """Write the table Gazetteer reads: rows by latitude, each latitude stored as its step from the one before
    (small numbers, which compress well), names and country names as newline-separated UTF-8."""
    ordered = sorted(rows, key=lambda row: row.latitude)
    codes = sorted({row.country_code for row in ordered})
    index = {code: number for number, code in enumerate(codes)}
    latitude = np.round(np.array([row.latitude for row in ordered]) * _UNITS_PER_DEGREE).astype(np.int32)
    sizes = [_SIZE_STEPS_PER_OCTAVE * math.log2(max(row.population, 1)) for row in ordered]
    np.savez_compressed(
        path,
        latitude_steps=np.diff(latitude, prepend=0).astype(np.int32),
        longitude=np.round(np.array([row.longitude for row in ordered]) * _UNITS_PER_DEGREE).astype(np.int32),
        size=np.round(np.array(sizes)).astype(np.uint8),
        country=np.array([index[row.country_code] for row in ordered], dtype=np.uint16),
        # Names travel in tags: no newline may hide in one.
        names=np.frombuffer("\n".join(" ".join(row.name.split()) for row in ordered).encode(), dtype=np.uint8),
        countries=np.frombuffer("\n".join(countries.get(code, code) for code in codes).encode(), dtype=np.uint8),
    )


@dataclass(frozen=True)
class Place:
    name: str
    country: str
    distance_km: float


class Gazetteer:
    def __init__(self, path: Path = DATA) -> None:
        with np.load(path) as data:
            self._latitude = np.cumsum(data["latitude_steps"], dtype=np.int64) / _UNITS_PER_DEGREE
            self._longitude = data["longitude"] / _UNITS_PER_DEGREE
            self._country = data["country"]
            root_population = np.exp2(data["size"] / (2 * _SIZE_STEPS_PER_OCTAVE))
            self._radius = np.maximum(_RADIUS_KM_PER_ROOT_PERSON * root_population, _MIN_RADIUS_KM)
            self._names = bytes(data["names"]).decode().split("\n")
            self._countries = bytes(data["countries"]).decode().split("\n")

    def nearest(self, latitude: float, longitude: float) -> Place | None:
        """The place a plausible position is in, among those within MAX_DISTANCE_KM, else None."""
        if not plausible(latitude, longitude):
            return None
        low, high = np.searchsorted(self._latitude, [latitude - _BAND_DEGREES, latitude + _BAND_DEGREES])
        if low == high:
            return None
        lat = np.radians(self._latitude[low:high])
        lon = np.radians(self._longitude[low:high])
        here_lat, here_lon = math.radians(latitude), math.radians(longitude)
        # Haversine: exact enough at any latitude, and across the 180th meridian.
        half = np.sin((lat - here_lat) / 2) ** 2 + math.cos(here_lat) * np.cos(lat) * np.sin((lon - here_lon) / 2) ** 2
        distances = 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(half, 1.0)))
        relative = np.where(distances <= MAX_DISTANCE_KM, distances / self._radius[low:high], np.inf)
        best = int(np.argmin(relative))
        if not np.isfinite(relative[best]):
            return None
        index = low + best
        return Place(self._names[index], self._countries[int(self._country[index])], float(distances[best]))


def plausible(latitude: float, longitude: float) -> bool:
    finite = math.isfinite(latitude) and math.isfinite(longitude)
    return finite and abs(latitude) <= 90 and abs(longitude) <= 180 and (latitude, longitude) != (0.0, 0.0)


def tag_name(kind: str, name: str) -> str:
    """`country:united-kingdom`, `place:são-paulo`: lower case, words joined by `-`, letters kept as written."""
    words = "".join(ch if ch.isalnum() or ch in "'." else " " for ch in name.lower()).split()
    return f"{kind}:{'-'.join(words)}"


class PlaceTagger:
    name = SOURCE

    def __init__(self, path: Path = DATA) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._gazetteer: Gazetteer | None = None

    def gazetteer(self) -> Gazetteer:
        with self._lock:
            if self._gazetteer is None:
                self._gazetteer = Gazetteer(self._path)
            return self._gazetteer

    def tag(self, image: TaggerInput) -> Sequence[Tag]:
        meta = image.analysis.metadata
        if meta.latitude is None or meta.longitude is None:
            return []
        place = self.gazetteer().nearest(meta.latitude, meta.longitude)
        if place is None:
            return []
        return [Tag(tag_name("country", place.country), 1.0, SOURCE), Tag(tag_name("place", place.name), 1.0, SOURCE)]
