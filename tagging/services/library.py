"""What an owner does with their images once uploaded: read, list and search them, count tags, change tags,
tag them again, fetch their files and delete them. Every lookup is within the caller's own images."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from tagging.errors import ImageNotFoundError, ImageNotReadyError, InvalidRequestError, RetryTooSoonError
from tagging.identity import caller, user_key
from tagging.model import ImageRecord, Tag, UploadJob, parse_timestamp
from tagging.ports import FetchedImage, Page, Ports
from tagging.services.images import caller_ref, job_for, owned_image, timestamp
from tagging.tags import USER_SOURCE, normalise_tag

logger = logging.getLogger(__name__)

DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_SEARCH_TAGS = 10
_PAGE_SIZE = re.compile(r"[0-9]{1,3}")


def get_image(ports: Ports, *, user_id: str | None, image_id: str | None) -> ImageRecord:
    return owned_image(ports, user_id, image_id)


def list_images(
    ports: Ports,
    *,
    user_id: str | None,
    tags: Sequence[str] = (),
    limit: str | None = None,
    continuation: str | None = None,
) -> Page:
    """Newest first, the caller's processed images carrying all these tags (every image without tags)."""
    key = user_key(user_id)
    wanted = list(dict.fromkeys(normalise_tag(tag) for tag in tags))
    if len(wanted) > MAX_SEARCH_TAGS:
        raise InvalidRequestError(f"Search with at most {MAX_SEARCH_TAGS} tags at once.")
    return ports.records.page(key, wanted, page_size(limit), continuation)


def tag_counts(ports: Ports, *, user_id: str | None) -> list[tuple[str, int]]:
    return ports.records.counts(user_key(user_id))


def add_user_tag(ports: Ports, *, user_id: str | None, image_id: str | None, name: str | None) -> ImageRecord:
    record = _tagged_image(ports, user_id, image_id)
    return ports.records.change_tags(record.user_key, record.image_id, add=Tag(normalise_tag(name), 1.0, USER_SOURCE))


def remove_tag(ports: Ports, *, user_id: str | None, image_id: str | None, name: str | None) -> ImageRecord:
    record = _tagged_image(ports, user_id, image_id)
    return ports.records.change_tags(record.user_key, record.image_id, remove=normalise_tag(name))


@dataclass(frozen=True)
class Retry:
    record: ImageRecord
    job: UploadJob


def retry_image(ports: Ports, *, user_id: str | None, image_id: str | None) -> Retry:
    """Queue an image for tagging again: a failed one, or a tagged one to be analysed afresh (by a new tagger,
    say) at most once in the retry interval (TAGGING_RETRY_INTERVAL_SECONDS). Its owner's tags and removals are
    kept; a pending image has nothing to retry (409)."""
    record = owned_image(ports, user_id, image_id)
    if record.status == "pending":
        # Its job is queued or running: another would only analyse it twice.
        raise ImageNotReadyError(
            "The image is being tagged: there is nothing to retry yet. If it stays pending for minutes, upload the "
            "same file again, which sends its job again."
        )
    interval = timedelta(seconds=ports.settings.retry_interval_seconds)
    waited = datetime.now(UTC) - (parse_timestamp(record.tagged_at or "") or datetime.min.replace(tzinfo=UTC))
    if record.status == "done" and waited < interval:  # a failed image may be retried at once
        seconds = math.ceil((interval - waited).total_seconds())
        raise RetryTooSoonError(
            f"The image was tagged {int(waited.total_seconds())} s ago, and is analysed at most once in "
            f"{interval.seconds} s; retry it in {seconds} s.",
            retry_after=seconds,
        )
    job = job_for(caller(user_id).id, record)
    # Record and index rows go in one transaction: the Table output binding can then insert the new record.
    ports.records.reset(record)
    logger.info("Image %s queued again", record.image_id)
    pending = replace(record, status="pending", tags=(), removed_tags=(), tagged_at=None, error=None, thumbnail=False)
    return Retry(pending, job)


def delete_image(ports: Ports, *, user_id: str | None, image_id: str | None, now: datetime | None = None) -> None:
    """Remove the image, its thumbnail, its record and every index row; a racing worker cannot bring it back."""
    record = owned_image(ports, user_id, image_id)
    ref = record.ref
    stored = ports.images.describe(ref.blob)
    # Tombstones first: from here on the worker drops whatever it was doing for this image, and an upload of
    # the same bytes after the blob is gone is told apart by its blob's ETag.
    ports.records.forget(replace(record, deleted_at=timestamp(now), deleted_etag=stored.etag if stored else None))
    ports.images.delete(ref.blob)
    ports.thumbnails.delete(ref.thumbnail)
    logger.info("Image %s deleted", ref.image_id)


def thumbnail(ports: Ports, *, user_id: str | None, image_id: str | None) -> FetchedImage:
    ref = caller_ref(user_id, image_id)
    found = ports.thumbnails.fetch(ref.thumbnail)
    if found is None:
        raise ImageNotFoundError(f"No thumbnail for {ref.image_id} (yet): it appears once the image is tagged.")
    return found


def content_link(ports: Ports, *, user_id: str | None, image_id: str | None) -> str:
    """Where the caller downloads one of its images: a short-lived link straight to its blob, so that the app
    never holds a whole image for a download."""
    ref = caller_ref(user_id, image_id)
    link = ports.images.link(ref.blob)
    if link is None:
        raise ImageNotFoundError.of(ref.image_id)
    return link


def _tagged_image(ports: Ports, user_id: str | None, image_id: str | None) -> ImageRecord:
    """One of the caller's images that has been tagged (or failed): tags change only once it has its record."""
    record = owned_image(ports, user_id, image_id)
    if record.status == "pending":
        raise ImageNotReadyError.still_tagging()
    return record


def page_size(limit: str | None, *, default: int = DEFAULT_PAGE, most: int = MAX_PAGE) -> int:
    if limit is None or limit == "":
        return default
    # ASCII digits only (str.isdigit() also takes "²", which int() refuses), and no more than three.
    if not _PAGE_SIZE.fullmatch(limit) or not 1 <= int(limit) <= most:
        raise InvalidRequestError(f"limit must be a whole number from 1 to {most}.")
    return int(limit)
