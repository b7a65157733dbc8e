"""The storage the use cases need, as small Protocols: real adapters in `storage`, fakes in the tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tagging.config import Settings
from tagging.model import ImageRecord, Item, Tag
from tagging.taggers import Tagger


@dataclass(frozen=True)
class StoredImage:
    name: str
    content_type: str
    size: int
    metadata: Mapping[str, str]
    etag: str


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    content_type: str
    etag: str


class ImageStore(Protocol):
    def save(self, name: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> StoredImage | None:
        """Store the bytes unless `name` exists already; what was stored when this call created it, else None."""

    def read(self, name: str) -> bytes:
        """The bytes of `name`; raises ImageNotFoundError when there is no such blob."""

    def describe(self, name: str) -> StoredImage | None: ...

    def fetch(self, name: str) -> FetchedImage | None: ...

    def link(self, name: str) -> str | None:
        """A URL from which anyone holding it may read the blob's bytes for a few minutes, and nothing else; None
        when there is no such blob."""

    def link_origin(self) -> str:
        """The origin (scheme, host and port) every `link` points at: what a page's content policy must allow."""

    def delete(self, name: str) -> bool:
        """Remove `name`; False when there was nothing to remove."""


IndexResult = Literal["added", "exists", "deleted"]


@dataclass(frozen=True)
class Claim:
    """The answer to a claim on an image's analysis. `claimed`: this claimant may analyse it (`token` proves it to
    `index`); `held`: another claimant's live claim; `indexed`: done already; `deleted`: deleted meanwhile."""

    state: Literal["claimed", "held", "indexed", "deleted"]
    token: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[Item]
    # Hands the next page out while more may remain; opaque to all but the catalog that made it.
    continuation: str | None = None


@dataclass(frozen=True)
class Match:
    """An image near another: what a list shows of it, and how many bits its perceptual hash differs by."""

    item: Item
    distance: int


class Catalog(Protocol):
    """Image records and the rows that index them, in one table partition per user."""

    def get(self, user_key: str, image_id: str) -> ImageRecord | None:
        """The record, a tombstone (status `deleted`) or None while the image is pending."""

    def binding_value(self, record: ImageRecord) -> bytes:
        """The record as the worker hands it to the Table output binding, which inserts it as this catalog's entity."""

    def claim(self, user_key: str, image_id: str, claimant: str, *, now: str, until: str) -> Claim:
        """Claim the analysis of an image from `now` until `until` (UTC times as `model.format_timestamp` writes
        them), so that duplicate jobs do not decode it again.

        A claim that has expired, or that is the same claimant's (a retried delivery of one message), is taken over.
        """

    def index(self, record: ImageRecord, claim: Claim | None = None) -> IndexResult:
        """Add the listing, tag and count rows of a processed image, all or nothing, ending any claim on it.

        `exists` when it was indexed already (a redelivered job) or another claimant took over an expired claim,
        `deleted` when it was deleted meanwhile.
        """

    def forget(self, record: ImageRecord) -> None:
        """Remove every row of the image and leave tombstones (`record.deleted_etag` set) that stop the worker."""

    def revive(self, user_key: str, image_id: str) -> None:
        """Clear the tombstones of an image that was uploaded again after it was deleted."""

    def reset(self, record: ImageRecord) -> None:
        """Remove the record and every index row of a processed image at once, so that it is tagged again.

        Raises ImageNotFoundError when the image was deleted meanwhile.
        """

    def page(self, user_key: str, tags: Sequence[str], limit: int, continuation: str | None) -> Page:
        """Newest first, the user's processed images carrying every tag in `tags` (all of them when empty), from
        where `continuation` (a token of an earlier page of the same search) says; InvalidContinuationError for a
        token of another search or none this catalog gave out."""

    def counts(self, user_key: str) -> list[tuple[str, int]]:
        """Every tag of the user's images with how many carry it."""

    def similar(self, user_key: str, phash: str, max_distance: int) -> list[Match]:
        """The user's tagged images whose perceptual hash is within `max_distance` (at most
        `similarity.MAX_DISTANCE`) bits of `phash`, nearest first, then newest first; the image of `phash` itself
        among them. Reads one range of index rows per band of the hash."""

    def change_tags(
        self, user_key: str, image_id: str, *, add: Tag | None = None, remove: str | None = None
    ) -> ImageRecord:
        """Add a user tag or remove any tag, in the record and the index together.

        ImageNotReadyError while the image has no record yet (pending), ImageNotFoundError once it is deleted.
        """


@dataclass(frozen=True)
class Ports:
    """Everything the use cases touch outside their own memory, passed in whole."""

    images: ImageStore
    thumbnails: ImageStore
    records: Catalog
    settings: Settings = field(default_factory=Settings)
    taggers: tuple[Tagger, ...] = ()
