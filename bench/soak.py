"""Load: real-size photos uploaded by concurrent clients until every one is tagged (`make soak`).

Starts its own Azurite and `python -m local_runner`, like the tests. Exits non-zero unless every upload was
answered 202, none got a 5xx, and every image ended `done`; prints throughput and latency percentiles.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from bench.common import ROOT, Report, app_settings
from bench.photos import PHOTOS
from local_runner.azurite import Azurite, Ports
from local_runner.process import RunnerProcess, runner_process


def photos(count: int) -> list[bytes]:
    """`count` distinct real-size JPEGs: the shared photos (or synthetic ones), each made unique by bytes after
    its end-of-image marker, which decoders ignore."""
    sources = [p.read_bytes() for p in sorted(PHOTOS.glob("*.jpg"))] if PHOTOS.is_dir() else []
    if not sources:
        from bench.analysis import synthetic_photos

        sources = [p.read_bytes() for p in synthetic_photos()[:2]]
    return [sources[n % len(sources)] + f"soak-{n}-{uuid.uuid4().hex}".encode() for n in range(count)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(stack: RunnerProcess, uploads: int, clients: int) -> dict[str, float]:
    who = f"soak-{uuid.uuid4().hex[:8]}"
    bodies = photos(uploads)
    latencies: list[float] = []
    answers: list[int] = []
    accepted: dict[str, float] = {}
    lock = threading.Lock()

    def client(indexes: range) -> None:
        with httpx.Client(timeout=60) as http:
            for n in indexes:
                started = time.perf_counter()
                response = http.post(
                    f"{stack.url}/api/images",
                    content=bodies[n],
                    headers={"X-MS-CLIENT-PRINCIPAL-ID": who, "Content-Type": "image/jpeg"},
                )
                with lock:
                    latencies.append(time.perf_counter() - started)
                    answers.append(response.status_code)
                    if response.status_code == 202:
                        accepted[response.json()["id"]] = time.perf_counter()

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(range(k, uploads, clients),)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    uploaded = time.perf_counter() - began
    done: dict[str, float] = {}
    statuses: dict[str, str] = {}
    deadline = time.perf_counter() + 600
    with httpx.Client(timeout=60) as http:
        while len(statuses) < len(accepted) and time.perf_counter() < deadline:
            page = http.get(
                f"{stack.url}/api/images", params={"limit": "500"}, headers={"X-MS-CLIENT-PRINCIPAL-ID": who}
            )
            now = time.perf_counter()
            for item in page.json()["items"]:
                if item["id"] not in statuses:
                    statuses[item["id"]] = item["status"]
                    done[item["id"]] = now
            time.sleep(0.2)
    finished = time.perf_counter() - began
    end_to_end = [done[i] - accepted[i] for i in done if i in accepted]
    return {
        "uploads": uploads,
        "clients": clients,
        "answered 202": answers.count(202),
        "5xx": sum(1 for a in answers if a >= 500),
        "ended done": sum(1 for s in statuses.values() if s == "done"),
        "upload phase s": uploaded,
        "all tagged after s": finished,
        "images per s": len(done) / finished,
        "upload p50 ms": percentile(latencies, 0.5) * 1000,
        "upload p95 ms": percentile(latencies, 0.95) * 1000,
        "upload p99 ms": percentile(latencies, 0.99) * 1000,
        "upload to tagged p50 s": statistics.median(end_to_end) if end_to_end else float("nan"),
        "upload to tagged p95 s": percentile(end_to_end, 0.95) if end_to_end else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        azurite = Azurite(Path(folder) / "azurite", Ports.free())
        azurite.start()
        try:
            log = Path(folder) / "runner.log"
            with runner_process(ROOT, log, app_settings(azurite.connection_string)) as stack:
                figures = run(stack, args.uploads, args.clients)
                peak = stack.peak_rss_mb()
        finally:
            azurite.stop()
    figures["runner peak RSS MB"] = peak
    report = Report("Load: concurrent uploads until all are tagged")
    report.text(f"{args.uploads} real-size photos, {args.clients} concurrent clients, one user, one runner process.")
    report.text()
    report.table(["measure", "value"], [[name, f"{value:.2f}" if isinstance(value, float) else str(value)]
                                        for name, value in figures.items()])  # fmt: skip
    path = report.write("soak")
    print(path.read_text())
    ok = figures["answered 202"] == args.uploads and figures["5xx"] == 0 and figures["ended done"] == args.uploads
    print("soak: PASS" if ok else "soak: FAIL (not every upload was accepted and tagged)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
