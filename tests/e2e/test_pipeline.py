"""The whole system as a user runs it: `python -m local_runner` on Azurite, driven over real HTTP."""

from __future__ import annotations

import base64
import io
import json
import uuid

import httpx
import pytest
from PIL import Image

from local_runner.outputs import send_message
from tagging.config import IMAGES_CONTAINER, JOBS_QUEUE, POISON_QUEUE, RECORDS_TABLE, THUMBNAILS_CONTAINER
from tagging.ports import Ports
from tagging.services.upload import accept_upload
from tagging.storage import BlobImageStore, TableCatalog
from tests.images import NO_PHOTOS, PHOTOS, image_bytes, jpeg_with_orientation, noisy_jpeg, truncated
from tests.runner.harness import b64, eventually
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def test_an_upload_is_tagged_and_every_step_is_a_real_storage_object(stack: Stack) -> None:
    alice = user()
    data = jpeg_with_orientation((120, 80), 6)  # stored landscape, shown portrait
    response = stack.upload(data, alice, **{"Content-Disposition": "attachment; filename*=UTF-8''Zo%C3%AB.jpg"})
    assert response.status_code == 202, response.text
    image_id = response.json()["id"]
    assert response.json() == {"id": image_id, "status": "pending"}
    assert response.headers["location"] == f"/api/images/{image_id}"

    shown = stack.settled(image_id, alice)
    assert shown["status"] == "done"
    assert {t["name"] for t in shown["tags"]} == {"format:jpeg", "orientation:portrait", "color:red", "resolution:low"}
    assert all(t["source"] == "analysis" and 0 <= t["confidence"] <= 1 for t in shown["tags"])
    assert (shown["width"], shown["height"], shown["format"], shown["bytes"]) == (80, 120, "jpeg", len(data))
    assert shown["filename"] == "Zoë.jpg"
    assert shown["uploaded_at"] <= shown["tagged_at"]

    blob = stack.account.blobs.get_blob_client(IMAGES_CONTAINER, f"{alice}/{image_id}")
    props = blob.get_blob_properties()
    assert props.content_settings.content_type == "image/jpeg"
    assert props.metadata["sha256"] == shown["sha256"]
    assert blob.download_blob().readall() == data
    entity = stack.account.tables.get_table_client(RECORDS_TABLE).get_entity(alice, image_id)
    assert entity["status"] == "done"
    thumb = stack.account.blobs.get_blob_client(THUMBNAILS_CONTAINER, f"{alice}/{image_id}.webp")
    assert thumb.get_blob_properties().content_settings.content_type == "image/webp"
    assert Image.open(io.BytesIO(thumb.download_blob().readall())).size == (80, 120)  # upright
    # The job went through the real queue: the runner received it and the worker completed it.
    log = stack.log.read_text()
    assert f"'{JOBS_QUEUE}'" in log
    assert "Executed 'Functions.tag_image' (Succeeded" in log


def test_the_same_bytes_again_answer_200_with_the_same_id(stack: Stack) -> None:
    bob = user()
    data = image_bytes("PNG", (33, 33))
    first = stack.upload(data, bob)
    second = stack.upload(data, bob)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]
    blobs = list(stack.account.blobs.get_container_client(IMAGES_CONTAINER).list_blobs(name_starts_with=f"{bob}/"))
    assert len(blobs) == 1
    assert stack.settled(first.json()["id"], bob)["tags"][1]["name"] == "orientation:square"


def test_an_image_that_cannot_decode_ends_failed_with_a_reason(stack: Stack) -> None:
    carol = user()
    response = stack.upload(truncated(noisy_jpeg(), 0.3), carol)
    assert response.status_code == 202
    shown = stack.settled(response.json()["id"], carol)
    assert shown["status"] == "failed"
    assert "damaged" in shown["error"]


