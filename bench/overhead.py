"""Our code's overhead over the storage calls it must make, against the same Azurite, in the same run.

Each row times a function body (called as the worker calls it, output bindings written as the host writes them)
beside the bare SDK calls that do the same storage work, alternating the two so that noise falls on both.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

import azure.functions as func
import requests
from azure.data.tables import TableServiceClient
from azure.functions.queue import QueueMessage
from azure.storage.blob import BlobServiceClient, ContentSettings
from azure.storage.queue import QueueClient

from bench.common import Report, paired_medians
from local_runner.azurite import Azurite, Ports
from local_runner.functions import Out
from tagging import analysis, bootstrap
from tagging.config import IMAGES_CONTAINER, JOBS_QUEUE, RECORDS_TABLE
from tests.images import save, scene

TARGETS = {"upload": 1.2, "worker": 1.2, "read": 1.5}
ROUNDS = 15


class Unique:
    """A JPEG of about the wanted size, made distinct on every call by bytes after its end marker."""

    def __init__(self, approx_bytes: int) -> None:
        side = 256
        while True:
            self.base = save(scene((side, side * 3 // 4)), "JPEG", quality=95)
            if len(self.base) >= approx_bytes or side > 6000:
                break
            side = int(side * (approx_bytes / len(self.base)) ** 0.5 * 1.05) + 16

    def __call__(self) -> bytes:
        return self.base + uuid.uuid4().bytes


@contextmanager
def storage() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        azurite = Azurite(Path(folder), Ports.free())
        azurite.start()
        try:
            yield azurite.connection_string
        finally:
            azurite.stop()


class Session:
    """One fresh Azurite, the app's ports built from it, and the raw clients the floors use."""

    def __init__(self, connection: str) -> None:
        import function_app

        self.app = function_app
        os.environ["ImageStorage"] = connection  # noqa: SIM112 - the connection's name, as the app spells it
        bootstrap.use(None)  # the ports are built from the environment, as in the app
        self.blobs = BlobServiceClient.from_connection_string(connection)
        self.queue = QueueClient.from_connection_string(connection, f"raw-{uuid.uuid4().hex[:8]}")
        self.queue.create_queue()
        self.jobs = QueueClient.from_connection_string(connection, JOBS_QUEUE)
        self.jobs.create_queue()
        self.table = TableServiceClient.from_connection_string(connection).create_table_if_not_exists(RECORDS_TABLE)
        self.raw = self.blobs.get_container_client(f"raw{uuid.uuid4().hex[:8]}")
        self.raw.create_container()
        self.user = f"bench-{uuid.uuid4().hex[:6]}"
        self.rows: list[list[str]] = []
        self.summary: dict[str, float] = {}

    def add(self, name: str, kind: str, floor: Callable[[], object], ours: Callable[[], object]) -> None:
        base, mine = paired_medians(floor, ours, rounds=ROUNDS)
        ratio = mine / base
        self.summary[name] = ratio
        calls = f"{storage_calls(ours)} / {storage_calls(floor)}"
        self.rows.append(
            [name, calls, f"{base * 1000:.1f}", f"{mine * 1000:.1f}", f"**{ratio:.2f}**", f"{TARGETS[kind]}"]
        )
        print(f"  {name}: {ratio:.2f}x", flush=True)

    def upload(self, data: bytes) -> str:
        """The upload body; returns the job its queue output binding would send."""
        job = Out()
        request = func.HttpRequest(
            "POST", "http://localhost/api/images", body=data,
            headers={"X-MS-CLIENT-PRINCIPAL-ID": self.user, "Content-Type": "image/jpeg"},
        )  # fmt: skip
        response = self.app.upload_image(request, job)
        assert response.status_code == 202, response.get_body()
        return str(job.value)

    def enqueue(self, job: str) -> None:
        self.jobs.send_message(base64.b64encode(job.encode()).decode())

    def uploads(self) -> None:
        """The upload body (+ the host's enqueue of its output) vs a raw blob upload + enqueue of the same bytes."""
        for label, size in (("100 KB", 100_000), ("5 MB", 5_000_000)):
            make = Unique(size)

            def raw(make: Unique = make) -> None:
                self.raw.upload_blob(uuid.uuid4().hex, make(), content_settings=ContentSettings("image/jpeg"))
                self.queue.send_message(base64.b64encode(b'{"v":1}').decode())

            def ours(make: Unique = make) -> None:
                self.enqueue(self.upload(make()))

            self.add(f"upload {label} ({len(make.base) // 1000} KB)", "upload", raw, ours)

    def worker(self) -> None:
        """The worker body with the analysis done beforehand vs a raw download + the writes it implies.

        Ours also makes two reads the floor does not: the record (a redelivered job is done already) and the
        count rows it increments (their ETags guard concurrent workers).
        """
        make = Unique(1_000_000)
        decoded = analysis.decode(make(), 10**8)
        described = analysis.describe(decoded)
        preview = analysis.thumbnail(decoded)
        queued = [self.upload(make()) for _ in range(ROUNDS + 3)]  # warm-up, rounds, a count, one for the floor
        # The index batch: listing and manifest rows, and a row and a count per tag. The record is written apart,
        # by the Table output binding the design requires, so it cannot join the batch in the floor either.
        rows = 2 + 2 * len(described.tags)
        real = (analysis.decode, analysis.describe, analysis.thumbnail)

        def raw() -> None:
            self.blobs.get_container_client(IMAGES_CONTAINER).download_blob(json.loads(queued[0])["blob"][7:]).readall()
            self.raw.upload_blob(uuid.uuid4().hex, preview)
            pk = uuid.uuid4().hex
            self.table.submit_transaction(
                [("create", {"PartitionKey": pk, "RowKey": f"r{n}", "v": "x" * 200}) for n in range(rows)]
            )
            self.table.create_entity({"PartitionKey": pk, "RowKey": "record", "v": "x" * 2000})

        def ours() -> None:
            record, poison = Out(), Out()
            trigger = QueueMessage(id="b", body=queued.pop(), dequeue_count=1)  # type: ignore[no-untyped-call]
            self.app.tag_image(trigger, record, poison)
            self.table.create_entity(json.loads(record.value))  # what the Table output binding does

        analysis.decode = lambda data, limit: decoded  # type: ignore[assignment]
        analysis.describe = lambda image: described  # type: ignore[assignment]
        analysis.thumbnail = lambda image: preview  # type: ignore[assignment]
        try:
            self.add("worker minus analysis (1 MB)", "worker", raw, ours)
        finally:
            analysis.decode, analysis.describe, analysis.thumbnail = real

    def reads(self) -> None:
        """One image, and a 50-item tag search, vs the raw Table calls they need."""
        make = Unique(50_000)
        ids = []
        for _ in range(60):
            job = self.upload(make())
            ids.append(json.loads(job)["image_id"])
            self.enqueue(job)
        run_jobs(self.app, self.jobs, self.table)
        target, prefix = ids[5], "tag|format:jpeg|"
        headers = {"X-MS-CLIENT-PRINCIPAL-ID": self.user}

        def raw_get() -> None:
            self.table.get_entity(self.user, target)

        def our_get() -> None:
            request = func.HttpRequest(
                "GET", f"http://localhost/api/images/{target}", body=b"", headers=headers, route_params={"id": target}
            )
            assert self.app.get_image(request).status_code == 200

        def raw_search() -> None:
            parameters = {"pk": self.user, "a": prefix, "b": prefix[:-1] + "}"}
            query = "PartitionKey eq @pk and RowKey ge @a and RowKey lt @b"
            next(self.table.query_entities(query, parameters=parameters, results_per_page=51).by_page())

        def our_search() -> None:
            url = "http://localhost/api/images?tag=format:jpeg&limit=50"
            request = func.HttpRequest("GET", url, body=b"", headers=headers, params={"limit": "50"})
            assert len(json.loads(self.app.list_images(request).get_body())["items"]) == 50

        self.add("GET /api/images/{id}", "read", raw_get, our_get)
        self.add("GET /api/images?tag=... (50 items)", "read", raw_search, our_search)


