"""Use cases: accept an upload, tag an image, read, list, search, re-tag and delete images. Each takes its ports."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from tagging import analysis
from tagging.config import IMAGES_CONTAINER, Settings
from tagging.errors import (
    EmptyUploadError,
    ImageNotFoundError,
    ImageNotReadyError,
    InvalidImageError,
    InvalidRequestError,
    MalformedJobError,
    TaggingError,
    UnsupportedMediaError,
    UploadTooLargeError,
)
from tagging.identity import caller, checked_image_id, image_id_for, user_key
from tagging.index import (
    MAX_AUTOMATIC_TAGS,
    Item,
    decode_continuation,
    encode_continuation,
    normalise_tag,
    search_prefix,
)
from tagging.model import ImageRecord, Tag, UploadJob, format_timestamp
from tagging.ports import FetchedImage, Ports, StoredImage
from tagging.taggers import TaggerInput, merge, run_taggers

logger = logging.getLogger(__name__)

MAX_FILENAME_CHARS = 255
# ASCII digits only: str.isdigit() also takes "²", which int() refuses.
_PLAIN_NUMBER = re.compile(r"[0-9]+")
USER_SOURCE = "user"


@dataclass(frozen=True)
class Accepted:
    """The answer to an upload: the image as it stands, whether this call stored it, and the job to send."""

    record: ImageRecord
    created: bool
    job: UploadJob | None


def check_declared_size(content_length: str | None, settings: Settings) -> None:
    """Refuse an oversized upload from its Content-Length, before its body is read."""
    declared = (content_length or "").strip()
    if _PLAIN_NUMBER.fullmatch(declared):
        # Twenty digits are more bytes than anyone sends: no need to read a longer number to refuse it.
        _check_size(int(declared) if len(declared) < 20 else 10**20, settings)


def accept_upload(
    ports: Ports,
    *,
    user_id: str | None,
    data: bytes,
    declared_type: str | None = None,
    filename: str | None = None,
    now: datetime | None = None,
) -> Accepted:
    settings, images = ports.settings, ports.images
    who = caller(user_id)
    key = who.key
    declared = (declared_type or "").lower()
    if declared.startswith("multipart/"):
        raise UnsupportedMediaError(
            "Send the image bytes as the request body (e.g. curl --data-binary @photo.jpg), not a multipart form."
        )
    if declared.startswith("application/x-www-form-urlencoded"):
        # What curl declares when no Content-Type is given, and what `curl -d @photo.jpg` sends: the file with its
        # line breaks removed. A JPEG may still decode, wrongly, so it is refused outright rather than stored damaged.
        raise UnsupportedMediaError(
            "This was declared a form (application/x-www-form-urlencoded: what curl sends without a Content-Type, "
            "and what curl -d sends after stripping line breaks, which damages images). Send the bytes with "
            "curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg' (or application/octet-stream)."
        )
    if not data:
        raise EmptyUploadError(
            "The request body is empty: send the image bytes as the body, with a Content-Length "
            "(curl --data-binary @photo.jpg)."
        )
    _check_size(len(data), settings)
    header = analysis.probe(data, settings.max_pixels)
    sha256 = hashlib.sha256(data).hexdigest()
    image_id = image_id_for(key, sha256)
    blob = f"{key}/{image_id}"
    uploaded_at = _timestamp(now)
    name = _clean_filename(filename)
    metadata = {"sha256": sha256, "size": str(len(data)), "uploaded_at": uploaded_at}
    if name:
        # Blob metadata is ASCII only.
        metadata["filename"] = quote(name, safe=" ")
    stored = images.save(blob, data, header.content_type, metadata)
    if stored is not None:
        logger.info("Stored image %s (%s, %d bytes) for %s", image_id, header.format, len(data), key)
        record = _pending(key, image_id, stored)
        return Accepted(record, created=True, job=_job(who.id, record))
    current = _current(ports, key, image_id)
    if current is None:  # the stored copy is being deleted: whoever deleted it wins
        raise ImageNotReadyError("This image is being deleted; upload it again in a moment.")
    if current.status != "pending":
        return Accepted(current, created=False, job=None)
    # Stored but not tagged yet. The job may have been lost (the host sends it only after the function
    # returns), so send it again: the worker is idempotent, a duplicate job costs one table read.
    logger.info("Image %s uploaded again while pending; job sent again", image_id)
    return Accepted(current, created=False, job=_job(who.id, current))


def parse_job(body: str | bytes) -> UploadJob:
    """Read a queue message; anything but a well-formed job of this version is MalformedJobError."""
    job = UploadJob.from_json(body)
    try:
        checked_image_id(job.image_id)
        key = user_key(job.user)
    except TaggingError as exc:
        raise MalformedJobError(f"The job names an invalid image or user: {exc}") from exc
    if key != job.user_key:
        raise MalformedJobError("The job's user_key does not belong to its user.")
    if job.blob != f"{IMAGES_CONTAINER}/{job.user_key}/{job.image_id}":
        raise MalformedJobError(f"The job's blob {job.blob!r} is not where this image is stored.")
    return job


def tag_image(ports: Ports, job: UploadJob, *, now: datetime | None = None) -> ImageRecord | None:
    """The record to write for a job, or None when there is nothing to write.

    Delivery is at least once and the Table output binding only inserts, so a job whose record exists is
    done already: writing again would fail on the duplicate key and send the message towards poison.
    """
    if not _needs_record(ports, job):
        return None
    try:
        data = ports.images.read(f"{job.user_key}/{job.image_id}")
    except ImageNotFoundError:
        logger.warning("Image %s is no longer stored; nothing to tag", job.image_id)
        return None
    pending = ImageRecord(
        user_key=job.user_key,
        image_id=job.image_id,
        status="pending",
        sha256=job.sha256,
        size=len(data),
        content_type=job.content_type,
        uploaded_at=job.uploaded_at,
        filename=job.filename,
        tags=_with_edits((), job),
        removed_tags=job.removed_tags,
    )
    try:
        decoded = analysis.decode(data, ports.settings.max_pixels)
        result = analysis.describe(decoded)
    except (InvalidImageError, UnsupportedMediaError) as exc:
        # Permanent: the same bytes fail the same way on every retry, so record why instead of retrying.
        logger.warning("Image %s cannot be tagged: %s", job.image_id, exc)
        failed = replace(pending, status="failed", tagged_at=_timestamp(now), error=str(exc))
        return failed if _indexed(ports, failed) else None
    preview = analysis.thumbnail(decoded)
    # Written before the record, so that a record always has its thumbnail; a retry finds it there already.
    ports.thumbnails.save(thumbnail_name(job.user_key, job.image_id), preview, analysis.THUMBNAIL_CONTENT_TYPE, {})
    extra = run_taggers(ports.taggers, TaggerInput(job.image_id, data, job.content_type, result, preview))
    tags = _with_edits(merge(result.tags, extra, limit=MAX_AUTOMATIC_TAGS), job)
    done = replace(
        pending,
        status="done",
        format=result.format,
        width=result.width,
        height=result.height,
        tags=tags,
        frames=result.frames,
        mode=result.mode,
        metadata=result.metadata,
        dhash=result.dhash,
        thumbnail=True,
        tagged_at=_timestamp(now),
    )
    if not _indexed(ports, done):
        ports.thumbnails.delete(thumbnail_name(job.user_key, job.image_id))
        return None
    logger.info("Image %s tagged: %s", job.image_id, ", ".join(tag.name for tag in tags))
    return done


def _needs_record(ports: Ports, job: UploadJob) -> bool:
    """Whether the job's image still needs its record: it has none yet, or it was deleted and then uploaded
    again (the tombstone is cleared). A record that exists means a redelivered job: the work is done."""
    existing = ports.records.get(job.user_key, job.image_id)
    if existing is None:
        return True
    if existing.status == "deleted" and _uploaded_again(ports, existing):
        ports.records.revive(job.user_key, job.image_id)
        return True
    logger.info("Image %s already %s; duplicate job ignored", job.image_id, existing.status)
    return False


def _uploaded_again(ports: Ports, tombstone: ImageRecord) -> bool:
    """A deleted image is back when its blob exists and is not the one the delete removed (a delete writes its
    tombstone before it removes the blob, and an upload stores a blob only where there is none)."""
    stored = ports.images.describe(f"{tombstone.user_key}/{tombstone.image_id}")
    return stored is not None and stored.etag != tombstone.deleted_etag


def _current(ports: Ports, key: str, image_id: str) -> ImageRecord | None:
    """The image as it stands: its record, or a pending one while the worker has written none; None when the
    user has no such image (never uploaded, deleted, or being deleted)."""
    record = ports.records.get(key, image_id)
    if record is not None and record.status != "deleted":
        return record
    stored = ports.images.describe(f"{key}/{image_id}")
    if stored is None or (record is not None and stored.etag == record.deleted_etag):
        return None
    return _pending(key, image_id, stored)


def _with_edits(tags: tuple[Tag, ...], job: UploadJob) -> tuple[Tag, ...]:
    """The automatic tags without those the owner removed or set themselves, then the owner's own."""
    mine = set(job.user_tags) | set(job.removed_tags)
    kept = tuple(tag for tag in tags if tag.name not in mine)
    return kept + tuple(Tag(name, 1.0, USER_SOURCE) for name in job.user_tags)


