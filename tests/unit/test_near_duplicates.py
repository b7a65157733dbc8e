"""GET /api/images/{id}/similar and GET /api/duplicates, called as the host calls them, on the fake ports."""

from __future__ import annotations

from collections.abc import Iterator

import azure.functions as func
import pytest

import function_app
from tagging import bootstrap
from tagging.config import Settings
from tagging.ports import Ports
from tests.fakes import fake_ports
from tests.images import image_bytes, noisy_jpeg, save, scene, truncated
from tests.unit.test_function_app import body_of, post, run_worker


@pytest.fixture
def ports() -> Iterator[Ports]:
    fakes = fake_ports(Settings(max_upload_bytes=5_000_000))
    bootstrap.use(fakes)
    yield fakes
    bootstrap.use(None)


def uploaded(ports: Ports, data: bytes, user: str = "alice") -> str:
    response, job = post(data, {"X-MS-CLIENT-PRINCIPAL-ID": user})
    assert response.status_code == 202, response.get_body()
    if job.value is not None:
        run_worker(job.value, ports)
    image_id: str = body_of(response)["id"]
    return image_id


def call(route: str, user: str = "alice", **params: str) -> func.HttpResponse:
    image_id = route.split("/")[1] if route.startswith("images/") else None
    request = func.HttpRequest(
        "GET", f"http://localhost/api/{route}", headers={"X-MS-CLIENT-PRINCIPAL-ID": user}, params=params,
        route_params={"id": image_id} if image_id else {}, body=b"",
    )  # fmt: skip
    if route == "duplicates":
        return function_app.list_duplicates(request)
    return function_app.similar_images(request)


def test_a_resized_copy_is_similar_and_a_different_picture_is_not(ports: Ports) -> None:
    picture = scene((1000, 750), seed=4)
    original = uploaded(ports, save(picture, "PNG"))
    copy = uploaded(ports, save(picture.resize((500, 375)), "JPEG", quality=70))
    other = uploaded(ports, save(scene((1000, 750), seed=9), "PNG"))
    answer = body_of(call(f"images/{original}/similar"))
    assert answer["id"] == original
    assert answer["max_distance"] == 10
    assert [(item["id"], item["status"]) for item in answer["items"]] == [(copy, "done")]
    assert 0 <= answer["items"][0]["distance"] <= 10
    assert answer["items"][0]["thumbnail"] == f"/api/images/{copy}/thumbnail"
    assert other not in {item["id"] for item in body_of(call(f"images/{other}/similar"))["items"]}
    assert body_of(call(f"images/{other}/similar"))["items"] == []


def test_duplicates_are_grouped_at_the_newest_copy(ports: Ports) -> None:
    picture = scene((1000, 750), seed=5)
    first = uploaded(ports, save(picture, "PNG"))
    uploaded(ports, save(scene((1000, 750), seed=12), "PNG"))
    second = uploaded(ports, save(picture, "JPEG", quality=85))
    groups = body_of(call("duplicates"))["groups"]
    assert [(g["image"]["id"], [s["id"] for s in g["similar"]]) for g in groups] == [(second, [first])]
    assert body_of(call("duplicates", limit="1"))["continuation"] is not None
    assert call("duplicates", limit="51").status_code == 400


def test_bad_requests_get_clear_answers(ports: Ports) -> None:
    image_id = uploaded(ports, save(scene((400, 300)), "PNG"))
    for bad in ("11", "-1", "x", "²"):
        response = call(f"images/{image_id}/similar", max_distance=bad)
        assert response.status_code == 400
        assert "max_distance is a whole number of bits from 0 to 10" in body_of(response)["error"]["message"]
    assert call(f"images/{image_id}/similar", max_distance="0").status_code == 200
    assert call(f"images/{image_id}/similar", user="bob").status_code == 404
    assert call(f"images/{'0' * 32}/similar").status_code == 404
    assert call("images/not-an-id/similar").status_code == 400


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(image_bytes("PNG", (640, 480), (90, 90, 200)), "too little detail", id="flat"),
        pytest.param(truncated(noisy_jpeg(), 0.3), "could not be decoded", id="failed"),
    ],
)
def test_an_image_with_nothing_to_compare_is_a_409_that_says_why(ports: Ports, data: bytes, reason: str) -> None:
    image_id = uploaded(ports, data)
    response = call(f"images/{image_id}/similar")
    assert response.status_code == 409
    assert body_of(response)["error"]["code"] == "not_comparable"
    assert reason in body_of(response)["error"]["message"]


def test_a_pending_image_is_a_409_to_try_again(ports: Ports) -> None:
    response, _ = post(save(scene((400, 300)), "PNG"), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    answer = call(f"images/{body_of(response)['id']}/similar")
    assert answer.status_code == 409
    assert body_of(answer)["error"]["code"] == "not_ready"


def test_flat_images_are_not_similar_to_each_other(ports: Ports) -> None:
    flat = [uploaded(ports, image_bytes("PNG", (640, 480), (10 * n, 90, 200))) for n in range(3)]
    assert body_of(call("duplicates"))["groups"] == []
    assert all(call(f"images/{image_id}/similar").status_code == 409 for image_id in flat)
