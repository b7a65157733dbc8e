"""Near duplicates of the caller's images: those of one image, and groups of them across the library.

Each lookup reads one range of index rows per band of the image's perceptual hash (tagging.similarity): the
images that share a band value with it, whose exact distance is then checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagging import similarity
from tagging.errors import ImageNotReadyError, InvalidRequestError, NotComparableError
from tagging.identity import user_key
from tagging.model import ImageRecord, Item
from tagging.ports import Match, Ports
from tagging.services.images import owned_image
from tagging.services.library import page_size

DEFAULT_GROUP_PAGE = 20
MAX_GROUP_PAGE = 50


@dataclass(frozen=True)
class Group:
    """An image and the older images near it."""

    image: Item
    matches: list[Match]


@dataclass(frozen=True)
class GroupPage:
    groups: list[Group]
    continuation: str | None = None


def similar_images(
    ports: Ports, *, user_id: str | None, image_id: str | None, max_distance: str | None, limit: str | None = None
) -> tuple[ImageRecord, int, list[Match]]:
    """The image, the distance asked for, and the caller's other images within it, nearest first."""
    distance, most = _distance(max_distance), page_size(limit)
    record = owned_image(ports, user_id, image_id)
    matches = _others(ports, record.user_key, record.image_id, comparable(record), distance)
    return record, distance, matches[:most]


def duplicate_groups(
    ports: Ports, *, user_id: str | None, limit: str | None = None, continuation: str | None = None
) -> GroupPage:
    """Newest first, the caller's images that have near duplicates, each with the older ones near it.

    A page walks `limit` images of the listing and looks each one's neighbours up. A group is shown at its newest
    image: an image with a newer neighbour was shown in that one's group. The walk may go on (a continuation)
    past a page with no group in it.
    """
    key = user_key(user_id)
    walked = ports.records.page(
        key, [], page_size(limit, default=DEFAULT_GROUP_PAGE, most=MAX_GROUP_PAGE), continuation
    )
    groups = []
    for item in walked.items:
        if item.status != "done" or item.phash is None:
            continue
        matches = _others(ports, key, item.image_id, item.phash, similarity.DEFAULT_DISTANCE)
        if matches and all(_older(match.item, item) for match in matches):
            groups.append(Group(item, matches))
    return GroupPage(groups, walked.continuation)


def comparable(record: ImageRecord) -> str:
    """The record's perceptual hash, or why it has none."""
    if record.status == "pending":
        raise ImageNotReadyError("The image is still being tagged; its near duplicates can be found once it is done.")
    if record.status == "failed":
        raise NotComparableError(f"Image {record.image_id} could not be decoded: there is no picture to compare.")
    if record.phash is None:
        raise NotComparableError(
            f"Image {record.image_id} has no perceptual hash: its picture has too little detail to compare (a flat "
            "colour or a few pixels would be similar to every other one), or it was tagged before images were "
            "hashed; tag it again (POST /api/images/{id}/retry) to hash it."
        )
    return record.phash


def _others(ports: Ports, key: str, image_id: str, phash: str, distance: int) -> list[Match]:
    return [match for match in ports.records.similar(key, phash, distance) if match.item.image_id != image_id]


def _distance(raw: str | None) -> int:
    if raw is None or raw == "":
        return similarity.DEFAULT_DISTANCE
    if not raw.isascii() or not raw.isdigit() or int(raw) > similarity.MAX_DISTANCE:
        raise InvalidRequestError(
            f"max_distance is a whole number of bits from 0 to {similarity.MAX_DISTANCE} (the default): the index "
            f"finds every image within {similarity.MAX_DISTANCE} bits and no further."
        )
    return int(raw)


def _older(other: Item, item: Item) -> bool:
    return (other.uploaded_at, other.image_id) < (item.uploaded_at, item.image_id)
