"""The function bodies called directly, as the worker calls them, with in-memory ports."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage

import function_app
from local_runner.functions import Out
from local_runner.host_values import collector_items, typed_data
from tagging import bootstrap
from tagging.config import Settings
from tagging.ports import Ports
from tagging.services import library, worker
from tests.fakes import FakeCatalog, FakeImageStore, fake_ports
from tests.images import image_bytes


@pytest.fixture
def ports() -> Iterator[Ports]:
    fakes = fake_ports(Settings(max_upload_bytes=1_000_000))
    bootstrap.use(fakes)
    yield fakes
    bootstrap.use(None)


def post(body: bytes, headers: dict[str, str] | None = None) -> tuple[func.HttpResponse, Out]:
    job = Out()
    request = func.HttpRequest("POST", "http://localhost/api/images", headers=headers or {}, body=body)
    response = function_app.upload_image(request, job)
    return response, job


def get(image_id: str, user: str | None = "alice") -> func.HttpResponse:
    headers = {"X-MS-CLIENT-PRINCIPAL-ID": user} if user else {}
    request = func.HttpRequest(
        "GET", f"http://localhost/api/images/{image_id}", headers=headers, route_params={"id": image_id}, body=b""
    )
    return function_app.get_image(request)


def run_worker(body: str | bytes, ports: Ports) -> tuple[Out, Out]:
    record, poison = Out(), Out()
    function_app.tag_image(QueueMessage(id="m1", body=body, dequeue_count=1), record, poison)
    if record.value is not None:
        assert isinstance(ports.records, FakeCatalog)
        ports.records.insert(record.value)  # what the Table output binding does
    return record, poison


def body_of(response: func.HttpResponse) -> Any:
    assert response.mimetype == "application/json"
    return json.loads(response.get_body())


def test_upload_then_tag_then_get(ports: Ports) -> None:
    response, job = post(image_bytes("JPEG", (40, 60)), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    assert response.status_code == 202
    image_id = body_of(response)["id"]
    assert body_of(response) == {"id": image_id, "status": "pending"}
    assert response.headers["Location"] == f"/api/images/{image_id}"
    assert isinstance(job.value, bytes)
    assert json.loads(job.value)["image_id"] == image_id

    assert body_of(get(image_id))["status"] == "pending"

    record, poison = run_worker(job.value, ports)
    assert poison.value is None
    assert json.loads(record.value)["RowKey"] == image_id

    shown = body_of(get(image_id))
    assert shown["status"] == "done"
    assert {"format:jpeg", "orientation:portrait", "color:red"} <= {tag["name"] for tag in shown["tags"]}
    assert (shown["width"], shown["height"], shown["format"]) == (40, 60, "jpeg")


def test_a_second_identical_upload_answers_200_with_the_same_id(ports: Ports) -> None:
    headers = {"X-MS-CLIENT-PRINCIPAL-ID": "alice"}
    first, _ = post(image_bytes(), headers)
    second, _ = post(image_bytes(), headers)
    assert (first.status_code, second.status_code) == (202, 200)
    assert body_of(first)["id"] == body_of(second)["id"]


def test_a_redelivered_job_writes_no_second_record(ports: Ports) -> None:
    _, job = post(image_bytes(), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    first, _ = run_worker(job.value, ports)
    again, poison = run_worker(job.value, ports)
    assert first.value is not None
    assert again.value is None
    assert poison.value is None


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (image_bytes(), {}, 401, "unauthenticated"),
        (b"", {"X-MS-CLIENT-PRINCIPAL-ID": "alice"}, 400, "empty_body"),
        (b"just text", {"X-MS-CLIENT-PRINCIPAL-ID": "alice"}, 415, "unsupported_media_type"),
        (
            image_bytes(),
            {"X-MS-CLIENT-PRINCIPAL-ID": "alice", "Content-Type": "multipart/form-data"},
            415,
            "unsupported_media_type",
        ),
        (b"x", {"X-MS-CLIENT-PRINCIPAL-ID": "alice", "Content-Length": "1000001"}, 413, "too_large"),
        (b"\0" * 1_000_001, {"X-MS-CLIENT-PRINCIPAL-ID": "alice"}, 413, "too_large"),
        (b"", {"X-MS-CLIENT-PRINCIPAL-ID": "alice", "Transfer-Encoding": "chunked"}, 411, "length_required"),
    ],
)
def test_bad_uploads_get_a_json_error_and_store_nothing(
    ports: Ports, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response, job = post(body, headers)
    assert response.status_code == status
    error = body_of(response)["error"]
    assert error["code"] == code
    assert error["message"]
    assert job.value is None
    assert isinstance(ports.images, FakeImageStore)
    assert ports.images.blobs == {}


def test_json_bodies_end_with_a_newline(ports: Ports) -> None:
    accepted, _ = post(image_bytes(), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    refused, _ = post(b"", {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    assert accepted.get_body().endswith(b"}\n")
    assert refused.get_body().endswith(b"}\n")


def test_a_form_upload_from_curl_d_is_refused_with_the_command_that_works(ports: Ports) -> None:
    # What `curl -d @photo.jpg` sends: the file without its line breaks, declared as a form. JPEG decoders
    # tolerate much, so such bytes may still "decode": refused whatever they hold, before anything is stored.
    damaged = image_bytes().replace(b"\n", b"").replace(b"\r", b"")
    form = {"X-MS-CLIENT-PRINCIPAL-ID": "alice", "Content-Type": "application/x-www-form-urlencoded"}
    for body in (damaged, image_bytes()):
        response, job = post(body, form)
        assert response.status_code == 415
        assert "--data-binary @photo.jpg" in body_of(response)["error"]["message"]
        assert job.value is None
    assert isinstance(ports.images, FakeImageStore)
    assert ports.images.blobs == {}


def test_401_says_how_to_authenticate(ports: Ports) -> None:
    response, _ = post(image_bytes(), {})
    assert "WWW-Authenticate" in response.headers
    # Where callers name themselves, the fix is the header (or the client's --user), not a sign-in page.
    assert "--user" in body_of(response)["error"]["message"]
    assert "Sign in" not in body_of(response)["error"]["message"]
    bootstrap.use(fake_ports(Settings(callers="platform")))
    try:
        signed_out, _ = post(image_bytes(), {"X-MS-CLIENT-PRINCIPAL-ID": "  "})
    finally:
        bootstrap.use(None)
    assert body_of(signed_out)["error"]["message"].startswith("Sign in first")


def test_get_answers_404_for_another_users_image_and_400_for_a_bad_id(ports: Ports) -> None:
    response, _ = post(image_bytes(), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    image_id = body_of(response)["id"]
    assert get(image_id, user="bob").status_code == 404
    assert body_of(get(image_id, user="bob"))["error"]["code"] == "not_found"
    assert get("not-an-id").status_code == 400
    assert get(image_id, user=None).status_code == 401


def on_image(
    handler: Callable[[func.HttpRequest], func.HttpResponse], image_id: str, route: str, user: str
) -> func.HttpResponse:
    """A GET of /api/images/{id}/<route> as the host calls its function."""
    request = func.HttpRequest(
        "GET", f"http://localhost/api/images/{image_id}/{route}", headers={"X-MS-CLIENT-PRINCIPAL-ID": user},
        route_params={"id": image_id}, body=b"",
    )  # fmt: skip
    return handler(request)


def test_content_redirects_the_owner_to_a_link_and_everyone_else_to_404(ports: Ports) -> None:
    data = image_bytes("PNG", (30, 20))
    image_id = body_of(post(data, {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})[0])["id"]

    def content(user: str) -> func.HttpResponse:
        return on_image(function_app.get_content, image_id, "content", user)

    redirect = content("alice")
    assert (redirect.status_code, redirect.get_body()) == (302, b"")
    assert isinstance(ports.images, FakeImageStore)
    assert ports.images.follow(redirect.headers["Location"]) == data
    assert content("bob").status_code == 404
    assert body_of(content("bob"))["error"]["code"] == "not_found"


def test_the_link_as_json_is_the_owners_alone_and_never_cached(ports: Ports) -> None:
    data = image_bytes("PNG", (30, 20))
    image_id = body_of(post(data, {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})[0])["id"]

    def link(user: str) -> func.HttpResponse:
        return on_image(function_app.get_link, image_id, "link", user)

    answer = link("alice")
    assert (answer.status_code, answer.headers["Cache-Control"]) == (200, "no-store")
    assert isinstance(ports.images, FakeImageStore)
    assert ports.images.follow(body_of(answer)["url"]) == data
    assert body_of(link("bob"))["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body", [b"not json", b'{"v": 2}', b"[]", base64.b64encode(b"double encoded"), b"\xff\xfe\xfd"]
)
def test_a_malformed_message_goes_to_poison_unchanged_and_writes_no_record(ports: Ports, body: bytes) -> None:
    record, poison = run_worker(body, ports)
    assert record.value is None
    assert poison.value == body


def test_an_unexpected_failure_is_a_json_500(ports: Ports, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("storage on fire")

    monkeypatch.setattr(ports.images, "save", broken)
    response, job = post(image_bytes(), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    assert response.status_code == 500
    assert body_of(response)["error"]["code"] == "internal"
    assert "fire" not in response.get_body().decode()  # internals stay in the log
    assert job.value is None


def test_storage_out_of_reach_is_a_503_that_says_when_to_come_back(
    ports: Ports, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.core.exceptions import ServiceRequestError

    def refused(*args: object, **kwargs: object) -> None:
        raise ServiceRequestError("Connection refused")

    monkeypatch.setattr(ports.images, "save", refused)
    response, job = post(image_bytes(), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert body_of(response)["error"]["code"] == "storage_unavailable"
    assert job.value is None


def retry(image_id: str, user: str = "alice") -> tuple[func.HttpResponse, Out]:
    job = Out()
    request = func.HttpRequest(
        "POST", f"http://localhost/api/images/{image_id}/retry", headers={"X-MS-CLIENT-PRINCIPAL-ID": user},
        route_params={"id": image_id}, body=b"",
    )  # fmt: skip
    return function_app.retry_image(request, job), job


def test_a_poisoned_job_records_the_image_as_failed_and_retry_brings_it_back(ports: Ports) -> None:
    response, job = post(image_bytes("PNG", (30, 20)), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    image_id = body_of(response)["id"]
    # The host gave up on the job: it reaches the poison queue's function.
    failed = Out()
    function_app.record_failure(QueueMessage(id="p1", body=job.value, dequeue_count=1), failed)
    assert isinstance(ports.records, FakeCatalog)
    ports.records.insert(failed.value)
    shown = body_of(get(image_id))
    assert shown["status"] == "failed"
    assert f"/api/images/{image_id}/retry" in shown["error"]

    answer, again = retry(image_id)
    assert answer.status_code == 202
    assert body_of(answer) == {"id": image_id, "status": "pending"}
    assert body_of(get(image_id))["status"] == "pending"
    run_worker(again.value, ports)
    assert body_of(get(image_id))["status"] == "done"
    assert retry(image_id, user="bob")[0].status_code == 404
    # A tagged image may be tagged afresh (once a new tagger is on, say), once in the retry interval at most.
    answer, afresh = retry(image_id)
    assert answer.status_code == 429
    assert 0 < int(answer.headers["retry-after"]) <= 30  # the default interval
    assert afresh.value is None
    entity = ports.records.entities[("alice", image_id)]
    entity["tagged_at"] = "2026-01-01T00:00:00.000Z"  # as if the interval had passed
    answer, afresh = retry(image_id)
    assert answer.status_code == 202
    assert body_of(get(image_id))["status"] == "pending"
    run_worker(afresh.value, ports)
    assert body_of(get(image_id))["status"] == "done"


def test_the_poison_function_drops_malformed_messages_after_logging_them(
    ports: Ports, caplog: pytest.LogCaptureFixture
) -> None:
    failed = Out()
    function_app.record_failure(QueueMessage(id="m-42", body=b"not a job", dequeue_count=1), failed)
    assert failed.value is None
    assert "m-42" in caplog.text


def test_a_poisoned_job_for_an_image_already_tagged_changes_nothing(ports: Ports) -> None:
    response, job = post(image_bytes(), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    run_worker(job.value, ports)
    failed = Out()
    function_app.record_failure(QueueMessage(id="p2", body=job.value, dequeue_count=1), failed)
    assert failed.value is None
    assert body_of(get(body_of(response)["id"]))["status"] == "done"


def test_a_job_the_host_re_serialised_is_read_as_the_compact_one(ports: Ports) -> None:
    """Were the job ever sent as a str, the host would write it indented, with `...00.000Z` as `...00Z`
    (local_runner/json_net.py cites the Json.NET sources): the worker reads both the same."""
    _, job = post(image_bytes("PNG", (30, 20)), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    (rewritten,) = collector_items(typed_data("queue", job.value.decode()))
    assert rewritten != job.value
    assert worker.parse_job(rewritten) == worker.parse_job(job.value)


def test_the_outputs_are_bytes_which_the_host_passes_on_untouched(ports: Ports) -> None:
    _, job = post(image_bytes("PNG", (30, 20)), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    record, _ = run_worker(job.value, ports)
    assert isinstance(job.value, bytes)
    assert isinstance(record.value, bytes)
    assert collector_items(typed_data("queue", job.value)) == [job.value]
    assert collector_items(typed_data("table", record.value)) == [record.value]


def unreadable_record(ports: Ports, job: bytes) -> None:
    parsed = worker.parse_job(job)
    assert isinstance(ports.records, FakeCatalog)
    ports.records.entities[(parsed.user_key, parsed.image_id)] = {
        "PartitionKey": parsed.user_key, "RowKey": parsed.image_id, "status": "claimed", "bytes": "a lot",
    }  # fmt: skip


def missing_blob(ports: Ports, job: bytes) -> None:
    assert isinstance(ports.images, FakeImageStore)
    ports.images.blobs.clear()


def deleted(ports: Ports, job: bytes) -> None:
    parsed = worker.parse_job(job)
    library.delete_image(ports, user_id="alice", image_id=parsed.image_id)


@pytest.mark.parametrize("break_it", [unreadable_record, missing_blob, deleted])
def test_the_poison_function_never_fails_for_a_reason_a_retry_cannot_fix(ports: Ports, break_it: Any) -> None:
    """A poison queue has no poison queue of its own: a message that keeps failing there stays and comes back for
    as long as it lives (azure-sdk-for-net, Storage.Queues QueueListenerFactory.cs CreatePoisonQueueReference,
    QueueProcessor.cs), so record_failure must succeed whatever state the image is in."""
    _, job = post(image_bytes("PNG", (30, 20)), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    break_it(ports, job.value)
    failed = Out()

    function_app.record_failure(QueueMessage(id="p3", body=job.value, dequeue_count=1), failed)

    assert failed.value is None


def test_every_answer_says_nosniff(ports: Ports) -> None:
    """Browsers must never guess a type: JSON errors, images and redirects alike carry nosniff."""
    accepted, job = post(image_bytes("PNG", (30, 20)), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
    image_id = body_of(accepted)["id"]
    run_worker(job.value, ports)
    page = func.HttpRequest("GET", "http://localhost/api/app", headers={}, route_params={}, body=b"")
    alice, of = {"X-MS-CLIENT-PRINCIPAL-ID": "alice"}, {"id": image_id}
    delete = func.HttpRequest("DELETE", "http://localhost/", headers=alice, route_params=of, body=b"")
    answers = [
        accepted,
        post(b"", alice)[0],
        get(image_id),
        get(image_id, user=None),
        function_app.web_page(page),
        function_app.delete_image(delete),
    ]
    assert [answer.status_code for answer in answers] == [202, 400, 200, 401, 308, 204]
    assert all(answer.headers.get("x-content-type-options") == "nosniff" for answer in answers)


def test_the_page_redirects_relatively_never_to_another_host(ports: Ports) -> None:
    request = func.HttpRequest("GET", "http://localhost//evil.example/api/app", headers={}, route_params={}, body=b"")
    assert function_app.web_page(request).headers["location"] == "app/"


def test_a_header_that_is_not_utf8_is_a_400_not_a_crash(ports: Ports) -> None:
    """A server hands bytes that are not UTF-8 on as lone surrogates (Python's surrogateescape)."""
    response, job = post(image_bytes(), {"X-MS-CLIENT-PRINCIPAL-ID": "al\udcffice"})
    assert response.status_code == 400
    assert "x-ms-client-principal-id header is not valid utf-8" in body_of(response)["error"]["message"].lower()
    assert job.value is None


def test_without_anyone_vouching_for_the_caller_every_api_call_is_a_401_that_says_why() -> None:
    bootstrap.use(fake_ports(Settings(callers="none")))
    try:
        response, job = post(image_bytes(), {"X-MS-CLIENT-PRINCIPAL-ID": "alice"})
        listed = function_app.list_images(
            func.HttpRequest("GET", "http://localhost/api/images", headers={"X-MS-CLIENT-PRINCIPAL-ID": "a"}, body=b"")
        )
    finally:
        bootstrap.use(None)
    for answer in (response, listed):
        assert answer.status_code == 401
        assert "App Service Authentication is off" in body_of(answer)["error"]["message"]
    assert job.value is None
