"""In-memory implementations of the storage ports, for fast tests of the use cases and function bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from urllib.parse import quote, unquote, urlsplit

from tagging import similarity
from tagging import tags as tag_rules
from tagging.config import Settings
from tagging.errors import ImageNotFoundError, ImageNotReadyError
from tagging.model import ImageRecord, Tag
from tagging.ports import Catalog, Claim, FetchedImage, ImageStore, IndexResult, Match, Page, Ports, StoredImage
from tagging.storage import layout
from tagging.storage.entities import binding_value, item_from_row, record_entity, record_from_entity
from tagging.taggers import Tagger

FAKE_LINK = "https://fake.blob.invalid/images/"


class FakeImageStore(ImageStore):
    def __init__(self) -> None:
        self.blobs: dict[str, tuple[bytes, StoredImage]] = {}
        self._writes = 0

    def save(self, name: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> StoredImage | None:
        if name in self.blobs:
            return None
        self._writes += 1  # every write has its own ETag, as in Blob Storage
        stored = StoredImage(name, content_type, len(data), dict(metadata), f'"{self._writes}"')
        self.blobs[name] = (data, stored)
        return stored

    def read(self, name: str) -> bytes:
        if name not in self.blobs:
            raise ImageNotFoundError(name)
        return self.blobs[name][0]

    def describe(self, name: str) -> StoredImage | None:
        return self.blobs[name][1] if name in self.blobs else None

    def fetch(self, name: str) -> FetchedImage | None:
        if name not in self.blobs:
            return None
        data, stored = self.blobs[name]
        return FetchedImage(data, stored.content_type, stored.etag)

    def link(self, name: str) -> str | None:
        return f"{FAKE_LINK}{quote(name, safe='')}" if name in self.blobs else None

    def link_origin(self) -> str:
        parts = urlsplit(FAKE_LINK)
        return f"{parts.scheme}://{parts.netloc}"

    def follow(self, link: str) -> bytes:
        """The bytes behind a link from `link`, as Blob Storage would serve them."""
        assert link.startswith(FAKE_LINK), link
        return self.blobs[unquote(link.removeprefix(FAKE_LINK))][0]

    def delete(self, name: str) -> bool:
        return self.blobs.pop(name, None) is not None


class FakeCatalog(Catalog):
    """Records as Table entities plus an in-memory index with the same semantics as the Table layout; the port's
    contract suite (tests/integration/test_catalog_contract.py) holds it to the real catalog's behaviour."""

    def __init__(self) -> None:
        self.entities: dict[tuple[str, str], dict[str, object]] = {}
        self.manifests: dict[tuple[str, str], ImageRecord | None] = {}  # None: a tombstone
        self.claims: dict[tuple[str, str], tuple[str, str, str]] = {}  # claimant, until, token
        self._versions = 0

    def insert(self, value: bytes | ImageRecord) -> None:
        """What the Table output binding does with the worker's value: insert only."""
        entity = json.loads(value) if isinstance(value, bytes) else record_entity(value)
        key = (str(entity["PartitionKey"]), str(entity["RowKey"]))
        if key in self.entities:
            raise KeyError(f"entity {key} exists")
        self.entities[key] = dict(entity)

    def get(self, user_key: str, image_id: str) -> ImageRecord | None:
        entity = self.entities.get((user_key, image_id))
        return None if entity is None else record_from_entity(entity)

    def binding_value(self, record: ImageRecord) -> bytes:
        return binding_value(record)

    def claim(self, user_key: str, image_id: str, claimant: str, *, now: str, until: str) -> Claim:
        key = (user_key, image_id)
        if key in self.manifests:
            return Claim("indexed") if self.manifests[key] is not None else Claim("deleted")
        held = self.claims.get(key)
        if held is not None and held[0] != claimant and held[1] > now:
            return Claim("held")
        self._versions += 1
        self.claims[key] = (claimant, until, str(self._versions))
        return Claim("claimed", str(self._versions))

    def index(self, record: ImageRecord, claim: Claim | None = None) -> IndexResult:
        key = (record.user_key, record.image_id)
        if key in self.manifests:
            return "exists" if self.manifests[key] is not None else "deleted"
        held = self.claims.get(key)
        if claim is not None and held is not None and held[2] != claim.token:
            return "exists"  # another claimant took over: it will index
        self.claims.pop(key, None)
        self.manifests[key] = record
        return "added"

    def forget(self, record: ImageRecord) -> None:
        self.claims.pop((record.user_key, record.image_id), None)
        self.manifests[(record.user_key, record.image_id)] = None
        self.entities[(record.user_key, record.image_id)] = record_entity(replace(record, status="deleted"))

    def revive(self, user_key: str, image_id: str) -> None:
        if self.manifests.get((user_key, image_id), "live") is None:
            del self.manifests[(user_key, image_id)]
        current = self.get(user_key, image_id)
        if current is not None and current.status == "deleted":
            del self.entities[(user_key, image_id)]

    def reset(self, record: ImageRecord) -> None:
        key = (record.user_key, record.image_id)
        current = self.get(*key)
        if current is None:
            return
        if current.status == "deleted" or (key in self.manifests and self.manifests[key] is None):
            raise ImageNotFoundError.of(record.image_id)
        del self.entities[key]
        self.manifests.pop(key, None)

    def page(self, user_key: str, tags: Sequence[str], limit: int, continuation: str | None) -> Page:
        after = layout.resume_after(continuation, tags)
        live = [r for (k, _), r in self.manifests.items() if k == user_key and r is not None]
        chosen = tags[0] if tags else None
        if after is not None and tags:
            chosen = next(t for t in tags if after.startswith(layout.search_prefix(t)))

        def row_key(record: ImageRecord) -> str:
            return layout.listing_key(record) if chosen is None else layout.tag_row_key(chosen, record)

        matching = sorted((r for r in live if all(t in {tag.name for tag in r.tags} for t in tags)), key=row_key)
        if after is not None:
            matching = [r for r in matching if row_key(r) > after]
        items = [item_from_row(layout.summary(r)) for r in matching[:limit]]
        more = len(matching) > limit
        return Page(items, layout.continuation_token(row_key(matching[limit - 1])) if more else None)

    def counts(self, user_key: str) -> list[tuple[str, int]]:
        found: dict[str, int] = {}
        for (k, _), record in self.manifests.items():
            if k == user_key and record is not None:
                for tag in record.tags:
                    found[tag.name] = found.get(tag.name, 0) + 1
        return sorted(found.items(), key=lambda item: (-item[1], item[0]))

    def similar(self, user_key: str, phash: str, max_distance: int) -> list[Match]:
        assert 0 <= max_distance <= similarity.MAX_DISTANCE  # what the bands can find
        found = []
        for (k, _), record in self.manifests.items():
            if k != user_key or record is None or record.status != "done" or record.phash is None:
                continue
            distance = similarity.distance(phash, record.phash)
            if distance <= max_distance:
                item = item_from_row(layout.similar_summary(record))
                found.append((distance, layout.newest_first(record.uploaded_at), Match(item, distance)))
        return [match for _, _, match in sorted(found, key=lambda entry: entry[:2])]

    def change_tags(
        self, user_key: str, image_id: str, *, add: Tag | None = None, remove: str | None = None
    ) -> ImageRecord:
        record = self.get(user_key, image_id)
        if record is None or record.status == "pending":
            raise ImageNotReadyError.still_tagging()
        if record.status == "deleted" or self.manifests.get((user_key, image_id)) is None:
            raise ImageNotFoundError.of(image_id)
        changed = tag_rules.retagged(record, add=add, remove=remove)
        self.entities[(user_key, image_id)] = record_entity(changed)
        self.manifests[(user_key, image_id)] = changed
        return changed


def fake_ports(settings: Settings | None = None, taggers: tuple[Tagger, ...] = ()) -> Ports:
    return Ports(FakeImageStore(), FakeImageStore(), FakeCatalog(), settings or Settings(), taggers)
