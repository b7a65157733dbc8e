"""The ports the function app uses, built once on first use (never at import) and swappable in tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tagging.config import CONNECTION, IMAGES_CONTAINER, RECORDS_TABLE, Settings
from tagging.ports import ImageStore, RecordStore


@dataclass(frozen=True)
class Ports:
    images: ImageStore
    records: RecordStore
    settings: Settings


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
    from tagging.storage import BlobImageStore, StorageAccount, TableRecordStore

    account = StorageAccount(CONNECTION)
    return Ports(
        images=BlobImageStore(account.blobs, IMAGES_CONTAINER),
        records=TableRecordStore(account.tables, RECORDS_TABLE),
        settings=Settings.from_env(),
    )
