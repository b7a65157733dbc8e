from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tagging import analysis
from tagging.config import Settings
from tagging.errors import (
    EmptyUploadError,
    ImageNotFoundError,
    ImageNotReadyError,
    ImageTooLargeError,
    InvalidImageIdError,
    InvalidRequestError,
    InvalidTagError,
    MalformedJobError,
    RetryTooSoonError,
    UnauthenticatedError,
    UnsupportedMediaError,
    UploadTooLargeError,
)
from tagging.model import ImageRecord, Tag, UploadJob
from tagging.ports import Ports
from tagging.services import library, worker
from tagging.services import upload as uploads
from tagging.services.images import timestamp
from tagging.services.worker import CLAIM_LEASE
from tagging.taggers import TaggerInput
from tagging.tags import MAX_AUTOMATIC_TAGS, MAX_TAGS_PER_IMAGE
from tests.fakes import FakeCatalog, FakeImageStore, fake_ports
from tests.images import image_bytes, noisy_jpeg, png_header_claiming, truncated

SETTINGS = Settings()
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def ports() -> Ports:
    return fake_ports(SETTINGS)


@pytest.fixture
def images(ports: Ports) -> FakeImageStore:
    assert isinstance(ports.images, FakeImageStore)
    return ports.images


@pytest.fixture
def records(ports: Ports) -> FakeCatalog:
    assert isinstance(ports.records, FakeCatalog)
    return ports.records


def upload(ports: Ports, data: bytes, user: str = "alice", **kw: Any) -> uploads.Accepted:
    return uploads.accept_upload(ports, user_id=user, data=data, now=NOW, **kw)


