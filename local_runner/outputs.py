"""Queue and Table output bindings, written after a function succeeds, as the host writes them."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient
from azure.functions.queue import QueueMessageOutConverter
from azure.storage.queue import QueueClient

from local_runner.functions import Binding
from tagging.storage import StorageAccount

logger = logging.getLogger(__name__)

DEFAULT_CONNECTION = "AzureWebJobsStorage"


class OutputBindingError(Exception):
    pass


class Storage:
    """Storage accounts by connection name (empty means AzureWebJobsStorage), built on first use."""

    def __init__(self) -> None:
        self._accounts: dict[str, StorageAccount] = {}

    def account(self, connection: str | None) -> StorageAccount:
        name = connection or DEFAULT_CONNECTION
        if name not in self._accounts:
            self._accounts[name] = StorageAccount(name)
        return self._accounts[name]

    def queue(self, connection: str | None, queue: str) -> QueueClient:
        # No encode/decode policy: the host's base64 is applied by hand, so poison copies stay byte-exact.
        return self.account(connection).queues.get_queue_client(queue)

    def table(self, connection: str | None, table: str) -> TableClient:
        return self.account(connection).tables.get_table_client(table)


def encode_message(content: str | bytes, encoding: str) -> str:
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
    def __init__(self, storage: Storage, message_encoding: str, on_enqueue: Callable[[str], None]) -> None:
        self._storage = storage
        self._encoding = message_encoding
        self._on_enqueue = on_enqueue

    def write(self, binding: Binding, value: Any) -> None:
        if binding.type == "queue":
            self._write_queue(binding, value)
        elif binding.type == "table":
            self._write_table(binding, value)
        else:
            raise OutputBindingError(f"Output binding type {binding.type!r} is not supported")

    def _write_queue(self, binding: Binding, value: Any) -> None:
        queue = str(binding.get("queueName"))
        # The worker's own converter: str/bytes are one message, an iterable several (a dict gives its keys,
        # exactly as in Azure, which is why callers must json.dumps a dict first).
        datum = QueueMessageOutConverter.encode(value, expected_type=None)
        if datum.type == "json":
            items = json.loads(datum.value)
            messages: list[str | bytes] = [item["body"] if isinstance(item, dict) else item for item in items]
            if isinstance(value, dict):
                logger.warning("Queue output %r got a dict: sending its keys, as Azure does; json.dumps it", queue)
        else:
            messages = [datum.value]
        client = self._storage.queue(binding.get("connection"), queue)
        for message in messages:
            send_message(client, encode_message(message, self._encoding))
        if messages:
            self._on_enqueue(queue)

    def _write_table(self, binding: Binding, value: Any) -> None:
        table = str(binding.get("tableName"))
        try:
            parsed = json.loads(value) if isinstance(value, (str, bytes)) else value
        except ValueError as exc:
            raise OutputBindingError(f"Table output {table!r} needs a JSON object or array: {exc}") from exc
        entities = parsed if isinstance(parsed, list) else [parsed]
        for entity in entities:
            if not isinstance(entity, dict) or "PartitionKey" not in entity or "RowKey" not in entity:
                raise OutputBindingError(f"Table output {table!r}: every entity needs PartitionKey and RowKey")
        client = self._storage.table(binding.get("connection"), table)
        for entity in entities:
            # Insert only, as documented for the binding: an existing key fails the invocation.
            try:
                client.create_entity(entity)
            except ResourceNotFoundError:
                with suppress(ResourceExistsError):
                    client.create_table()
                client.create_entity(entity)
