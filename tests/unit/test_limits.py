"""Limits Azure enforces and Azurite does not: checked in code, for the largest inputs the API lets through."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from local_runner.host_values import collector_items, table_writes, typed_data
from tagging import identity
from tagging import tags as tag_rules
from tagging.errors import InvalidTagError
from tagging.identity import MAX_USER_ID_BYTES
from tagging.model import ImageRecord, PhotoMetadata, Tag
from tagging.services import upload
from tagging.storage import layout
from tagging.storage.entities import binding_value
from tests.fakes import fake_ports
from tests.images import image_bytes

QUEUE_MESSAGE_LIMIT = 64 * 1024  # bytes of the (base64) message
ENTITY_LIMIT = 1024 * 1024  # bytes, as Azure sizes an entity
STRING_PROPERTY_LIMIT = 32 * 1024  # UTF-16 code units
MAX_PROPERTIES = 252  # custom properties, besides PartitionKey, RowKey and Timestamp

# The widest characters there are: four UTF-8 bytes, two UTF-16 units, twelve characters once JSON-escaped.
WIDE = "\U0001f600"


def azure_entity_size(entity: dict[str, Any]) -> int:
    """Azure's formula: 4 + (len(PK) + len(RK)) * 2 + 4 + per property 8 + len(name) * 2 + the value's size."""
    size = 4 + (len(entity["PartitionKey"]) + len(entity["RowKey"])) * 2 + 4
    for name, value in entity.items():
        if name in ("PartitionKey", "RowKey"):
            continue
        size += 8 + len(name) * 2
        size += len(value.encode("utf-16-le")) + 4 if isinstance(value, str) else 8
    return size


def largest_record() -> ImageRecord:
    key = identity.user_key(WIDE * (MAX_USER_ID_BYTES // 4))
    tags = tuple(widest_tag(n) for n in range(tag_rules.MAX_TAGS_PER_IMAGE))
    return ImageRecord(
        user_key=key,
        image_id="0" * 32,
        status="done",
        sha256="ab" * 32,
        size=20 * 1024 * 1024,
        content_type="image/jpeg",
        uploaded_at="2026-11-24T09:00:00.000Z",
        filename=WIDE * upload.MAX_FILENAME_CHARS,
        format="jpeg",
        width=10_000,
        height=10_000,
        tags=tags,
        tagged_at="2026-11-24T09:00:01.000Z",
        error="x" * 2000,
        frames=1000,
        mode="RGB",
        metadata=PhotoMetadata("M" * 100, "m" * 100, "l" * 100, "2026-11-24T09:00:00+01:00", -90.0, 180.0),
        phash="f" * 16,
        thumbnail=True,
        removed_tags=tuple(widest_tag(n + 100).name for n in range(tag_rules.MAX_REMOVED_TAGS)),
    )


def widest_tag(n: int) -> Tag:
    """A tag name as long as the API takes, of the widest characters."""
    return Tag(WIDE * (tag_rules.MAX_TAG_CHARS - 2) + f"{n:02d}", 1.0, "user")


def test_the_largest_job_fits_a_queue_message() -> None:
    ports = fake_ports()
    accepted = upload.accept_upload(
        ports, user_id=WIDE * (MAX_USER_ID_BYTES // 4), data=image_bytes(), filename=WIDE * 1000,
        now=datetime(2026, 11, 24, tzinfo=UTC),
    )  # fmt: skip
    assert accepted.job is not None
    assert len(queued(accepted.job.message())) < QUEUE_MESSAGE_LIMIT / 4  # far below: the user cannot grow it
    # Tagging an edited image again sends the owner's edits too.
    record = largest_record()
    retag = replace(accepted.job, user_tags=tuple(t.name for t in record.tags), removed_tags=record.removed_tags)
    assert len(queued(retag.message())) < QUEUE_MESSAGE_LIMIT
    # Even sent as a str, which the host re-serialises indented (local_runner/host_values.py), it would fit.
    (indented,) = collector_items(typed_data("queue", retag.message().decode()))
    assert len(indented) > len(retag.message())
    assert len(queued(indented)) < QUEUE_MESSAGE_LIMIT


def queued(body: bytes) -> bytes:
    """What the queue stores: the Queues extension's default base64 of the body."""
    return base64.b64encode(body)


def test_the_largest_record_fits_an_entity() -> None:
    # As the Tables extension stores what the worker hands its binding.
    (write,) = table_writes(collector_items(typed_data("table", binding_value(largest_record()))))
    entity = write.entity
    assert len(entity) - 2 <= MAX_PROPERTIES
    assert azure_entity_size(entity) < ENTITY_LIMIT
    for name, value in entity.items():
        if isinstance(value, str):
            assert len(value.encode("utf-16-le")) // 2 <= STRING_PROPERTY_LIMIT, name


def test_the_largest_index_rows_fit_entities_and_keys() -> None:
    record = largest_record()
    for row_key in [layout.listing_key(record), *(layout.tag_row_key(t.name, record) for t in record.tags)]:
        row = {"PartitionKey": record.user_key, "RowKey": row_key, **layout.summary(record)}
        assert azure_entity_size(row) < ENTITY_LIMIT
        assert len(row_key.encode("utf-8")) <= 1024  # a key's own limit: 1 KiB
        assert len(record.user_key.encode("utf-8")) <= 1024
        tags_json = row["tags"]
        assert isinstance(tags_json, str)
        assert len(tags_json.encode("utf-16-le")) // 2 <= STRING_PROPERTY_LIMIT


def test_an_image_cannot_collect_more_tags_than_one_batch_can_index() -> None:
    record = largest_record()
    with pytest.raises(InvalidTagError, match="at most 40 tags"):
        tag_rules.retagged(record, add=Tag("one-too-many", 1.0, "user"))
    operations = 1 + 1 + 2 * tag_rules.MAX_TAGS_PER_IMAGE  # manifest, listing row, a row and a count per tag
    assert operations <= 100


def test_removed_tags_are_remembered_up_to_a_bound() -> None:
    record = largest_record()
    for n in range(5):
        record = tag_rules.retagged(replace(record, tags=(Tag(f"auto-{n}", 0.9, "analysis"),)), remove=f"auto-{n}")
    assert len(record.removed_tags) == tag_rules.MAX_REMOVED_TAGS
    assert record.removed_tags[-1] == "auto-4"  # the latest choices are kept
