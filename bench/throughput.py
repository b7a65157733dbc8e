"""End to end through the local runner: images per second until all are tagged, against the CPU bound, with one
and two runner processes competing for the same queue (as instances do in Azure) at two workload sizes."""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from azure.data.tables import TableClient

from bench.common import ROOT, Report, app_settings
from bench.soak import photos
from local_runner.azurite import Azurite, Ports
from local_runner.process import RunnerProcess, runner_process
from tagging import analysis
from tagging.config import RECORDS_TABLE
from tagging.identity import user_key

SIZES = (60, 120)
PROCESSES = (1, 2)
REPEATS = 5  # each (processes, size) is run this often, interleaved; the rows give medians
WARM_UP = 8  # images tagged untimed after the runners start: imports, connections, the first analyses
CLIENTS = 8
POLL_SECONDS = 1.0
SAMPLE_SECONDS = 0.1
TARGET = 0.7
MAX_PIXELS = 10**8


@dataclass(frozen=True)
class Bound:
    """CPU seconds per body, measured one at a time in this process after a warm-up pass over all of them.

    CPU time rather than elapsed time: other work on the machine then does not lower the bound (it lowers what
    we reach, which the busy columns show)."""

    analysis: list[float]  # decode + every built-in tag + the perceptual hash
    thumbnail: list[float]  # made by the worker from the decoded image, reported apart

    def per_second(self, count: int, *, thumbnail: bool = False) -> float:
        """Images per second the cores could tag at best: cores / mean cost over the first `count` bodies."""
        costs = self.analysis[:count]
        if thumbnail:
            costs = [a + t for a, t in zip(costs, self.thumbnail[:count], strict=True)]
        return (os.cpu_count() or 1) / statistics.fmean(costs)


def measure_bound(bodies: list[bytes]) -> Bound:
    for data in bodies:  # warm-up: imports, allocator and caches, as the worker is once it has run a while
        analysis.thumbnail(decoded := analysis.decode(data, MAX_PIXELS))
        analysis.describe(decoded)
    costs, thumbnails = [], []
    for data in bodies:
        started = time.process_time()
        decoded = analysis.decode(data, MAX_PIXELS)
        analysis.describe(decoded)
        described = time.process_time()
        analysis.thumbnail(decoded)
        costs.append(described - started)
        thumbnails.append(time.process_time() - described)
    return Bound(costs, thumbnails)


@dataclass(frozen=True)
class Run:
    processes: int
    images: int
    seconds: float  # first upload to the last record stored
    app_ms: float  # CPU per image, all runner processes
    storage_ms: float  # CPU per image, Azurite
    clients_ms: float  # CPU per image, this process: the upload clients and the completion checks
    busy: float  # share of all cores the three used while the images were tagged
    machine: float  # share of all cores busy in that time, whoever used them

    @property
    def rate(self) -> float:
        return self.images / self.seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (Linux /proc/stat)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


@dataclass(frozen=True)
class Sample:
    wall: float  # epoch seconds
    cpu: list[float]  # CPU seconds so far of each watched process, then of this one
    machine: tuple[int, int]


