"""Records and their index rows in one Table, one partition per user (the layout is in `tagging.index`).

An image's index rows and the tag counts they touch change in one batch transaction, guarded by ETags, so that a
redelivered job, two workers, a delete racing the worker or two tag edits at once never leave the index half
written or a count wrong: the loser of a race re-reads and tries again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from tagging import index
from tagging.errors import ImageNotFoundError, ImageNotReadyError
from tagging.index import Item, Page
from tagging.model import ImageRecord, Tag, compact_json
from tagging.ports import IndexResult
from tagging.storage.entities import EntityReader, binding_value, item_from_row, record_entity, record_from_entity

logger = logging.getLogger(__name__)

# How often a write that lost a race (a count or manifest changed under it) is tried again.
ATTEMPTS = 12
# A search for several tags reads the rarest tag's rows and keeps those carrying the others; it reads at most
# this many rows per request, then hands out a continuation token, so one request costs a bounded few queries.
SCAN_BUDGET = 1000
_SCAN_PAGE = 200
_CONFLICTS = {"EntityAlreadyExists", "UpdateConditionNotSatisfied", "ResourceNotFound", "EntityNotFound"}

Operation = tuple[Any, ...]


class TableCatalog:
    def __init__(self, service: TableServiceClient, table: str) -> None:
        self._table: TableClient = service.get_table_client(table)

    # -- records ---------------------------------------------------------------------------------------------

    def get(self, user_key: str, image_id: str) -> ImageRecord | None:
        entity = self._entity(user_key, image_id)
        return None if entity is None else record_from_entity(entity)

    def binding_value(self, record: ImageRecord) -> bytes:
        return binding_value(record)

    # -- index -----------------------------------------------------------------------------------------------

    def index(self, record: ImageRecord) -> IndexResult:
        for attempt in range(ATTEMPTS):
            manifest, rows, tags = _manifest(record)
            ops: list[Operation] = [("create", manifest)]
            ops += [("create", self._row(record, key)) for key in rows]
            ops += self._count_changes(record.user_key, record.image_id, dict.fromkeys(tags, +1))
            try:
                self._submit(ops)
                return "added"
            except TableTransactionError as exc:
                if getattr(exc, "index", None) == 0 and getattr(exc, "error_code", "") == "EntityAlreadyExists":
                    existing = self._entity(record.user_key, index.manifest_key(record.image_id))
                    return "deleted" if existing is not None and _is_tombstone(existing) else "exists"
                self._raise_unless_conflict(exc, attempt)
        raise RuntimeError(f"Image {record.image_id}: the index kept changing; {ATTEMPTS} attempts failed")

    def forget(self, record: ImageRecord) -> None:
        key, image_id = record.user_key, record.image_id
        for attempt in range(ATTEMPTS):
            manifest = self._entity(key, index.manifest_key(image_id))
            tombstone = {"PartitionKey": key, "RowKey": index.manifest_key(image_id), "deleted": True}
            ops: list[Operation]
            if manifest is None:
                ops = [("create", tombstone)]
            elif _is_tombstone(manifest):
                ops = []
            else:
                ops = [("update", tombstone, _if_unchanged(manifest, UpdateMode.REPLACE))]
                ops += self._unindex(key, image_id, manifest)
            try:
                if ops:
                    self._submit(ops)
                break
            except TableTransactionError as exc:
                self._raise_unless_conflict(exc, attempt)
        else:
            raise RuntimeError(f"Image {image_id}: the index kept changing; {ATTEMPTS} attempts failed")
        # The record becomes a tombstone rather than disappearing: the Table output binding only inserts, so a
        # worker finishing this image afterwards fails to write it and, retried, finds the image deleted.
        self._table.upsert_entity(record_entity(replace(record, status="deleted")), mode=UpdateMode.REPLACE)

    def revive(self, user_key: str, image_id: str) -> None:
        for row_key in (image_id, index.manifest_key(image_id)):
            entity = self._entity(user_key, row_key)
            if entity is not None and (_is_tombstone(entity) or EntityReader(entity).text("status") == "deleted"):
                with suppress(ResourceNotFoundError):  # revived by a concurrent upload: what we wanted
                    self._table.delete_entity(
                        user_key, row_key, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified
                    )

    def reset(self, record: ImageRecord) -> None:
        key, image_id = record.user_key, record.image_id
        for attempt in range(ATTEMPTS):
            entity = self._entity(key, image_id)
            if entity is None:
                return  # reset by a concurrent retry: what we wanted
            manifest = self._entity(key, index.manifest_key(image_id))
            if EntityReader(entity).text("status") == "deleted" or (manifest is not None and _is_tombstone(manifest)):
                raise ImageNotFoundError(f"You have no image {image_id}.")
            ops: list[Operation] = [("delete", entity, _if_unchanged(entity))]
            if manifest is not None:
                ops.append(("delete", manifest, _if_unchanged(manifest)))
                ops += self._unindex(key, image_id, manifest)
            try:
                self._submit(ops)
                return
            except TableTransactionError as exc:
                self._raise_unless_conflict(exc, attempt)
        raise RuntimeError(f"Image {image_id}: the index kept changing; {ATTEMPTS} attempts failed")

    def page(self, user_key: str, tags: Sequence[str], limit: int, after: str | None) -> Page:
        if not tags:
            return self._scan(user_key, index.ALL, [], limit, after)
        if len(tags) == 1:
            return self._scan(user_key, index.search_prefix(tags[0]), [], limit, after)
        if after is not None:  # carry on through the tag the first page chose
            chosen = next(tag for tag in tags if after.startswith(index.search_prefix(tag)))
            return self._scan(user_key, index.search_prefix(chosen), [t for t in tags if t != chosen], limit, after)
        counts = {name: self._total(user_key, name) for name in tags}
        if min(counts.values()) == 0:
            return Page([])
        rarest = min(tags, key=lambda name: counts[name])
        return self._scan(user_key, index.search_prefix(rarest), [t for t in tags if t != rarest], limit, after)

    def counts(self, user_key: str) -> list[tuple[str, int]]:
        totals: dict[str, int] = {}
        for row in self._range(user_key, index.COUNT, None, select=["name", "count"]):
            name = str(EntityReader(row).text("name"))
            totals[name] = totals.get(name, 0) + _count(row)
        return sorted(((name, n) for name, n in totals.items() if n > 0), key=lambda item: (-item[1], item[0]))

    def change_tags(
        self, user_key: str, image_id: str, *, add: Tag | None = None, remove: str | None = None
    ) -> ImageRecord:
        for attempt in range(ATTEMPTS):
            entity = self._entity(user_key, image_id)
            if entity is None:
                raise ImageNotReadyError("The image is still being tagged; change its tags once it is done.")
            record = record_from_entity(entity)
            if record.status == "deleted":
                raise ImageNotFoundError(f"You have no image {image_id}.")
            if record.status == "pending":
                raise ImageNotReadyError("The image is still being tagged; change its tags once it is done.")
            changed = index.retagged(record, add=add, remove=remove)
            if changed == record:
                return record
            manifest = self._entity(user_key, index.manifest_key(image_id))
            if manifest is None or _is_tombstone(manifest):
                raise ImageNotFoundError(f"You have no image {image_id}.")
            try:
                self._submit(self._retag_operations(entity, manifest, changed))
                return changed
            except TableTransactionError as exc:
                self._raise_unless_conflict(exc, attempt)
        raise RuntimeError(f"Image {image_id}: its tags kept changing; {ATTEMPTS} attempts failed")

    # -- helpers ---------------------------------------------------------------------------------------------

    def _retag_operations(self, entity: Any, manifest: Any, after: ImageRecord) -> list[Operation]:
        # The manifest says which rows and counts the image has now, whatever its record holds.
        listed = EntityReader(manifest)
        old_rows, old = listed.json_list("rows"), listed.json_list("tags")
        new_manifest, rows, new = _manifest(after)
        ops: list[Operation] = [
            ("update", record_entity(after), _if_unchanged(entity, UpdateMode.REPLACE)),
            ("update", new_manifest, _if_unchanged(manifest, UpdateMode.REPLACE)),
        ]
        # Every row carries the image's tags for display, so all of them are rewritten; dropped tags go.
        ops += [("upsert", self._row(after, key), {"mode": UpdateMode.REPLACE}) for key in rows]
        ops += [("delete", {"PartitionKey": after.user_key, "RowKey": row}) for row in old_rows if row not in rows]
        delta = {name: -1 for name in old if name not in new} | {name: +1 for name in new if name not in old}
        return ops + self._count_changes(after.user_key, after.image_id, delta)

    def _unindex(self, user_key: str, image_id: str, manifest: Any) -> list[Operation]:
        """Deleting the index rows a manifest lists, and taking the image out of its tags' counts."""
        listed = EntityReader(manifest)
        rows = listed.json_list("rows")
        ops: list[Operation] = [("delete", {"PartitionKey": user_key, "RowKey": row}) for row in rows]
        return ops + self._count_changes(user_key, image_id, dict.fromkeys(listed.json_list("tags"), -1))

    def _row(self, record: ImageRecord, row_key: str) -> dict[str, Any]:
        row = {"PartitionKey": record.user_key, "RowKey": row_key, **index.summary(record)}
        return {name: value for name, value in row.items() if value is not None}

    def _count_changes(self, user_key: str, image_id: str, delta: dict[str, int]) -> list[Operation]:
        ops: list[Operation] = []
        shard = index.count_shard(image_id)
        counts = self._count_rows(user_key, [index.count_key(name, shard) for name, change in delta.items() if change])
        for name, change in delta.items():
            if change == 0:
                continue
            key = index.count_key(name, shard)
            current = counts.get(key)
            if current is None:
                if change > 0:
                    ops.append(("create", {"PartitionKey": user_key, "RowKey": key, "name": name, "count": change}))
                continue
            total = _count(current) + change
            if total <= 0:
                ops.append(("delete", {"PartitionKey": user_key, "RowKey": key}, _if_unchanged(current)))
            else:
                row = {"PartitionKey": user_key, "RowKey": key, "name": name, "count": total}
                ops.append(("update", row, _if_unchanged(current, UpdateMode.REPLACE)))
        return ops

    def _total(self, user_key: str, name: str) -> int:
        rows = self._range(user_key, index.count_prefix(name), None, select=["count"])
        return sum(_count(row) for row in rows)

    def _count_rows(self, user_key: str, keys: list[str]) -> dict[str, Any]:
        """The count rows with these RowKeys, in as few queries as the service allows."""
        found: dict[str, Any] = {}
        # Azure Tables allows 15 comparisons per filter: the partition and 14 row keys.
        for start in range(0, len(keys), 14):
            chunk = keys[start : start + 14]
            # The SDK substitutes `@name` tokens split on spaces: keep a space after each one.
            rows = " or ".join(f"RowKey eq @k{n}" for n in range(len(chunk)))
            parameters = {"pk": user_key, **{f"k{n}": key for n, key in enumerate(chunk)}}
            try:
                for entity in self._table.query_entities(f"PartitionKey eq @pk and ( {rows} )", parameters=parameters):
                    found[str(entity["RowKey"])] = entity
            except ResourceNotFoundError:
                return {}
        return found

    def _scan(self, user_key: str, prefix: str, others: list[str], limit: int, after: str | None) -> Page:
        items: list[Item] = []
        last: str | None = None
        page_size = limit + 1 if not others else _SCAN_PAGE
        for scanned, row in enumerate(self._range(user_key, prefix, after, page_size=page_size), start=1):
            if len(items) == limit:
                return Page(items, after=last)  # a row beyond the page exists: more remain
            last = str(row["RowKey"])
            item = item_from_row(row)
            names = {tag.name for tag in item.tags}
            if all(name in names for name in others):
                items.append(item)
            if others and scanned >= SCAN_BUDGET and len(items) < limit:
                return Page(items, after=last)
        return Page(items)

    def _range(
        self,
        user_key: str,
        prefix: str,
        after: str | None,
        *,
        select: list[str] | None = None,
        page_size: int = 1000,
    ) -> Iterator[Any]:
        start, end = index.prefix_range(prefix)
        # Parameter substitution only: user input never becomes filter text.
        if after is None:
            query = "PartitionKey eq @pk and RowKey ge @start and RowKey lt @end"
            parameters = {"pk": user_key, "start": start, "end": end}
        else:
            query = "PartitionKey eq @pk and RowKey gt @after and RowKey lt @end"
            parameters = {"pk": user_key, "after": after, "end": end}
        try:
            yield from self._table.query_entities(
                query, parameters=parameters, select=select, results_per_page=page_size
            )
        except ResourceNotFoundError:
            return  # no table yet: nothing indexed

    def _entity(self, user_key: str, row_key: str) -> Any:
        try:
            return self._table.get_entity(partition_key=user_key, row_key=row_key)
        except ResourceNotFoundError:
            return None

    def _submit(self, ops: list[Operation]) -> None:
        try:
            self._table.submit_transaction(ops)
        except (ResourceNotFoundError, TableTransactionError) as exc:
            if getattr(exc, "error_code", None) != "TableNotFound" and "TableNotFound" not in str(exc):
                raise
            with suppress(ResourceExistsError):
                self._table.create_table()
            self._table.submit_transaction(ops)

    @staticmethod
    def _raise_unless_conflict(exc: TableTransactionError, attempt: int) -> None:
        """Let a lost race go (after a jittered pause, so that the racers do not meet again); raise the rest."""
        code = getattr(exc, "error_code", None) or ""
        if code not in _CONFLICTS:
            raise exc
        logger.info("Index write lost a race (%s); reading again", code)
        time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))


def _manifest(record: ImageRecord) -> tuple[dict[str, Any], list[str], list[str]]:
    """The manifest row of an indexed image, with the RowKeys of its index rows and its indexed tags."""
    tags = [tag.name for tag in record.tags][: index.MAX_TAGS_PER_IMAGE]
    rows = [index.listing_key(record), *(index.tag_row_key(name, record) for name in tags)]
    entity = {
        "PartitionKey": record.user_key,
        "RowKey": index.manifest_key(record.image_id),
        "rows": compact_json(rows),
        "tags": compact_json(tags),
    }
    return entity, rows, tags


def _is_tombstone(manifest: Any) -> bool:
    return EntityReader(manifest).flag("deleted")


def _count(row: Any) -> int:
    return EntityReader(row).integer("count") or 0


def _if_unchanged(entity: Any, mode: UpdateMode | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"etag": entity.metadata["etag"], "match_condition": MatchConditions.IfNotModified}
    if mode is not None:
        options["mode"] = mode
    return options
