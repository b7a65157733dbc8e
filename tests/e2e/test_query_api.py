"""The query API over real HTTP on the local runner: search, pages, counts, files, deletes, manual tags, isolation."""

from __future__ import annotations

import io
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from PIL import Image

from tagging.config import IMAGES_CONTAINER, RECORDS_TABLE, THUMBNAILS_CONTAINER
from tests.images import image_bytes
from tests.runner.harness import eventually
from tests.stack import Stack

pytestmark = pytest.mark.e2e

RED, BLUE, GREEN = (230, 20, 20), (20, 40, 230), (30, 200, 40)


def user() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


def uploaded(stack: Stack, who: str, images: list[bytes]) -> list[str]:
    """Upload in order (oldest first) and wait until every image is tagged; the ids, oldest first."""
    ids = []
    for data in images:
        response = stack.upload(data, who)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    for image_id in ids:
        assert stack.settled(image_id, who)["status"] == "done"
    return ids


def search(stack: Stack, who: str, *tags: str, **params: Any) -> dict[str, Any]:
    query = [("tag", tag) for tag in tags] + list(params.items())
    response = stack.call("GET", "/api/images", who, params=query)
    assert response.status_code == 200, response.text
    return response.json()


def ids_of(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


@pytest.fixture(scope="module")
def gallery(stack: Stack) -> tuple[str, list[str]]:
    """A user with a red square, a blue landscape and a red portrait, uploaded in that order."""
    who = user()
    ids = uploaded(
        stack,
        who,
        [image_bytes("PNG", (60, 60), RED), image_bytes("PNG", (120, 60), BLUE), image_bytes("PNG", (40, 80), RED)],
    )
    return who, ids


def test_search_by_one_tag_newest_first(stack: Stack, gallery: tuple[str, list[str]]) -> None:
    who, (square, _, portrait) = gallery
    body = search(stack, who, "color:red")
    assert ids_of(body) == [portrait, square]
    assert body["continuation"] is None
    item = body["items"][0]
    assert item["status"] == "done"
    assert (item["width"], item["height"]) == (40, 80)
    assert item["thumbnail"] == f"/api/images/{portrait}/thumbnail"
    assert "orientation:portrait" in {tag["name"] for tag in item["tags"]}
    assert item["uploaded_at"]


def test_search_with_several_tags_needs_all_of_them(stack: Stack, gallery: tuple[str, list[str]]) -> None:
    who, (square, _, portrait) = gallery
    assert ids_of(search(stack, who, "color:red", "orientation:portrait")) == [portrait]
    assert ids_of(search(stack, who, "orientation:portrait", "color:red")) == [portrait]
    assert ids_of(search(stack, who, "color:blue", "color:red")) == []
    assert ids_of(search(stack, who, "no-such-tag")) == []
    assert ids_of(search(stack, who, "COLOR:RED ")) == [portrait, square]  # names are normalised


def test_without_tags_every_image_is_listed_newest_first(stack: Stack, gallery: tuple[str, list[str]]) -> None:
    who, ids = gallery
    assert ids_of(search(stack, who)) == list(reversed(ids))


def test_tag_counts_most_used_first(stack: Stack, gallery: tuple[str, list[str]]) -> None:
    who, _ = gallery
    response = stack.call("GET", "/api/tags", who)
    assert response.status_code == 200
    counts = {tag["name"]: tag["count"] for tag in response.json()["tags"]}
    assert counts["format:png"] == 3
    assert counts["color:red"] == 2
    assert counts["color:blue"] == 1
    listed = [tag["count"] for tag in response.json()["tags"]]
    assert listed == sorted(listed, reverse=True)


def test_pages_follow_continuation_tokens_to_the_end(stack: Stack) -> None:
    who = user()
    colours = [(10 * n, 200, 40) for n in range(7)]
    ids = uploaded(stack, who, [image_bytes("PNG", (50 + n, 50), colour) for n, colour in enumerate(colours)])
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"limit": "3", **({"continuation": token} if token else {})}
        body = search(stack, who, "format:png", **params)
        seen += ids_of(body)
        pages += 1
        token = body["continuation"]
        if token is None:
            break
        assert len(body["items"]) == 3
    assert seen == list(reversed(ids))
    assert pages == 3
    # The same through the listing and through a two-tag search.
    assert ids_of(search(stack, who, limit="7")) == list(reversed(ids))
    first = search(stack, who, "format:png", "color:green", limit="4")
    rest = search(stack, who, "format:png", "color:green", continuation=first["continuation"])
    assert ids_of(first) + ids_of(rest) == list(reversed(ids))


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"continuation": "not-a-token"}, {"tag": "x" * 65}],
)
def test_bad_search_parameters_are_400(stack: Stack, params: dict[str, str]) -> None:
    response = stack.call("GET", "/api/images", user(), params=params)
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_a_token_from_another_search_is_refused(stack: Stack, gallery: tuple[str, list[str]]) -> None:
    who, _ = gallery
    token = search(stack, who, "format:png", limit="1")["continuation"]
    response = stack.call("GET", "/api/images", who, params={"tag": "color:red", "continuation": token})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_continuation"


