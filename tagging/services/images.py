"""What the use cases share about one image: finding the caller's own, its pending state, its job, the time."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from tagging.config import IMAGES_CONTAINER
from tagging.errors import ImageNotFoundError
from tagging.identity import checked_image_id, user_key
from tagging.model import ImageRecord, ImageRef, UploadJob, format_timestamp
from tagging.ports import Ports, StoredImage
from tagging.tags import USER_SOURCE


def caller_ref(user_id: str | None, image_id: str | None) -> ImageRef:
    """The caller's image by that id: only the caller's own partition and blob folder are ever read, so another
    user's id is simply not found."""
    return ImageRef(user_key(user_id), checked_image_id(image_id))


def current(ports: Ports, ref: ImageRef) -> ImageRecord | None:
    """The image as it stands: its record, or a pending one while the worker has written none; None when the
    user has no such image (never uploaded, deleted, or being deleted)."""
    record = ports.records.get(ref.user_key, ref.image_id)
    if record is not None and record.status != "deleted":
        return record
    stored = ports.images.describe(ref.blob)
    if stored is None or (record is not None and stored.etag == record.deleted_etag):
        return None
    return pending(ref, stored)


def owned_image(ports: Ports, user_id: str | None, image_id: str | None) -> ImageRecord:
    """The caller's image as it stands, or ImageNotFoundError."""
    ref = caller_ref(user_id, image_id)
    record = current(ports, ref)
    if record is None:
        raise ImageNotFoundError.of(ref.image_id)
    return record


def pending(ref: ImageRef, stored: StoredImage) -> ImageRecord:
    """An image stored but not tagged yet, as its blob and the metadata the upload gave it tell."""
    filename = stored.metadata.get("filename")
    return ImageRecord(
        user_key=ref.user_key,
        image_id=ref.image_id,
        status="pending",
        sha256=stored.metadata.get("sha256", ""),
        size=stored.size,
        content_type=stored.content_type,
        uploaded_at=stored.metadata.get("uploaded_at", ""),
        filename=unquote(filename) if filename else None,
    )


def job_blob(ref: ImageRef) -> str:
    """Where a job says its image is: `<container>/<user key>/<id>`."""
    return f"{IMAGES_CONTAINER}/{ref.blob}"


def job_for(user_id: str, record: ImageRecord) -> UploadJob:
    """The job for an image; one that was tagged before carries its owner's edits, so that they survive."""
    return UploadJob(
        user=user_id,
        user_key=record.user_key,
        image_id=record.image_id,
        blob=job_blob(record.ref),
        sha256=record.sha256,
        content_type=record.content_type,
        size=record.size,
        uploaded_at=record.uploaded_at,
        filename=record.filename,
        user_tags=tuple(tag.name for tag in record.tags if tag.source == USER_SOURCE),
        removed_tags=record.removed_tags,
    )


def timestamp(now: datetime | None) -> str:
    return format_timestamp(now or datetime.now(UTC))
