"""`tagging smoke` passes against the running system, as CI and the README's deploy checks run it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from tests.stack import Stack

pytestmark = pytest.mark.e2e


def test_smoke_runs_the_life_of_an_image_and_leaves_nothing_behind(stack: Stack) -> None:
    user = f"smoke-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "tagging_client", "--api", stack.url, "--user", user, "--json", "smoke"]

    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=180)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert [step["name"] for step in report["steps"]] == [
        "upload", "tagged", "search", "thumbnail", "content", "add tag", "search by it", "remove tag",
        "retry", "tagged again", "delete", "gone",
    ]  # fmt: skip
    assert all(step["passed"] for step in report["steps"])
    listing = stack.call("GET", "/api/images", user).json()
    assert listing["items"] == []
    assert stack.call("GET", "/api/tags", user).json()["tags"] == []
