"""The storage adapters and the named connection against a real Azurite."""

from __future__ import annotations

import threading

import pytest
from azure.storage.blob import BlobServiceClient

from local_runner.azurite import Azurite
from tagging.storage import BlobImageStore, StorageAccount


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


def test_the_development_connection_string_reaches_both_services_the_code_uses(azurite: Azurite, unique: str) -> None:
    account = StorageAccount("X", {"X": azurite.connection_string})
    account.blobs.create_container(unique)
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
    assert account.tables.url.startswith("https://acct.table.core.windows.net")
    assert type(account.blobs.credential).__name__ == "ManagedIdentityCredential"


def test_an_account_name_alone_implies_the_public_endpoints() -> None:
    account = StorageAccount("S", {"S__accountName": "acct"})
    assert account.tables.url.startswith("https://acct.table.core.windows.net")
    assert type(account.blobs.credential).__name__ == "DefaultAzureCredential"


def test_an_unconfigured_connection_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="ImageStorage__accountName"):
        StorageAccount("ImageStorage", {})
