"""The queue worker's use cases: read a job, tag its image once, and record an image the host gave up on.

Delivery is at least once and the Table output binding only inserts, so a job whose record exists is done
already: each use case returns the record to write, or None when there is nothing to write.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tagging import analysis
from tagging.errors import ImageNotFoundError, InvalidImageError, MalformedJobError, TaggingError, UnsupportedMediaError
from tagging.identity import checked_image_id, user_key
from tagging.model import ImageRecord, UploadJob
from tagging.ports import Claim, Ports
from tagging.services.images import job_blob, pending, timestamp
from tagging.taggers import TaggerInput, merge, run_taggers
from tagging.tags import MAX_AUTOMATIC_TAGS, addressable, with_edits

logger = logging.getLogger(__name__)

# How long a claim on an image's analysis stands: far longer than an analysis takes; a worker that died holding
# one is taken over by its own message's next delivery (the same claimant) at once, by any other job after this.
CLAIM_LEASE = timedelta(minutes=10)


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
    if job.blob != job_blob(job.ref):
        raise MalformedJobError(f"The job's blob {job.blob!r} is not where this image is stored.")
    return job


def tag_image(ports: Ports, job: UploadJob, *, claimant: str, now: datetime | None = None) -> ImageRecord | None:
    """The record to write for a job: tagged, or failed with the reason when its bytes cannot be decoded.

    The analysis is claimed first, so that a duplicate job (an upload sent again, a redelivery) does not decode
    the image while another worker does; `claimant` names the delivery (the message id, the same on its retries).
    """
    ref = job.ref
    claim = _claim(ports, job, claimant, now or datetime.now(UTC))
    if claim is None:
        return None
    try:
        data = ports.images.read(ref.blob)
    except ImageNotFoundError:
        logger.warning("Image %s is no longer stored; nothing to tag", ref.image_id)
        return None
    untagged = ImageRecord(
        user_key=ref.user_key,
        image_id=ref.image_id,
        status="pending",
        sha256=job.sha256,
        size=len(data),
        content_type=job.content_type,
        uploaded_at=job.uploaded_at,
        filename=job.filename,
        tags=with_edits((), job.user_tags, job.removed_tags),
        removed_tags=job.removed_tags,
    )
    try:
        decoded = analysis.decode(data, ports.settings.max_pixels)
        result = analysis.describe(decoded)
    except (InvalidImageError, UnsupportedMediaError) as exc:
        # Permanent: the same bytes fail the same way on every retry, so record why instead of retrying.
        logger.warning("Image %s cannot be tagged: %s", ref.image_id, exc)
        failed = replace(untagged, status="failed", tagged_at=timestamp(now), error=str(exc))
        return failed if _indexed(ports, failed, claim) else None
    preview = analysis.thumbnail(decoded)
    # Written before the record, so that a record always has its thumbnail; a retry finds it there already.
    ports.thumbnails.save(ref.thumbnail, preview, analysis.THUMBNAIL_CONTENT_TYPE, {})
    extra = run_taggers(
        ports.taggers, TaggerInput(ref.image_id, data, job.content_type, result, preview, decoded.image)
    )
    automatic = addressable(merge(result.tags, extra, limit=MAX_AUTOMATIC_TAGS))
    tags = with_edits(automatic, job.user_tags, job.removed_tags)
    done = replace(
        untagged,
        status="done",
        format=result.format,
        width=result.width,
        height=result.height,
        tags=tags,
        frames=result.frames,
        mode=result.mode,
        metadata=result.metadata,
        phash=result.phash,
        thumbnail=True,
        tagged_at=timestamp(now),
    )
    if not _indexed(ports, done, claim):
        ports.thumbnails.delete(ref.thumbnail)
        return None
    logger.info("Image %s tagged: %s", ref.image_id, ", ".join(tag.name for tag in tags))
    return done


def record_failure(ports: Ports, job: UploadJob, reason: str, *, now: datetime | None = None) -> ImageRecord | None:
    """The failed record for a job the host gave up on, or None when the image needs nothing more.

    A poison queue has no poison queue of its own, so this must never fail for a reason a retry cannot fix.
    """
    if not _needs_record(ports, job):
        return None  # done or failed meanwhile
    stored = ports.images.describe(job.ref.blob)
    if stored is None:
        return None  # deleted
    failed = replace(
        pending(job.ref, stored),
        status="failed",
        tags=with_edits((), job.user_tags, job.removed_tags),
        removed_tags=job.removed_tags,
        tagged_at=timestamp(now),
        error=reason,
    )
    return failed if _indexed(ports, failed) else None


def _claim(ports: Ports, job: UploadJob, claimant: str, now: datetime) -> Claim | None:
    """The claim on the job's analysis, or None when there is nothing to do. Claiming comes first, in one call in
    the common case; only when the image is claimed, indexed or deleted already is its record looked at."""
    ref = job.ref
    claim = ports.records.claim(
        ref.user_key, ref.image_id, claimant, now=timestamp(now), until=timestamp(now + CLAIM_LEASE)
    )
    if claim.state == "held":
        logger.info("Image %s is being tagged by another worker; duplicate job ignored", ref.image_id)
        return None
    if claim.state == "claimed":
        return claim  # nobody has indexed it, so it has no record either
    existing = ports.records.get(ref.user_key, ref.image_id)
    if claim.state == "indexed":
        # Done, unless the worker that indexed it died before its record was written: then this job writes it.
        if existing is None:
            return claim
        logger.info("Image %s already %s; duplicate job ignored", ref.image_id, existing.status)
        return None
    # Deleted: unless uploaded again since, when its tombstones are cleared and it is claimed afresh.
    if existing is not None and existing.status == "deleted" and _uploaded_again(ports, existing):
        ports.records.revive(ref.user_key, ref.image_id)
        again = ports.records.claim(
            ref.user_key, ref.image_id, claimant, now=timestamp(now), until=timestamp(now + CLAIM_LEASE)
        )
        return again if again.state == "claimed" else None
    logger.info("Image %s was deleted; its job is ignored", ref.image_id)
    return None


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
    stored = ports.images.describe(tombstone.ref.blob)
    return stored is not None and stored.etag != tombstone.deleted_etag


def _indexed(ports: Ports, record: ImageRecord, claim: Claim | None = None) -> bool:
    """Index the record; False when nothing more must be written: the image was deleted meanwhile, or another
    worker took over this one's claim (and writes the record itself). An index found in place for an `indexed`
    claim is the one whose record was never written: this job writes it."""
    result = ports.records.index(record, claim)
    if result == "deleted":
        logger.info("Image %s was deleted while it was being tagged; dropping the result", record.image_id)
    elif result == "exists" and claim is not None and claim.state == "claimed":
        logger.info("Image %s was claimed by another worker meanwhile; it writes the record", record.image_id)
        return False
    return result != "deleted"
