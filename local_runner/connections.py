"""The storage clients the runner's bindings and listeners use, by connection name, as the host resolves one.

A binding's `connection` names an app setting; an empty one means AzureWebJobsStorage. The runner is for
Azurite, so it takes a connection string there (`UseDevelopmentStorage=true` or the explicit form); the
identity-based settings the app uses in Azure (`<name>__queueServiceUri`, ...) are refused with what to set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from azure.data.tables import TableClient, TableServiceClient
from azure.storage.queue import ExponentialRetry, QueueClient, QueueServiceClient

DEFAULT_CONNECTION = "AzureWebJobsStorage"
# Storage that does not answer is reported within seconds: the queue listener has its own patient reconnect.
_TIMEOUT = 5


class Connections:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env

    def queue(self, connection: str | None, queue: str) -> QueueClient:
        # No encode/decode policy: the host's base64 is applied by hand, so poison copies stay byte-exact.
        return self._queues(self.connection_string(connection)).get_queue_client(queue)

    def table(self, connection: str | None, table: str) -> TableClient:
        return self._tables(self.connection_string(connection)).get_table_client(table)

    def connection_string(self, connection: str | None) -> str:
        name = connection or DEFAULT_CONNECTION
        value = self._env.get(name, "").strip()
        if not value:
            raise ValueError(
                f"Connection {name!r} is not set: the local runner needs a connection string in {name} "
                "(UseDevelopmentStorage=true for Azurite, as local.settings.json.example sets it)."
            )
        return value

    @staticmethod
    @cache
    def _queues(connection_string: str) -> QueueServiceClient:
        retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2, random_jitter_range=1)
        return QueueServiceClient.from_connection_string(
            connection_string, retry_policy=retry, connection_timeout=_TIMEOUT
        )

    @staticmethod
    @cache
    def _tables(connection_string: str) -> TableServiceClient:
        return TableServiceClient.from_connection_string(
            connection_string, retry_total=3, retry_backoff_factor=0.4, retry_backoff_max=2, connection_timeout=_TIMEOUT
        )