def _indexed(ports: Ports, record: ImageRecord) -> bool:
    """Index the record; False when the image was deleted meanwhile and nothing more must be written."""
    if ports.records.index(record) == "deleted":
        logger.info("Image %s was deleted while it was being tagged; dropping the result", record.image_id)
        return False
    return True


def thumbnail_name(key: str, image_id: str) -> str:
    return f"{key}/{image_id}.webp"


def get_image(ports: Ports, *, user_id: str | None, image_id: str | None) -> ImageRecord:
    key = user_key(user_id)
    checked = checked_image_id(image_id)
    # Only the caller's own partition and blob folder are ever read: another user's id is simply not found.
    record = _current(ports, key, checked)
    if record is None:
        raise ImageNotFoundError(f"You have no image {checked}.")
    return record


def _pending(key: str, image_id: str, stored: StoredImage) -> ImageRecord:
    filename = stored.metadata.get("filename")
    return ImageRecord(
        user_key=key,
        image_id=image_id,
        status="pending",
        sha256=stored.metadata.get("sha256", ""),
        size=stored.size,
        content_type=stored.content_type,
        uploaded_at=stored.metadata.get("uploaded_at", ""),
        filename=unquote(filename) if filename else None,
    )


def _job(user_id: str, record: ImageRecord) -> UploadJob:
    """The job for an image; one that was tagged before carries its owner's edits, so that they survive."""
    return UploadJob(
        user=user_id,
        user_key=record.user_key,
        image_id=record.image_id,
        blob=f"{IMAGES_CONTAINER}/{record.user_key}/{record.image_id}",
        sha256=record.sha256,
        content_type=record.content_type,
        size=record.size,
        uploaded_at=record.uploaded_at,
        filename=record.filename,
        user_tags=tuple(tag.name for tag in record.tags if tag.source == USER_SOURCE),
        removed_tags=record.removed_tags,
    )


