"""The domain's values: tags, the queue job contract and the image record. No I/O here."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tagging.errors import MalformedJobError

Status = Literal["pending", "done", "failed", "deleted"]

JOB_VERSION = 1


def compact_json(value: Any) -> str:
    """JSON as stored in messages and entities: compact, and with characters as themselves, since an escape
    (`\\ud83d\\ude00`) takes three to six times their room under Azure's size limits."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Tag:
    name: str
    confidence: float
    source: str


@dataclass(frozen=True)
class UploadJob:
    """Version 1 of the message the upload sends to the worker; `blob` is `<container>/<name>`."""

    user: str
    user_key: str
    image_id: str
    blob: str
    sha256: str
    content_type: str
    size: int
    uploaded_at: str
    filename: str | None = None
    # The owner's edits, when an image they edited is tagged again: their own tags, and automatic ones they removed.
    user_tags: tuple[str, ...] = ()
    removed_tags: tuple[str, ...] = ()

    def to_json(self) -> str:
        body = {"v": JOB_VERSION, **asdict(self)}
        for name in ("user_tags", "removed_tags"):
            if not body[name]:
                del body[name]  # optional: absent from a first upload's job
        return compact_json(body)

    @classmethod
    def from_json(cls, text: str | bytes) -> UploadJob:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedJobError(f"The job is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise MalformedJobError("The job must be a JSON object.")
        if data.get("v") != JOB_VERSION:
            raise MalformedJobError(f"Unknown job version {data.get('v')!r}; this worker reads version {JOB_VERSION}.")
        fields = {
            "user": str,
            "user_key": str,
            "image_id": str,
            "blob": str,
            "sha256": str,
            "content_type": str,
            "size": int,
            "uploaded_at": str,
        }
        for name, kind in fields.items():
            value = data.get(name)
            if not isinstance(value, kind) or isinstance(value, bool) or value == "":
                raise MalformedJobError(f"The job's {name!r} must be a non-empty {kind.__name__}.")
        filename = data.get("filename")
        if filename is not None and not isinstance(filename, str):
            raise MalformedJobError("The job's 'filename' must be a string when present.")
        return cls(
            filename=filename,
            user_tags=_names(data, "user_tags"),
            removed_tags=_names(data, "removed_tags"),
            **{name: data[name] for name in fields},
        )


def _names(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise MalformedJobError(f"The job's {name!r} must be a list of tag names when present.")
    return tuple(value)


@dataclass(frozen=True)
class PhotoMetadata:
    """What the camera wrote into EXIF. The position is personal: only its owner ever reads a record."""

    camera_make: str | None = None
    camera_model: str | None = None
    lens: str | None = None
    taken_at: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Analysis:
    """What the analysis derives from the pixels and metadata of one image."""

    format: str
    width: int
    height: int
    tags: tuple[Tag, ...] = field(default=())
    frames: int = 1
    mode: str | None = None
    metadata: PhotoMetadata = field(default_factory=PhotoMetadata)
    dhash: str | None = None


@dataclass(frozen=True)
class ImageRecord:
    """One image as the API shows it; stored as one Table entity (PartitionKey = user key, RowKey = id)."""

    user_key: str
    image_id: str
    status: Status
    sha256: str
    size: int
    content_type: str
    uploaded_at: str
    filename: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    tags: tuple[Tag, ...] = ()
    tagged_at: str | None = None
    error: str | None = None
    frames: int | None = None
    mode: str | None = None
    metadata: PhotoMetadata = field(default_factory=PhotoMetadata)
    dhash: str | None = None
    thumbnail: bool = False
    # Automatic tags the owner removed: a later analysis of the same image leaves them out.
    removed_tags: tuple[str, ...] = ()
    deleted_at: str | None = None
    # On a tombstone, the ETag of the blob its delete removed: a blob with another ETag is a later upload.
    deleted_etag: str | None = None

    @property
    def megapixels(self) -> float | None:
        return None if self.width is None or self.height is None else round(self.width * self.height / 1e6, 1)

    def to_entity(self) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": self.user_key,
            "RowKey": self.image_id,
            "status": self.status,
            "sha256": self.sha256,
            "bytes": self.size,
            "content_type": self.content_type,
            "uploaded_at": self.uploaded_at,
            "filename": self.filename,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "tags": compact_json([asdict(tag) for tag in self.tags]),
            "tagged_at": self.tagged_at,
            "error": self.error,
            "frames": self.frames,
            "mode": self.mode,
            **asdict(self.metadata),
            "dhash": self.dhash,
            "thumbnail": self.thumbnail or None,
            "removed_tags": compact_json(list(self.removed_tags)) if self.removed_tags else None,
            "deleted_at": self.deleted_at,
            "deleted_etag": self.deleted_etag,
        }
        # Table storage has no null: an absent property is how an entity says "unknown".
        return {name: value for name, value in entity.items() if value is not None}

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> ImageRecord:
        tags = tuple(Tag(**tag) for tag in json.loads(entity.get("tags") or "[]"))
        metadata = PhotoMetadata(**{name: entity.get(name) for name in PhotoMetadata.__dataclass_fields__})
        return cls(
            user_key=entity["PartitionKey"],
            image_id=entity["RowKey"],
            status=entity["status"],
            sha256=entity["sha256"],
            size=int(entity["bytes"]),
            content_type=entity["content_type"],
            uploaded_at=entity["uploaded_at"],
            filename=entity.get("filename"),
            format=entity.get("format"),
            width=_optional_int(entity.get("width")),
            height=_optional_int(entity.get("height")),
            tags=tags,
            tagged_at=entity.get("tagged_at"),
            error=entity.get("error"),
            frames=_optional_int(entity.get("frames")),
            mode=entity.get("mode"),
            metadata=metadata,
            dhash=entity.get("dhash"),
            thumbnail=bool(entity.get("thumbnail", False)),
            removed_tags=tuple(json.loads(entity.get("removed_tags") or "[]")),
            deleted_at=entity.get("deleted_at"),
            deleted_etag=entity.get("deleted_etag"),
        )

    def to_api(self) -> dict[str, Any]:
        meta = self.metadata
        body: dict[str, Any] = {
            "id": self.image_id,
            "status": self.status,
            "tags": [asdict(tag) for tag in self.tags],
            "width": self.width,
            "height": self.height,
            "megapixels": self.megapixels,
            "format": self.format,
            "mode": self.mode,
            "frames": self.frames,
            "bytes": self.size,
            "sha256": self.sha256,
            "dhash": self.dhash,
            "content_type": self.content_type,
            "filename": self.filename,
            "camera": {"make": meta.camera_make, "model": meta.camera_model, "lens": meta.lens},
            "taken_at": meta.taken_at,
            "location": (
                {"latitude": meta.latitude, "longitude": meta.longitude} if meta.latitude is not None else None
            ),
            "thumbnail": f"/api/images/{self.image_id}/thumbnail" if self.thumbnail else None,
            "uploaded_at": self.uploaded_at,
            "tagged_at": self.tagged_at,
        }
        if self.error is not None:
            body["error"] = self.error
        return body


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