class Sampler:
    """CPU counters read from /proc every SAMPLE_SECONDS by a thread, so that they can be taken at the moment the
    last image was stored, not when a check noticed it. Reading /proc asks nothing of the app or of storage."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples: list[Sample] = []

    def __enter__(self) -> Sampler:
        self._take()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._take()

    def at(self, wall: float) -> Sample:
        """The first sample taken at or after `wall`."""
        return next((sample for sample in self.samples if sample.wall >= wall), self.samples[-1])

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._take()

    def _take(self) -> None:
        cpu = [cpu_seconds(pid) for pid in self._pids] + [time.process_time()]
        self.samples.append(Sample(time.time(), cpu, machine_jiffies()))


def upload(url: str, who: str, bodies: list[bytes]) -> None:
    headers = {"X-MS-CLIENT-PRINCIPAL-ID": who, "Content-Type": "image/jpeg"}

    def client(indexes: range) -> None:
        with httpx.Client(timeout=60) as http:
            for n in indexes:
                answer = http.post(f"{url}/api/images", content=bodies[n], headers=headers)
                assert answer.status_code == 202, f"upload {n}: {answer.status_code} {answer.text}"

    with ThreadPoolExecutor(CLIENTS) as pool:
        for done in [pool.submit(client, range(k, len(bodies), CLIENTS)) for k in range(CLIENTS)]:
            done.result()  # an upload's failure stops the run here, with its answer


def wait_until_tagged(url: str, who: str, count: int) -> None:
    """One listing request a second, from the end of the uploads, until it shows every image tagged."""
    deadline = time.monotonic() + 600
    with httpx.Client(timeout=60) as http:
        while time.monotonic() < deadline:
            answer = http.get(f"{url}/api/images", params={"limit": "500"}, headers={"X-MS-CLIENT-PRINCIPAL-ID": who})
            items = answer.json()["items"]
            if len(items) == count and all(item["status"] != "pending" for item in items):
                failed = [item for item in items if item["status"] != "done"]
                assert not failed, f"{len(failed)} images not tagged: {failed[:3]}"
                return
            time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{who}: images still pending after 10 minutes")


def last_stored(records: TableClient, who: str, count: int) -> float:
    """When the last of the user's records was stored (epoch seconds), by Azurite's own Timestamp.

    A listing shows an image tagged from its index rows, which the worker writes just before the Table output
    binding inserts its record: the last records may land a moment after the listing is complete.
    """
    parameters = {"pk": user_key(who)}
    deadline = time.monotonic() + 30
    while True:
        # Records are the rows whose RowKey is the bare image id; index rows carry a `kind|` prefix.
        stamps = []
        for entity in records.query_entities("PartitionKey eq @pk", parameters=parameters):
            if "|" not in entity["RowKey"]:
                stored = entity.metadata["timestamp"]
                assert stored is not None, f"record {entity['RowKey']} without a Timestamp"
                stamps.append(stored.timestamp())
        if len(stamps) == count or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(stamps) == count, f"{who}: {len(stamps)} records for {count} images"
    return max(stamps)


def tag_all(runners: list[RunnerProcess], records: TableClient, pids: list[int], bodies: list[bytes]) -> Run:
    """Upload through the first runner with CLIENTS clients until every image is tagged."""
    who = f"tp-{uuid.uuid4().hex[:8]}"
    with Sampler(pids) as sampler:
        upload(runners[0].url, who, bodies)
        wait_until_tagged(runners[0].url, who, len(bodies))
    finished = last_stored(records, who, len(bodies))
    first, last = sampler.samples[0], sampler.at(finished)
    used = [end - start for start, end in zip(first.cpu, last.cpu, strict=True)]
    per_image = [cpu * 1000 / len(bodies) for cpu in used]
    return Run(
        processes=len(runners),
        images=len(bodies),
        seconds=finished - first.wall,
        app_ms=sum(per_image[1:-1]),
        storage_ms=per_image[0],
        clients_ms=per_image[-1],
        busy=sum(used) / (last.wall - first.wall) / (os.cpu_count() or 1),
        machine=(last.machine[0] - first.machine[0]) / max(1, last.machine[1] - first.machine[1]),
    )


@contextmanager
def runners(azurite: Azurite, folder: Path, processes: int) -> Iterator[list[RunnerProcess]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                runner_process(ROOT, folder / f"runner-{processes}-{n}.log", app_settings(azurite.connection_string))
            )
            for n in range(processes)
        ]


def run(report: Report) -> dict[str, float]:
    bound = measure_bound(photos(max(SIZES)))
    print(
        f"  analysis {statistics.fmean(bound.analysis) * 1000:.1f} ms mean, "
        f"thumbnail {statistics.fmean(bound.thumbnail) * 1000:.1f} ms mean",
        flush=True,
    )
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as folder:
        azurite = Azurite(Path(folder) / "azurite", Ports.free())
        azurite.start()
        try:
            records = TableClient.from_connection_string(azurite.connection_string, RECORDS_TABLE)
            for processes in PROCESSES:
                with runners(azurite, Path(folder), processes) as started:
                    pids = [azurite.pid, *(runner.process.pid for runner in started)]
                    tag_all(started, records, pids, photos(WARM_UP))
                    for _ in range(REPEATS):
                        for size in SIZES:
                            done = tag_all(started, records, pids, photos(size))
                            runs.append(done)
                            print(
                                f"  {processes} runner process(es), {size} photos: {done.rate:.1f} images/s, "
                                f"{done.rate / bound.per_second(size):.2f} of the CPU bound",
                                flush=True,
                            )
        finally:
            azurite.stop()
    return write(report, bound, runs)


def write(report: Report, bound: Bound, runs: list[Run]) -> dict[str, float]:
    cores = os.cpu_count() or 1
    rows, summary, medians = [], {}, {}
    for processes in PROCESSES:
        for size in SIZES:
            mine = [r for r in runs if r.processes == processes and r.images == size]
            median = {
                field: statistics.median(getattr(r, field) for r in mine)
                for field in ("rate", "seconds", "app_ms", "storage_ms", "clients_ms", "busy", "machine")
            }
            medians[processes, size] = median
            floor, with_thumbnail = bound.per_second(size), bound.per_second(size, thumbnail=True)
            label = f"{processes} process{'es' if processes > 1 else ''}, {size} photos"
            summary[label] = median["rate"] / floor
            rows.append([
                f"images/s, {label}", f"{median['rate']:.1f}", f"{floor:.1f}", f"**{median['rate'] / floor:.2f}**",
                f">= {TARGET}", f"{with_thumbnail:.1f}", f"{median['rate'] / with_thumbnail:.2f}",
                f"{median['seconds']:.1f}", f"{median['app_ms']:.0f}", f"{median['storage_ms']:.0f}",
                f"{median['clients_ms']:.0f}", f"{median['busy']:.0%}", f"{median['machine']:.0%}",
            ])  # fmt: skip
    costs, thumbnails = bound.analysis, bound.thumbnail
    report.text("## End to end through the local runner, and scaling")
    report.text()
    report.text(
        f"Real-size photos ({min(SIZES)} and {max(SIZES)}, the shared photos made unique) uploaded by {CLIENTS} "
        "clients through the first runner process until all are tagged; with two processes both take jobs from "
        f"the same queue, as instances do. Each row is the median of {REPEATS} runs, interleaved, after "
        f"{WARM_UP} images tagged untimed. Completion: once the uploads are answered, one "
        f"`GET /api/images?limit=500` a second until every image is listed and none is pending; the time is from "
        "the first upload to the moment Azurite stored the last image's record (its Timestamp), so the check's "
        "interval does not enter the rate."
    )
    report.text()
    report.text(
        f"Floor: the CPU bound, {cores} cores / mean analysis cost (decode + every built-in tag + the perceptual "
        "hash, as the worker calls them) over the bodies of the run: the CPU time of each, timed once in this "
        "process after a warm-up pass over all: "
        f"mean {statistics.fmean(costs) * 1000:.1f} ms, median {statistics.median(costs) * 1000:.1f} ms over the "
        f"{len(costs)} bodies. The worker also makes a thumbnail (mean {statistics.fmean(thumbnails) * 1000:.1f} ms, "
        f"median {statistics.median(thumbnails) * 1000:.1f} ms), so a second bound includes it, beside the first. "
        f"Target: at least {TARGET} of the analysis bound."
    )
    report.text()
    report.text(
        f"CPU per image, from the first upload to the last record stored (counters read from /proc every "
        f"{SAMPLE_SECONDS} s, the first reading after it): the runner processes (HTTP, storage SDKs, analysis, "
        "thumbnail), Azurite, and this process (upload clients and completion checks). Cores busy = how much of "
        "the machine these three used in that time; machine busy = how much of it anyone used (the difference "
        "is other work on the machine)."
    )
    report.text()
    report.table(
        ["what", "ours", "floor: CPU bound (analysis)", "ratio", "target", "CPU bound incl. thumbnail",
         "ratio to it", "seconds", "runner CPU ms/image", "Azurite CPU ms/image", "clients CPU ms/image",
         "cores busy", "machine busy"],
        rows,
    )  # fmt: skip
    small, large = min(SIZES), max(SIZES)
    for processes in PROCESSES:
        a, b = medians[processes, small], medians[processes, large]
        cpu_a = a["app_ms"] + a["storage_ms"] + a["clients_ms"]
        cpu_b = b["app_ms"] + b["storage_ms"] + b["clients_ms"]
        report.text(
            f"- Scaling with work, {processes} process{'es' if processes > 1 else ''}: {large / small:.0f}x the "
            f"photos took {b['seconds'] / a['seconds']:.2f}x the time; CPU per image {cpu_a:.0f} -> {cpu_b:.0f} ms "
            f"({cpu_b / cpu_a:.2f}x)."
        )
    for size in SIZES:
        one, two = medians[PROCESSES[0], size], medians[PROCESSES[-1], size]
        report.text(
            f"- Scaling with processes, {size} photos: {PROCESSES[-1]} processes tag {two['rate'] / one['rate']:.2f}x "
            f"the images per second of {PROCESSES[0]}, with the cores {one['busy']:.0%} -> {two['busy']:.0%} busy."
        )
    report.text()
    report.chart("end-to-end", "End to end images/s / CPU bound (analysis)", summary, TARGET, "higher")
    return summary