def _check_size(size: int, settings: Settings) -> None:
    if size > settings.max_upload_bytes:
        raise UploadTooLargeError(
            f"The image is {size:,} bytes; the limit is {settings.max_upload_bytes:,} bytes. Send a smaller file."
        )


def _clean_filename(filename: str | None) -> str | None:
    if not filename:
        return None
    # Keep the last path component only, without control characters: it is shown to people, never a path.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:MAX_FILENAME_CHARS] or None


def _timestamp(now: datetime | None) -> str:
    return format_timestamp(now or datetime.now(UTC))


# -- queries and changes (the query API) --------------------------------------------------------------------

DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_SEARCH_TAGS = 10


@dataclass(frozen=True)
class Listing:
    items: list[Item]
    continuation: str | None


def list_images(
    ports: Ports,
    *,
    user_id: str | None,
    tags: Sequence[str] = (),
    limit: str | None = None,
    continuation: str | None = None,
) -> Listing:
    key = user_key(user_id)
    wanted = list(dict.fromkeys(normalise_tag(tag) for tag in tags))
    if len(wanted) > MAX_SEARCH_TAGS:
        raise InvalidRequestError(f"Search with at most {MAX_SEARCH_TAGS} tags at once.")
    size = _page_size(limit)
    prefixes = [search_prefix(tag) for tag in wanted] or [search_prefix(None)]
    after = decode_continuation(continuation, prefixes)
    page = ports.records.page(key, wanted, size, after)
    return Listing(page.items, encode_continuation(page.after) if page.after else None)


def tag_counts(ports: Ports, *, user_id: str | None) -> list[tuple[str, int]]:
    return ports.records.counts(user_key(user_id))


def add_user_tag(ports: Ports, *, user_id: str | None, image_id: str | None, name: str | None) -> ImageRecord:
    key, checked = _tagged_image(ports, user_id, image_id)
    return ports.records.change_tags(key, checked, add=Tag(normalise_tag(name), 1.0, USER_SOURCE))


