"""Tag rules: what a tag name may be, how many an image carries, and how its owner's edits change them. No I/O."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace

from tagging.errors import InvalidTagError
from tagging.model import ImageRecord, Tag

logger = logging.getLogger(__name__)

MAX_TAG_CHARS = 64
MAX_TAGS_PER_IMAGE = 40  # a batch holds 100 operations: the manifest, the listing row, a row and a count per tag
# Automatic tags stop short of that, so that an owner can always add tags of their own.
MAX_AUTOMATIC_TAGS = 30
# The automatic tags an owner removed, remembered so that tagging again leaves them out: the latest ones.
MAX_REMOVED_TAGS = 40
# The source of the tags an owner sets by hand.
USER_SOURCE = "user"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # and lone surrogates, which UTF-8 cannot carry


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


def addressable(tags: Iterable[Tag]) -> tuple[Tag, ...]:
    """Automatic tags as their owner can address them, with the rules the owner's own tags follow: a name longer
    than MAX_TAG_CHARS is cut to it (a camera model can run to 200 characters), and a name those rules refuse is
    left out rather than stored beyond the owner's reach."""
    kept: dict[str, Tag] = {}
    for tag in tags:
        try:
            name = normalise_tag(tag.name[:MAX_TAG_CHARS].rstrip("-"))
        except InvalidTagError:
            logger.info("Automatic tag %r left out: %s", tag.name[:80], "not a name an owner could address")
            continue
        kept.setdefault(name, replace(tag, name=name) if name != tag.name else tag)
    return tuple(kept.values())


def with_edits(tags: tuple[Tag, ...], user_tags: tuple[str, ...], removed: tuple[str, ...]) -> tuple[Tag, ...]:
    """Automatic tags without those the owner removed or set themselves, then the owner's own."""
    mine = set(user_tags) | set(removed)
    kept = tuple(tag for tag in tags if tag.name not in mine)
    return kept + tuple(Tag(name, 1.0, USER_SOURCE) for name in user_tags)


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
        if any(tag.source != USER_SOURCE for tag in dropped) and remove not in removed:
            removed = [*removed, remove][-MAX_REMOVED_TAGS:]
    if add is not None and len(tags) > MAX_TAGS_PER_IMAGE:
        raise InvalidTagError(f"An image carries at most {MAX_TAGS_PER_IMAGE} tags; remove one first.")
    return replace(record, tags=tuple(tags), removed_tags=tuple(removed))
