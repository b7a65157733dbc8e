"""Timing, memory and report helpers shared by the benchmark sections."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tagging.config import CONNECTION, DEFAULT_MAX_UPLOAD_BYTES, MAX_UPLOAD_BYTES_SETTING

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"


def app_settings(connection_string: str) -> dict[str, str]:
    """The settings a benchmarked runner gets: both storage connections on the benchmark's Azurite, and the app's
    own upload limit (the tests lower it to test it quickly)."""
    return {
        CONNECTION: connection_string,
        "AzureWebJobsStorage": connection_string,
        MAX_UPLOAD_BYTES_SETTING: str(DEFAULT_MAX_UPLOAD_BYTES),
    }


def paired_medians(floor: Callable[[], object], ours: Callable[[], object], rounds: int = 7) -> tuple[float, float]:
    """Median seconds of each, run alternately so that machine noise falls on both alike."""
    floor()
    ours()
    floors, mine = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        floor()
        floors.append(time.perf_counter() - started)
        started = time.perf_counter()
        ours()
        mine.append(time.perf_counter() - started)
    return statistics.median(floors), statistics.median(mine)


def peak_rss_delta_mb(code: str) -> float:
    """Peak RSS growth (MB) while a fresh interpreter calls `run()`, which `code` defines (imports done first).

    Linux resets the peak (VmHWM) when 5 is written to /proc/self/clear_refs, so what imports and set-up used
    before the call does not hide what the call itself needs.
    """
    probe = (
        f"{code}\n"
        "def kb(field):\n"
        "    line = next(l for l in open('/proc/self/status') if l.startswith(field))\n"
        "    return int(line.split()[1])\n"
        "before = kb('VmRSS:')\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "run()\n"
        "print((kb('VmHWM:') - before) / 1024)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


@dataclass
class Report:
    title: str
    lines: list[str] = field(default_factory=list)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "---|" * len(header))
        self.lines.extend("| " + " | ".join(row) + " |" for row in rows)
        self.lines.append("")

    def text(self, line: str = "") -> None:
        self.lines.append(line)

    def chart(self, name: str, title: str, bars: dict[str, float], target: float, better: str) -> None:
        """A horizontal bar chart of ratios with the target as a line, saved beside the report and linked from it.

        `better` is "lower" or "higher": which side of the target is good, for the colours.
        """
        import matplotlib

        matplotlib.use("Agg")  # no display: files only
        from matplotlib import pyplot

        good = [value <= target if better == "lower" else value >= target for value in bars.values()]
        figure, axes = pyplot.subplots(figsize=(8, 0.45 * len(bars) + 1.4))
        axes.barh(list(bars), list(bars.values()), color=["#2e7d32" if ok else "#c62828" for ok in good])
        axes.axvline(target, color="#333", linestyle="--", label=f"target {target}x")
        axes.invert_yaxis()
        axes.set_xlabel(f"ratio ({better} is better)")
        axes.set_title(title)
        axes.legend(loc="lower right")
        figure.tight_layout()
        RESULTS.mkdir(exist_ok=True)
        figure.savefig(RESULTS / f"{name}.png", dpi=110)
        pyplot.close(figure)
        self.lines.extend([f"![{title}]({name}.png)", ""])

    def write(self, name: str) -> Path:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{name}.md"
        path.write_text("\n".join([f"# {self.title}", "", machine(), "", *self.lines]) + "\n")
        return path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        cpu = model
    except (OSError, StopIteration):
        pass
    versions = json.dumps({"python": platform.python_version(), "platform": platform.platform()})
    return f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} x {cpu}; {versions}"
