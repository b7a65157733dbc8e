"""One user's partition of the records table: point reads, RowKey ranges, batches, and retries of lost races."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
# Count rows remembered per process: about 1 KB each in Python, so at most about 10 MB.
MAX_REMEMBERED = 10_000
# Point reads of one call run at once on these threads (each is a round trip; the connection pool holds 10).
_POINT_READS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="point-read")
_CONFLICTS = {"EntityAlreadyExists", "UpdateConditionNotSatisfied", "ResourceNotFound", "EntityNotFound"}


class Rows:
    """The records table as the catalog uses it: every call names the partition (the user's key)."""

    def __init__(self, table: TableClient) -> None:
        self.table = table
        self._remembered = RememberedCounts()

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

    def count_rows(self, user_key: str, keys: list[str]) -> dict[str, Any]:
        """The tag count rows with these RowKeys: as this process last wrote or read them, else by point reads made at
        once. (One filter naming several RowKeys would be a single call, but Table storage serves it by scanning the
        whole partition, its design guide says: a cost that would grow with every image the user has.)"""
        found = self._remembered.rows(user_key, keys)
        missing = [key for key in keys if key not in found]
        for key, entity in zip(missing, _POINT_READS.map(lambda key: self.entity(user_key, key), missing), strict=True):
            if entity is not None:
                found[key] = self._remembered.keep(user_key, key, entity, str(entity.metadata["etag"]))
        return found

    def submit(self, ops: list[Operation]) -> list[Any]:
        """One batch transaction, creating the table on first use; what each operation answered (its `etag`)."""
        user_key = str(ops[0][1]["PartitionKey"])
        try:
            answers = self._transact(ops)
        except TableTransactionError as exc:
            failed = getattr(exc, "index", None)
            key = str(ops[failed][1]["RowKey"]) if isinstance(failed, int) and 0 <= failed < len(ops) else ""
            stale = key.startswith(layout.COUNT) and bool(self._remembered.rows(user_key, [key]))
            self._remembered.forget(user_key)  # read them all afresh
            if stale:
                raise StaleCountError(f"the count row {key!r} changed in another process") from exc
            raise
        self._remembered.wrote(ops, answers)
        return answers

    def _transact(self, ops: list[Operation]) -> list[Any]:
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
        retried_at_once = False
        for n in range(ATTEMPTS):
            try:
                return attempt()
            except StaleCountError:
                if not retried_at_once:  # not a race at this moment: read afresh and go again at once, once
                    retried_at_once = True
                    continue
                time.sleep(random.uniform(0, min(1.0, 0.02 * 2**n)))
            except TableTransactionError as exc:
                code = getattr(exc, "error_code", None) or ""
                if code not in _CONFLICTS:
                    raise
                logger.info("Image %s: an index write lost a race (%s); reading again", image_id, code)
                time.sleep(random.uniform(0, min(1.0, 0.02 * 2**n)))
        raise RuntimeError(f"Image {image_id}: the index kept changing; {ATTEMPTS} attempts failed")


class StaleCountError(Exception):
    """A batch failed on a count row as this process remembered it: another process has changed it since."""


class RememberedRow(dict[str, Any]):
    """A count row as this process last saw it, with the ETag that guards a change to it."""

    def __init__(self, entity: dict[str, Any], etag: str) -> None:
        super().__init__(entity)
        self.metadata = {"etag": etag}


class RememberedCounts:
    """The tag count rows this process wrote or read last, with their ETags, so that a worker tagging one user's
    images reads no count it wrote itself. A row changed elsewhere fails its ETag in the batch: the batch is lost,
    the user's rows are forgotten, and the retry reads them afresh. At most MAX_REMEMBERED rows, the least recently
    used dropped first."""

    def __init__(self) -> None:
        self._rows: OrderedDict[tuple[str, str], RememberedRow] = OrderedDict()
        self._lock = threading.Lock()

    def rows(self, user_key: str, keys: list[str]) -> dict[str, RememberedRow]:
        with self._lock:
            found = {key: self._rows[user_key, key] for key in keys if (user_key, key) in self._rows}
            for key in found:
                self._rows.move_to_end((user_key, key))
            return found

    def keep(self, user_key: str, key: str, entity: dict[str, Any], etag: str) -> RememberedRow:
        row = RememberedRow(entity, etag)
        with self._lock:
            self._rows[user_key, key] = row
            self._rows.move_to_end((user_key, key))
            while len(self._rows) > MAX_REMEMBERED:
                self._rows.popitem(last=False)
        return row

    def wrote(self, ops: list[Operation], answers: list[Any]) -> None:
        """What a batch that succeeded did to count rows: their new values and ETags, or their deletion."""
        for (kind, entity, *_), answer in zip(ops, answers, strict=True):
            user_key, key = str(entity["PartitionKey"]), str(entity["RowKey"])
            if not key.startswith(layout.COUNT):
                continue
            if kind == "delete" or "etag" not in (answer or {}):
                with self._lock:
                    self._rows.pop((user_key, key), None)
            else:
                self.keep(user_key, key, entity, str(answer["etag"]))

    def forget(self, user_key: str) -> None:
        with self._lock:
            for remembered in [k for k in self._rows if k[0] == user_key]:
                del self._rows[remembered]


def if_unchanged(entity: Any, mode: UpdateMode | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"etag": entity.metadata["etag"], "match_condition": MatchConditions.IfNotModified}
    if mode is not None:
        options["mode"] = mode
    return options


def is_tombstone(manifest: Any) -> bool:
    return EntityReader(manifest).flag("deleted")


def count_of(row: Any) -> int:
    return EntityReader(row).integer("count") or 0
