"""Analysis against the decode floor: per photo, our whole analysis vs Pillow's bare open + draft + load."""

from __future__ import annotations

import io
import statistics
from pathlib import Path

from PIL import Image

from bench.common import RESULTS, Report, paired_medians, peak_rss_delta_mb
from bench.photos import PHOTOS, scene
from tagging import analysis

TIME_TARGET = 1.25
RSS_TARGET = 1.3
LIMIT = 200_000_000
ROUNDS = 9


def synthetic_photos() -> list[Path]:
    """12 MP and 24 MP baseline and progressive JPEGs with photo-like detail, made once and cached."""
    folder = RESULTS / "synthetic"
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for size in ((4000, 3000), (6000, 4000)):
        picture = None
        for progressive in (False, True):
            path = (
                folder
                / f"synthetic_{size[0] * size[1] // 1_000_000}mp_{'progressive' if progressive else 'baseline'}.jpg"
            )
            if not path.exists():
                picture = picture or scene(size)
                picture.save(path, format="JPEG", quality=90, progressive=progressive)
            made.append(path)
    return made


def floor(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", analysis.draft_size(*image.size))
    image.load()


def ours(data: bytes) -> None:
    analysis.describe(analysis.decode(data, LIMIT))


def naive(data: bytes) -> None:
    """What a first version does: decode everything, then median-cut colours on a 256 px copy."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.thumbnail((256, 256))
    image.quantize(8).getcolors()


def rss(function: str, path: Path) -> float:
    return peak_rss_delta_mb(
        "import io\nfrom pathlib import Path\nfrom bench.analysis import floor, ours\n"
        # Pillow's set-up (plugins, HEIF, limits) happens once per process, on its first image: not per image; so
        # does numpy's for the hash (its first matrix product and reductions load their code).
        "from tagging.analysis.opening import openers\nopeners()\n"
        "from PIL import Image\nfrom tagging.analysis import phash\n"
        "phash(Image.effect_noise((64, 64), 40).convert('RGB'))\n"
        f"data = Path({str(path)!r}).read_bytes()\n"
        f"def run():\n    {function}(data)\n"
    )


def measure(path: Path) -> tuple[list[str], float, float]:
    data = path.read_bytes()
    with Image.open(path) as image:
        size, progressive = image.size, bool(image.info.get("progressive") or image.info.get("progression"))
    base, mine = paired_medians(lambda: floor(data), lambda: ours(data), rounds=ROUNDS)
    naive_time = paired_medians(lambda: None, lambda: naive(data), rounds=3)[1]
    decoded = analysis.decode(data, LIMIT)
    thumb = paired_medians(lambda: None, lambda: analysis.thumbnail(decoded), rounds=5)[1]
    rss_floor, rss_ours = rss("floor", path), rss("ours", path)
    time_ratio, rss_ratio = mine / base, rss_ours / max(rss_floor, 0.1)
    row = [
        path.name, f"{size[0] * size[1] / 1e6:.1f}", "progressive" if progressive else "baseline",
        f"{base * 1000:.1f}", f"{mine * 1000:.1f}", f"**{time_ratio:.2f}**", f"<= {TIME_TARGET}",
        f"{rss_floor:.1f}", f"{rss_ours:.1f}", f"**{rss_ratio:.2f}**", f"<= {RSS_TARGET}",
        f"{thumb * 1000:.1f}", f"{naive_time * 1000:.0f}",
    ]  # fmt: skip
    return row, time_ratio, rss_ratio


def run(report: Report) -> dict[str, float]:
    files = sorted(PHOTOS.glob("*.jpg")) if PHOTOS.is_dir() else []
    if not files:
        report.text(f"(No real photos at {PHOTOS}: synthetic images only.)")
    files += synthetic_photos()
    rows = []
    time_ratios, rss_ratios = {}, {}
    for path in files:
        row, time_ratios[path.name], rss_ratios[path.name] = measure(path)
        rows.append(row)
        time_ratio, rss_ratio = time_ratios[path.name], rss_ratios[path.name]
        print(f"  {path.name}: {time_ratio:.2f}x time, {rss_ratio:.2f}x memory", flush=True)
    report.text("## Analysis vs the decode floor")
    report.text()
    report.text(
        "Floor: Pillow `open` + `draft` + `load` to the size the analysis needs. Ours: decode + every built-in tag + "
        "the perceptual hash. "
        f"Targets: time <= {TIME_TARGET}x, peak RSS growth <= {RSS_TARGET}x. Times are medians of {ROUNDS} "
        "alternating runs; RSS growth is measured in fresh processes. Not held to a target, for context: the "
        "thumbnail the worker makes afterwards from the decoded image, and a naive analysis (full decode + "
        "median-cut colours)."
    )
    report.text()
    report.table(
        ["file", "MP", "encoding", "floor ms", "ours ms", "time ratio", "time target",
         "floor RSS MB", "ours RSS MB", "RSS ratio", "RSS target", "thumbnail ms", "naive ms"],
        rows,
    )  # fmt: skip
    summary = {
        "median_time_ratio": statistics.median(time_ratios.values()),
        "worst_time_ratio": max(time_ratios.values()),
        "median_rss_ratio": statistics.median(rss_ratios.values()),
        "worst_rss_ratio": max(rss_ratios.values()),
    }
    report.text(
        f"Time ratio: median {summary['median_time_ratio']:.2f}, worst {summary['worst_time_ratio']:.2f} "
        f"(target {TIME_TARGET}). RSS ratio: median {summary['median_rss_ratio']:.2f}, worst "
        f"{summary['worst_rss_ratio']:.2f} (target {RSS_TARGET})."
    )
    report.text()
    report.chart("analysis-time", "Analysis time / decode floor", time_ratios, TIME_TARGET, "lower")
    report.chart("analysis-memory", "Analysis peak RSS growth / decode floor", rss_ratios, RSS_TARGET, "lower")
    return summary
