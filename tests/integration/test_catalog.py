"""What only the table catalog on a real Azurite can show: counts under concurrency, and what a read costs.

The port's behaviour, shared with the fake, is in test_catalog_contract.py."""

from __future__ import annotations

import threading

import pytest
from azure.data.tables import TableServiceClient

from local_runner.azurite import Azurite
from tagging.model import ImageRecord, Tag
from tagging.ports import Page
from tagging.storage import StorageAccount, TableCatalog


def record(image_id: str, *tags: str, uploaded_at: str = "2026-11-24T09:00:00.000Z") -> ImageRecord:
    return ImageRecord(
        user_key="alice",
        image_id=image_id,
        status="done",
        sha256="ab" * 32,
        size=10,
        content_type="image/png",
        uploaded_at=uploaded_at,
        tags=tuple(Tag(name, 1.0, "analysis") for name in tags),
    )


def image_id(n: int) -> str:
    return f"{n:032x}"


def ids(page: Page) -> list[str]:
    return [item.image_id for item in page.items]


def test_counts_stay_exact_when_many_workers_index_at_once(account: StorageAccount, unique: str) -> None:
    catalog = TableCatalog(account.tables, unique)
    catalog.index(record(image_id(0), "shared"))  # the table exists before the race starts
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        barrier.wait()
        try:
            catalog.index(record(image_id(n), "shared", f"own-{n}", uploaded_at=f"2026-11-24T09:00:0{n}.000Z"))
        except BaseException as exc:  # reported below, where the test can fail on it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counts = dict(catalog.counts("alice"))
    assert counts["shared"] == 9
    assert all(counts[f"own-{n}"] == 1 for n in range(1, 9))
    assert len(ids(catalog.page("alice", ["shared"], 100, None))) == 9


class Counter:
    """Counts the HTTP requests a client sends: the storage operations of a call."""

    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, request: object) -> None:
        self.requests += 1


@pytest.mark.parametrize("tags", [["color:red"], []])
def test_a_page_of_fifty_costs_one_query(azurite: Azurite, unique: str, tags: list[str]) -> None:
    counter = Counter()
    service = TableServiceClient.from_connection_string(azurite.connection_string, raw_request_hook=counter)
    catalog = TableCatalog(service, unique)
    for n in range(60):
        catalog.index(record(image_id(n), "color:red", uploaded_at=f"2026-11-24T09:{n // 60:02d}:{n % 60:02d}.000Z"))
    counter.requests = 0
    page = catalog.page("alice", tags, 50, None)
    assert len(page.items) == 50
    assert page.continuation is not None
    assert counter.requests == 1
    counter.requests = 0
    assert catalog.get("alice", image_id(1)) is None  # indexed only: the record itself was never written
    assert counter.requests == 1


def test_a_worker_reads_no_count_it_wrote_itself(azurite: Azurite, unique: str) -> None:
    """Count rows are read by point reads (a filter naming several RowKeys is a partition scan in Table storage),
    and remembered with the ETags the batch answered: the next image with the same tags costs the batch alone."""
    counter = Counter()
    service = TableServiceClient.from_connection_string(azurite.connection_string, raw_request_hook=counter)
    catalog = TableCatalog(service, unique)
    catalog.index(record(image_id(0), "color:red", "format:png"))
    counter.requests = 0
    catalog.index(record(image_id(1), "color:red", "format:png"))
    assert counter.requests == 1
    counter.requests = 0
    catalog.index(record(image_id(2), "color:red", "format:jpeg"))
    assert counter.requests == 2  # the new tag's count row is looked for, then the batch
    assert dict(catalog.counts("alice")) == {"color:red": 3, "format:png": 2, "format:jpeg": 1}


def test_a_count_changed_by_another_process_is_read_again_and_stays_exact(azurite: Azurite, unique: str) -> None:
    counter = Counter()
    mine = TableCatalog(
        TableServiceClient.from_connection_string(azurite.connection_string, raw_request_hook=counter), unique
    )
    other = TableCatalog(TableServiceClient.from_connection_string(azurite.connection_string), unique)
    mine.index(record(image_id(0), "shared"))
    other.index(record(image_id(1), "shared"))  # what `mine` remembers of the count is stale now
    counter.requests = 0
    mine.index(record(image_id(2), "shared"))
    assert counter.requests == 3  # the batch refused on the stale ETag, the count read afresh, the batch
    assert dict(mine.counts("alice")) == {"shared": 3}


def test_counts_stay_exact_when_workers_of_two_processes_index_at_once(account: StorageAccount, unique: str) -> None:
    catalogs = [TableCatalog(account.tables, unique), TableCatalog(StorageAccount("ImageStorage").tables, unique)]
    catalogs[0].index(record(image_id(0), "shared"))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for round_ in range(3):
                number = 100 * round_ + n
                catalogs[n % 2].index(record(image_id(number), "shared", f"own-{number}"))
        except BaseException as exc:  # reported below, where the test can fail on it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert dict(catalogs[1].counts("alice"))["shared"] == 1 + 6 * 3
