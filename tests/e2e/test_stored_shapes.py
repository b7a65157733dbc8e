"""A record in any shape Azure or a tool may have stored it is served by every endpoint, never with a 5xx.

The Tables extension stores every JSON integer as Edm.Int64 (Azure/azure-sdk-for-net,
sdk/tables/Microsoft.Azure.WebJobs.Extensions.Tables/src/TablesExtensionConfigProvider.cs,
CreateTableEntityFromJObject); Storage Explorer and other tools may store times as Edm.DateTime and numbers as
doubles or text; an older version of this app wrote fewer properties. Each shape is written into Azurite with the
SDK over a record the app made, then the image goes through GET, search, tag edits, retry and delete.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from azure.data.tables import EdmType, EntityProperty, TableClient, UpdateMode

from tagging.config import RECORDS_TABLE
from tests.images import image_bytes
from tests.stack import Stack

pytestmark = pytest.mark.e2e

Shape = Callable[[dict[str, Any]], dict[str, Any]]


def as_the_real_binding_with_dates(entity: dict[str, Any]) -> dict[str, Any]:
    """Every integer Int64, and the times as Edm.DateTime (were any path to parse them)."""
    shaped = {name: _int64(value) for name, value in entity.items()}
    for name in ("uploaded_at", "tagged_at"):
        shaped[name] = datetime.fromisoformat(str(entity[name]).replace("Z", "+00:00"))
    return shaped


def as_a_tool_types_it(entity: dict[str, Any]) -> dict[str, Any]:
    """Numbers as doubles or text, a flag as text, the upload time in .NET's seven-digit form."""
    return entity | {
        "bytes": EntityProperty(float(_plain(entity["bytes"])), EdmType.DOUBLE),
        "width": str(_plain(entity["width"])),
        "thumbnail": "true",
        "uploaded_at": str(entity["uploaded_at"]).replace("Z", "0000Z"),
    }


def as_an_older_version_wrote_it(entity: dict[str, Any]) -> dict[str, Any]:
    kept = {name: value for name, value in entity.items() if name not in ("mode", "frames", "phash", "filename")}
    return kept | {"written_by": "a version to come", "revision": EntityProperty(3, EdmType.INT64)}


def with_a_value_nothing_can_read(entity: dict[str, Any]) -> dict[str, Any]:
    return entity | {"bytes": "a lot", "tags": "not json"}


def _int64(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return EntityProperty(value, EdmType.INT64)
    return value


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, EntityProperty) else value


@pytest.mark.parametrize(
    "shape",
    [as_the_real_binding_with_dates, as_a_tool_types_it, as_an_older_version_wrote_it],
    ids=lambda f: f.__name__,
)
def test_a_record_in_any_stored_shape_is_served_by_every_endpoint(stack: Stack, shape: Shape) -> None:
    who, image_id, table, original = tagged_image(stack)
    table.upsert_entity(shape(dict(table.get_entity(who, image_id))), mode=UpdateMode.REPLACE)

    shown = ok(stack.call("GET", f"/api/images/{image_id}", who))
    assert shown["status"] == "done"
    assert {k: shown[k] for k in ("bytes", "width", "height", "uploaded_at", "tags", "thumbnail")} == {
        k: original[k] for k in ("bytes", "width", "height", "uploaded_at", "tags", "thumbnail")
    }
    assert image_id in [item["id"] for item in ok(stack.call("GET", "/api/images?tag=format:png", who))["items"]]
    assert "mine" in names(ok(stack.call("PUT", f"/api/images/{image_id}/tags/mine", who)))
    assert image_id in [item["id"] for item in ok(stack.call("GET", "/api/images?tag=mine", who))["items"]]
    assert "mine" not in names(ok(stack.call("DELETE", f"/api/images/{image_id}/tags/mine", who)))
    assert ok(stack.call("GET", "/api/images?tag=mine", who))["items"] == []
    retried_and_deleted(stack, who, image_id)


def test_a_record_nothing_can_read_is_shown_failed_and_retry_repairs_it(stack: Stack) -> None:
    who, image_id, table, _ = tagged_image(stack)
    table.upsert_entity(with_a_value_nothing_can_read(dict(table.get_entity(who, image_id))), mode=UpdateMode.REPLACE)

    shown = ok(stack.call("GET", f"/api/images/{image_id}", who))

    assert shown["status"] == "failed"
    assert "'bytes' holds 'a lot', not a whole number" in shown["error"]
    assert "Retry the image" in shown["error"]
    assert image_id in [item["id"] for item in ok(stack.call("GET", "/api/images", who))["items"]]
    retried_and_deleted(stack, who, image_id)


def tagged_image(stack: Stack) -> tuple[str, str, TableClient, dict[str, Any]]:
    who = f"shape-{uuid.uuid4().hex[:8]}"
    response = stack.upload(image_bytes("PNG", (64, 48)), who)
    assert response.status_code == 202, response.text
    image_id = response.json()["id"]
    original = stack.settled(image_id, who)
    assert original["status"] == "done"
    return who, image_id, stack.account.tables.get_table_client(RECORDS_TABLE), original


def retried_and_deleted(stack: Stack, who: str, image_id: str) -> None:
    assert ok(stack.call("POST", f"/api/images/{image_id}/retry", who), 202)["status"] == "pending"
    assert stack.settled(image_id, who)["status"] == "done"
    assert stack.call("DELETE", f"/api/images/{image_id}", who).status_code == 204
    assert stack.call("GET", f"/api/images/{image_id}", who).status_code == 404


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def names(image: dict[str, Any]) -> set[str]:
    return {tag["name"] for tag in image["tags"]}


def test_the_runner_stores_records_as_the_tables_extension_does(stack: Stack) -> None:
    """Every integer of the worker's record is Edm.Int64, as in Azure (TablesExtensionConfigProvider.cs), so every
    test through the runner reads what Azure stores."""
    who, image_id, table, _ = tagged_image(stack)

    stored = table.get_entity(who, image_id)

    for name in ("bytes", "width", "height", "frames"):
        assert stored[name] == EntityProperty(stored[name].value, EdmType.INT64), name
    assert isinstance(stored["uploaded_at"], str)  # a string: the extension reads JSON with DateParseHandling.None
