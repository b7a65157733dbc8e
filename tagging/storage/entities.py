"""Image records as Table entities: the one place that writes a record for the Table output binding and the SDK,
and that reads any stored entity back, whoever wrote it.

An entity can come back in more shapes than this app writes. The Tables extension stores every JSON integer as
Edm.Int64, which azure-data-tables returns as `EntityProperty(value, EdmType.INT64)` rather than an `int`
(Azure/azure-sdk-for-net, `Microsoft.Azure.WebJobs.Extensions.Tables/src/TablesExtensionConfigProvider.cs`,
`CreateTableEntityFromJObject`); Storage Explorer and other tools may type a value as Edm.DateTime, Edm.Double or
a string; older or newer versions of this app may add or leave out properties. Every read goes through
`EntityReader`, which accepts each of those shapes. A value that still cannot be read is never a 500: the record
is shown as failed, with the reason, so that its owner can retry (which tags it afresh) or delete it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from azure.data.tables import EntityProperty

from tagging.model import (
    STATUSES,
    ImageRecord,
    Item,
    PhotoMetadata,
    Status,
    Tag,
    compact_json,
    format_timestamp,
    parse_timestamp,
)

logger = logging.getLogger(__name__)

_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
# What an entity with no readable upload time is dated: listed last, never a crash.
EPOCH = "1970-01-01T00:00:00.000Z"


def plain(value: Any) -> Any:
    """A stored property value as a plain Python value: typed wrappers unwrapped, times as ISO text."""
    if isinstance(value, EntityProperty):
        value = value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


class EntityReader:
    """Typed reads of one entity's properties, tolerant of how each was stored. A value that cannot be read gives
    the default and is noted in `problems`, naming the property and what it held."""

    def __init__(self, entity: Mapping[str, Any]) -> None:
        self._entity = entity
        self.problems: list[str] = []

    def raw(self, name: str) -> Any:
        return plain(self._entity.get(name))

    def text(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a tool that typed an all-digit text as a number
        self._unreadable(name, value, "text")
        return None

    def integer(self, name: str) -> int | None:
        value = self.raw(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isascii() and value.strip().lstrip("-").isdigit():
            return int(value)
        self._unreadable(name, value, "a whole number")
        return None

    def number(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return number
        self._unreadable(name, value, "a number")
        return None

    def flag(self, name: str) -> bool:
        value = self.raw(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        self._unreadable(name, value, "true or false")
        return False

    def timestamp(self, name: str) -> str | None:
        """A UTC time in the form this app writes (`format_timestamp`), from any ISO 8601 text or Edm.DateTime."""
        value = self._entity.get(name)
        if isinstance(value, EntityProperty):
            value = value.value
        if value is None:
            return None
        if isinstance(value, str) and _CANONICAL_TIME.fullmatch(value):
            return value  # as this app wrote it: the common case, read without parsing
        moment = value if isinstance(value, datetime) else parse_timestamp(value) if isinstance(value, str) else None
        if moment is None:
            self._unreadable(name, value, "a time")
            return None
        return format_timestamp(moment)

    def json_list(self, name: str) -> list[Any]:
        value = self.raw(name)
        if value is None or value == "":
            return []
        try:
            parsed = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
        self._unreadable(name, value, "a JSON list")
        return []

    def tags(self, name: str) -> tuple[Tag, ...]:
        """Tags as a record stores them (`{"name", "confidence", "source"}`) or as a row does (`[name, c, source]`)."""
        tags = []
        for item in self.json_list(name):
            try:
                fields = (item["name"], item["confidence"], item["source"]) if isinstance(item, dict) else item
                label, confidence, source = fields
                tags.append(Tag(str(label), float(confidence), str(source)))
            except (KeyError, TypeError, ValueError):
                self.problems.append(f"{name!r} has an item that is not a tag: {str(item)[:40]!r}")
        return tuple(tags)

    def _unreadable(self, name: str, value: Any, wanted: str) -> None:
        shown = repr(value)
        self.problems.append(f"{name!r} holds {shown[:40] + '...' if len(shown) > 40 else shown}, not {wanted}")


def record_entity(record: ImageRecord) -> dict[str, Any]:
    """The record as one entity (PartitionKey = user key, RowKey = image id), for the SDK and the output binding."""
    entity: dict[str, Any] = {
        "PartitionKey": record.user_key,
        "RowKey": record.image_id,
        "status": record.status,
        "sha256": record.sha256,
        "bytes": record.size,
        "content_type": record.content_type,
        "uploaded_at": record.uploaded_at,
        "filename": record.filename,
        "format": record.format,
        "width": record.width,
        "height": record.height,
        "tags": compact_json([asdict(tag) for tag in record.tags]),
        "tagged_at": record.tagged_at,
        "error": record.error,
        "frames": record.frames,
        "mode": record.mode,
        **asdict(record.metadata),
        "phash": record.phash,
        "thumbnail": record.thumbnail or None,
        "removed_tags": compact_json(list(record.removed_tags)) if record.removed_tags else None,
        "deleted_at": record.deleted_at,
        "deleted_etag": record.deleted_etag,
    }
    # Table storage has no null: an absent property is how an entity says "unknown".
    return {name: value for name, value in entity.items() if value is not None}


def binding_value(record: ImageRecord) -> bytes:
    """What the worker sets on its Table output binding: the entity as UTF-8 JSON **bytes**.

    Bytes reach the Tables extension untouched. A `str` that looks like JSON is first parsed by the host with
    Newtonsoft's default settings, which rewrite date-like strings (`...00.000Z` becomes `...00Z`, an offset is
    moved to the server's zone), and split into one entity per item if it is an array (Azure/azure-functions-host,
    `src/WebJobs.Script/Binding/FunctionBinding.cs`, `ReadAsEnumerable`). docs/host-fidelity.md has the details.
    """
    return compact_json(record_entity(record)).encode("utf-8")


def record_from_entity(entity: Mapping[str, Any]) -> ImageRecord:
    """The record in an entity, whatever wrote it; one that cannot be read whole is shown as failed, with why."""
    read = EntityReader(entity)
    image_id = str(plain(entity["RowKey"]))
    status = read.text("status")
    if status not in STATUSES:
        read.problems.append(f"'status' holds {status!r}, not one of {', '.join(STATUSES)}")
    record = ImageRecord(
        user_key=str(plain(entity["PartitionKey"])),
        image_id=image_id,
        status=status if status in STATUSES else "failed",
        sha256=read.text("sha256") or "",
        size=read.integer("bytes") or 0,
        content_type=read.text("content_type") or "application/octet-stream",
        uploaded_at=read.timestamp("uploaded_at") or _written_at(entity),
        filename=read.text("filename"),
        format=read.text("format"),
        width=read.integer("width"),
        height=read.integer("height"),
        tags=read.tags("tags"),
        tagged_at=read.timestamp("tagged_at"),
        error=read.text("error"),
        frames=read.integer("frames"),
        mode=read.text("mode"),
        metadata=PhotoMetadata(
            camera_make=read.text("camera_make"),
            camera_model=read.text("camera_model"),
            lens=read.text("lens"),
            taken_at=_local_time(read, "taken_at"),
            latitude=read.number("latitude"),
            longitude=read.number("longitude"),
        ),
        phash=_hash(read.text("phash")),
        thumbnail=read.flag("thumbnail"),
        removed_tags=tuple(name for name in read.json_list("removed_tags") if isinstance(name, str) and name),
        deleted_at=read.timestamp("deleted_at"),
        deleted_etag=read.text("deleted_etag"),
    )
    if not read.problems:
        return record
    why = "; ".join(read.problems)
    logger.warning("Image %s: its stored record cannot be read whole (%s)", image_id, why)
    failed: Status = "deleted" if record.status == "deleted" else "failed"  # a tombstone stays one
    return replace(
        record,
        status=failed,
        error=f"Its stored record cannot be read whole ({why}). Retry the image to tag it afresh, or delete it.",
    )


def item_from_row(row: Mapping[str, Any]) -> Item:
    """A listing or search row (`layout.summary`) as the item a page shows."""
    read = EntityReader(row)
    status = read.text("status")
    item = Item(
        image_id=str(read.text("image_id")),
        status=status if status in STATUSES else "failed",
        tags=read.tags("tags"),
        width=read.integer("width"),
        height=read.integer("height"),
        uploaded_at=read.timestamp("uploaded_at") or _written_at(row),
        thumbnail=read.flag("thumbnail"),
        filename=read.text("filename"),
        phash=_hash(read.text("phash")),
    )
    if read.problems:
        logger.warning("Row %s cannot be read whole: %s", plain(row.get("RowKey")), "; ".join(read.problems))
    return item


_HASH = re.compile(r"[0-9a-f]{16}")


def _hash(text: str | None) -> str | None:
    """A perceptual hash as the analysis writes it; anything else (another tool's value) counts as none."""
    return text if text is not None and _HASH.fullmatch(text) else None


def _local_time(read: EntityReader, name: str) -> str | None:
    """A camera's local time, kept as written (it may carry the camera's offset, or none); an Edm.DateTime from
    another tool comes back as ISO text."""
    value = read.raw(name)
    if value is None or isinstance(value, str):
        return value
    return read.text(name)


def _written_at(entity: Mapping[str, Any]) -> str:
    metadata = getattr(entity, "metadata", None) or {}
    written = metadata.get("timestamp")
    return format_timestamp(written) if isinstance(written, datetime) else EPOCH