def run(report: Report) -> dict[str, float]:
    with storage() as connection:
        session = Session(connection)
        session.uploads()
        session.worker()
        session.reads()
    report.text("## Our code's overhead over its storage calls")
    report.text()
    report.text(
        "Function bodies called as the worker calls them against a fresh Azurite, output bindings written as the "
        "host writes them, beside the bare SDK calls doing the same storage work; medians of "
        f"{ROUNDS} alternating runs."
    )
    report.text()
    report.table(["what", "storage calls ours / floor", "floor ms", "ours ms", "ratio", "target"], session.rows)
    return session.summary


def storage_calls(work: Callable[[], object]) -> int:
    """How many HTTP requests to storage one call of `work` makes: every SDK request goes through requests."""
    sent = 0
    real = requests.Session.send

    def counted(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        nonlocal sent
        sent += 1
        return real(self, request, **kwargs)

    with patch.object(requests.Session, "send", counted):
        work()
    return sent


def run_jobs(function_app: Any, jobs: QueueClient, table: Any) -> None:
    """Tag every queued job, as the host would: the reads need tagged images."""
    while True:
        batch = list(jobs.receive_messages(max_messages=32, visibility_timeout=60))
        if not batch:
            return
        for message in batch:
            record, poison = Out(), Out()
            body = base64.b64decode(message.content)
            trigger = QueueMessage(id=message.id, body=body, dequeue_count=1)  # type: ignore[no-untyped-call]
            function_app.tag_image(trigger, record, poison)
            if record.value:
                table.create_entity(json.loads(record.value))
            jobs.delete_message(message)
