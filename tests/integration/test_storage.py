"""The storage adapters and the named connection against a real Azurite."""

from __future__ import annotations

import threading

import pytest
from azure.storage.blob import BlobServiceClient

from local_runner.azurite import Azurite
from tagging.errors import ImageNotFoundError
from tagging.model import ImageRecord, Tag
from tagging.storage import BlobImageStore, StorageAccount, TableCatalog
from tagging.storage.entities import record_entity


def test_save_creates_the_container_then_refuses_to_overwrite(account: StorageAccount, unique: str) -> None:
    store = BlobImageStore(account.blobs, unique)
    saved = store.save("alice/img", b"first", "image/png", {"sha256": "abc", "filename": "a%20b.png"})
    assert saved is not None
    assert store.save("alice/img", b"second", "image/jpeg", {}) is None
    assert store.read("alice/img") == b"first"
    described = store.describe("alice/img")
    assert described == saved
    assert (described.content_type, described.size) == ("image/png", 5)
    assert described.metadata == {"sha256": "abc", "filename": "a%20b.png"}


def test_a_blob_stored_again_after_a_delete_has_a_new_etag(account: StorageAccount, unique: str) -> None:
    # Deletes tell a later upload of the same bytes from the blob they removed by this.
    store = BlobImageStore(account.blobs, unique)
    first = store.save("alice/img", b"same", "image/png", {})
    assert first is not None
    assert store.delete("alice/img")
    second = store.save("alice/img", b"same", "image/png", {})
    assert second is not None
    assert second.etag != first.etag


def test_concurrent_saves_of_one_image_store_it_once(account: StorageAccount, unique: str) -> None:
    store = BlobImageStore(account.blobs, unique)
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def save(n: int) -> None:
        barrier.wait()
        results.append(store.save("bob/img", f"copy {n}".encode(), "image/png", {}) is not None)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


def test_missing_blobs_read_as_not_found(account: StorageAccount, unique: str) -> None:
    store = BlobImageStore(account.blobs, unique)
    assert store.describe("nobody/nothing") is None
    with pytest.raises(ImageNotFoundError):
        store.read("nobody/nothing")


def test_records_read_back_from_the_table(account: StorageAccount, unique: str) -> None:
    records = TableCatalog(account.tables, unique)
    assert records.get("alice", "0" * 32) is None  # the table does not even exist yet
    record = ImageRecord(
        "alice", "0" * 32, "done", "ab" * 32, 10, "image/png", "2026-11-24T09:00:00.000Z",
        format="png", width=3, height=2, tags=(Tag("format:png", 1.0, "analysis"),), filename="Zoë.png",
    )  # fmt: skip
    table = account.tables.create_table(unique)
    table.create_entity(record_entity(record))
    assert records.get("alice", "0" * 32) == record
    assert records.get("bob", "0" * 32) is None


def test_the_development_connection_string_reaches_all_three_services(azurite: Azurite, unique: str) -> None:
    account = StorageAccount("X", {"X": azurite.connection_string})
    account.blobs.create_container(unique)
    account.queues.create_queue(unique)
    account.tables.create_table(unique)
    assert any(c.name == unique for c in account.blobs.list_containers(name_starts_with=unique))


def test_an_identity_based_connection_builds_clients_for_its_endpoints() -> None:
    env = {
        "ImageStorage__blobServiceUri": "https://acct.blob.core.windows.net",
        "ImageStorage__queueServiceUri": "https://acct.queue.core.windows.net",
        "ImageStorage__tableServiceUri": "https://acct.table.core.windows.net",
        "ImageStorage__credential": "managedidentity",
        "ImageStorage__clientId": "00000000-0000-0000-0000-000000000001",
    }
    account = StorageAccount("ImageStorage", env)
    assert isinstance(account.blobs, BlobServiceClient)
    assert account.blobs.url.startswith("https://acct.blob.core.windows.net")
    assert account.queues.url.startswith("https://acct.queue.core.windows.net")
    assert account.tables.url.startswith("https://acct.table.core.windows.net")
    assert type(account.blobs.credential).__name__ == "ManagedIdentityCredential"


def test_an_account_name_alone_implies_the_public_endpoints() -> None:
    account = StorageAccount("S", {"S__accountName": "acct"})
    assert account.tables.url.startswith("https://acct.table.core.windows.net")
    assert type(account.blobs.credential).__name__ == "DefaultAzureCredential"


def test_an_unconfigured_connection_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="ImageStorage__accountName"):
        StorageAccount("ImageStorage", {})
