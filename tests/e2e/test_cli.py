"""The command-line client against the running system, as a user runs it (a subprocess, real HTTP)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.images import PHOTOS, image_bytes, save, scene
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def cli(stack: Stack, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tagging_client", "--api", stack.url, "--user", user, *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=180)


def cli_json(stack: Stack, user: str, *args: str) -> Any:
    result = cli(stack, user, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "nested").mkdir()
    (tmp_path / "red.png").write_bytes(image_bytes("PNG", (80, 40), (230, 20, 20)))
    (tmp_path / "blue.jpg").write_bytes(image_bytes("JPEG", (40, 80), (20, 40, 230)))
    (tmp_path / "nested" / "scene.jpg").write_bytes(save(scene((320, 240)), "JPEG"))
    (tmp_path / "notes.txt").write_text("not an image, and not picked up")
    if PHOTOS.is_dir():  # real photos too, when this machine has them
        for name in ("Dune.jpg", "LadyBird.jpg"):
            (tmp_path / "nested" / name).write_bytes((PHOTOS / name).read_bytes())
    return tmp_path


def test_upload_a_folder_wait_search_show_tags_and_delete(stack: Stack, folder: Path) -> None:
    who = f"cli-{uuid.uuid4().hex[:8]}"
    top_level = cli_json(stack, who, "upload", str(folder))
    assert sorted(Path(r["file"]).name for r in top_level) == ["blue.jpg", "red.png"]
    everything = cli_json(stack, who, "upload", "--recursive", "--concurrency", "3", str(folder))
    expected = 3 + (2 if PHOTOS.is_dir() else 0)
    assert len(everything) == expected
    assert all("id" in r for r in everything)
    ids = [r["id"] for r in everything]

    waited = cli_json(stack, who, "wait", *ids)
    assert waited["still_pending"] == []
    assert {image["status"] for image in waited["done"]} == {"done"}

    red = cli_json(stack, who, "search", "color:red")
    assert [i["id"] for i in red] == [r["id"] for r in everything if r["file"].endswith("red.png")]
    portrait_blue = cli_json(stack, who, "search", "color:blue", "orientation:portrait")
    assert len(portrait_blue) == 1
    shown = cli_json(stack, who, "show", portrait_blue[0]["id"])
    assert shown["filename"] == "blue.jpg"
    counts = {t["name"]: t["count"] for t in cli_json(stack, who, "tags")}
    assert counts["format:jpeg"] == expected - 1

    assert cli_json(stack, who, "delete", shown["id"]) == {"id": shown["id"], "deleted": True}
    assert len(cli_json(stack, who, "search")) == expected - 1
    missing = cli(stack, who, "show", shown["id"])
    assert missing.returncode == 1
    assert "404 not_found" in missing.stderr


def test_a_failed_upload_is_reported_and_the_exit_code_says_so(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "fake.jpg").write_text("this is text pretending to be a photo")
    (tmp_path / "real.png").write_bytes(image_bytes("PNG", (10, 10)))
    (tmp_path / "notes.txt").write_text("not named like an image: skipped, and said so")
    result = cli(stack, f"cli-{uuid.uuid4().hex[:8]}", "upload", str(tmp_path))
    assert result.returncode == 1
    assert "1 uploaded, 1 failed" in result.stdout
    assert "fake.jpg" in result.stderr
    assert "not an image" in result.stderr
    assert "skipped 1 file(s) not named like images (notes.txt)" in result.stderr


def test_a_failed_upload_has_its_reason_in_the_json_too(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("named on the command line, so sent, and refused")
    (tmp_path / "real.png").write_bytes(image_bytes("PNG", (12, 12)))
    files = [str(tmp_path / "notes.txt"), str(tmp_path / "real.png")]
    result = cli(stack, f"cli-{uuid.uuid4().hex[:8]}", "upload", *files, "--json")
    assert result.returncode == 1
    by_name = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    assert "id" in by_name["real.png"]
    assert "not an image" in by_name["notes.txt"]["error"]


def test_human_output_is_readable(stack: Stack, folder: Path) -> None:
    who = f"cli-{uuid.uuid4().hex[:8]}"
    upload = cli(stack, who, "upload", str(folder / "red.png"))
    assert upload.returncode == 0
    line, summary = upload.stdout.strip().splitlines()
    image_id, status, name = line.split()
    assert (status, name, summary) == ("pending", str(folder / "red.png"), "1 uploaded, 0 failed")
    assert cli(stack, who, "wait", image_id).returncode == 0
    again = cli(stack, who, "upload", str(folder / "red.png"))
    assert again.stdout.splitlines()[0] == f"{image_id}  done (uploaded before)  {folder / 'red.png'}"
    shown = cli(stack, who, "show", image_id)
    assert "format:png" in shown.stdout
    assert "analysis" in shown.stdout


def test_options_after_the_command_and_an_unknown_id_in_wait(stack: Stack, folder: Path) -> None:
    who = f"cli-{uuid.uuid4().hex[:8]}"
    command = [
        sys.executable,
        "-m",
        "tagging_client",
        "upload",
        str(folder / "red.png"),
        "--api",
        stack.url,
        "--user",
        who,
    ]
    uploaded = subprocess.run([*command, "--json"], check=False, capture_output=True, text=True, timeout=180)
    assert uploaded.returncode == 0, uploaded.stderr
    (red,) = json.loads(uploaded.stdout)
    unknown = uuid.uuid4().hex

    waited = cli(stack, who, "wait", unknown, red["id"], "--timeout", "60", "--json")

    assert waited.returncode == 1
    body = json.loads(waited.stdout)
    assert [image["id"] for image in body["done"]] == [red["id"]]
    assert body["done"][0]["status"] == "done"
    assert body["not_found"] == [unknown]
    assert body["still_pending"] == []
    human = cli(stack, who, "wait", unknown, red["id"])
    assert human.returncode == 1
    assert human.stdout == f"{red['id']}  done\n"
    assert f"{unknown}  not found" in human.stderr
