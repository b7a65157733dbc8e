"""Near duplicates through the running system: band rows in real Table storage, found over HTTP."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_cli import cli, cli_json
from tests.images import save, scene, variants
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def test_resized_recompressed_reencoded_cropped_and_rotated_copies_find_each_other(stack: Stack) -> None:
    user = f"dup-{uuid.uuid4().hex[:8]}"
    picture = scene((1200, 900), seed=21)
    sent = {
        "original": save(picture, "JPEG", quality=92),
        **variants(picture),
        "other": save(scene((1200, 900), seed=22), "JPEG"),
    }
    ids = {}
    for name, data in sent.items():
        response = stack.upload(data, user)
        assert response.status_code == 202, (name, response.text)
        ids[name] = response.json()["id"]
    for image_id in ids.values():
        assert stack.settled(image_id, user)["status"] == "done"

    copies = {name for name in sent if name != "other"}
    for name in copies:
        answer = stack.call("GET", f"/api/images/{ids[name]}/similar", user)
        assert answer.status_code == 200, answer.text
        found = {item["id"] for item in answer.json()["items"]}
        assert found == {ids[other] for other in copies - {name}}, name
        distances = [item["distance"] for item in answer.json()["items"]]
        assert distances == sorted(distances)
    assert stack.call("GET", f"/api/images/{ids['other']}/similar", user).json()["items"] == []
    assert stack.call("GET", f"/api/images/{ids['original']}/similar", "someone-else").status_code == 404

    groups = stack.call("GET", "/api/duplicates?limit=50", user).json()["groups"]
    assert len(groups) == 1
    newest = groups[0]
    assert {newest["image"]["id"], *(item["id"] for item in newest["similar"])} == {ids[name] for name in copies}

    # Deleting a copy takes it out of the index at once.
    assert stack.call("DELETE", f"/api/images/{ids['half']}", user).status_code == 204
    found = {item["id"] for item in stack.call("GET", f"/api/images/{ids['original']}/similar", user).json()["items"]}
    assert ids["half"] not in found
    assert len(found) == len(copies) - 2


def test_the_command_line_finds_similar_images_and_duplicate_groups(stack: Stack) -> None:
    user = f"dup-cli-{uuid.uuid4().hex[:8]}"
    picture = scene((900, 700), seed=23)
    ids = []
    for data in (
        save(picture, "JPEG", quality=92),
        save(picture.resize((450, 350)), "JPEG", quality=70),
        save(scene((900, 700), seed=24), "JPEG"),
    ):
        response = stack.upload(data, user)
        assert response.status_code == 202
        ids.append(response.json()["id"])
    for image_id in ids:
        assert stack.settled(image_id, user)["status"] == "done"
    similar = cli_json(stack, user, "similar", ids[0])
    assert [item["id"] for item in similar["items"]] == [ids[1]]
    groups = cli_json(stack, user, "duplicates")  # every page, walked to the end
    assert [(group["image"]["id"], [item["id"] for item in group["similar"]]) for group in groups] == [
        (ids[1], [ids[0]])
    ]
    alone = cli(stack, user, "similar", ids[2])
    assert (alone.returncode, alone.stdout) == (1, ""), alone.stderr
    assert alone.stderr.strip()
