"""One user's partition of the records table: point reads, RowKey ranges, batches, and retries of lost races."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from tagging.storage import layout
from tagging.storage.entities import EntityReader

logger = logging.getLogger(__name__)

T = TypeVar("T")
Operation = tuple[Any, ...]

# How often a write that lost a race (a count or manifest changed under it) is tried again.
ATTEMPTS = 12
_CONFLICTS = {"EntityAlreadyExists", "UpdateConditionNotSatisfied", "ResourceNotFound", "EntityNotFound"}


class Rows:
    """The records table as the catalog uses it: every call names the partition (the user's key)."""

    def __init__(self, table: TableClient) -> None:
        self.table = table

    def entity(self, user_key: str, row_key: str) -> Any:
        try:
            return self.table.get_entity(partition_key=user_key, row_key=row_key)
        except ResourceNotFoundError:
            return None

    def range(
        self, user_key: str, prefix: str, after: str | None, *, select: list[str] | None = None, page_size: int = 1000
    ) -> Iterator[Any]:
        """The rows whose RowKey starts with `prefix`, from just after `after`, in RowKey order."""
        start, end = layout.prefix_range(prefix)
        # Parameter substitution only: user input never becomes filter text.
        if after is None:
            query = "PartitionKey eq @pk and RowKey ge @start and RowKey lt @end"
            parameters = {"pk": user_key, "start": start, "end": end}
        else:
            query = "PartitionKey eq @pk and RowKey gt @after and RowKey lt @end"
            parameters = {"pk": user_key, "after": after, "end": end}
        try:
            yield from self.table.query_entities(
                query, parameters=parameters, select=select, results_per_page=page_size
            )
        except ResourceNotFoundError:
            return  # no table yet: nothing indexed

    def with_keys(self, user_key: str, keys: list[str]) -> dict[str, Any]:
        """The rows with these RowKeys, in as few queries as the service allows."""
        found: dict[str, Any] = {}
        # Azure Tables allows 15 comparisons per filter: the partition and 14 row keys.
        for start in range(0, len(keys), 14):
            chunk = keys[start : start + 14]
            # The SDK substitutes `@name` tokens split on spaces: keep a space after each one.
            rows = " or ".join(f"RowKey eq @k{n}" for n in range(len(chunk)))
            parameters = {"pk": user_key, **{f"k{n}": key for n, key in enumerate(chunk)}}
            try:
                for entity in self.table.query_entities(f"PartitionKey eq @pk and ( {rows} )", parameters=parameters):
                    found[str(entity["RowKey"])] = entity
            except ResourceNotFoundError:
                return {}
        return found

    def submit(self, ops: list[Operation]) -> list[Any]:
        """One batch transaction, creating the table on first use; what each operation answered (its `etag`)."""
        try:
            return list(self.table.submit_transaction(ops))
        except (ResourceNotFoundError, TableTransactionError) as exc:
            if getattr(exc, "error_code", None) != "TableNotFound" and "TableNotFound" not in str(exc):
                raise
            with suppress(ResourceExistsError):
                self.table.create_table()
            return list(self.table.submit_transaction(ops))

    def create(self, entity: dict[str, Any]) -> str | None:
        """Insert one entity, creating the table on first use: its ETag, or None when its key exists already.
        (One call: a one-operation batch costs Azurite twice as much.)"""
        try:
            return str(self.table.create_entity(entity)["etag"])
        except ResourceExistsError:
            return None
        except ResourceNotFoundError:
            with suppress(ResourceExistsError):
                self.table.create_table()
            return self.create(entity)

    def replace_if_unchanged(self, entity: dict[str, Any], current: Any) -> str | None:
        """Replace one entity if it is still `current`: its new ETag, or None when it changed meanwhile."""
        try:
            answer = self.table.update_entity(entity, **if_unchanged(current, UpdateMode.REPLACE))
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return str(answer["etag"])

    def settle(self, image_id: str, attempt: Callable[[], T]) -> T:
        """Run `attempt` (read, then submit one batch guarded by what it read) until no concurrent change beats it;
        the loser of a race waits a jittered pause, so that the racers do not meet again, then reads afresh."""
        for n in range(ATTEMPTS):
            try:
                return attempt()
            except TableTransactionError as exc:
                code = getattr(exc, "error_code", None) or ""
                if code not in _CONFLICTS:
                    raise
                logger.info("Image %s: an index write lost a race (%s); reading again", image_id, code)
                time.sleep(random.uniform(0, min(1.0, 0.02 * 2**n)))
        raise RuntimeError(f"Image {image_id}: the index kept changing; {ATTEMPTS} attempts failed")


def if_unchanged(entity: Any, mode: UpdateMode | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"etag": entity.metadata["etag"], "match_condition": MatchConditions.IfNotModified}
    if mode is not None:
        options["mode"] = mode
    return options


def is_tombstone(manifest: Any) -> bool:
    return EntityReader(manifest).flag("deleted")


def count_of(row: Any) -> int:
    return EntityReader(row).integer("count") or 0
