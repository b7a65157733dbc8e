"""Accepting an upload: the bytes checked, typed and stored once under the caller, and the job that tags them."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from tagging import analysis
from tagging.config import Settings
from tagging.errors import EmptyUploadError, ImageNotReadyError, UnsupportedMediaError, UploadTooLargeError
from tagging.identity import caller, image_id_for
from tagging.model import ImageRecord, ImageRef, UploadJob
from tagging.ports import Ports
from tagging.services.images import current, job_for, pending, timestamp

logger = logging.getLogger(__name__)

MAX_FILENAME_CHARS = 255
# ASCII digits only: str.isdigit() also takes "²", which int() refuses.
_PLAIN_NUMBER = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Accepted:
    """The answer to an upload: the image as it stands, whether this call stored it, and the job to send."""

    record: ImageRecord
    created: bool
    job: UploadJob | None


def accept_upload(
    ports: Ports,
    *,
    user_id: str | None,
    data: bytes,
    declared_type: str | None = None,
    declared_length: str | None = None,
    filename: str | None = None,
    now: datetime | None = None,
) -> Accepted:
    """Store an upload unless the same bytes are there already, and say which job to send, if any."""
    settings = ports.settings
    check_declared_size(declared_length, settings)
    who = caller(user_id)
    _refuse_forms(declared_type)
    if not data:
        raise EmptyUploadError(
            "The request body is empty: send the image bytes as the body, with a Content-Length "
            "(curl --data-binary @photo.jpg)."
        )
    _check_size(len(data), settings)
    header = analysis.probe(data, settings.max_pixels)
    sha256 = hashlib.sha256(data).hexdigest()
    ref = ImageRef(who.key, image_id_for(who.key, sha256))
    metadata = {"sha256": sha256, "size": str(len(data)), "uploaded_at": timestamp(now)}
    name = _clean_filename(filename)
    if name:
        metadata["filename"] = quote(name, safe=" ")  # blob metadata is ASCII only
    stored = ports.images.save(ref.blob, data, header.content_type, metadata)
    if stored is not None:
        logger.info("Stored image %s (%s, %d bytes) for %s", ref.image_id, header.format, len(data), ref.user_key)
        record = pending(ref, stored)
        return Accepted(record, created=True, job=job_for(who.id, record))
    existing = current(ports, ref)
    if existing is None:  # the stored copy is being deleted: whoever deleted it wins
        raise ImageNotReadyError("This image is being deleted; upload it again in a moment.")
    if existing.status != "pending":
        return Accepted(existing, created=False, job=None)
    # Stored but not tagged yet. The job may have been lost (the host sends it only after the function
    # returns), so send it again: the worker is idempotent, a duplicate job costs one table read.
    logger.info("Image %s uploaded again while pending; job sent again", ref.image_id)
    return Accepted(existing, created=False, job=job_for(who.id, existing))


def check_declared_size(content_length: str | None, settings: Settings) -> None:
    """Refuse an oversized upload from its Content-Length, before its body is looked at."""
    declared = (content_length or "").strip()
    if _PLAIN_NUMBER.fullmatch(declared):
        # Twenty digits are more bytes than anyone sends: no need to read a longer number to refuse it.
        _check_size(int(declared) if len(declared) < 20 else 10**20, settings)


def _refuse_forms(declared_type: str | None) -> None:
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
