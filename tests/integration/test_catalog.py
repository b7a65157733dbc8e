"""The table catalog against a real Azurite: batches, counts under concurrency, tombstones, operation counts."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from azure.data.tables import TableServiceClient

from local_runner.azurite import Azurite
from tagging.errors import ImageNotFoundError
from tagging.index import Page
from tagging.model import ImageRecord, Tag
from tagging.storage import StorageAccount, TableCatalog
from tagging.storage.entities import record_entity


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


def test_indexing_twice_adds_nothing_the_second_time(account: StorageAccount, unique: str) -> None:
    catalog = TableCatalog(account.tables, unique)
    first = record(image_id(1), "color:red", "format:png")
    assert catalog.index(first) == "added"
    assert catalog.index(first) == "exists"
    assert catalog.counts("alice") == [("color:red", 1), ("format:png", 1)]
    assert ids(catalog.page("alice", ["color:red"], 10, None)) == [image_id(1)]


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


def test_a_forgotten_image_refuses_to_be_indexed_until_revived(account: StorageAccount, unique: str) -> None:
    catalog = TableCatalog(account.tables, unique)
    gone = record(image_id(1), "color:red")
    catalog.index(gone)
    catalog.forget(replace(gone, deleted_at="2026-11-24T10:00:00.000Z"))
    assert catalog.counts("alice") == []
    assert ids(catalog.page("alice", [], 10, None)) == []
    tombstone = catalog.get("alice", image_id(1))
    assert tombstone is not None
    assert tombstone.status == "deleted"
    assert catalog.index(gone) == "deleted"
    catalog.revive("alice", image_id(1))
    assert catalog.get("alice", image_id(1)) is None
    assert catalog.index(gone) == "added"


def test_forgetting_an_image_never_indexed_leaves_a_tombstone_first(account: StorageAccount, unique: str) -> None:
    catalog = TableCatalog(account.tables, unique)
    pending = replace(record(image_id(2)), status="pending", deleted_at="2026-11-24T10:00:00.000Z")
    catalog.forget(pending)
    assert catalog.index(record(image_id(2), "late")) == "deleted"  # the worker that was still running
    assert catalog.counts("alice") == []


def test_a_reset_removes_the_record_and_its_rows_at_once_and_leaves_no_tombstone(
    account: StorageAccount, unique: str
) -> None:
    catalog = TableCatalog(account.tables, unique)
    other = record(image_id(5), "color:red")
    done = record(image_id(4), "color:red", "format:png")
    for indexed in (other, done):
        catalog.index(indexed)
        catalog._table.create_entity(record_entity(indexed))  # what the output binding writes
    catalog.reset(done)
    assert catalog.get("alice", image_id(4)) is None
    assert catalog.counts("alice") == [("color:red", 1)]
    assert ids(catalog.page("alice", [], 10, None)) == [image_id(5)]
    catalog.reset(done)  # a second retry at once: nothing left to do
    # What the worker does next succeeds: the index and the insert-only record write.
    assert catalog.index(done) == "added"
    catalog._table.create_entity(record_entity(done))
    assert catalog.counts("alice") == [("color:red", 2), ("format:png", 1)]


def test_a_reset_of_an_image_deleted_meanwhile_is_not_found(account: StorageAccount, unique: str) -> None:
    catalog = TableCatalog(account.tables, unique)
    done = record(image_id(6), "color:red")
    catalog.index(done)
    catalog._table.create_entity(record_entity(done))
    catalog.forget(replace(done, deleted_etag='"0x1"'))
    with pytest.raises(ImageNotFoundError):
        catalog.reset(done)
    assert catalog.get("alice", image_id(6)).status == "deleted"  # type: ignore[union-attr]


def test_tag_changes_move_every_row_and_count_together(account: StorageAccount, unique: str) -> None:
    catalog = TableCatalog(account.tables, unique)
    original = record(image_id(3), "color:red")
    catalog.index(original)
    catalog._table.create_entity(record_entity(original))  # what the output binding writes
    changed = catalog.change_tags("alice", image_id(3), add=Tag("holiday", 1.0, "user"))
    assert [t.name for t in changed.tags] == ["color:red", "holiday"]
    changed = catalog.change_tags("alice", image_id(3), remove="color:red")
    assert changed.removed_tags == ("color:red",)
    assert catalog.counts("alice") == [("holiday", 1)]
    assert ids(catalog.page("alice", ["color:red"], 10, None)) == []
    assert [t.name for t in catalog.page("alice", ["holiday"], 10, None).items[0].tags] == ["holiday"]


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
    assert page.after is not None
    assert counter.requests == 1
    counter.requests = 0
    assert catalog.get("alice", image_id(1)) is None  # indexed only: the record itself was never written
    assert counter.requests == 1
