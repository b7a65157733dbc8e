"""`tagging smoke` against a scripted API: what it reports, and what it leaves behind, when a step fails."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from PIL import Image

from tagging_client import commands
from tagging_client.smoke import EXPECTED_TAGS, smoke_png
from tests.unit.test_cli import IMAGE_ID, Answer, StubApi, free_port, run


@pytest.fixture
def api() -> Iterator[StubApi]:
    yield from StubApi().serve()


def accepted() -> Answer:
    return Answer(202, {"id": IMAGE_ID, "status": "pending"})


def test_the_smoke_image_is_a_landscape_png_that_differs_on_every_run() -> None:
    first, second = smoke_png("a"), smoke_png("b")

    assert first != second
    with Image.open(io.BytesIO(first)) as image:
        image.load()
        assert (image.format, image.size, image.mode) == ("PNG", (96, 64), "RGB")
    assert "format:png" in EXPECTED_TAGS


def test_a_failed_step_is_named_exits_1_and_the_image_is_deleted(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("POST", "/api/images", accepted())
    failed = {"id": IMAGE_ID, "status": "failed", "tags": [], "error": "Tagging failed repeatedly on our side."}
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, {"id": IMAGE_ID, "status": "pending"}), Answer(200, failed))
    api.on("DELETE", f"/api/images/{IMAGE_ID}", Answer(204))

    code, out, _ = run(capsys, "--api", api.url, "--user", "alice", "smoke", "--timeout", "5")

    assert code == commands.EXIT_FAILED
    assert "FAIL  tagged" in out
    assert "Tagging failed repeatedly on our side." in out
    assert "FAILED at 'tagged'" in out
    assert [(r.method, r.path) for r in api.received][-1] == ("DELETE", f"/api/images/{IMAGE_ID}")
    assert f"cleaned up: image {IMAGE_ID} deleted" in out


def test_a_refusal_is_reported_with_the_apis_own_words(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    refused = Answer(401, {"error": {"code": "unauthenticated", "message": "Say who you are."}})
    api.on("POST", "/api/images", refused)

    code, out, err = run(capsys, "--api", api.url, "--json", "smoke")

    assert code == commands.EXIT_FAILED
    report = json.loads(out)
    assert report["passed"] is False
    assert [(s["name"], s["passed"]) for s in report["steps"]] == [("upload", False)]
    assert "401 unauthenticated: Say who you are." in report["steps"][0]["detail"]
    assert "FAIL  upload" in err  # progress goes to stderr with --json
    assert [r.method for r in api.received] == ["POST"]  # nothing was stored, so nothing to clean up


def test_an_unreachable_api_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--api", f"http://127.0.0.1:{free_port()}", "--user", "alice", "smoke")

    assert code == commands.EXIT_UNREACHABLE
    assert "FAIL  upload" in out
