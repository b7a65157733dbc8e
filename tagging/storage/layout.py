"""The Table layout that makes every read cheap: row keys and rows beside each image record. No I/O here.

Everything of one user lives in one partition (PartitionKey = the user's key), so one batch transaction can
change an image's index rows and its tag counts together, and every read is a point read or a RowKey range:

    <image id>                              the record (written by the Table output binding)
    all|<newest-first time>|<image id>      one per processed image: the listing
    tag|<tag key>|<newest-first time>|<id>  one per tag of the image: the search
    count|<tag key>|<shard>                 how many of the user's images carry the tag (summed over shards)
    sim|<band>-<value>|<newest-first>|<id>  one per band of the image's perceptual hash: near duplicates
    idx|<image id>                          which rows above belong to the image; a tombstone once deleted

Rows of a listing carry what a gallery shows (status, tags, size, dates), so a page is one query. Continuation
tokens name the RowKey a page stopped after; outside this package they are opaque strings.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from datetime import datetime

from tagging.errors import InvalidContinuationError
from tagging.model import ImageRecord, compact_json

ALL, TAG, COUNT, SIMILAR, MANIFEST = "all|", "tag|", "count|", "sim|", "idx|"
# Timestamps up to the year 2286 fit in 13 digits of milliseconds; subtracting gives newest first.
_NEWEST_FIRST = 10**13 - 1
_READABLE_TAG = re.compile(r"[a-z0-9:._-]{1,64}")


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


def similar_key(band: str, record: ImageRecord) -> str:
    return f"{SIMILAR}{band}|{newest_first(record.uploaded_at)}|{record.image_id}"


def similar_prefix(band: str) -> str:
    return f"{SIMILAR}{band}|"


def similar_summary(record: ImageRecord) -> dict[str, object]:
    """What a band row carries: the hash to check the distance, and what a list of similar images shows. No tags:
    tag edits need not rewrite these rows."""
    return {
        "image_id": record.image_id,
        "status": record.status,
        "phash": record.phash,
        "width": record.width,
        "height": record.height,
        "uploaded_at": record.uploaded_at,
        "thumbnail": record.thumbnail,
        "filename": record.filename,
    }


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
        "filename": record.filename,
        "phash": record.phash,
    }


def continuation_token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "after": after}).encode()).decode().rstrip("=")


def resume_after(token: str | None, tags: Sequence[str]) -> str | None:
    """The RowKey a token says to resume after, for a search of these tags; a token from another query or a
    forged one is refused."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = data["after"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidContinuationError("The continuation token is not one this API gave out.") from exc
    prefixes = tuple(search_prefix(tag) for tag in tags) or (search_prefix(None),)
    if data.get("v") != 1 or not isinstance(after, str) or not after.startswith(prefixes):
        raise InvalidContinuationError("The continuation token belongs to another query; start the search again.")
    return after
