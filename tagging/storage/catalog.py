"""Records and their index rows in one Table, one partition per user (the layout is in `layout`).

An image's index rows and the tag counts they touch change in one batch transaction, guarded by ETags, so that a
redelivered job, two workers, a delete racing the worker or two tag edits at once never leave the index half
written or a count wrong: the loser of a race reads again and tries again (`Rows.settle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from tagging import similarity
from tagging import tags as tag_rules
from tagging.errors import ImageNotFoundError, ImageNotReadyError
from tagging.model import ImageRecord, Tag, compact_json
from tagging.ports import Claim, IndexResult, Match, Page
from tagging.storage import layout, search
from tagging.storage.entities import EntityReader, binding_value, record_entity, record_from_entity
from tagging.storage.partition import ATTEMPTS, Operation, Rows, count_of, if_unchanged, is_tombstone


class TableCatalog:
    def __init__(self, service: TableServiceClient, table: str) -> None:
        self._rows = Rows(service.get_table_client(table))

    # -- records ---------------------------------------------------------------------------------------------

    def get(self, user_key: str, image_id: str) -> ImageRecord | None:
        entity = self._rows.entity(user_key, image_id)
        return None if entity is None else record_from_entity(entity)

    def binding_value(self, record: ImageRecord) -> bytes:
        return binding_value(record)

    # -- the index -------------------------------------------------------------------------------------------

    def claim(self, user_key: str, image_id: str, claimant: str, *, now: str, until: str) -> Claim:
        # The claim is the image's manifest row before it lists any rows: `index` turns it into the manifest, and a
        # delete into a tombstone, each guarded by its ETag, so no extra row ever needs cleaning up.
        key = layout.manifest_key(image_id)
        claimed = {"PartitionKey": user_key, "RowKey": key, "claimant": claimant, "claimed_until": until}

        for _ in range(ATTEMPTS):
            etag = self._rows.create(claimed)  # the common case, in one call: nobody claimed or indexed it yet
            if etag is not None:
                return Claim("claimed", etag)
            manifest = self._rows.entity(user_key, key)
            if manifest is None:
                continue  # removed meanwhile (a revival): claim afresh
            if is_tombstone(manifest):
                return Claim("deleted")
            held = EntityReader(manifest)
            if held.text("rows") is not None:
                return Claim("indexed")
            if held.text("claimant") != claimant and (held.timestamp("claimed_until") or "") > now:
                return Claim("held")
            etag = self._rows.replace_if_unchanged(claimed, manifest)
            if etag is not None:
                return Claim("claimed", etag)
        raise RuntimeError(f"Image {image_id}: its claim kept changing; {ATTEMPTS} attempts failed")

    def index(self, record: ImageRecord, claim: Claim | None = None) -> IndexResult:
        token = claim.token if claim is not None and claim.state == "claimed" else None

        def attempt() -> IndexResult:
            nonlocal token
            manifest, rows, tags = _manifest(record)
            first: Operation = ("create", manifest)
            if token is not None:  # the claim becomes the manifest, if it is still the one this worker holds
                options = {"mode": UpdateMode.REPLACE, "etag": token, "match_condition": MatchConditions.IfNotModified}
                first = ("update", manifest, options)
            ops: list[Operation] = [first, *(("create", _row(record, key)) for key in rows)]
            ops += self._count_changes(record.user_key, record.image_id, dict.fromkeys(tags, +1))
            try:
                self._rows.submit(ops)
            except TableTransactionError as exc:
                if getattr(exc, "index", None) != 0:
                    raise
                existing = self._rows.entity(record.user_key, layout.manifest_key(record.image_id))
                if existing is not None and is_tombstone(existing):
                    return "deleted"
                if existing is not None and EntityReader(existing).text("rows") is not None:
                    return "exists"
                if claim is not None and existing is not None:
                    return "exists"  # another claimant took over this worker's expired claim: it will index
                # No claim of ours: a claim left by a worker that never finished, taken over now; or none at all.
                token = None if existing is None else str(existing.metadata["etag"])
                raise
            return "added"

        return self._rows.settle(record.image_id, attempt)

    def forget(self, record: ImageRecord) -> None:
        key, image_id = record.user_key, record.image_id

        def attempt() -> None:
            manifest = self._rows.entity(key, layout.manifest_key(image_id))
            tombstone = {"PartitionKey": key, "RowKey": layout.manifest_key(image_id), "deleted": True}
            if manifest is None:
                self._rows.submit([("create", tombstone)])
            elif not is_tombstone(manifest):
                ops = [("update", tombstone, if_unchanged(manifest, UpdateMode.REPLACE))]
                self._rows.submit(ops + self._unindex(key, image_id, manifest))

        self._rows.settle(image_id, attempt)
        # The record becomes a tombstone rather than disappearing: the Table output binding only inserts, so a
        # worker finishing this image afterwards fails to write it and, retried, finds the image deleted.
        self._rows.table.upsert_entity(record_entity(replace(record, status="deleted")), mode=UpdateMode.REPLACE)

    def revive(self, user_key: str, image_id: str) -> None:
        for row_key in (image_id, layout.manifest_key(image_id)):
            entity = self._rows.entity(user_key, row_key)
            if entity is not None and (is_tombstone(entity) or EntityReader(entity).text("status") == "deleted"):
                with suppress(ResourceNotFoundError):  # revived by a concurrent upload: what we wanted
                    self._rows.table.delete_entity(
                        user_key, row_key, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified
                    )

    def reset(self, record: ImageRecord) -> None:
        key, image_id = record.user_key, record.image_id

        def attempt() -> None:
            entity = self._rows.entity(key, image_id)
            if entity is None:
                return  # reset by a concurrent retry: what we wanted
            manifest = self._rows.entity(key, layout.manifest_key(image_id))
            if EntityReader(entity).text("status") == "deleted" or (manifest is not None and is_tombstone(manifest)):
                raise ImageNotFoundError.of(image_id)
            ops: list[Operation] = [("delete", entity, if_unchanged(entity))]
            if manifest is not None:
                ops.append(("delete", manifest, if_unchanged(manifest)))
                ops += self._unindex(key, image_id, manifest)
            self._rows.submit(ops)

        self._rows.settle(image_id, attempt)

    def change_tags(
        self, user_key: str, image_id: str, *, add: Tag | None = None, remove: str | None = None
    ) -> ImageRecord:
        def attempt() -> ImageRecord:
            entity = self._rows.entity(user_key, image_id)
            record = None if entity is None else record_from_entity(entity)
            if record is None or record.status == "pending":
                raise ImageNotReadyError.still_tagging()
            if record.status == "deleted":
                raise ImageNotFoundError.of(image_id)
            changed = tag_rules.retagged(record, add=add, remove=remove)
            if changed == record:
                return record
            manifest = self._rows.entity(user_key, layout.manifest_key(image_id))
            if manifest is None or is_tombstone(manifest):
                raise ImageNotFoundError.of(image_id)
            self._rows.submit(self._retag_operations(entity, manifest, changed))
            return changed

        return self._rows.settle(image_id, attempt)

    # -- reads of the index ----------------------------------------------------------------------------------

    def page(self, user_key: str, tags: Sequence[str], limit: int, continuation: str | None) -> Page:
        return search.page(self._rows, user_key, tags, limit, continuation)

    def counts(self, user_key: str) -> list[tuple[str, int]]:
        return search.counts(self._rows, user_key)

    def similar(self, user_key: str, phash: str, max_distance: int) -> list[Match]:
        return search.similar(self._rows, user_key, phash, max_distance)

    # -- batches ---------------------------------------------------------------------------------------------

    def _retag_operations(self, entity: Any, manifest: Any, after: ImageRecord) -> list[Operation]:
        # The manifest says which rows and counts the image has now, whatever its record holds.
        listed = EntityReader(manifest)
        old_rows, old = listed.json_list("rows"), listed.json_list("tags")
        new_manifest, rows, new = _manifest(after)
        ops: list[Operation] = [
            ("update", record_entity(after), if_unchanged(entity, UpdateMode.REPLACE)),
            ("update", new_manifest, if_unchanged(manifest, UpdateMode.REPLACE)),
        ]
        # Every row but the band rows carries the image's tags for display, so those are rewritten; dropped tags go.
        ops += [
            ("upsert", _row(after, key), {"mode": UpdateMode.REPLACE})
            for key in rows
            if not (key.startswith(layout.SIMILAR) and key in old_rows)
        ]
        ops += [("delete", {"PartitionKey": after.user_key, "RowKey": row}) for row in old_rows if row not in rows]
        delta = {name: -1 for name in old if name not in new} | {name: +1 for name in new if name not in old}
        return ops + self._count_changes(after.user_key, after.image_id, delta)

    def _unindex(self, user_key: str, image_id: str, manifest: Any) -> list[Operation]:
        """Deleting the index rows a manifest lists, and taking the image out of its tags' counts."""
        listed = EntityReader(manifest)
        ops: list[Operation] = [
            ("delete", {"PartitionKey": user_key, "RowKey": row}) for row in listed.json_list("rows")
        ]
        return ops + self._count_changes(user_key, image_id, dict.fromkeys(listed.json_list("tags"), -1))

    def _count_changes(self, user_key: str, image_id: str, delta: dict[str, int]) -> list[Operation]:
        ops: list[Operation] = []
        shard = layout.count_shard(image_id)
        current = self._rows.count_rows(user_key, [layout.count_key(name, shard) for name, n in delta.items() if n])
        for name, change in delta.items():
            if change == 0:
                continue
            key = layout.count_key(name, shard)
            row = current.get(key)
            if row is None:
                if change > 0:
                    ops.append(("create", {"PartitionKey": user_key, "RowKey": key, "name": name, "count": change}))
                continue
            total = count_of(row) + change
            if total <= 0:
                ops.append(("delete", {"PartitionKey": user_key, "RowKey": key}, if_unchanged(row)))
            else:
                counted = {"PartitionKey": user_key, "RowKey": key, "name": name, "count": total}
                ops.append(("update", counted, if_unchanged(row, UpdateMode.REPLACE)))
        return ops


def _row(record: ImageRecord, row_key: str) -> dict[str, Any]:
    summary = layout.similar_summary(record) if row_key.startswith(layout.SIMILAR) else layout.summary(record)
    row = {"PartitionKey": record.user_key, "RowKey": row_key, **summary}
    return {name: value for name, value in row.items() if value is not None}


def _manifest(record: ImageRecord) -> tuple[dict[str, Any], list[str], list[str]]:
    """The manifest row of an indexed image, with the RowKeys of its index rows and its indexed tags."""
    tags = [tag.name for tag in record.tags][: tag_rules.MAX_TAGS_PER_IMAGE]
    rows = [layout.listing_key(record), *(layout.tag_row_key(name, record) for name in tags)]
    if record.status == "done" and record.phash is not None:
        rows += [layout.similar_key(band, record) for band in similarity.bands(record.phash)]
    entity = {
        "PartitionKey": record.user_key,
        "RowKey": layout.manifest_key(record.image_id),
        "rows": compact_json(rows),
        "tags": compact_json(tags),
    }
    return entity, rows, tags