def test_an_upload_is_stored_under_its_user_with_metadata_and_a_job(ports: Ports, images: FakeImageStore) -> None:
    data = image_bytes("PNG", (30, 20))
    accepted = upload(ports, data, filename="C:\\Users\\Zoë\\beach.png", declared_type="image/jpeg")
    image_id = accepted.record.image_id
    assert accepted.created
    assert accepted.record.status == "pending"
    stored = images.describe(f"alice/{image_id}")
    assert stored is not None
    assert stored.content_type == "image/png"  # from the bytes, not from what the client declared
    assert stored.metadata["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored.metadata["size"] == str(len(data))
    assert stored.metadata["uploaded_at"] == "2026-11-24T09:00:00.000Z"
    assert stored.metadata["filename"].isascii()
    assert accepted.job is not None
    assert accepted.job.blob == f"images/alice/{image_id}"
    assert accepted.job.filename == "beach.png"
    assert worker.parse_job(accepted.job.to_json()) == accepted.job


def test_the_original_file_name_survives_in_unicode(ports: Ports) -> None:
    accepted = upload(ports, image_bytes(), filename="Zoë's café.jpg")
    again = library.get_image(ports, user_id="alice", image_id=accepted.record.image_id)
    assert again.filename == "Zoë's café.jpg"


def test_the_same_bytes_twice_give_the_same_id_and_one_copy(ports: Ports, images: FakeImageStore) -> None:
    data = image_bytes()
    first = upload(ports, data)
    second = upload(ports, data)
    assert second.record.image_id == first.record.image_id
    assert not second.created
    assert len(images.blobs) == 1


def test_a_pending_duplicate_sends_the_job_again_in_case_it_was_lost(ports: Ports) -> None:
    data = image_bytes()
    first = upload(ports, data)
    second = upload(ports, data)
    assert second.job == first.job


def test_a_tagged_duplicate_sends_no_job(ports: Ports, records: FakeCatalog) -> None:
    first = upload(ports, image_bytes())
    assert first.job is not None
    record = worker.tag_image(ports, first.job, claimant="m1", now=NOW)
    assert record is not None
    records.insert(record)
    second = upload(ports, image_bytes())
    assert second.job is None
    assert second.record.status == "done"


def test_two_users_uploading_the_same_bytes_get_separate_images(ports: Ports, images: FakeImageStore) -> None:
    a = upload(ports, image_bytes(), user="alice")
    b = upload(ports, image_bytes(), user="bob")
    assert a.record.image_id != b.record.image_id
    assert len(images.blobs) == 2


@pytest.mark.parametrize(
    ("data", "kw", "error"),
    [
        (b"", {}, EmptyUploadError),
        (b"plain text, not an image", {}, UnsupportedMediaError),
        (image_bytes("ICO", (16, 16)), {}, UnsupportedMediaError),
        (image_bytes(), {"declared_type": "multipart/form-data; boundary=x"}, UnsupportedMediaError),
        (png_header_claiming(100_000, 100_000), {}, ImageTooLargeError),
        (image_bytes(), {"user": ""}, UnauthenticatedError),
    ],
)
def test_rejected_uploads_store_nothing(
    ports: Ports, images: FakeImageStore, data: bytes, kw: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        upload(ports, data, **kw)
    assert images.blobs == {}


def test_uploads_over_the_size_limit_are_refused(ports: Ports, images: FakeImageStore) -> None:
    small = Settings(max_upload_bytes=100)
    with pytest.raises(UploadTooLargeError, match="limit is 100 bytes"):
        uploads.accept_upload(replace(ports, settings=small), user_id="alice", data=image_bytes("BMP", (20, 20)))
    with pytest.raises(UploadTooLargeError):
        uploads.check_declared_size("101", small)
    uploads.check_declared_size("100", small)
    uploads.check_declared_size(None, small)
    assert images.blobs == {}


def test_tagging_writes_a_done_record(ports: Ports) -> None:
    accepted = upload(ports, image_bytes("JPEG", (90, 60)), filename="cat.jpg")
    assert accepted.job is not None
    record = worker.tag_image(ports, accepted.job, claimant="m1", now=NOW)
    assert record is not None
    assert record.status == "done"
    assert (record.format, record.width, record.height) == ("jpeg", 90, 60)
    names = [tag.name for tag in record.tags]
    assert names[:2] == ["format:jpeg", "orientation:landscape"]
    assert "color:red" in names
    assert record.thumbnail
    thumbs = ports.thumbnails
    assert isinstance(thumbs, FakeImageStore)
    stored = thumbs.describe(f"alice/{record.image_id}.webp")
    assert stored is not None
    assert stored.content_type == "image/webp"
    assert record.filename == "cat.jpg"
    assert record.tagged_at == "2026-11-24T09:00:00.000Z"


def test_a_job_already_recorded_writes_nothing(ports: Ports, records: FakeCatalog) -> None:
    accepted = upload(ports, image_bytes())
    assert accepted.job is not None
    first = worker.tag_image(ports, accepted.job, claimant="m1")
    assert first is not None
    records.insert(first)
    assert worker.tag_image(ports, accepted.job, claimant="m1") is None


def test_an_image_that_cannot_decode_is_recorded_as_failed_with_a_reason(ports: Ports) -> None:
    accepted = upload(ports, truncated(noisy_jpeg(), 0.4))
    assert accepted.job is not None
    record = worker.tag_image(ports, accepted.job, claimant="m1")
    assert record is not None
    assert record.status == "failed"
    assert record.error is not None
    assert "damaged" in record.error


def test_a_job_whose_image_is_gone_writes_nothing(ports: Ports, images: FakeImageStore) -> None:
    accepted = upload(ports, image_bytes())
    assert accepted.job is not None
    images.blobs.clear()
    assert worker.tag_image(ports, accepted.job, claimant="m1") is None


def test_get_shows_pending_until_the_record_exists(ports: Ports, records: FakeCatalog) -> None:
    accepted = upload(ports, image_bytes())
    image_id = accepted.record.image_id
    pending = library.get_image(ports, user_id="alice", image_id=image_id)
    assert pending.status == "pending"
    assert pending.size == len(image_bytes())
    assert accepted.job is not None
    done = worker.tag_image(ports, accepted.job, claimant="m1")
    assert done is not None
    records.insert(done)
    assert library.get_image(ports, user_id="alice", image_id=image_id).status == "done"


def test_another_users_image_is_not_found(ports: Ports) -> None:
    image_id = upload(ports, image_bytes(), user="alice").record.image_id
    with pytest.raises(ImageNotFoundError):
        library.get_image(ports, user_id="bob", image_id=image_id)


def test_get_refuses_malformed_ids_and_missing_identity(ports: Ports) -> None:
    with pytest.raises(InvalidImageIdError):
        library.get_image(ports, user_id="alice", image_id="../etc/passwd")
    with pytest.raises(UnauthenticatedError):
        library.get_image(ports, user_id=None, image_id="0" * 32)


def test_jobs_that_point_elsewhere_are_malformed(ports: Ports, images: FakeImageStore) -> None:
    accepted = upload(ports, image_bytes(), user="alice")
    assert accepted.job is not None
    good = accepted.job.to_json()
    for forged in (
        good.replace('"blob":"images/alice/', '"blob":"images/bob/'),
        good.replace('"user":"alice"', '"user":"bob"'),
        good.replace(accepted.record.image_id, "not-an-id"),
    ):
        with pytest.raises(MalformedJobError):
            worker.parse_job(forged)


def tagged(ports: Ports, records: FakeCatalog, job: UploadJob | None) -> ImageRecord:
    """Run the worker on a job and insert its record, as the Table output binding does."""
    assert job is not None
    record = worker.tag_image(ports, job, claimant="m1", now=NOW)
    assert record is not None
    records.insert(record)
    return record


def test_an_image_uploaded_again_after_its_delete_is_pending_at_once_then_tagged(
    ports: Ports, records: FakeCatalog
) -> None:
    first = upload(ports, image_bytes())
    image_id = first.record.image_id
    tagged(ports, records, first.job)
    library.delete_image(ports, user_id="alice", image_id=image_id)
    again = upload(ports, image_bytes())
    assert again.created
    assert library.get_image(ports, user_id="alice", image_id=image_id).status == "pending"
    # Uploaded once more before the worker ran: still pending, and its job goes out again.
    third = upload(ports, image_bytes())
    assert (third.record.status, third.job) == ("pending", again.job)
    assert tagged(ports, records, again.job).status == "done"
    assert library.get_image(ports, user_id="alice", image_id=image_id).status == "done"


def test_the_job_of_a_deleted_image_writes_nothing_whatever_the_clocks_say(ports: Ports, records: FakeCatalog) -> None:
    accepted = upload(ports, image_bytes())
    assert accepted.job is not None
    # The deleting instance's clock runs an hour behind the uploading one's.
    library.delete_image(
        ports, user_id="alice", image_id=accepted.record.image_id, now=datetime(2020, 1, 1, tzinfo=UTC)
    )
    assert worker.tag_image(ports, accepted.job, claimant="m1") is None
    assert records.get("alice", accepted.record.image_id).status == "deleted"  # type: ignore[union-attr]


def test_an_upload_while_a_delete_is_half_done_is_told_to_come_back(ports: Ports, records: FakeCatalog) -> None:
    accepted = upload(ports, image_bytes())
    image_id = accepted.record.image_id
    stored = ports.images.describe(f"alice/{image_id}")
    assert stored is not None
    # The delete has written its tombstone but not yet removed the blob.
    records.forget(replace(accepted.record, deleted_etag=stored.etag))
    with pytest.raises(ImageNotReadyError, match="being deleted"):
        upload(ports, image_bytes())
    with pytest.raises(ImageNotFoundError):
        library.get_image(ports, user_id="alice", image_id=image_id)


def test_tagging_again_keeps_the_owners_tags_and_removals(ports: Ports, records: FakeCatalog) -> None:
    accepted = upload(ports, image_bytes("PNG", (90, 60)))
    image_id = accepted.record.image_id
    tagged(ports, records, accepted.job)
    library.add_user_tag(ports, user_id="alice", image_id=image_id, name="Holiday")
    library.remove_tag(ports, user_id="alice", image_id=image_id, name="color:red")
    retry = library.retry_image(ports, user_id="alice", image_id=image_id)
    assert retry.record.status == "pending"
    assert library.get_image(ports, user_id="alice", image_id=image_id).status == "pending"
    again = tagged(ports, records, retry.job)
    names = {tag.name: tag.source for tag in again.tags}
    assert names["holiday"] == "user"
    assert "color:red" not in names
    assert "format:png" in names
    assert again.removed_tags == ("color:red",)


def test_a_failed_image_keeps_its_owners_tags_through_a_retry(ports: Ports, records: FakeCatalog) -> None:
    accepted = upload(ports, truncated(noisy_jpeg(), 0.4))
    image_id = accepted.record.image_id
    assert tagged(ports, records, accepted.job).status == "failed"
    library.add_user_tag(ports, user_id="alice", image_id=image_id, name="scan me again")
    retry = library.retry_image(ports, user_id="alice", image_id=image_id)
    again = tagged(ports, records, retry.job)
    assert again.status == "failed"
    assert [(tag.name, tag.source) for tag in again.tags] == [("scan me again", "user")]


def test_a_retry_of_a_deleted_image_is_not_found(ports: Ports) -> None:
    accepted = upload(ports, image_bytes())
    library.delete_image(ports, user_id="alice", image_id=accepted.record.image_id)
    with pytest.raises(ImageNotFoundError):
        library.retry_image(ports, user_id="alice", image_id=accepted.record.image_id)


class ManyLabels:
    name = "many"

    def tag(self, image: TaggerInput) -> list[Tag]:
        return [Tag(f"label-{n:02d}", round(0.5 + n / 200, 3), self.name) for n in range(60)]


def test_a_tagger_with_dozens_of_labels_leaves_room_for_the_owners_tags(records: FakeCatalog) -> None:
    ports = fake_ports(SETTINGS, taggers=(ManyLabels(),))
    assert isinstance(ports.records, FakeCatalog)
    accepted = upload(ports, image_bytes())
    record = tagged(ports, ports.records, accepted.job)
    assert len(record.tags) == MAX_AUTOMATIC_TAGS
    labels = [tag.name for tag in record.tags if tag.source == "many"]
    assert "label-59" in labels  # the most confident are kept
    assert "label-00" not in labels
    image_id = accepted.record.image_id
    for n in range(MAX_TAGS_PER_IMAGE - MAX_AUTOMATIC_TAGS):
        library.add_user_tag(ports, user_id="alice", image_id=image_id, name=f"mine-{n}")
    with pytest.raises(InvalidTagError, match="at most"):
        library.add_user_tag(ports, user_id="alice", image_id=image_id, name="one too many")
    shown = library.remove_tag(ports, user_id="alice", image_id=image_id, name="label-59")
    assert len(shown.tags) == MAX_TAGS_PER_IMAGE - 1


@pytest.mark.parametrize("limit", ["²", "1" * 5000, "0", "501", "-1", " 5"])
def test_a_page_size_that_is_not_a_plain_number_in_range_is_refused(ports: Ports, limit: str) -> None:
    with pytest.raises(InvalidRequestError, match="limit"):
        library.list_images(ports, user_id="alice", limit=limit)


def test_an_absurd_content_length_is_too_large_not_a_crash() -> None:
    with pytest.raises(UploadTooLargeError):
        uploads.check_declared_size("9" * 5000, SETTINGS)
    uploads.check_declared_size("²", SETTINGS)  # not a length at all: the body's own size decides


@pytest.mark.parametrize("name", ["", " ", "x" * 65, "tab\there", "bell\x07", "lone \ud800 surrogate"])
def test_tag_names_that_cannot_be_stored_are_refused(ports: Ports, records: FakeCatalog, name: str) -> None:
    accepted = upload(ports, image_bytes())
    tagged(ports, records, accepted.job)
    with pytest.raises(InvalidTagError):
        library.add_user_tag(ports, user_id="alice", image_id=accepted.record.image_id, name=name)


@pytest.mark.parametrize("name", ["a/b", "/", ".", "..", " .. "])
def test_tag_names_a_url_path_cannot_carry_are_refused_with_the_reason(
    ports: Ports, records: FakeCatalog, name: str
) -> None:
    """Kestrel hands `%2F` on undecoded and drops `.` and `..` segments (dotnet/aspnetcore UrlDecoder.cs, Kestrel's
    PathNormalizer): such a tag could never be removed through its URL."""
    accepted = upload(ports, image_bytes())
    tagged(ports, records, accepted.job)
    with pytest.raises(InvalidTagError, match="tags appear in URL paths"):
        library.add_user_tag(ports, user_id="alice", image_id=accepted.record.image_id, name=name)


def test_a_duplicate_job_while_another_worker_holds_the_claim_decodes_nothing(
    ports: Ports, records: FakeCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One analysis per image version: the second delivery of a job (an upload sent again, a redelivery) finds the
    first one's claim and does no work; a retry of the same delivery (the same claimant) takes it over."""
    accepted = upload(ports, image_bytes())
    assert accepted.job is not None
    image_id = accepted.record.image_id
    decodes: list[bytes] = []
    real_decode = analysis.decode
    monkeypatch.setattr(analysis, "decode", lambda data, limit: decodes.append(data) or real_decode(data, limit))
    first = records.claim("alice", image_id, "message-1", now=timestamp(NOW), until=timestamp(NOW + CLAIM_LEASE))
    assert first.state == "claimed"

    assert worker.tag_image(ports, accepted.job, claimant="message-2", now=NOW) is None
    assert decodes == []
    done = worker.tag_image(ports, accepted.job, claimant="message-1", now=NOW)  # its own delivery, retried
    assert done is not None
    assert len(decodes) == 1
    records.insert(done)
    assert worker.tag_image(ports, accepted.job, claimant="message-3", now=NOW) is None
    assert len(decodes) == 1


@pytest.mark.parametrize("claimant", ["message-1", "message-2"])
def test_a_job_whose_record_was_never_written_writes_it_on_its_next_delivery(
    ports: Ports, records: FakeCatalog, claimant: str
) -> None:
    """The worker indexes the image, then the Table output binding fails (storage went away after the function
    returned): the message comes back, or another job for the image comes, and must write the record, not take the
    index for another worker's claim."""
    accepted = upload(ports, image_bytes())
    assert accepted.job is not None
    lost = worker.tag_image(ports, accepted.job, claimant="message-1", now=NOW)
    assert lost is not None  # indexed; its record never inserted
    assert records.get("alice", accepted.record.image_id) is None
    again = worker.tag_image(ports, accepted.job, claimant=claimant, now=NOW + timedelta(seconds=20))
    assert again is not None
    assert (again.status, again.tags) == (lost.status, lost.tags)
    records.insert(again)
    shown = library.get_image(ports, user_id="alice", image_id=accepted.record.image_id)
    assert shown.status == "done"


def test_a_claim_that_expired_is_taken_over_by_the_next_job(ports: Ports, records: FakeCatalog) -> None:
    accepted = upload(ports, image_bytes())
    assert accepted.job is not None
    stale = NOW - CLAIM_LEASE - timedelta(seconds=1)
    records.claim("alice", accepted.record.image_id, "a-worker-that-died", now=timestamp(stale), until=timestamp(NOW))
    assert worker.tag_image(ports, accepted.job, claimant="message-2", now=NOW + timedelta(seconds=1)) is not None


def test_a_pending_image_has_nothing_to_retry_and_a_tagged_one_waits_its_interval(
    ports: Ports, records: FakeCatalog
) -> None:
    accepted = upload(ports, image_bytes())
    with pytest.raises(ImageNotReadyError, match="upload the same file again"):
        library.retry_image(ports, user_id="alice", image_id=accepted.record.image_id)
    assert accepted.job is not None
    done = worker.tag_image(ports, accepted.job, claimant="m1")  # tagged now
    assert done is not None
    records.insert(done)
    with pytest.raises(RetryTooSoonError) as refused:
        library.retry_image(ports, user_id="alice", image_id=accepted.record.image_id)
    assert 0 < refused.value.retry_after <= ports.settings.retry_interval_seconds
