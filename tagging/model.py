"""The domain's values: tags, the queue job contract and the image record. No I/O here."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tagging.errors import MalformedJobError

Status = Literal["pending", "done", "failed", "deleted"]
STATUSES: tuple[Status, ...] = ("pending", "done", "failed", "deleted")

JOB_VERSION = 1


def format_timestamp(moment: datetime) -> str:
    """Times as this app stores and shows them: UTC, to the millisecond, with `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime | None:
    """A time in any ISO 8601 form (.NET's seven fraction digits too); one without a zone is taken as UTC."""
    text = text.strip()
    if "." in text:  # Python reads at most six fraction digits
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[: min(digits, 6)]}{tail[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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

    @property
    def ref(self) -> ImageRef:
        return ImageRef(self.user_key, self.image_id)

    def message(self) -> bytes:
        """The queue message, as UTF-8 bytes: the host sends bytes as they are, whereas a `str` that looks like
        JSON is parsed and re-serialised first (indented, dates rewritten; docs/host-fidelity.md)."""
        return self.to_json().encode("utf-8")

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
        uploaded_at = parse_timestamp(data["uploaded_at"])
        if uploaded_at is None:
            raise MalformedJobError("The job's 'uploaded_at' must be an ISO 8601 time.")
        filename = data.get("filename")
        if filename is not None and not isinstance(filename, str):
            raise MalformedJobError("The job's 'filename' must be a string when present.")
        return cls(
            filename=filename,
            user_tags=_names(data, "user_tags"),
            removed_tags=_names(data, "removed_tags"),
            # One form whatever carried the job: a host that re-serialised it wrote `...00Z` for `...00.000Z`.
            **{name: data[name] for name in fields} | {"uploaded_at": format_timestamp(uploaded_at)},
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
    # The perceptual hash (analysis.phash): None when the picture has too little detail to compare.
    phash: str | None = None


@dataclass(frozen=True)
class ImageRef:
    """Which image: its owner's key and its id, and where its bytes and its thumbnail are stored."""

    user_key: str
    image_id: str

    @property
    def blob(self) -> str:
        return f"{self.user_key}/{self.image_id}"

    @property
    def thumbnail(self) -> str:
        return f"{self.user_key}/{self.image_id}.webp"


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
    # The perceptual hash (analysis.phash): None when the picture has too little detail to compare.
    phash: str | None = None
    thumbnail: bool = False
    # Automatic tags the owner removed: a later analysis of the same image leaves them out.
    removed_tags: tuple[str, ...] = ()
    deleted_at: str | None = None
    # On a tombstone, the ETag of the blob its delete removed: a blob with another ETag is a later upload.
    deleted_etag: str | None = None

    @property
    def ref(self) -> ImageRef:
        return ImageRef(self.user_key, self.image_id)

    @property
    def megapixels(self) -> float | None:
        return None if self.width is None or self.height is None else round(self.width * self.height / 1e6, 1)


@dataclass(frozen=True)
class Item:
    """One image in a listing or search page: what a gallery shows of it."""

    image_id: str
    status: str
    tags: tuple[Tag, ...]
    width: int | None
    height: int | None
    uploaded_at: str
    thumbnail: bool
    # As uploaded; None when none was given, or for rows indexed before listings carried it.
    filename: str | None = None
    # The perceptual hash, for finding its near duplicates; None as on the record, or on rows from before it.
    phash: str | None = None
