"""The Catalog port's contract, run on the fake and on Table Storage (Azurite) alike: the fake is held to it.

`bind` writes a record as the worker's Table output binding does (for the real catalog, as the Tables extension
stores it: local_runner.host_values).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from local_runner.host_values import table_write
from tagging import similarity
from tagging.errors import ImageNotFoundError, ImageNotReadyError, InvalidContinuationError
from tagging.model import ImageRecord, Tag
from tagging.ports import Catalog, Page
from tagging.storage import StorageAccount, TableCatalog
from tests.fakes import FakeCatalog


@dataclass
class Subject:
    catalog: Catalog
    bind: Callable[[ImageRecord], None]


@pytest.fixture(params=["fake", "table"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "fake":
        fake = FakeCatalog()
        return Subject(fake, lambda record: fake.insert(fake.binding_value(record)))
    account: StorageAccount = request.getfixturevalue("account")
    name = request.getfixturevalue("unique")
    catalog = TableCatalog(account.tables, name)
    table = account.tables.get_table_client(name)
    return Subject(catalog, lambda record: table.create_entity(table_write(catalog.binding_value(record)).entity))


def record(n: int, *tags: str, second: int = 0) -> ImageRecord:
    return ImageRecord(
        user_key="alice",
        image_id=f"{n:032x}",
        status="done",
        sha256="ab" * 32,
        size=10,
        content_type="image/png",
        uploaded_at=f"2026-11-24T09:00:{second:02d}.000Z",
        filename="Zoë.png",
        width=3,
        height=2,
        tags=tuple(Tag(name, 1.0, "analysis") for name in tags),
        tagged_at="2026-11-24T10:00:00.000Z",
    )


def ids(page: Page) -> list[str]:
    return [item.image_id for item in page.items]


def indexed(subject: Subject, *records: ImageRecord) -> None:
    """What the worker does for each: index it, then bind its record."""
    for each in records:
        assert subject.catalog.index(each) == "added"
        subject.bind(each)


def test_a_bound_record_reads_back_whole_and_nothing_else_is_there(subject: Subject) -> None:
    catalog = subject.catalog
    assert catalog.get("alice", record(1).image_id) is None  # for the real one, the table does not even exist
    indexed(subject, record(1, "format:png"))
    assert catalog.get("alice", record(1).image_id) == record(1, "format:png")
    assert catalog.get("bob", record(1).image_id) is None


def test_a_page_item_carries_what_a_card_shows(subject: Subject) -> None:
    subject.catalog.index(record(1, "dog", "animal"))
    for tags in ([], ["animal"]):
        (item,) = subject.catalog.page("alice", tags, 10, None).items
        assert (item.filename, item.width, item.height, item.status) == ("Zoë.png", 3, 2, "done")
        assert [tag.name for tag in item.tags] == ["dog", "animal"]


def test_indexing_twice_adds_nothing_the_second_time(subject: Subject) -> None:
    catalog = subject.catalog
    first = record(1, "color:red", "format:png")
    assert catalog.index(first) == "added"
    assert catalog.index(first) == "exists"
    assert catalog.counts("alice") == [("color:red", 1), ("format:png", 1)]
    assert ids(catalog.page("alice", ["color:red"], 10, None)) == [first.image_id]


def test_pages_are_newest_first_and_continue_to_the_end(subject: Subject) -> None:
    catalog = subject.catalog
    images = [record(n, "color:red", *(["big"] if n % 2 else []), second=n) for n in range(7)]
    for each in images:
        catalog.index(each)
    newest_first = [each.image_id for each in reversed(images)]
    for tags, expected in (
        ([], newest_first),
        (["color:red"], newest_first),
        (["big", "color:red"], newest_first[1::2]),  # the odd ones
    ):
        seen: list[str] = []
        continuation = None
        while True:
            page = catalog.page("alice", tags, 2, continuation)
            seen += ids(page)
            continuation = page.continuation
            if continuation is None:
                break
        assert seen == expected, tags
    assert ids(catalog.page("alice", ["big", "absent"], 10, None)) == []


def test_a_continuation_token_of_another_search_or_a_forged_one_is_refused(subject: Subject) -> None:
    catalog = subject.catalog
    for n in range(3):
        catalog.index(record(n, "color:red", "big", second=n))
    token = catalog.page("alice", ["color:red"], 1, None).continuation
    assert token is not None
    with pytest.raises(InvalidContinuationError):
        catalog.page("alice", ["big"], 1, token)
    with pytest.raises(InvalidContinuationError):
        catalog.page("alice", [], 1, "not-a-token")


def test_counts_are_most_used_first_then_by_name(subject: Subject) -> None:
    catalog = subject.catalog
    for each in (record(1, "b", "a"), record(2, "b", "c"), record(3, "z")):
        catalog.index(each)
    assert catalog.counts("alice") == [("b", 2), ("a", 1), ("c", 1), ("z", 1)]
    assert catalog.counts("bob") == []


def test_a_forgotten_image_refuses_to_be_indexed_until_revived(subject: Subject) -> None:
    catalog = subject.catalog
    gone = record(1, "color:red")
    indexed(subject, gone)
    catalog.forget(replace(gone, deleted_at="2026-11-24T10:00:00.000Z", deleted_etag='"0x1"'))
    assert catalog.counts("alice") == []
    assert ids(catalog.page("alice", [], 10, None)) == []
    tombstone = catalog.get("alice", gone.image_id)
    assert tombstone is not None
    assert (tombstone.status, tombstone.deleted_etag) == ("deleted", '"0x1"')
    assert catalog.index(gone) == "deleted"
    catalog.revive("alice", gone.image_id)
    assert catalog.get("alice", gone.image_id) is None
    assert catalog.index(gone) == "added"


def test_forgetting_an_image_never_indexed_stops_a_late_worker(subject: Subject) -> None:
    catalog = subject.catalog
    catalog.forget(replace(record(2), status="pending", deleted_at="2026-11-24T10:00:00.000Z"))
    assert catalog.index(record(2, "late")) == "deleted"  # the worker that was still running
    assert catalog.counts("alice") == []


def test_a_reset_removes_the_record_and_its_rows_and_leaves_no_tombstone(subject: Subject) -> None:
    catalog = subject.catalog
    other, done = record(5, "color:red"), record(4, "color:red", "format:png", second=1)
    indexed(subject, other, done)
    catalog.reset(done)
    assert catalog.get("alice", done.image_id) is None
    assert catalog.counts("alice") == [("color:red", 1)]
    assert ids(catalog.page("alice", [], 10, None)) == [other.image_id]
    catalog.reset(done)  # a second retry at once: nothing left to do
    indexed(subject, done)  # what the worker does next succeeds: the index and the insert-only record
    assert catalog.counts("alice") == [("color:red", 2), ("format:png", 1)]


def test_a_reset_of_an_image_deleted_meanwhile_is_not_found(subject: Subject) -> None:
    catalog = subject.catalog
    done = record(6, "color:red")
    indexed(subject, done)
    catalog.forget(replace(done, deleted_etag='"0x1"'))
    with pytest.raises(ImageNotFoundError):
        catalog.reset(done)
    assert catalog.get("alice", done.image_id).status == "deleted"  # type: ignore[union-attr]


def test_tag_changes_move_the_record_every_row_and_count_together(subject: Subject) -> None:
    catalog = subject.catalog
    original = record(3, "color:red")
    indexed(subject, original)
    changed = catalog.change_tags("alice", original.image_id, add=Tag("holiday", 1.0, "user"))
    assert [t.name for t in changed.tags] == ["color:red", "holiday"]
    changed = catalog.change_tags("alice", original.image_id, remove="color:red")
    assert changed.removed_tags == ("color:red",)
    assert catalog.get("alice", original.image_id) == changed
    assert catalog.counts("alice") == [("holiday", 1)]
    assert ids(catalog.page("alice", ["color:red"], 10, None)) == []
    assert [t.name for t in catalog.page("alice", ["holiday"], 10, None).items[0].tags] == ["holiday"]


def test_tags_change_only_on_a_record_that_exists_and_is_not_deleted(subject: Subject) -> None:
    catalog = subject.catalog
    with pytest.raises(ImageNotReadyError):  # no record yet: the image is pending
        catalog.change_tags("alice", record(7).image_id, add=Tag("x", 1.0, "user"))
    done = record(8, "color:red")
    indexed(subject, done)
    catalog.forget(done)
    with pytest.raises(ImageNotFoundError):
        catalog.change_tags("alice", done.image_id, add=Tag("x", 1.0, "user"))


NOW, LATER, MUCH_LATER = "2026-11-24T10:00:00.000Z", "2026-11-24T10:10:00.000Z", "2026-11-24T10:20:00.000Z"


def test_a_claim_is_one_claimants_until_it_expires(subject: Subject) -> None:
    catalog, image = subject.catalog, record(1, "color:red")
    first = catalog.claim("alice", image.image_id, "message-1", now=NOW, until=LATER)
    assert first.state == "claimed"
    assert catalog.claim("alice", image.image_id, "message-2", now=NOW, until=LATER).state == "held"
    again = catalog.claim("alice", image.image_id, "message-1", now=NOW, until=LATER)  # a retry of one delivery
    assert again.state == "claimed"
    assert catalog.claim("alice", image.image_id, "message-2", now=MUCH_LATER, until=MUCH_LATER).state == "claimed"
    assert catalog.index(image, again) == "exists"  # taken over: the new claimant indexes it
    assert catalog.counts("alice") == []


def test_indexing_ends_the_claim_and_later_claims_see_it_done(subject: Subject) -> None:
    catalog, image = subject.catalog, record(2, "color:red")
    claim = catalog.claim("alice", image.image_id, "message-1", now=NOW, until=LATER)
    assert catalog.index(image, claim) == "added"
    assert catalog.claim("alice", image.image_id, "message-2", now=NOW, until=LATER).state == "indexed"
    assert catalog.counts("alice") == [("color:red", 1)]
    assert ids(catalog.page("alice", [], 10, None)) == [image.image_id]


def test_a_claim_left_by_a_worker_that_never_finished_does_not_block_indexing(subject: Subject) -> None:
    """What the poison queue's function does for a job whose worker died holding the claim: it indexes anyway."""
    catalog, image = subject.catalog, record(3, "color:red")
    catalog.claim("alice", image.image_id, "message-1", now=NOW, until=LATER)
    assert catalog.index(replace(image, status="failed")) == "added"
    assert catalog.counts("alice") == [("color:red", 1)]


