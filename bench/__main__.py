"""`python -m bench`: run every section, print the report and write it to bench-results/."""

from __future__ import annotations

import sys

from bench import analysis, labels, overhead, similarity, throughput
from bench.common import Report


def main() -> int:
    report = Report("Image tagging benchmarks")
    print("Analysis vs decode floor:", flush=True)
    analysis.run(report)
    print("Content and place tags:", flush=True)
    labels.run(report)
    print("Near duplicates:", flush=True)
    similarity.run(report)
    print("Overhead over storage calls:", flush=True)
    overhead.run(report)
    print("End to end and scaling:", flush=True)
    throughput.run(report)
    path = report.write("report")
    print()
    print(path.read_text())
    print(f"Written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
