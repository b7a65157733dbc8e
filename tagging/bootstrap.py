"""The ports the function app uses, built once on first use (never at import) and swappable in tests."""

from __future__ import annotations

import threading

from tagging.config import CONNECTION, IMAGES_CONTAINER, RECORDS_TABLE, THUMBNAILS_CONTAINER, Settings
from tagging.ports import Ports
from tagging.taggers import AzureVisionTagger, Tagger

_lock = threading.Lock()
_current: Ports | None = None


def ports() -> Ports:
    global _current
    with _lock:
        if _current is None:
            _current = _from_environment()
        return _current


def use(replacement: Ports | None) -> None:
    """Swap the ports (tests pass fakes); None makes the next call build them from the environment again."""
    global _current
    with _lock:
        _current = replacement


def _from_environment() -> Ports:
    # Imported here so that indexing the app does not pay for the storage SDKs' import.
    from tagging.storage import BlobImageStore, StorageAccount, TableCatalog

    settings = Settings.from_env()
    account = StorageAccount(CONNECTION)
    taggers: list[Tagger] = []
    if settings.content_tags:
        from tagging.labels import ContentTagger

        taggers.append(ContentTagger())
    if settings.place_tags:
        from tagging.labels import PlaceTagger

        taggers.append(PlaceTagger())
    if settings.vision_endpoint:
        taggers.append(
            AzureVisionTagger.connect(settings.vision_endpoint, settings.vision_key, settings.vision_client_id)
        )
    return Ports(
        images=BlobImageStore(account.blobs, IMAGES_CONTAINER),
        thumbnails=BlobImageStore(account.blobs, THUMBNAILS_CONTAINER),
        records=TableCatalog(account.tables, RECORDS_TABLE),
        settings=settings,
        taggers=tuple(taggers),
    )
