from __future__ import annotations

import json

import pytest

from tagging.errors import MalformedJobError
from tagging.model import ImageRecord, UploadJob
from tagging.web import record_view

JOB = UploadJob(
    user="alice",
    user_key="alice",
    image_id="0" * 32,
    blob=f"images/alice/{'0' * 32}",
    sha256="ab" * 32,
    content_type="image/jpeg",
    size=1234,
    uploaded_at="2026-11-24T09:00:00.000Z",
    filename="Zoë's photo.jpg",
)


def test_a_job_survives_the_queue_round_trip() -> None:
    text = JOB.to_json()
    assert json.loads(text)["v"] == 1
    assert UploadJob.from_json(text) == JOB
    assert UploadJob.from_json(text.encode("utf-8")) == JOB


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe not utf-8", "not JSON"),
        ("", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('"text"', "JSON object"),
        (json.dumps({**json.loads(JOB.to_json()), "v": 2}), "Unknown job version 2"),
        (json.dumps({k: v for k, v in json.loads(JOB.to_json()).items() if k != "v"}), "Unknown job version None"),
        (json.dumps({**json.loads(JOB.to_json()), "size": "1234"}), "'size'"),
        (json.dumps({**json.loads(JOB.to_json()), "size": True}), "'size'"),
        (json.dumps({**json.loads(JOB.to_json()), "user": ""}), "'user'"),
        (json.dumps({k: v for k, v in json.loads(JOB.to_json()).items() if k != "blob"}), "'blob'"),
        (json.dumps({**json.loads(JOB.to_json()), "filename": 7}), "'filename'"),
    ],
)
def test_malformed_jobs_are_refused_with_the_reason(body: str | bytes, reason: str) -> None:
    with pytest.raises(MalformedJobError, match=reason):
        UploadJob.from_json(body)


def test_the_api_view_has_the_documented_fields() -> None:
    record = ImageRecord("alice", "0" * 32, "pending", "ab" * 32, 10, "image/png", "2026-11-24T09:00:00.000Z")
    view = record_view(record)
    expected = {"id", "status", "tags", "width", "height", "format", "bytes", "sha256", "uploaded_at", "tagged_at"}
    assert expected <= set(view)
    assert view["status"] == "pending"
    assert view["tags"] == []
    assert "error" not in view
