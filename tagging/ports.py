"""The storage the use cases need, as small Protocols: real adapters in `storage`, fakes in the tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tagging.config import Settings
from tagging.model import ImageRecord
from tagging.taggers import Tagger


@dataclass(frozen=True)
class StoredImage:
    name: str
    content_type: str
    size: int
    metadata: Mapping[str, str]


class ImageStore(Protocol):
    def save(self, name: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> bool:
        """Store the bytes unless `name` exists already; True when this call created it."""

    def read(self, name: str) -> bytes:
        """The bytes of `name`; raises ImageNotFoundError when there is no such blob."""

    def describe(self, name: str) -> StoredImage | None: ...


class RecordStore(Protocol):
    def get(self, user_key: str, image_id: str) -> ImageRecord | None: ...


@dataclass(frozen=True)
class Ports:
    """Everything the use cases touch outside their own memory, passed in whole."""

    images: ImageStore
    thumbnails: ImageStore
    records: RecordStore
    settings: Settings = field(default_factory=Settings)
    taggers: tuple[Tagger, ...] = ()
