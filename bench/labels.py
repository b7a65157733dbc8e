"""Content and place tags: what they find on the shared photos, and what they cost beside the analysis.

Quality is measured against the hand labels in tests/data/labels/shared_photos.json: precision is the share of
content tags given that are right, coverage the share of photos with at least one right content tag.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, Report, paired_medians
from bench.photos import PHOTOS
from tagging import analysis
from tagging.labels import ContentTagger, PlaceTagger
from tagging.taggers import TaggerInput

LABELS = ROOT / "tests" / "data" / "labels" / "shared_photos.json"
COST_TARGET = 1.0
COLD_START_TARGET_S = 0.5
RSS_TARGET_MB = 150.0
LIMIT = 100_000_000
ROUNDS = 7

# A worker's first image, in a fresh process: everything the model costs before its first tags.
_COLD = """
import time
started = time.perf_counter()
from tagging.labels import ContentTagger
tagger = ContentTagger()
tagger.load()
tagger.probabilities(image)
print(time.perf_counter() - started)
"""
_IMAGE = """
from pathlib import Path
from tagging import analysis
from tagging.taggers import TaggerInput
data = Path({path!r}).read_bytes()
decoded = analysis.decode(data, {limit})
image = TaggerInput("0" * 32, data, "image/jpeg", analysis.describe(decoded), None, decoded.image)
"""
_PEAK = "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) / 1024)"


def fresh(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def tagger_input(data: bytes) -> TaggerInput:
    decoded = analysis.decode(data, LIMIT)
    return TaggerInput("0" * 32, data, "image/jpeg", analysis.describe(decoded), None, decoded.image)


def quality(report: Report, files: list[Path]) -> dict[str, float]:
    labels = json.loads(LABELS.read_text())["photos"]
    content, places = ContentTagger(), PlaceTagger()
    rows, given, right, covered = [], 0, 0, 0
    for path in files:
        label = labels[path.name]
        image = tagger_input(path.read_bytes())
        tags = content.tag(image)
        names = [tag.name for tag in tags]
        good = [name for name in names if name in label["present"]]
        wrong = [name for name in names if name not in label["present"]]
        given, right, covered = given + len(names), right + len(good), covered + bool(good)
        place = ", ".join(tag.name for tag in places.tag(image)) or "-"
        shown = ", ".join(f"{tag.name} {tag.confidence:.2f}" for tag in tags) or "-"
        rows.append([path.name, label["what"], shown, ", ".join(wrong) or "-", place])
    precision = right / given if given else 1.0
    report.text("## Content and place tags on the shared photos")
    report.text()
    report.text(
        "Tags of the bundled classifier (EfficientNet-Lite0, probabilities summed per everyday tag, threshold "
        f"{content_threshold()}), judged against the hand labels in `{LABELS.relative_to(ROOT)}`; a tag not "
        "labelled present counts as wrong."
    )
    report.text()
    report.table(["photo", "what is in it", "content tags", "wrong", "places"], rows)
    report.text(
        f"Precision **{precision:.2f}** ({right} of {given} tags right); coverage **{covered}/{len(files)}** "
        "photos with at least one right content tag."
    )
    report.text()
    print(f"  precision {precision:.2f}, coverage {covered}/{len(files)}", flush=True)
    return {"precision": precision, "coverage": covered / len(files)}


def content_threshold() -> float:
    from tagging.labels.vocabulary import THRESHOLD

    return THRESHOLD


def cost(report: Report, files: list[Path]) -> dict[str, float]:
    tagger = ContentTagger()
    tagger.load()
    rows, analyses, labels = [], [], []
    for path in files:
        data = path.read_bytes()
        image = tagger_input(data)
        whole, label = paired_medians(
            lambda data=data: analysis.describe(analysis.decode(data, LIMIT)),  # type: ignore[misc]
            lambda image=image: tagger.tag(image),  # type: ignore[misc]
            rounds=ROUNDS,
        )
        analyses.append(whole)
        labels.append(label)
        rows.append([path.name, f"{whole * 1000:.1f}", f"{label * 1000:.1f}", f"{label / whole:.2f}"])
    ratio = statistics.median(labels) / statistics.median(analyses)
    probe = sorted(files, key=lambda p: p.stat().st_size)[len(files) // 2]
    image_code = _IMAGE.format(path=str(probe), limit=LIMIT)
    colds = sorted(fresh(image_code + _COLD) for _ in range(3))
    without = statistics.median(fresh(image_code + _PEAK) for _ in range(3))
    loaded = image_code + "from tagging.labels import ContentTagger\nContentTagger().tag(image)\n" + _PEAK
    with_model = statistics.median(fresh(loaded) for _ in range(3))
    report.text("## What content tags cost")
    report.text()
    report.text(
        "Per photo, on one core: the whole analysis (decode + every built-in tag) against the content tags (the "
        f"model's input from the decoded picture, one inference, the vocabulary); medians of {ROUNDS} alternating "
        "runs. Cold start: a fresh process importing onnxruntime, checking and loading the model and tagging its "
        "first picture. Peak RSS: fresh processes analysing one photo, without and with its content tags."
    )
    report.text()
    report.table(["photo", "analysis ms", "content tags ms", "ratio"], rows)
    report.table(
        ["measure", "value", "target"],
        [
            ["content tags / analysis, medians over the photos", f"**{ratio:.2f}x**", f"<= {COST_TARGET}x"],
            ["cold start (median of 3)", f"**{colds[1]:.2f} s**", f"<= {COLD_START_TARGET_S} s"],
            ["peak RSS without the model", f"{without:.0f} MB", ""],
            ["peak RSS with the model loaded", f"{with_model:.0f} MB", ""],
            ["model's share", f"**{with_model - without:.0f} MB**", f"<= {RSS_TARGET_MB:.0f} MB"],
        ],
    )
    print(f"  labels {ratio:.2f}x analysis, cold {colds[1]:.2f} s, +{with_model - without:.0f} MB", flush=True)
    return {"cost_ratio": ratio, "cold_start_s": colds[1], "rss_mb": with_model - without}


def run(report: Report) -> dict[str, float]:
    files = sorted(PHOTOS.glob("*.jpg")) if PHOTOS.is_dir() else []
    if not files:
        report.text(f"(No real photos at {PHOTOS}: content tags are not measured.)")
        return {}
    return {**quality(report, files), **cost(report, files)}
