"""The ImageStore port's contract, run on the fake and on Blob Storage (Azurite) alike: the fake is held to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tagging.errors import ImageNotFoundError
from tagging.ports import ImageStore
from tagging.storage import BlobImageStore, StorageAccount
from tagging.storage.links import BlobLinks
from tests.fakes import FakeImageStore


@pytest.fixture(params=["fake", "blob"])
def store(request: pytest.FixtureRequest) -> ImageStore:
    if request.param == "fake":
        return FakeImageStore()
    account: StorageAccount = request.getfixturevalue("account")
    return BlobImageStore(account.blobs, request.getfixturevalue("unique"))


def test_save_stores_once_then_refuses_to_overwrite(store: ImageStore) -> None:
    saved = store.save("alice/img", b"first", "image/png", {"sha256": "abc", "filename": "a%20b.png"})
    assert saved is not None
    assert store.save("alice/img", b"second", "image/jpeg", {}) is None
    assert store.read("alice/img") == b"first"
    described = store.describe("alice/img")
    assert described == saved
    assert (described.name, described.content_type, described.size) == ("alice/img", "image/png", 5)
    assert described.metadata == {"sha256": "abc", "filename": "a%20b.png"}


def test_fetch_gives_the_bytes_with_their_type_and_etag(store: ImageStore) -> None:
    saved = store.save("alice/img", b"pixels", "image/webp", {})
    assert saved is not None
    fetched = store.fetch("alice/img")
    assert fetched is not None
    assert (fetched.data, fetched.content_type, fetched.etag) == (b"pixels", "image/webp", saved.etag)


def test_missing_images_are_none_or_not_found(store: ImageStore) -> None:
    assert store.describe("nobody/nothing") is None
    assert store.fetch("nobody/nothing") is None
    assert store.delete("nobody/nothing") is False
    with pytest.raises(ImageNotFoundError):
        store.read("nobody/nothing")


def test_an_image_stored_again_after_a_delete_has_a_new_etag(store: ImageStore) -> None:
    """Deletes tell a later upload of the same bytes from the blob they removed by this."""
    first = store.save("alice/img", b"same", "image/png", {})
    assert first is not None
    assert store.delete("alice/img") is True
    assert store.describe("alice/img") is None
    second = store.save("alice/img", b"same", "image/png", {})
    assert second is not None
    assert second.etag != first.etag


def follow(store: ImageStore, link: str) -> httpx.Response:
    """The link as its holder uses it: a plain GET, with no credentials but the link's own."""
    if isinstance(store, FakeImageStore):
        return httpx.Response(200, content=store.follow(link))
    return httpx.get(link, timeout=30)


def test_a_link_reads_that_one_blob_and_nothing_else(store: ImageStore) -> None:
    store.save("alice/img", b"pixels", "image/webp", {})
    store.save("alice/other", b"other", "image/png", {})
    link = store.link("alice/img")
    assert link is not None
    assert follow(store, link).content == b"pixels"
    assert store.link("nobody/nothing") is None
    if isinstance(store, FakeImageStore):
        return
    # Blob Storage checks what the signature grants: read, this one blob, for minutes.
    downloaded = httpx.get(link, timeout=30)
    assert downloaded.headers["content-type"] == "image/webp"
    assert "immutable" in downloaded.headers["cache-control"]
    base, query = link.split("?", 1)
    assert httpx.get(base.replace("alice/img", "alice/other") + "?" + query, timeout=30).status_code == 403
    assert httpx.put(link, content=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=30).status_code == 403
    assert httpx.delete(link, timeout=30).status_code == 403
    assert store.read("alice/img") == b"pixels"


def test_blob_storage_refuses_a_link_once_it_has_expired(account: StorageAccount, unique: str) -> None:
    store = BlobImageStore(account.blobs, unique)
    store.save("alice/img", b"pixels", "image/png", {})
    made_long_ago = BlobLinks(account.blobs, clock=lambda: datetime.now(UTC) - timedelta(minutes=11))
    response = httpx.get(made_long_ago.link(unique, "alice/img"), timeout=30)
    assert response.status_code == 403
    assert b"pixels" not in response.content
