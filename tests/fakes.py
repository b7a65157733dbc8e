"""In-memory implementations of the storage ports, for fast tests of the use cases and function bodies."""

from __future__ import annotations

from collections.abc import Mapping

from tagging.config import Settings
from tagging.errors import ImageNotFoundError
from tagging.model import ImageRecord
from tagging.ports import ImageStore, Ports, RecordStore, StoredImage
from tagging.taggers import Tagger


class FakeImageStore(ImageStore):
    def __init__(self) -> None:
        self.blobs: dict[str, tuple[bytes, StoredImage]] = {}

    def save(self, name: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> bool:
        if name in self.blobs:
            return False
        self.blobs[name] = (data, StoredImage(name, content_type, len(data), dict(metadata)))
        return True

    def read(self, name: str) -> bytes:
        if name not in self.blobs:
            raise ImageNotFoundError(name)
        return self.blobs[name][0]

    def describe(self, name: str) -> StoredImage | None:
        return self.blobs[name][1] if name in self.blobs else None


class FakeRecordStore(RecordStore):
    """Holds records as Table entities, so the entity mapping is exercised as it is with the real table."""

    def __init__(self) -> None:
        self.entities: dict[tuple[str, str], dict[str, object]] = {}

    def insert(self, entity: dict[str, object]) -> None:
        key = (str(entity["PartitionKey"]), str(entity["RowKey"]))
        if key in self.entities:
            raise KeyError(f"entity {key} exists")  # the Table output binding only inserts
        self.entities[key] = dict(entity)

    def get(self, user_key: str, image_id: str) -> ImageRecord | None:
        entity = self.entities.get((user_key, image_id))
        return None if entity is None else ImageRecord.from_entity(entity)


def fake_ports(settings: Settings | None = None, taggers: tuple[Tagger, ...] = ()) -> Ports:
    return Ports(FakeImageStore(), FakeImageStore(), FakeRecordStore(), settings or Settings(), taggers)