def test_another_user_sees_404_and_bad_requests_get_json_errors(stack: Stack) -> None:
    dave = user()
    image_id = stack.upload(image_bytes(), dave).json()["id"]
    cases = [
        (stack.get(image_id, user()), 404, "not_found"),
        (stack.get("not-an-id", dave), 400, "invalid_id"),
        (httpx.get(f"{stack.url}/api/images/{image_id}"), 401, "unauthenticated"),
        (stack.upload(b"", dave), 400, "empty_body"),
        (stack.upload(b"<html>not an image</html>", dave), 415, "unsupported_media_type"),
        (stack.upload(b"\xff" * (2 * 1024 * 1024 + 1), dave), 413, "too_large"),
        # Chunked, without Content-Length: the host hands the function no body (docs/host-fidelity.md).
        (stack.upload(iter([image_bytes()]), dave), 411, "length_required"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    blobs = list(stack.account.blobs.get_container_client(IMAGES_CONTAINER).list_blobs(name_starts_with=f"{dave}/"))
    assert len(blobs) == 1  # only the valid upload


def test_a_malformed_message_goes_to_poison_and_is_logged_with_its_id(stack: Stack) -> None:
    jobs = stack.queues.get_queue_client(JOBS_QUEUE)
    marker = uuid.uuid4().hex
    body = base64.b64encode(json.dumps({"v": 99, "marker": marker}).encode()).decode()
    sent = jobs.send_message(body)
    # The worker moves it to the poison queue at once; the function there logs it with its id and drops it.
    eventually(lambda: stack.log.read_text().count(sent.id) >= 1 and "Poison message" in stack.log.read_text())
    log = stack.log.read_text()
    assert f"Message {sent.id} is not a valid job" in log
    assert "Unknown job version 99" in log


def test_a_job_the_host_gave_up_on_records_a_failure_and_retry_brings_the_image_back(stack: Stack) -> None:
    gina = user()
    ports = Ports(
        images=BlobImageStore(stack.account.blobs, IMAGES_CONTAINER),
        thumbnails=BlobImageStore(stack.account.blobs, THUMBNAILS_CONTAINER),
        records=TableCatalog(stack.account.tables, RECORDS_TABLE),
    )
    accepted = accept_upload(ports, user_id=gina, data=image_bytes("PNG", (44, 22)))
    assert accepted.job is not None
    image_id = accepted.record.image_id
    # What the host does after maxDequeueCount failures: the job, unchanged, in the poison queue.
    send_message(stack.queues.get_queue_client(POISON_QUEUE), b64(accepted.job.to_json()))
    failed = stack.settled(image_id, gina)
    assert failed["status"] == "failed"
    assert f"/api/images/{image_id}/retry" in failed["error"]
    listed = stack.call("GET", "/api/images", gina).json()["items"]
    assert [(item["id"], item["status"]) for item in listed] == [(image_id, "failed")]

    retried = stack.call("POST", f"/api/images/{image_id}/retry", gina)
    assert retried.status_code == 202
    assert stack.settled(image_id, gina)["status"] == "done"
    listed = stack.call("GET", "/api/images", gina).json()["items"]
    assert [(item["id"], item["status"]) for item in listed] == [(image_id, "done")]


@pytest.mark.skipif(not PHOTOS.is_dir(), reason=NO_PHOTOS)
def test_real_camera_photos_are_tagged(stack: Stack) -> None:
    erin = user()
    expected = {"Wine_by_Jakkub_Mede.jpg": "portrait", "Dune.jpg": "landscape"}
    ids = {}
    for name in expected:
        response = stack.upload((PHOTOS / name).read_bytes(), erin)
        assert response.status_code == 202
        ids[name] = response.json()["id"]
    for name, orientation in expected.items():
        tags = {t["name"] for t in stack.settled(ids[name], erin)["tags"]}
        assert {"format:jpeg", f"orientation:{orientation}", "sharp"} <= tags


@pytest.mark.skipif(not PHOTOS.is_dir(), reason=NO_PHOTOS)
def test_content_and_place_tags_reach_the_index_and_a_parent_finds_its_children(stack: Stack) -> None:
    frank = user()
    photos = ["friends_by_Aitzol_Berasategi.jpg", "Kleiber_by_Lukas_Baubkus.jpg", "ColorfulCups_2560x1600.jpg"]
    ids = {}
    for name in photos:
        with Image.open(PHOTOS / name) as photo:
            # Within the stack's upload limit, as a phone's resized copy would come, its EXIF (GPS) kept.
            exif = photo.info.get("exif", b"")
            photo.thumbnail((1600, 1600))
            out = io.BytesIO()
            photo.save(out, format="JPEG", quality=90, exif=exif)
        response = stack.upload(out.getvalue(), frank)
        assert response.status_code == 202
        ids[name] = response.json()["id"]
    shown = {name: stack.settled(image_id, frank) for name, image_id in ids.items()}
    dog = {t["name"]: t for t in shown["friends_by_Aitzol_Berasategi.jpg"]["tags"]}
    assert dog["dog"]["source"] == dog["animal"]["source"] == "efficientnet-lite0"
    assert dog["animal"]["confidence"] == dog["dog"]["confidence"]
    cups = {t["name"]: t["source"] for t in shown["ColorfulCups_2560x1600.jpg"]["tags"]}
    assert cups["cup"] == "efficientnet-lite0"
    assert cups["country:denmark"] == "geonames"

    def found(tag: str) -> set[str]:
        response = stack.call("GET", f"/api/images?tag={tag}", frank)
        assert response.status_code == 200
        return {item["id"] for item in response.json()["items"]}

    dog_id, bird_id = ids["friends_by_Aitzol_Berasategi.jpg"], ids["Kleiber_by_Lukas_Baubkus.jpg"]
    assert found("animal") == {dog_id, bird_id}
    assert found("dog") == {dog_id}
    assert found("country:denmark") == {ids["ColorfulCups_2560x1600.jpg"]}


def test_a_job_delivered_twice_at_once_then_again_yields_one_of_everything_and_nothing_in_poison(
    stack: Stack,
) -> None:
    frank = user()
    data = image_bytes("PNG", (50, 20))
    # Store an image as the upload does, then deliver its job twice at once, as at-least-once delivery may:
    # both runs race to insert the record; the loser fails, is retried, finds the record and stops.
    ports = Ports(
        images=BlobImageStore(stack.account.blobs, IMAGES_CONTAINER),
        thumbnails=BlobImageStore(stack.account.blobs, THUMBNAILS_CONTAINER),
        records=TableCatalog(stack.account.tables, RECORDS_TABLE),
    )
    accepted = accept_upload(ports, user_id=frank, data=data)
    assert accepted.job is not None
    encoded = base64.b64encode(accepted.job.to_json().encode()).decode()
    jobs = stack.queues.get_queue_client(JOBS_QUEUE)
    sent = [jobs.send_message(encoded).id for _ in range(2)]

    def completed(message_id: str) -> bool:
        log = stack.log.read_text()
        return any(message_id in line and "Executed 'Functions.tag_image' (Succeeded" in line
                   for line in _invocations(log))  # fmt: skip

    eventually(lambda: all(completed(message_id) for message_id in sent), timeout=60)
    sent.append(jobs.send_message(encoded).id)  # and once more, after both finished
    eventually(lambda: completed(sent[-1]), timeout=60)
    log = stack.log.read_text()
    assert not any(message_id in line and "poison" in line for message_id in sent for line in log.splitlines())
    table = stack.account.tables.get_table_client(RECORDS_TABLE)
    rows = {e["RowKey"]: e for e in table.query_entities("PartitionKey eq @pk", parameters={"pk": frank})}
    assert rows[accepted.record.image_id]["status"] == "done"
    assert len([key for key in rows if key.startswith("all|")]) == 1  # one listing row, not two
    assert {e["count"] for key, e in rows.items() if key.startswith("count|")} == {1}  # counted once
    thumbnails = stack.account.blobs.get_container_client(THUMBNAILS_CONTAINER)
    assert [blob.name for blob in thumbnails.list_blobs(name_starts_with=f"{frank}/")] == [
        f"{frank}/{accepted.record.image_id}.webp"
    ]


def _invocations(log: str) -> list[str]:
    """Each queue invocation of the runner's log as one line: its Executing line joined to its Executed line."""
    started: dict[str, str] = {}
    joined = []
    for line in log.splitlines():
        if "Executing 'Functions." in line and "Id=" in line:
            started[line.rsplit("Id=", 1)[1].rstrip(")")] = line
        elif "Executed 'Functions." in line and "Id=" in line:
            invocation = line.rsplit("Id=", 1)[1].split(",", 1)[0]
            joined.append(started.get(invocation, "") + " " + line)
    return joined


def test_retries_while_pending_start_nothing_and_duplicate_jobs_cost_one_analysis(stack: Stack) -> None:
    """A pending image (stored, its job not yet run) refuses retries with 409; then its job arrives three times at
    once, as repeated uploads send it: the claim lets one of them decode the image, and the others do nothing."""
    who = user()
    ports = Ports(
        images=BlobImageStore(stack.account.blobs, IMAGES_CONTAINER),
        thumbnails=BlobImageStore(stack.account.blobs, THUMBNAILS_CONTAINER),
        records=TableCatalog(stack.account.tables, RECORDS_TABLE),
    )
    accepted = accept_upload(ports, user_id=who, data=noisy_jpeg((1600, 1200), seed=11))
    assert accepted.job is not None
    image_id = accepted.record.image_id
    retries = [stack.call("POST", f"/api/images/{image_id}/retry", who) for _ in range(3)]
    assert [(r.status_code, r.json()["error"]["code"]) for r in retries] == [(409, "not_ready")] * 3

    jobs = stack.queues.get_queue_client(JOBS_QUEUE)
    encoded = base64.b64encode(accepted.job.message()).decode()
    for _ in range(3):
        send_message(jobs, encoded)  # creating the queue on first use, as the output binding does
    assert stack.settled(image_id, who)["status"] == "done"

    def ignored() -> int:
        return sum(image_id in line and "duplicate job ignored" in line for line in stack.log.read_text().splitlines())

    eventually(lambda: ignored() == 2, timeout=30)  # the two others have been handled, and did nothing
    analyses = stack.log.read_text().count(f"Image {image_id} tagged:")
    assert analyses == 1, f"{analyses} analyses of one image"