def remove_tag(ports: Ports, *, user_id: str | None, image_id: str | None, name: str | None) -> ImageRecord:
    key, checked = _tagged_image(ports, user_id, image_id)
    return ports.records.change_tags(key, checked, remove=normalise_tag(name))


@dataclass(frozen=True)
class Retry:
    record: ImageRecord
    job: UploadJob


def retry_image(ports: Ports, *, user_id: str | None, image_id: str | None) -> Retry:
    """Queue an image for tagging again: a failed one, a pending one whose job may have been lost, or a tagged
    one to be analysed afresh (by a new tagger, say). Its owner's tags and removals are kept."""
    who = caller(user_id)
    checked = checked_image_id(image_id)
    record = _current(ports, who.key, checked)
    if record is None:
        raise ImageNotFoundError(f"You have no image {checked}.")
    job = _job(who.id, record)
    if record.status != "pending":
        # Record and index rows go in one transaction: the Table output binding can then insert the new record.
        ports.records.reset(record)
        record = replace(
            record, status="pending", tags=(), removed_tags=(), tagged_at=None, error=None, thumbnail=False
        )
    logger.info("Image %s queued again", checked)
    return Retry(record, job)


def record_failure(ports: Ports, job: UploadJob, reason: str, *, now: datetime | None = None) -> ImageRecord | None:
    """The failed record for a job the host gave up on, or None when the image needs nothing more."""
    if not _needs_record(ports, job):
        return None  # done or failed meanwhile
    stored = ports.images.describe(f"{job.user_key}/{job.image_id}")
    if stored is None:
        return None  # deleted
    failed = replace(
        _pending(job.user_key, job.image_id, stored),
        status="failed",
        tags=_with_edits((), job),
        removed_tags=job.removed_tags,
        tagged_at=_timestamp(now),
        error=reason,
    )
    return failed if _indexed(ports, failed) else None


def _tagged_image(ports: Ports, user_id: str | None, image_id: str | None) -> tuple[str, str]:
    """The caller's key and the id of one of their images that has been tagged (or failed)."""
    key = user_key(user_id)
    checked = checked_image_id(image_id)
    record = _current(ports, key, checked)
    if record is None:
        raise ImageNotFoundError(f"You have no image {checked}.")
    if record.status == "pending":
        raise ImageNotReadyError("The image is still being tagged; change its tags once it is done.")
    return key, checked


def delete_image(ports: Ports, *, user_id: str | None, image_id: str | None, now: datetime | None = None) -> None:
    """Remove the image, its thumbnail, its record and every index row; a racing worker cannot bring it back."""
    key = user_key(user_id)
    checked = checked_image_id(image_id)
    record = _current(ports, key, checked)
    if record is None:
        raise ImageNotFoundError(f"You have no image {checked}.")
    stored = ports.images.describe(f"{key}/{checked}")
    # Tombstones first: from here on the worker drops whatever it was doing for this image, and an upload of
    # the same bytes after the blob is gone is told apart by its blob's ETag.
    tombstone = replace(record, deleted_at=_timestamp(now), deleted_etag=stored.etag if stored else None)
    ports.records.forget(tombstone)
    ports.images.delete(f"{key}/{checked}")
    ports.thumbnails.delete(thumbnail_name(key, checked))
    logger.info("Image %s deleted", checked)


def thumbnail(ports: Ports, *, user_id: str | None, image_id: str | None) -> FetchedImage:
    key = user_key(user_id)
    checked = checked_image_id(image_id)
    found = ports.thumbnails.fetch(thumbnail_name(key, checked))
    if found is None:
        raise ImageNotFoundError(f"No thumbnail for {checked} (yet): it appears once the image is tagged.")
    return found


def content(ports: Ports, *, user_id: str | None, image_id: str | None) -> FetchedImage:
    key = user_key(user_id)
    checked = checked_image_id(image_id)
    found = ports.images.fetch(f"{key}/{checked}")
    if found is None:
        raise ImageNotFoundError(f"You have no image {checked}.")
    return found


def _page_size(limit: str | None) -> int:
    if limit is None or limit == "":
        return DEFAULT_PAGE
    if not _PLAIN_NUMBER.fullmatch(limit) or len(limit) > 3 or not 1 <= int(limit) <= MAX_PAGE:
        raise InvalidRequestError(f"limit must be a whole number from 1 to {MAX_PAGE}.")
    return int(limit)
