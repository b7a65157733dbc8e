"""Whom the running system accepts: the caller header only when something vouches for it (tagging/config.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from local_runner.azurite import Azurite
from tests.images import image_bytes
from tests.stack import running_stack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("azure", "accepted"),
    [
        ({"WEBSITE_SITE_NAME": "app"}, False),  # Azure, sign-in off: the header could be anyone's
        ({"WEBSITE_SITE_NAME": "app", "WEBSITE_AUTH_ENABLED": "True"}, True),  # set by App Service Authentication
        ({"WEBSITE_SITE_NAME": "app", "TAGGING_TRUST_IDENTITY_HEADER": "True"}, True),  # the deployer's choice
    ],
)
def test_in_azure_the_caller_header_counts_only_when_something_vouches_for_it(
    azurite: Azurite, repo_root: Path, tmp_path: Path, azure: dict[str, str], accepted: bool
) -> None:
    with running_stack(azurite.connection_string, repo_root, tmp_path / "runner.log", env=azure) as stack:
        who = f"mallory-{uuid.uuid4().hex[:8]}"
        upload = stack.upload(image_bytes(), who)
        listing = stack.call("GET", "/api/images", who)
        page = httpx.get(f"{stack.url}/api/app/identity.json", timeout=30).json()

    if accepted:
        assert (upload.status_code, listing.status_code) == (202, 200)
        assert page["callers"] in ("platform", "header")
    else:
        for answer in (upload, listing):
            assert answer.status_code == 401
            assert "App Service Authentication is off" in answer.json()["error"]["message"]
        assert page == {"callers": "none"}
