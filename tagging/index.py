"""The Table layout that makes every read cheap: row keys and rows beside each image record. No I/O here.

Everything of one user lives in one partition (PartitionKey = the user's key), so one batch transaction can
change an image's index rows and its tag counts together, and every read is a point read or a RowKey range:

    <image id>                              the record (written by the Table output binding)
    all|<newest-first time>|<image id>      one per processed image: the listing
    tag|<tag key>|<newest-first time>|<id>  one per tag of the image: the search
    count|<tag key>|<shard>                 how many of the user's images carry the tag (summed over shards)
    idx|<image id>                          which rows above belong to the image; a tombstone once deleted

Rows of a listing carry what a gallery shows (status, tags, size, dates), so a page is one query.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from tagging.errors import InvalidRequestError
from tagging.model import ImageRecord, Tag, compact_json

MAX_TAG_CHARS = 64
MAX_TAGS_PER_IMAGE = 40  # a batch holds 100 operations: the manifest, the listing row, a row and a count per tag
# Automatic tags stop short of that, so that an owner can always add tags of their own.
MAX_AUTOMATIC_TAGS = 30
# The automatic tags an owner removed, remembered so that tagging again leaves them out: the latest ones.
MAX_REMOVED_TAGS = 40
ALL, TAG, COUNT, MANIFEST = "all|", "tag|", "count|", "idx|"
# Timestamps up to the year 2286 fit in 13 digits of milliseconds; subtracting gives newest first.
_NEWEST_FIRST = 10**13 - 1
_READABLE_TAG = re.compile(r"[a-z0-9:._-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # and lone surrogates, which UTF-8 cannot carry


class InvalidTagError(InvalidRequestError):
    code = "invalid_tag"


class InvalidContinuationError(InvalidRequestError):
    code = "invalid_continuation"


def normalise_tag(name: str | None) -> str:
    """A tag name as stored: trimmed, lower-case, 1..64 characters without control characters, and one that a URL
    path can carry: no `/`, and not `.` or `..` (a path drops those segments before any function sees them)."""
    cleaned = (name or "").strip().lower()
    if not cleaned or len(cleaned) > MAX_TAG_CHARS or _CONTROL.search(cleaned):
        raise InvalidTagError(f"Tag names are 1 to {MAX_TAG_CHARS} characters without control characters.")
    if "/" in cleaned or cleaned in (".", ".."):
        raise InvalidTagError(
            f"{cleaned!r} cannot be a tag name: tags appear in URL paths, which cannot carry a '/' "
            "(Azure hands it on as %2F) nor a segment that is '.' or '..'. Use '-' instead."
        )
    return cleaned


def tag_key(name: str) -> str:
    """Tags as they may appear in a RowKey: plain ones readable, others base64url behind `~` (never `|`)."""
    if _READABLE_TAG.fullmatch(name):
        return name
    return "~" + base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii").rstrip("=")


def newest_first(timestamp: str) -> str:
    millis = int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)
    return f"{_NEWEST_FIRST - millis:013d}"


def listing_key(record: ImageRecord) -> str:
    return f"{ALL}{newest_first(record.uploaded_at)}|{record.image_id}"


def tag_row_key(name: str, record: ImageRecord) -> str:
    return f"{TAG}{tag_key(name)}|{newest_first(record.uploaded_at)}|{record.image_id}"


# Every image bumps the counts of tags like `format:jpeg`: with one row per tag, concurrent workers for one user
# would queue on those rows. Each image counts in one of several shards instead (chosen by its id, so that its
# removal decrements the shard its addition incremented); a tag's count is the sum of its shards.
COUNT_SHARDS = 8


def count_shard(image_id: str) -> int:
    return int(image_id[:2], 16) % COUNT_SHARDS


def count_key(name: str, shard: int) -> str:
    return f"{COUNT}{tag_key(name)}|{shard}"


def count_prefix(name: str) -> str:
    return f"{COUNT}{tag_key(name)}|"


def manifest_key(image_id: str) -> str:
    return f"{MANIFEST}{image_id}"


def prefix_range(prefix: str) -> tuple[str, str]:
    """RowKeys starting with `prefix` are those >= it and < it with its last character bumped."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def search_prefix(tag: str | None) -> str:
    return ALL if tag is None else f"{TAG}{tag_key(tag)}|"


def summary(record: ImageRecord) -> dict[str, object]:
    """What a listing row carries: enough for a gallery item without reading the record."""
    return {
        "image_id": record.image_id,
        "status": record.status,
        "tags": compact_json([[t.name, t.confidence, t.source] for t in record.tags]),
        "width": record.width,
        "height": record.height,
        "uploaded_at": record.uploaded_at,
        "thumbnail": record.thumbnail,
    }


@dataclass(frozen=True)
class Item:
    """One image in a listing or search page."""

    image_id: str
    status: str
    tags: tuple[Tag, ...]
    width: int | None
    height: int | None
    uploaded_at: str
    thumbnail: bool

    def to_api(self) -> dict[str, object]:
        return {
            "id": self.image_id,
            "status": self.status,
            "tags": [{"name": t.name, "confidence": t.confidence, "source": t.source} for t in self.tags],
            "width": self.width,
            "height": self.height,
            "uploaded_at": self.uploaded_at,
            "thumbnail": f"/api/images/{self.image_id}/thumbnail" if self.thumbnail else None,
        }


@dataclass(frozen=True)
class Page:
    items: list[Item]
    # The RowKey to resume after, while more may remain.
    after: str | None = None


def encode_continuation(row_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "after": row_key}).encode()).decode().rstrip("=")


def decode_continuation(token: str | None, prefixes: Sequence[str]) -> str | None:
    """The RowKey to resume after; a token from another query or a forged one is refused."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = data["after"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidContinuationError("The continuation token is not one this API gave out.") from exc
    if data.get("v") != 1 or not isinstance(after, str) or not after.startswith(tuple(prefixes)):
        raise InvalidContinuationError("The continuation token belongs to another query; start the search again.")
    return after


def retagged(record: ImageRecord, *, add: Tag | None = None, remove: str | None = None) -> ImageRecord:
    """The record with a user tag added or any tag removed; removing an automatic tag is remembered, so that a
    later analysis of the image leaves it out."""
    tags = list(record.tags)
    removed = list(record.removed_tags)
    if add is not None:
        tags = [tag for tag in tags if tag.name != add.name] + [add]
        removed = [name for name in removed if name != add.name]
    if remove is not None:
        dropped = [tag for tag in tags if tag.name == remove]
        tags = [tag for tag in tags if tag.name != remove]
        if any(tag.source != "user" for tag in dropped) and remove not in removed:
            removed = [*removed, remove][-MAX_REMOVED_TAGS:]
    if add is not None and len(tags) > MAX_TAGS_PER_IMAGE:
        raise InvalidTagError(f"An image carries at most {MAX_TAGS_PER_IMAGE} tags; remove one first.")
    return replace(record, tags=tuple(tags), removed_tags=tuple(removed))
