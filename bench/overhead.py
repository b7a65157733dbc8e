"""Our code's overhead over the storage calls it must make, against the same Azurite, in the same run.

Each row times a function body (called as the worker calls it, output bindings written as the host writes them)
beside the bare SDK calls that do the same storage work, alternating the two so that noise falls on both.
"""

from __future__ import annotations

import base64
import json
import os
import random
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
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
from bench.photos import save, scene
from local_runner.azurite import Azurite, Ports
from local_runner.functions import Out
from local_runner.host_values import table_write
from tagging import analysis, bootstrap, similarity
from tagging.config import CONTENT_TAGS_SETTING, IMAGES_CONTAINER, JOBS_QUEUE, PLACE_TAGS_SETTING, RECORDS_TABLE
from tagging.identity import user_key

TARGETS = {"upload": 1.2, "worker": 1.3, "read": 1.5}
ROUNDS = 21


class Unique:
    """A JPEG (or PNG) of about the wanted size, made distinct on every call by bytes after its end marker."""

    def __init__(self, approx_bytes: int, *, portrait: bool = False, kind: str = "JPEG") -> None:
        side = 256
        options = {"quality": 95} if kind == "JPEG" else {}
        while True:
            size = (side * 3 // 4, side) if portrait else (side, side * 3 // 4)
            self.base = save(scene(size), kind, **options)
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
        # Content and place tags are analysis, which these rows leave out: bench/labels.py measures them.
        os.environ[CONTENT_TAGS_SETTING] = os.environ[PLACE_TAGS_SETTING] = "false"
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
            [name, calls, f"{base * 1000:.1f}", f"{mine * 1000:.1f}", f"**{ratio:.2f}**", f"<= {TARGETS[kind]}"]
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
        assert isinstance(job.value, bytes)
        return job.value.decode()

    def enqueue(self, job: str) -> None:
        self.jobs.send_message(base64.b64encode(job.encode()).decode())

    def uploads(self) -> None:
        """The upload body (+ the host's enqueue of its output) vs a raw blob upload of the same bytes + an enqueue
        of the same job: the floor sends a job the function made, so both messages have one size and shape."""
        for label, size in (("100 KB", 100_000), ("5 MB", 5_000_000)):
            make = Unique(size)
            job = base64.b64encode(self.upload(make()).encode()).decode()

            def raw(make: Unique = make, job: str = job) -> None:
                self.raw.upload_blob(uuid.uuid4().hex, make(), content_settings=ContentSettings("image/jpeg"))
                self.queue.send_message(job)

            def ours(make: Unique = make) -> None:
                self.enqueue(self.upload(make()))

            what = f"upload {label} ({len(make.base) // 1000} KB image, {len(job)}-byte job)"
            self.add(what, "upload", raw, ours)

    def worker(self) -> None:
        """The worker body with the analysis done beforehand vs a raw download + the writes it implies.

        Ours also makes one call the floor does not: the claim on the image (a conditional insert, so that a
        duplicate job decodes nothing). The count rows it increments under their ETags are read once, then
        remembered with the ETags each batch answers, as in a worker tagging one user's images.
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
            self.table.create_entity(table_write(record.value).entity)  # what the Table output binding does

        analysis.decode = lambda data, limit: decoded  # type: ignore[assignment]
        analysis.describe = lambda image: described  # type: ignore[assignment]
        analysis.thumbnail = lambda image: preview  # type: ignore[assignment]
        try:
            self.add("worker minus analysis (1 MB)", "worker", raw, ours)
        finally:
            analysis.decode, analysis.describe, analysis.thumbnail = real

    def reads(self) -> None:
        """One image, a 50-item search for one tag and one for two tags, vs the raw Table calls they need.

        The images mix so that the two searched tags overlap only in part: 50 landscape JPEGs carry both,
        20 portrait JPEGs only `format:jpeg`, 20 landscape PNGs only `orientation:landscape`. The 2-tag search
        must then skip rows of its first tag that lack the second.
        """
        kinds = [Unique(50_000)] * 50 + [Unique(50_000, portrait=True)] * 20 + [Unique(50_000, kind="PNG")] * 20
        random.Random(8).shuffle(kinds)  # newest first, the skipped rows fall among the kept ones
        ids = []
        for make in kinds:
            job = self.upload(make())
            ids.append(json.loads(job)["image_id"])
            self.enqueue(job)
        run_jobs(self.app, self.jobs, self.table)
        target, both = ids[5], ["format:jpeg", "orientation:landscape"]
        headers = {"X-MS-CLIENT-PRINCIPAL-ID": self.user}
        key = user_key(self.user)

        def rows(prefix: str, page: int, select: list[str] | None = None) -> Iterator[Any]:
            parameters = {"pk": key, "a": prefix, "b": prefix[:-1] + "}"}
            query = "PartitionKey eq @pk and RowKey ge @a and RowKey lt @b"
            return iter(self.table.query_entities(query, parameters=parameters, select=select, results_per_page=page))

        def raw_get() -> None:
            self.table.get_entity(key, target)

        def our_get() -> None:
            request = func.HttpRequest(
                "GET", f"http://localhost/api/images/{target}", body=b"", headers=headers, route_params={"id": target}
            )
            assert self.app.get_image(request).status_code == 200

        def raw_search() -> None:
            """One page of the tag's rows: 50 and one more, which tells whether more remain."""
            assert len(list(islice(rows(f"tag|{both[0]}|", 51), 51))) == 51

        def raw_search_two() -> None:
            """The rarer tag by its count rows, then its rows until 50 carry the other tag too."""
            counts = {
                tag: sum(int(row["count"]) for row in rows(f"count|{tag}|", 1000, select=["count"])) for tag in both
            }
            rarer = min(both, key=lambda tag: counts[tag])
            other = next(tag for tag in both if tag != rarer)
            found = 0
            for row in rows(f"tag|{rarer}|", 200):
                if found == 50:
                    return
                found += any(name == other for name, *_ in json.loads(row["tags"]))
            raise AssertionError(f"only {found} images carry both tags")

        def searcher(path: str) -> Callable[[], None]:
            def search() -> None:
                request = func.HttpRequest(
                    "GET", f"http://localhost{path}", body=b"", headers=headers, params={"limit": "50"}
                )
                items = json.loads(self.app.list_images(request).get_body())["items"]
                assert len(items) == 50, f"{path}: {len(items)} items"

            return search

        phash = str(self.table.get_entity(key, target)["phash"])

        def raw_similar() -> None:
            """Every band's rows: the candidates a near-duplicate search must read (tagging.similarity)."""
            for band in similarity.bands(phash):
                list(rows(f"sim|{band}|", 1000))

        def our_similar() -> None:
            request = func.HttpRequest(
                "GET", f"http://localhost/api/images/{target}/similar", body=b"", headers=headers,
                route_params={"id": target},
            )  # fmt: skip
            assert len(json.loads(self.app.similar_images(request).get_body())["items"]) >= 1

        one = f"/api/images?tag={both[0]}&limit=50"
        two = f"/api/images?tag={both[0]}&tag={both[1]}&limit=50"
        self.add("GET /api/images/{id}", "read", raw_get, our_get)
        self.add(f"GET {one} (1 tag)", "read", raw_search, searcher(one))
        self.add(f"GET {two} (2 tags)", "read", raw_search_two, searcher(two))
        self.add("GET /api/images/{id}/similar", "read", raw_similar, our_similar)


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
        f"{ROUNDS} alternating runs. Storage calls are the HTTP requests one call makes, counted at the SDKs' "
        "transport. Upload floor: a blob upload of the same bytes and an enqueue of a job the function made for "
        "an image of that size (its size as queued, base64, in the row). Worker floor: download, thumbnail "
        "upload, index batch, record insert. Searches: 50 items among 90 images; the 2-tag search's floor makes "
        "the calls its design needs (both tags' count rows, to pick the rarer tag, then that tag's rows until 50 "
        "carry the other tag), and so does ours. Similar: the target's 11 band ranges, read whole; its near "
        "duplicates are the other landscape JPEGs, which share its pixels."
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
                table.create_entity(table_write(record.value).entity)
            jobs.delete_message(message)