def test_a_delete_while_a_claim_stands_stops_the_claimant(subject: Subject) -> None:
    catalog, image = subject.catalog, record(4, "color:red")
    claim = catalog.claim("alice", image.image_id, "message-1", now=NOW, until=LATER)
    catalog.forget(replace(image, status="pending", deleted_at=NOW))
    assert catalog.index(image, claim) == "deleted"
    assert catalog.claim("alice", image.image_id, "message-2", now=NOW, until=LATER).state == "deleted"
    assert catalog.counts("alice") == []


def hashed(n: int, phash: str, *tags: str, second: int = 0) -> ImageRecord:
    return replace(record(n, *tags, second=second), phash=phash)


def flipped(phash: str, *bits: int) -> str:
    value = int(phash, 16)
    for bit in bits:
        value ^= 1 << bit
    return f"{value:016x}"


BASE = "f0f0f0f0ccccaaaa"


def matches(subject: Subject, phash: str, distance: int = similarity.MAX_DISTANCE) -> list[tuple[str, int]]:
    return [(m.item.image_id, m.distance) for m in subject.catalog.similar("alice", phash, distance)]


def test_similar_finds_every_image_within_the_distance_nearest_first_and_no_other(subject: Subject) -> None:
    near = hashed(1, flipped(BASE, 0, 9, 20, 33), second=1)  # 4 bits: in four bands
    nearer = hashed(2, flipped(BASE, 63, 62), second=2)  # 2 bits, both in the first band
    edge = hashed(3, flipped(BASE, *range(0, 60, 6)), second=3)  # 10 bits, one in each of ten bands
    far = hashed(4, flipped(BASE, *range(0, 66, 6)), second=4)  # 11 bits: one in every band
    same = hashed(5, BASE, second=5)
    indexed(subject, near, nearer, edge, far, same)
    bob = replace(hashed(6, BASE), user_key="bob")
    indexed(subject, bob)
    assert matches(subject, BASE) == [
        (same.image_id, 0), (nearer.image_id, 2), (near.image_id, 4), (edge.image_id, 10)
    ]  # fmt: skip
    assert matches(subject, BASE, 3) == [(same.image_id, 0), (nearer.image_id, 2)]
    item = subject.catalog.similar("alice", BASE, 0)[0].item
    assert (item.filename, item.width, item.thumbnail) == ("Zoë.png", 3, False)


def test_images_without_a_hash_or_not_done_have_no_band_rows(subject: Subject) -> None:
    indexed(subject, record(1, "color:red"), replace(hashed(2, BASE), status="failed", error="broken"))
    assert matches(subject, BASE) == []


def test_deletes_retries_and_tag_changes_keep_the_band_rows_exact(subject: Subject) -> None:
    catalog = subject.catalog
    kept, gone = hashed(1, BASE, "color:red"), hashed(2, flipped(BASE, 5), "color:red", second=1)
    indexed(subject, kept, gone)
    catalog.forget(replace(gone, deleted_etag='"0x1"'))
    assert matches(subject, BASE) == [(kept.image_id, 0)]
    catalog.reset(kept)  # a retry: gone until tagged again
    assert matches(subject, BASE) == []
    indexed(subject, kept)
    catalog.change_tags("alice", kept.image_id, add=Tag("holiday", 1.0, "user"))
    catalog.change_tags("alice", kept.image_id, remove="color:red")
    assert matches(subject, BASE) == [(kept.image_id, 0)]