def test_content_is_a_redirect_to_a_short_lived_link_to_the_blob(stack: Stack) -> None:
    who = user()
    data = image_bytes("JPEG", (600, 300), BLUE)
    (image_id,) = uploaded(stack, who, [data])
    redirect = stack.call("GET", f"/api/images/{image_id}/content", who)
    assert redirect.status_code == 302
    assert redirect.content == b""  # the app holds no image bytes for a download
    assert redirect.headers["cache-control"] == "no-store"  # the link expires; the redirect must not outlive it
    assert redirect.headers["x-content-type-options"] == "nosniff"
    link = redirect.headers["location"]
    assert link.startswith(stack.account.blobs.url)
    assert "sp=r&" in link
    assert "x-ms-client-principal-id" not in link.lower()
    content = httpx.get(link, timeout=30)  # no identity, no key: the link is all it takes, for minutes
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["content-type"] == "image/jpeg"
    assert "max-age" in content.headers["cache-control"]


def test_thumbnails_are_served_with_type_etag_and_caching(stack: Stack) -> None:
    who = user()
    (image_id,) = uploaded(stack, who, [image_bytes("JPEG", (600, 300), BLUE)])
    thumb = stack.call("GET", f"/api/images/{image_id}/thumbnail", who)
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/webp"
    assert thumb.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in thumb.headers["cache-control"]
    assert Image.open(io.BytesIO(thumb.content)).size == (256, 128)
    again = stack.call(
        "GET", f"/api/images/{image_id}/thumbnail", who, headers={"If-None-Match": thumb.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


def test_no_thumbnail_while_the_image_is_pending(stack: Stack) -> None:
    who = user()
    # A job the worker has not run yet: store the blob only, as an upload whose job is still queued.
    from tagging.ports import Ports
    from tagging.services.upload import accept_upload
    from tagging.storage import BlobImageStore, TableCatalog

    ports = Ports(
        BlobImageStore(stack.account.blobs, IMAGES_CONTAINER),
        BlobImageStore(stack.account.blobs, THUMBNAILS_CONTAINER),
        TableCatalog(stack.account.tables, RECORDS_TABLE),
    )
    image_id = accept_upload(ports, user_id=who, data=image_bytes()).record.image_id
    response = stack.call("GET", f"/api/images/{image_id}/thumbnail", who)
    assert response.status_code == 404
    assert "once the image is tagged" in response.json()["error"]["message"]
    assert stack.call("PUT", f"/api/images/{image_id}/tags/x", who).status_code == 409


def test_delete_removes_everything_and_then_answers_404(stack: Stack) -> None:
    who = user()
    keep, gone = uploaded(stack, who, [image_bytes("PNG", (70, 70), RED), image_bytes("PNG", (90, 60), RED)])
    assert stack.call("DELETE", f"/api/images/{gone}", who).status_code == 204
    for path in (f"/api/images/{gone}", f"/api/images/{gone}/thumbnail", f"/api/images/{gone}/content"):
        assert stack.call("GET", path, who).status_code == 404, path
    assert stack.call("DELETE", f"/api/images/{gone}", who).status_code == 404
    assert ids_of(search(stack, who, "color:red")) == [keep]
    assert ids_of(search(stack, who)) == [keep]
    counts = {t["name"]: t["count"] for t in stack.call("GET", "/api/tags", who).json()["tags"]}
    assert counts["color:red"] == 1
    assert "orientation:landscape" not in counts
    assert leftovers(stack, who, gone) == []


def leftovers(stack: Stack, who: str, image_id: str) -> list[str]:
    """Every storage object that still names the image, apart from the record's tombstone."""
    table = stack.account.tables.get_table_client(RECORDS_TABLE)
    rows = [
        e["RowKey"]
        for e in table.query_entities("PartitionKey eq @pk", parameters={"pk": who})
        if image_id in e["RowKey"] and not e["RowKey"].startswith("idx|") and e.get("status") != "deleted"
    ]
    blobs = [
        f"{container}/{blob.name}"
        for container in (IMAGES_CONTAINER, THUMBNAILS_CONTAINER)
        for blob in stack.account.blobs.get_container_client(container).list_blobs(name_starts_with=f"{who}/")
        if image_id in blob.name
    ]
    return rows + blobs


def test_a_delete_racing_the_worker_never_leaves_the_image_half_alive(stack: Stack) -> None:
    who = user()
    ids = []
    for n in range(6):
        response = stack.upload(image_bytes("PNG", (40 + n, 40), GREEN), who)
        ids.append(response.json()["id"])
        assert stack.call("DELETE", f"/api/images/{ids[-1]}", who).status_code == 204  # at once, mid-pipeline
    # Give the worker every chance to finish (or retry) what it had started.
    eventually(lambda: stack.queues.get_queue_client("image-tagging").get_queue_properties()
               .approximate_message_count == 0, timeout=60)  # fmt: skip
    for image_id in ids:
        assert stack.get(image_id, who).status_code == 404
        assert leftovers(stack, who, image_id) == []
    assert ids_of(search(stack, who)) == []
    assert stack.call("GET", "/api/tags", who).json()["tags"] == []


def test_an_image_deleted_then_uploaded_again_comes_back(stack: Stack) -> None:
    who = user()
    data = image_bytes("PNG", (64, 32), BLUE)
    (image_id,) = uploaded(stack, who, [data])
    assert stack.call("DELETE", f"/api/images/{image_id}", who).status_code == 204
    assert uploaded(stack, who, [data]) == [image_id]
    assert ids_of(search(stack, who, "color:blue")) == [image_id]


def test_manual_tags_are_searchable_and_a_removed_automatic_tag_stays_removed(stack: Stack) -> None:
    who = user()
    (image_id,) = uploaded(stack, who, [image_bytes("PNG", (80, 40), RED)])
    added = stack.call("PUT", f"/api/images/{image_id}/tags/Holiday", who)
    assert added.status_code == 200
    assert {"name": "holiday", "confidence": 1.0, "source": "user"} in added.json()["tags"]
    assert stack.call("PUT", f"/api/images/{image_id}/tags/holiday", who).status_code == 200  # idempotent
    assert ids_of(search(stack, who, "holiday")) == [image_id]
    assert ids_of(search(stack, who, "holiday", "color:red")) == [image_id]

    removed = stack.call("DELETE", f"/api/images/{image_id}/tags/color:red", who)
    assert removed.status_code == 200
    assert "color:red" not in {tag["name"] for tag in removed.json()["tags"]}
    assert ids_of(search(stack, who, "color:red")) == []
    counts = {t["name"]: t["count"] for t in stack.call("GET", "/api/tags", who).json()["tags"]}
    assert counts["holiday"] == 1
    assert "color:red" not in counts
    shown = stack.get(image_id, who).json()
    assert "holiday" in {tag["name"] for tag in shown["tags"]}

    # Tagged afresh, the image keeps its owner's choices: their tag, and not the tag they removed.
    assert stack.call("POST", f"/api/images/{image_id}/retry", who).status_code == 202
    again = stack.settled(image_id, who)
    assert again["status"] == "done"
    names = {tag["name"] for tag in again["tags"]}
    assert "holiday" in names
    assert "color:red" not in names
    assert "format:png" in names
    assert ids_of(search(stack, who, "holiday")) == [image_id]
    assert ids_of(search(stack, who, "color:red")) == []

    assert stack.call("DELETE", f"/api/images/{image_id}/tags/holiday", who).status_code == 200
    assert ids_of(search(stack, who, "holiday")) == []


def test_tag_names_with_any_characters_stay_inside_their_key(stack: Stack) -> None:
    who = user()
    (image_id,) = uploaded(stack, who, [image_bytes("PNG", (30, 30), GREEN)])
    odd = "café\\bar?x#y' or 'a'='a 100% a+b .hidden"
    response = stack.call("PUT", f"/api/images/{image_id}/tags/{quote(odd, safe='')}", who)
    assert response.status_code == 200, response.text
    assert odd in {t["name"] for t in response.json()["tags"]}
    assert ids_of(search(stack, who, odd)) == [image_id]
    assert {t["name"] for t in stack.call("GET", "/api/tags", who).json()["tags"]} >= {odd}
    assert stack.call("DELETE", f"/api/images/{image_id}/tags/{quote(odd, safe='')}", who).status_code == 200
    assert ids_of(search(stack, who, odd)) == []
    assert stack.call("PUT", f"/api/images/{image_id}/tags/{'x' * 65}", who).status_code == 400


@pytest.mark.parametrize("raw", ["a%2Fb", "a%2fb", "a%252Fb"])
def test_a_slash_in_a_tag_name_is_refused_as_azure_delivers_it(stack: Stack, raw: str) -> None:
    """Kestrel passes `%2F` in a route value on undecoded (dotnet/aspnetcore UrlDecoder.cs), and `%252F` becomes the
    same `%2F`: read back as `/`, both are refused with the reason, here as in Azure."""
    who = user()
    (image_id,) = uploaded(stack, who, [image_bytes("PNG", (31, 30), GREEN)])

    response = stack.call("PUT", f"/api/images/{image_id}/tags/{raw}", who)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_tag"
    assert "cannot carry a '/'" in response.json()["error"]["message"]
    assert stack.call("GET", "/api/images", who, params={"tag": "a/b"}).status_code == 400


def test_every_endpoint_answers_404_for_another_users_image(stack: Stack, gallery: tuple[str, list[str]]) -> None:
    owner, (image_id, *_) = gallery
    stranger = user()
    for method, path in [
        ("GET", f"/api/images/{image_id}"),
        ("GET", f"/api/images/{image_id}/thumbnail"),
        ("GET", f"/api/images/{image_id}/content"),
        ("PUT", f"/api/images/{image_id}/tags/mine"),
        ("DELETE", f"/api/images/{image_id}/tags/color:red"),
        ("POST", f"/api/images/{image_id}/retry"),
        ("DELETE", f"/api/images/{image_id}"),
    ]:
        response = stack.call(method, path, stranger)
        assert response.status_code == 404, f"{method} {path}: {response.status_code}"
        assert response.json()["error"]["code"] == "not_found"
    assert ids_of(search(stack, stranger)) == []
    assert stack.call("GET", "/api/tags", stranger).json()["tags"] == []
    assert stack.get(image_id, owner).json()["status"] == "done"  # untouched


def test_every_endpoint_needs_an_identity(stack: Stack, gallery: tuple[str, list[str]]) -> None:
    _, (image_id, *_) = gallery
    for method, path in [("GET", "/api/images"), ("GET", "/api/tags"), ("GET", f"/api/images/{image_id}/content"),
                         ("DELETE", f"/api/images/{image_id}"), ("PUT", f"/api/images/{image_id}/tags/x")]:  # fmt: skip
        assert stack.call(method, path, None).status_code == 401, path


def test_odata_injection_through_a_tag_finds_nothing(stack: Stack, gallery: tuple[str, list[str]]) -> None:
    who, _ = gallery
    for attack in ("x' or PartitionKey ne 'x", "x' or RowKey ne '", "') or true or ('"):
        assert ids_of(search(stack, who, attack)) == []
        assert ids_of(search(stack, user(), attack)) == []


@pytest.mark.parametrize(
    # HTTP headers are Latin-1: non-ASCII ids are covered by the unit tests of the key encoding.
    "identity",
    ["a/b", "a\\b", "a#b", "a?b", "x' or PartitionKey ne 'x", "~YWxpY2U", "tab\tseparated", "%2F.."],
)
def test_identities_with_any_characters_are_separate_users(stack: Stack, identity: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    who, other = f"{identity}{suffix}", f"{identity}{suffix}-other"
    (image_id,) = uploaded(stack, who, [image_bytes("PNG", (20 + len(identity), 20), RED)])
    assert ids_of(search(stack, who)) == [image_id]
    assert ids_of(search(stack, other)) == []
    assert stack.get(image_id, other).status_code == 404


@pytest.mark.parametrize("identity", [".", "..", "trailing-dot."])
def test_identities_that_a_url_path_would_resolve_away_are_users_like_any_other(stack: Stack, identity: str) -> None:
    # Blob names are URL paths: stored under "." or "..", these users' images would land elsewhere or nowhere.
    data = image_bytes("PNG", (20, 20 + len(identity)), (uuid.uuid4().int % 256, 90, 90))
    (image_id,) = uploaded(stack, identity, [data])
    assert stack.content(image_id, identity).content == data
    assert image_id in ids_of(search(stack, identity))
    assert stack.call("DELETE", f"/api/images/{image_id}", identity).status_code == 204
