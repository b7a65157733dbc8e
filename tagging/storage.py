"""Azure Storage adapters and the one named connection: the only module importing the storage SDKs.

A named connection (`ImageStorage`) is, as for the Functions host, either a connection string in the setting
of that name, or identity-based settings `<name>__blobServiceUri` / `__queueServiceUri` / `__tableServiceUri`
(or `<name>__accountName`) with `<name>__credential=managedidentity` and `<name>__clientId`.
Clients are built on first use, never at import time, since the host imports the app just to index it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import suppress
from functools import cached_property
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings
from azure.storage.queue import QueueServiceClient

from tagging.errors import ImageNotFoundError
from tagging.model import ImageRecord
from tagging.ports import StoredImage

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

_SERVICES = ("blob", "queue", "table")


class StorageAccount:
    """The three service clients behind one named connection, each built when first asked for."""

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
            return BlobServiceClient.from_connection_string(self._connection_string)
        return BlobServiceClient(self._required_uri("blob"), credential=self._credential)

    @cached_property
    def queues(self) -> QueueServiceClient:
        if self._connection_string:
            return QueueServiceClient.from_connection_string(self._connection_string)
        return QueueServiceClient(self._required_uri("queue"), credential=self._credential)

    @cached_property
    def tables(self) -> TableServiceClient:
        if self._connection_string:
            return TableServiceClient.from_connection_string(self._connection_string)
        return TableServiceClient(endpoint=self._required_uri("table"), credential=self._credential)

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


class BlobImageStore:
    """Images as block blobs in one container; names are `<user key>/<image id>`."""

    def __init__(self, service: BlobServiceClient, container: str) -> None:
        self._container: ContainerClient = service.get_container_client(container)

    def save(self, name: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> bool:
        blob = self._container.get_blob_client(name)
        for attempt in range(2):
            try:
                # overwrite=False sends If-None-Match: *, so two racing uploads of one image store one copy.
                blob.upload_blob(
                    data,
                    overwrite=False,
                    content_settings=ContentSettings(content_type=content_type),
                    metadata=dict(metadata),
                )
                return True
            except ResourceExistsError:
                return False
            except ResourceNotFoundError:
                if attempt:
                    raise
                self._create_container()
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, name: str) -> bytes:
        try:
            return self._container.download_blob(name).readall()
        except ResourceNotFoundError as exc:
            raise ImageNotFoundError(f"No stored image {name!r}.") from exc

    def describe(self, name: str) -> StoredImage | None:
        try:
            props = self._container.get_blob_client(name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        return StoredImage(
            name=name,
            content_type=props.content_settings.content_type or "application/octet-stream",
            size=props.size,
            metadata=dict(props.metadata or {}),
        )

    def _create_container(self) -> None:
        with suppress(ResourceExistsError):  # created by a concurrent upload: what we wanted
            self._container.create_container()


class TableRecordStore:
    """Image records in one table; a missing table reads as "no record yet"."""

    def __init__(self, service: TableServiceClient, table: str) -> None:
        self._table = service.get_table_client(table)

    def get(self, user_key: str, image_id: str) -> ImageRecord | None:
        try:
            entity = self._table.get_entity(partition_key=user_key, row_key=image_id)
        except ResourceNotFoundError:
            return None
        return ImageRecord.from_entity(dict(entity))
