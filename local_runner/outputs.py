"""Queue and Table output bindings, written after a function succeeds, as the host writes them."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode
from azure.storage.queue import QueueClient

from local_runner.connections import Connections
from local_runner.functions import Binding
from local_runner.host_values import OutputValueError, TableWrite, collector_items, table_writes, typed_data

logger = logging.getLogger(__name__)


class OutputBindingError(Exception):
    pass


def encode_message(content: str | bytes, encoding: str) -> str:
    """The queue message text for a body: base64 of its bytes, or the bytes as UTF-8 text (`none`)."""
    raw = content.encode("utf-8") if isinstance(content, str) else content
    if encoding == "base64":
        return base64.b64encode(raw).decode("ascii")
    return raw.decode("utf-8")


def send_message(client: QueueClient, text: str) -> None:
    """Send one message, creating the queue on first use as the queue binding does."""
    try:
        client.send_message(text)
    except ResourceNotFoundError:
        with suppress(ResourceExistsError):
            client.create_queue()
        client.send_message(text)


class OutputWriter:
    """Delivers each output value as the host does (`local_runner.host_values`): through the worker's TypedData, the
    host's collector items, then the Queues or Tables extension."""

    def __init__(self, connections: Connections, message_encoding: str, on_enqueue: Callable[[str], None]) -> None:
        self._connections = connections
        self._encoding = message_encoding
        self._on_enqueue = on_enqueue

    def write(self, binding: Binding, value: Any) -> None:
        if binding.type not in ("queue", "table"):
            raise OutputBindingError(f"Output binding type {binding.type!r} is not supported")
        try:
            items = collector_items(typed_data(binding.type, value))
            if binding.type == "queue":
                self._write_queue(binding, items)
            else:
                self._write_table(binding, table_writes(items))
        except OutputValueError as exc:
            raise OutputBindingError(f"{binding.type} output {binding.name!r}: {exc}") from exc

    def _write_queue(self, binding: Binding, messages: list[bytes]) -> None:
        queue = str(binding.get("queueName"))
        client = self._connections.queue(binding.get("connection"), queue)
        for message in messages:
            send_message(client, encode_message(message, self._encoding))
        if messages:
            self._on_enqueue(queue)

    def _write_table(self, binding: Binding, writes: list[TableWrite]) -> None:
        """As the extension's TableEntityWriter: one transaction per partition of up to 100 entities, flushed
        early when a key comes twice; no ETag inserts, `*` upserts, any other ETag replaces if unchanged.
        A transaction that fails fails the invocation (a duplicate insert: 409 EntityAlreadyExists)."""
        client = self._connections.table(binding.get("connection"), str(binding.get("tableName")))
        pending: dict[str, list[TableWrite]] = {}
        for write in writes:
            partition = pending.setdefault(write.key[0], [])
            if any(queued.key == write.key for queued in partition) or len(partition) == MAX_BATCH:
                _submit(client, partition)
                partition.clear()
            partition.append(write)
        for partition in pending.values():
            if partition:
                _submit(client, partition)


MAX_BATCH = 100


def _submit(client: TableClient, writes: list[TableWrite]) -> None:
    try:
        _write(client, writes)
    except (ResourceNotFoundError, TableTransactionError) as exc:
        if "TableNotFound" not in str(exc) and getattr(exc, "error_code", None) != "TableNotFound":
            raise
        with suppress(ResourceExistsError):
            client.create_table()
        _write(client, writes)


def _write(client: TableClient, writes: list[TableWrite]) -> None:
    operations = [_operation(write) for write in writes]
    if len(operations) > 1:
        client.submit_transaction(operations)
        return
    # One entity: the extension sends a one-operation transaction, which succeeds and fails exactly as the single
    # call does (a duplicate insert is 409 EntityAlreadyExists either way); the single call costs Azurite half.
    kind, entity, *options = operations[0]
    call = {"create": client.create_entity, "upsert": client.upsert_entity, "update": client.update_entity}[kind]
    call(entity, **(options[0] if options else {}))


def _operation(write: TableWrite) -> tuple[Any, ...]:
    if write.etag is None:
        return ("create", write.entity)
    if write.etag == "*":
        return ("upsert", write.entity, {"mode": UpdateMode.REPLACE})
    return (
        "update",
        write.entity,
        {"mode": UpdateMode.REPLACE, "etag": write.etag, "match_condition": MatchConditions.IfNotModified},
    )
