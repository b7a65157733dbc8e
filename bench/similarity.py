"""Near duplicates: how far the perceptual hash moves under what happens to photos, against how far apart
different photos are, and what the hash costs beside the analysis."""

from __future__ import annotations

import itertools
import statistics

from PIL import Image

from bench.common import Report, paired_medians
from bench.photos import PHOTOS, save, scene, variants
from tagging import analysis, similarity

COST_TARGET = 0.05
HASH_BATCH = 20
LIMIT = 100_000_000


def pictures() -> dict[str, Image.Image]:
    files = sorted(PHOTOS.glob("*.jpg")) if PHOTOS.is_dir() else []
    if files:
        found = {}
        for path in files:
            with Image.open(path) as opened:
                found[path.name] = opened.convert("RGB")
        return found
    return {f"scene-{seed}": scene((1600, 1200), seed=seed) for seed in range(8)}


def phash(data: bytes) -> str:
    value = analysis.analyse(data, LIMIT).phash
    assert value is not None
    return value


def run(report: Report) -> dict[str, float]:
    found = pictures()
    originals: dict[str, str] = {}
    moved: dict[str, list[int]] = {}
    apart: list[int] = []
    for name, picture in found.items():
        originals[name] = phash(save(picture, "PNG"))
        for kind, data in variants(picture).items():
            moved.setdefault(kind, []).append(similarity.distance(originals[name], phash(data)))
        width, height = picture.size
        left, right = (
            picture.crop((0, 0, width * 45 // 100, height)),
            picture.crop((width * 55 // 100, 0, width, height)),
        )
        apart.append(similarity.distance(phash(save(left, "PNG")), phash(save(right, "PNG"))))
    different = [similarity.distance(a, b) for a, b in itertools.combinations(originals.values(), 2)]
    rows = [[kind, str(min(d)), str(statistics.median(d)), f"**{max(d)}**"] for kind, d in moved.items()]
    rows.append(
        [
            "two framings of one scene (its left and right 45%)",
            f"**{min(apart)}**",
            str(statistics.median(apart)),
            str(max(apart)),
        ]
    )
    rows.append(
        ["two different photos", f"**{min(different)}**", str(statistics.median(different)), str(max(different))]
    )
    worst_copy, nearest_other = max(max(d) for d in moved.values()), min(*apart, *different)

    costs = []
    for picture in list(found.values())[:6]:
        data = save(picture, "JPEG", quality=90)
        decoded = analysis.decode(data, LIMIT)
        # The hash takes well under a millisecond: it is timed 20 at a time, so that timer noise does not swamp it.
        whole, hashed = paired_medians(
            lambda data=data: analysis.describe(analysis.decode(data, LIMIT)),  # type: ignore[misc]
            lambda image=decoded.image: [analysis.phash(image) for _ in range(HASH_BATCH)],  # type: ignore[misc]
            rounds=9,
        )
        costs.append(hashed / HASH_BATCH / whole)
    cost = statistics.median(costs)

    report.text("## Near duplicates: the perceptual hash")
    report.text()
    report.text(
        f"Bits by which the hash of a copy differs from its original's, over {len(found)} "
        f"{'photos' if PHOTOS.is_dir() else 'photo-like pictures'}, against the bits between different pictures. "
        f"The index finds every image within {similarity.MAX_DISTANCE} bits (the default distance); a copy must "
        "stay within it and a different picture beyond it."
    )
    report.text()
    report.table(["variant", "min", "median", "max"], rows)
    report.table(
        ["measure", "value", "target"],
        [
            ["the farthest copy", f"**{worst_copy}** bits", f"<= {similarity.MAX_DISTANCE}"],
            ["the nearest different picture", f"**{nearest_other}** bits", f"> {similarity.MAX_DISTANCE}"],
            ["hash / whole analysis, median of 6 pictures", f"**{cost:.3f}x**", f"<= {COST_TARGET}x"],
        ],
    )
    print(f"  copies within {worst_copy} bits, others {nearest_other}+ apart, hash {cost:.3f}x", flush=True)
    return {"worst_copy": worst_copy, "nearest_other": nearest_other, "cost": cost}
