"""End to end through the local runner: images per second until all are tagged, against the CPU bound, with one
and with two runner processes competing for the same queue (as instances do in Azure)."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.common import APP_DEFAULTS, ROOT, Report
from bench.soak import photos
from local_runner.azurite import Azurite, Ports
from tagging import analysis
from tests.stack import Stack, running_stack

PHOTOS_PER_RUN = 120
CLIENTS = 8
TARGET = 0.7


def cpu_bound(bodies: list[bytes]) -> tuple[float, float]:
    """(mean seconds of analysis + thumbnail per image, images/s the cores could do at best)."""
    costs = []
    for data in bodies[:20]:
        started = time.perf_counter()
        decoded = analysis.decode(data, 10**8)
        analysis.describe(decoded)
        analysis.thumbnail(decoded)
        costs.append(time.perf_counter() - started)
    mean = statistics.fmean(costs)
    return mean, (os.cpu_count() or 1) / mean


def tag_all(stacks: list[Stack], bodies: list[bytes]) -> float:
    """Upload through the first runner with CLIENTS clients; seconds until every image is tagged."""
    who = f"tp-{uuid.uuid4().hex[:8]}"
    url = stacks[0].url
    headers = {"X-MS-CLIENT-PRINCIPAL-ID": who, "Content-Type": "image/jpeg"}
    began = time.perf_counter()

    def client(indexes: range) -> None:
        with httpx.Client(timeout=60) as http:
            for n in indexes:
                answer = http.post(f"{url}/api/images", content=bodies[n], headers=headers)
                assert answer.status_code == 202, f"upload {n}: {answer.status_code} {answer.text}"

    with ThreadPoolExecutor(CLIENTS) as pool:
        for done in [pool.submit(client, range(k, len(bodies), CLIENTS)) for k in range(CLIENTS)]:
            done.result()  # an upload's failure stops the run here, with its answer
    deadline = time.monotonic() + 600
    with httpx.Client(timeout=60) as http:
        while time.monotonic() < deadline:
            items = http.get(f"{url}/api/images", params={"limit": "500"}, headers=headers).json()["items"]
            if len(items) == len(bodies) and all(item["status"] != "pending" for item in items):
                failed = [item for item in items if item["status"] != "done"]
                assert not failed, f"{len(failed)} images not tagged: {failed[:3]}"
                return time.perf_counter() - began
            time.sleep(0.1)
    raise TimeoutError(f"{who}: images still pending after 10 minutes")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(report: Report) -> dict[str, float]:
    bodies = photos(PHOTOS_PER_RUN)
    mean_cost, bound = cpu_bound(bodies)
    cores = os.cpu_count() or 1
    rows = []
    summary: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        azurite = Azurite(Path(folder) / "azurite", Ports.free())
        azurite.start()
        try:
            for processes in (1, 2):
                with ExitStack() as stack:
                    runners = [
                        stack.enter_context(
                            running_stack(
                                azurite.connection_string,
                                ROOT,
                                Path(folder) / f"runner-{processes}-{n}.log",
                                env=APP_DEFAULTS,
                            )
                        )
                        for n in range(processes)
                    ]
                    pids = [azurite.pid, *(runner.process.pid for runner in runners)]
                    before = [cpu_seconds(pid) for pid in pids] + [time.process_time()]
                    elapsed = tag_all(runners, photos(PHOTOS_PER_RUN))
                    after = [cpu_seconds(pid) for pid in pids] + [time.process_time()]
                used = [(end - begin) * 1000 / PHOTOS_PER_RUN for begin, end in zip(before, after, strict=True)]
                storage_ms, app_ms, clients_ms = used[0], sum(used[1:-1]), used[-1]
                rate = PHOTOS_PER_RUN / elapsed
                busy = rate * (storage_ms + app_ms + clients_ms) / 1000 / cores
                summary[f"{processes} process"] = rate / bound
                rows.append([
                    str(processes), f"{rate:.1f}", f"{bound:.1f}", f"**{rate / bound:.2f}**",
                    f"{app_ms:.0f}", f"{storage_ms:.0f}", f"{clients_ms:.0f}", f"{busy:.0%}",
                ])  # fmt: skip
                print(f"  {processes} runner process(es): {rate:.1f} images/s, {rate / bound:.2f} of the CPU bound")
        finally:
            azurite.stop()
    report.text("## End to end through the local runner, and scaling")
    report.text()
    report.text(
        f"{PHOTOS_PER_RUN} real-size photos uploaded by {CLIENTS} clients until all are tagged. CPU bound = cores / "
        f"mean cost of analysis + thumbnail measured in the same run ({mean_cost * 1000:.0f} ms on {cores} "
        f"cores). Target: at least {TARGET} of the bound. Two processes compete for the same queue, as instances do. "
        "CPU per image: the app's processes (HTTP, storage SDK calls, analysis), Azurite, and the clients; "
        "cores busy = how much of the machine all three used."
    )
    report.text()
    report.table(
        ["runner processes", "images/s", "CPU bound images/s", "ratio", "app CPU ms/image", "Azurite CPU ms/image",
         "clients CPU ms/image", "cores busy"],
        rows,
    )  # fmt: skip
    return summary
