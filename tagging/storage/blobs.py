"""Images and thumbnails as block blobs."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from functools import cached_property
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

from tagging.errors import ImageNotFoundError
from tagging.ports import FetchedImage, StoredImage
from tagging.storage.links import BlobLinks


class BlobImageStore:
    """Images as block blobs in one container; names are `<user key>/<image id>`."""

    def __init__(self, service: BlobServiceClient, container: str) -> None:
        self._service = service
        self._container: ContainerClient = service.get_container_client(container)

    @cached_property
    def _links(self) -> BlobLinks:
        return BlobLinks(self._service)

    def save(self, name: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> StoredImage | None:
        blob = self._container.get_blob_client(name)
        for attempt in range(2):
            try:
                # overwrite=False sends If-None-Match: *, so two racing uploads of one image store one copy.
                written = blob.upload_blob(
                    data,
                    overwrite=False,
                    content_settings=ContentSettings(content_type=content_type),
                    metadata=dict(metadata),
                )
                return StoredImage(name, content_type, len(data), dict(metadata), str(written["etag"]))
            except ResourceExistsError:
                return None
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
            etag=str(props.etag),
        )

    def _create_container(self) -> None:
        with suppress(ResourceExistsError):  # created by a concurrent upload: what we wanted
            self._container.create_container()

    def fetch(self, name: str) -> FetchedImage | None:
        """The bytes with the properties a download needs (content type, ETag), in one request."""
        try:
            downloader = self._container.download_blob(name)
        except ResourceNotFoundError:
            return None
        props = downloader.properties
        return FetchedImage(
            data=downloader.readall(),
            content_type=props.content_settings.content_type or "application/octet-stream",
            etag=str(props.etag),
        )

    def link(self, name: str) -> str | None:
        """A read-only link to the blob, valid for minutes, or None when there is no such blob."""
        if self.describe(name) is None:
            return None
        return self._links.link(self._container.container_name, name)

    def link_origin(self) -> str:
        parts = urlsplit(self._container.url)
        return f"{parts.scheme}://{parts.netloc}"

    def delete(self, name: str) -> bool:
        try:
            self._container.delete_blob(name, delete_snapshots="include")
        except ResourceNotFoundError:
            return False
        return True
