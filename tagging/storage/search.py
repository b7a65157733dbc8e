"""Reading the index: pages of a listing or a search, and tag counts; each a bounded few range queries."""

from __future__ import annotations

from collections.abc import Sequence

from tagging import similarity
from tagging.model import Item
from tagging.ports import Match, Page
from tagging.storage import layout
from tagging.storage.entities import EntityReader, item_from_row
from tagging.storage.partition import Rows, count_of

# A search for several tags reads the rarest tag's rows and keeps those carrying the others; it reads at most
# this many rows per request, then hands out a continuation token, so one request costs a bounded few queries.
SCAN_BUDGET = 1000
_SCAN_PAGE = 200


def page(rows: Rows, user_key: str, tags: Sequence[str], limit: int, continuation: str | None) -> Page:
    after = layout.resume_after(continuation, tags)
    if len(tags) <= 1:
        return _scan(
            rows, user_key, layout.search_prefix(tags[0] if tags else None), others=[], limit=limit, after=after
        )
    if after is not None:  # carry on through the tag the first page chose
        chosen = next(tag for tag in tags if after.startswith(layout.search_prefix(tag)))
        others = [t for t in tags if t != chosen]
        return _scan(rows, user_key, layout.search_prefix(chosen), others=others, limit=limit, after=after)
    totals = {name: _total(rows, user_key, name) for name in tags}
    if min(totals.values()) == 0:
        return Page([])
    rarest = min(tags, key=lambda name: totals[name])
    others = [t for t in tags if t != rarest]
    return _scan(rows, user_key, layout.search_prefix(rarest), others=others, limit=limit, after=None)


def counts(rows: Rows, user_key: str) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for row in rows.range(user_key, layout.COUNT, None, select=["name", "count"]):
        name = str(EntityReader(row).text("name"))
        totals[name] = totals.get(name, 0) + count_of(row)
    return sorted(((name, n) for name, n in totals.items() if n > 0), key=lambda item: (-item[1], item[0]))


def similar(rows: Rows, user_key: str, phash: str, max_distance: int) -> list[Match]:
    """Every image sharing a band value with `phash` is a candidate (see tagging.similarity); each is read once
    per band it shares, and kept when its exact distance is within `max_distance`."""
    found: dict[str, tuple[str, Match]] = {}
    for band in similarity.bands(phash):
        for row in rows.range(user_key, layout.similar_prefix(band), None):
            read = EntityReader(row)
            other, image_id = read.text("phash"), read.text("image_id")
            if other is None or image_id is None or image_id in found:
                continue
            distance = similarity.distance(phash, other)
            if distance <= max_distance:
                # The RowKey's newest-first time orders equal distances newest first.
                found[image_id] = (str(row["RowKey"]).rsplit("|", 2)[1], Match(item_from_row(row), distance))
    return [match for _, match in sorted(found.values(), key=lambda pair: (pair[1].distance, pair[0]))]


def _total(rows: Rows, user_key: str, name: str) -> int:
    return sum(count_of(row) for row in rows.range(user_key, layout.count_prefix(name), None, select=["count"]))


def _scan(rows: Rows, user_key: str, prefix: str, *, others: list[str], limit: int, after: str | None) -> Page:
    items: list[Item] = []
    last: str | None = None
    page_size = limit + 1 if not others else _SCAN_PAGE
    for scanned, row in enumerate(rows.range(user_key, prefix, after, page_size=page_size), start=1):
        if len(items) == limit:
            return Page(items, layout.continuation_token(str(last)))  # a row beyond the page exists: more remain
        last = str(row["RowKey"])
        item = item_from_row(row)
        names = {tag.name for tag in item.tags}
        if all(name in names for name in others):
            items.append(item)
        if others and scanned >= SCAN_BUDGET and len(items) < limit:
            return Page(items, layout.continuation_token(last))
    return Page(items)
