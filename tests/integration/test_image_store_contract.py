"""The ImageStore port's contract, run on the fake and on Blob Storage (Azurite) alike: the fake is held to it."""

from __future__ import annotations

import pytest

from tagging.errors import ImageNotFoundError
from tagging.ports import ImageStore
from tagging.storage import BlobImageStore, StorageAccount
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
