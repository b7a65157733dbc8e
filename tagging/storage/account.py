"""The one named storage connection and the blob and table clients the code builds on it (its queues are the
bindings', which the host serves from the same connection).

A named connection (`ImageStorage`) is, as for the Functions host, either a connection string in the setting
of that name, or identity-based settings `<name>__blobServiceUri` / `__queueServiceUri` / `__tableServiceUri`
(or `<name>__accountName`) with `<name>__credential=managedidentity` and `<name>__clientId`.
Clients are built on first use, never at import time, since the host imports the app just to index it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient, ExponentialRetry

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

_SERVICES = ("blob", "queue", "table")

# Retries ride out a blip of a second or two; beyond that an HTTP caller is better served by a quick 503 (and
# the worker by the host's own retries) than by the SDKs' defaults, which wait up to a minute or more.
CONNECTION_TIMEOUT = 5


def _retries() -> ExponentialRetry:
    return ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2, random_jitter_range=1)


class StorageAccount:
    """The blob and table clients behind one named connection, each built when first asked for."""

    def __init__(self, connection: str, env: Mapping[str, str] | None = None) -> None:
        self.connection = connection
        self._env = dict(os.environ if env is None else env)
        self._connection_string = self._env.get(connection, "").strip()
        if not self._connection_string and not any(self._service_uri(s) for s in _SERVICES):
            raise ValueError(
                f"Storage connection {connection!r} is not configured: set {connection} to a connection string "
                f"(locally UseDevelopmentStorage=true), or {connection}__accountName (or __blobServiceUri, "
                f"__queueServiceUri and __tableServiceUri) for an identity-based connection."
            )

    @cached_property
    def blobs(self) -> BlobServiceClient:
        if self._connection_string:
            return BlobServiceClient.from_connection_string(
                self._connection_string, retry_policy=_retries(), connection_timeout=CONNECTION_TIMEOUT
            )
        return BlobServiceClient(
            self._required_uri("blob"),
            credential=self._credential,
            retry_policy=_retries(),
            connection_timeout=CONNECTION_TIMEOUT,
        )

    @cached_property
    def tables(self) -> TableServiceClient:
        if self._connection_string:
            return TableServiceClient.from_connection_string(
                self._connection_string,
                retry_total=3,
                retry_backoff_factor=0.4,
                retry_backoff_max=2,
                connection_timeout=CONNECTION_TIMEOUT,
            )
        return TableServiceClient(
            endpoint=self._required_uri("table"),
            credential=self._credential,
            retry_total=3,
            retry_backoff_factor=0.4,
            retry_backoff_max=2,
            connection_timeout=CONNECTION_TIMEOUT,
        )

    def _service_uri(self, service: str) -> str | None:
        explicit = self._env.get(f"{self.connection}__{service}ServiceUri", "").strip()
        if explicit:
            return explicit
        account = self._env.get(f"{self.connection}__accountName", "").strip()
        return f"https://{account}.{service}.core.windows.net" if account else None

    def _required_uri(self, service: str) -> str:
        uri = self._service_uri(service)
        if uri is None:
            raise ValueError(
                f"Storage connection {self.connection!r} has no {service} endpoint: set "
                f"{self.connection}__{service}ServiceUri or {self.connection}__accountName."
            )
        return uri

    @cached_property
    def _credential(self) -> TokenCredential:
        # Imported here: azure-identity is only needed, and only slow to import, for identity connections.
        from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

        client_id = self._env.get(f"{self.connection}__clientId") or None
        if self._env.get(f"{self.connection}__credential", "").lower() == "managedidentity":
            return ManagedIdentityCredential(client_id=client_id)
        return DefaultAzureCredential(managed_identity_client_id=client_id)
