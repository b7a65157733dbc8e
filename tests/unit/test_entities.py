"""Records as Table entities: written once, read back from every shape a property can be stored in.

The shapes come from what writes entities in Azure: the Tables extension stores each JSON integer as Edm.Int64
(Azure/azure-sdk-for-net, sdk/tables/Microsoft.Azure.WebJobs.Extensions.Tables/src/TablesExtensionConfigProvider.cs,
CreateTableEntityFromJObject), which azure-data-tables reads back as EntityProperty(value, EdmType.INT64)
(azure/data/tables/_deserialize.py, _from_entity_int64); Edm.DateTime comes back as a datetime
(_from_entity_datetime); other tools type values as they please.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.data.tables import EdmType, EntityProperty, TableEntity

from tagging.model import ImageRecord, PhotoMetadata, Tag
from tagging.storage.entities import binding_value, item_from_row, record_entity, record_from_entity
from tagging.storage.layout import summary

RECORD = ImageRecord(
    user_key="alice",
    image_id="0" * 32,
    status="done",
    sha256="ab" * 32,
    size=12467,
    content_type="image/png",
    uploaded_at="2026-11-24T09:00:00.000Z",
    filename="Köln 2026.png",
    format="png",
    width=3000,
    height=2000,
    tags=(Tag("format:png", 1.0, "analysis"), Tag("köln", 1.0, "user")),
    tagged_at="2026-11-24T09:00:01.250Z",
    frames=1,
    mode="RGB",
    metadata=PhotoMetadata("Canon", "EOS 5D", None, "2026-11-24T10:00:00+01:00", 50.94, 6.96),
    phash="0f" * 8,
    thumbnail=True,
    removed_tags=("blurry",),
)


def int64(entity: dict[str, Any]) -> dict[str, Any]:
    """Every integer as the Tables extension stores it."""
    return {
        name: EntityProperty(value, EdmType.INT64) if isinstance(value, int) and not isinstance(value, bool) else value
        for name, value in entity.items()
    }


def test_a_record_round_trips_through_its_entity() -> None:
    entity = record_entity(RECORD)

    assert (entity["PartitionKey"], entity["RowKey"]) == ("alice", "0" * 32)
    assert "error" not in entity  # Table storage has no null: unknown values are left out
    assert record_from_entity(entity) == RECORD


def test_the_binding_gets_utf8_json_bytes_of_the_same_entity() -> None:
    value = binding_value(RECORD)

    assert isinstance(value, bytes)
    assert "Köln".encode() in value  # characters as themselves: an escape takes several times their room
    assert json.loads(value) == record_entity(RECORD)


def test_integers_stored_as_int64_read_the_same() -> None:
    """What the real Table output binding stores: the bug this module exists for (an Int64 is not an int)."""
    assert record_from_entity(int64(record_entity(RECORD))) == RECORD


def test_times_stored_as_edm_datetime_read_as_the_text_the_app_writes() -> None:
    entity = record_entity(RECORD) | {
        "uploaded_at": datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
        "tagged_at": datetime(2026, 11, 24, 9, 0, 1, 250000, tzinfo=UTC),
    }

    assert record_from_entity(entity) == RECORD


@pytest.mark.parametrize(
    "written",
    ["2026-11-24T09:00:00Z", "2026-11-24T09:00:00.0000000Z", "2026-11-24T10:00:00+01:00", "2026-11-24T09:00:00"],
)
def test_a_time_in_any_iso_form_reads_as_the_apps_own(written: str) -> None:
    """`...00Z` is what Json.NET writes for `...00.000Z` when the host re-serialises a str value; seven fraction
    digits are .NET's round-trip format."""
    entity = record_entity(RECORD) | {"uploaded_at": written}

    assert record_from_entity(entity).uploaded_at == "2026-11-24T09:00:00.000Z"


def test_numbers_typed_by_other_tools_read_the_same() -> None:
    entity = record_entity(RECORD) | {
        "bytes": 12467.0,
        "width": "3000",
        "height": EntityProperty(2000, EdmType.INT32),
        "latitude": "50.94",
        "longitude": EntityProperty(6.96, EdmType.DOUBLE),
        "thumbnail": "true",
    }

    assert record_from_entity(entity) == RECORD


def test_extra_properties_and_missing_optional_ones_are_fine() -> None:
    entity = {name: value for name, value in record_entity(RECORD).items() if name not in ("frames", "mode", "lens")}
    entity |= {"added_by_a_newer_version": EntityProperty(7, EdmType.INT64), "Notes": "hand-edited"}

    assert record_from_entity(entity) == replace(RECORD, frames=None, mode=None)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"bytes": "a lot"}, "'bytes' holds 'a lot', not a whole number"),
        ({"tags": "format:png"}, "'tags' holds 'format:png', not a JSON list"),
        ({"tags": '[{"name": "x"}]'}, "'tags' has an item that is not a tag"),
        ({"status": "claimed"}, "'status' holds 'claimed'"),
        ({"uploaded_at": "yesterday"}, "'uploaded_at' holds 'yesterday', not a time"),
        ({"thumbnail": EntityProperty(b"\x01", EdmType.BINARY)}, "'thumbnail' holds"),
    ],
)
def test_a_value_that_cannot_be_read_shows_the_image_failed_with_the_reason(change: dict[str, Any], named: str) -> None:
    record = record_from_entity(record_entity(RECORD) | change)

    assert record.status == "failed"
    assert record.error is not None
    assert named in record.error
    assert "Retry the image to tag it afresh, or delete it." in record.error
    assert record.image_id == RECORD.image_id


def test_a_tombstone_that_cannot_be_read_whole_stays_a_tombstone() -> None:
    entity = record_entity(replace(RECORD, status="deleted")) | {"bytes": "a lot"}

    assert record_from_entity(entity).status == "deleted"


def test_an_unreadable_upload_time_falls_back_to_when_the_entity_was_written() -> None:
    entity = TableEntity(record_entity(RECORD) | {"uploaded_at": "yesterday"})
    entity._metadata = {"etag": "W/1", "timestamp": datetime(2026, 11, 25, 8, 0, tzinfo=UTC)}

    assert record_from_entity(entity).uploaded_at == "2026-11-25T08:00:00.000Z"


def test_a_listing_row_reads_from_any_shape_too() -> None:
    row = int64({"PartitionKey": "alice", "RowKey": "all|x", **summary(RECORD)})

    item = item_from_row(row)

    assert (item.image_id, item.status, item.width, item.height) == (RECORD.image_id, "done", 3000, 2000)
    assert item.tags == RECORD.tags
    assert item.uploaded_at == RECORD.uploaded_at
