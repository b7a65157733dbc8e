"""The command-line client against the running system, as a user runs it (a subprocess, real HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.images import PHOTOS, image_bytes, noisy_jpeg, save, scene, truncated
from tests.stack import Stack

pytestmark = pytest.mark.e2e

# The client as a user's shell runs it: no settings from this process's environment.
ENVIRONMENT = {name: value for name, value in os.environ.items() if not name.startswith("TAGGING_")}


def cli(stack: Stack, user: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    who = ["--user", user] if user is not None else []
    command = [sys.executable, "-m", "tagging_client", "--api", stack.url, *who, *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=180, env=ENVIRONMENT)


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

    assert cli_json(stack, who, "delete", shown["id"]) == [{"id": shown["id"], "deleted": True}]
    assert len(cli_json(stack, who, "search")) == expected - 1
    missing = cli(stack, who, "show", shown["id"])
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == f"tagging: You have no image {shown['id']}. (404 not_found)\n"


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


def uploaded(stack: Stack, who: str, *files: Path) -> list[str]:
    results = cli_json(stack, who, "upload", *map(str, files))
    ids = [result["id"] for result in results]
    assert cli(stack, who, "wait", *ids).returncode in (0, 1)  # tagged, or failed (said by the test that wants it)
    return ids


def test_tag_untag_and_retry_go_on_after_a_refusal(stack: Stack, folder: Path) -> None:
    who = f"cli-{uuid.uuid4().hex[:8]}"
    (red,) = uploaded(stack, who, folder / "red.png")

    tagged = cli(stack, who, "tag", red, "Holiday", "a/b", "beach")
    assert tagged.returncode == 1
    assert tagged.stdout.splitlines() == [f"{red}  added Holiday", f"{red}  added beach"]
    (refused,) = tagged.stderr.splitlines()
    assert refused.startswith(f"tagging: {red} a/b: ")
    assert refused.endswith("(400 invalid_tag)")
    assert [item["id"] for item in cli_json(stack, who, "search", "holiday", "beach")] == [red]
    shown = cli(stack, who, "show", red).stdout
    assert "holiday" in shown
    assert "user" in shown

    untagged = cli(stack, who, "untag", red, "holiday", "color:red")
    assert (untagged.returncode, untagged.stderr) == (0, "")
    assert untagged.stdout.splitlines() == [f"{red}  removed holiday", f"{red}  removed color:red"]
    gone = cli(stack, who, "search", "holiday")
    assert gone.returncode == 1
    assert "tagging: no images with tag holiday" in gone.stderr

    unknown = uuid.uuid4().hex
    retried = cli(stack, who, "retry", unknown, red)
    assert retried.returncode == 1
    assert retried.stdout == f"{red}  pending: tagging again\n"
    assert retried.stderr == f"tagging: {unknown}: You have no image {unknown}. (404 not_found)\n"
    again = cli_json(stack, who, "wait", red)["done"][0]
    names = [tag["name"] for tag in again["tags"]]
    assert "beach" in names  # the owner's tag is kept
    assert "color:red" not in names  # and the automatic one they removed stays away


def test_show_and_search_name_the_file_and_a_failed_image_says_why(stack: Stack, tmp_path: Path) -> None:
    who = f"cli-{uuid.uuid4().hex[:8]}"
    (tmp_path / "broken.jpg").write_bytes(truncated(noisy_jpeg(), 0.3))
    (tmp_path / "red.png").write_bytes(image_bytes("PNG", (80, 40), (230, 20, 20)))
    broken, red = uploaded(stack, who, tmp_path / "broken.jpg", tmp_path / "red.png")

    shown = cli(stack, who, "show", broken)
    assert shown.returncode == 0
    heading, *details = shown.stdout.splitlines()
    assert heading.startswith(f"{broken}  failed")
    assert heading.endswith("  broken.jpg")
    assert details[-1].startswith("  error: ")
    assert "damaged" in details[-1]
    assert "None" not in shown.stdout
    assert cli(stack, who, "show", red).stdout.splitlines()[0] == f"{red}  done  80x40 png  red.png"

    rows = cli(stack, who, "search").stdout.splitlines()
    assert {row.split()[0]: row.split()[3] for row in rows} == {broken: "broken.jpg", red: "red.png"}


def test_without_a_user_upload_says_once_how_to_give_one(stack: Stack, folder: Path) -> None:
    result = cli(stack, None, "upload", "--recursive", str(folder))

    assert result.returncode == 2
    assert result.stdout == ""
    skipped, line = result.stderr.splitlines()  # notes.txt, before anything was sent; then the one refusal
    assert skipped == "tagging: skipped 1 file(s) not named like images (notes.txt)"
    assert "--user NAME or TAGGING_USER=NAME" in line
    assert "--token" in line


def test_upload_reports_a_bad_path_once_and_sends_the_others(stack: Stack, folder: Path) -> None:
    missing = str(folder / "missing.png")

    result = cli(stack, f"cli-{uuid.uuid4().hex[:8]}", "upload", missing, str(folder / "red.png"), missing)

    assert result.returncode == 1
    assert result.stderr == f"tagging: {missing}: no such file or folder\n"
    line, summary = result.stdout.splitlines()
    assert line.endswith(f"  pending  {folder / 'red.png'}")
    assert summary == "1 uploaded, 1 failed"


def test_a_folder_with_images_only_in_subfolders_says_to_use_recursive(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "2024").mkdir()
    (tmp_path / "2024" / "red.png").write_bytes(image_bytes("PNG", (10, 10)))
    who = f"cli-{uuid.uuid4().hex[:8]}"

    flat = cli(stack, who, "upload", str(tmp_path))
    assert flat.returncode == 1
    assert f"tagging: {tmp_path}: 1 image in subfolders: use --recursive" in flat.stderr.splitlines()

    deep = cli(stack, who, "upload", "--recursive", str(tmp_path))
    assert deep.returncode == 0
    assert deep.stdout.splitlines()[-1] == "1 uploaded, 0 failed"


def test_a_search_for_a_tag_nobody_has_suggests_the_close_ones(stack: Stack, folder: Path) -> None:
    who = f"cli-{uuid.uuid4().hex[:8]}"
    uploaded(stack, who, folder / "red.png", folder / "blue.jpg")

    for wanted in ("blue", "colr:blue", "blu"):
        result = cli(stack, who, "search", wanted)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.startswith(f"tagging: no images with tag {wanted}; did you mean color:blue")


@pytest.mark.parametrize("command", [["--json", "show", "{id}"], ["tags"], ["search"]])
def test_piped_to_head_the_client_ends_quietly(stack: Stack, folder: Path, command: list[str]) -> None:
    who = f"cli-{uuid.uuid4().hex[:8]}"
    (red,) = uploaded(stack, who, folder / "red.png")
    args = [arg.replace("{id}", red) for arg in command]
    tagging = [sys.executable, "-m", "tagging_client", "--api", stack.url, "--user", who, *args]

    with subprocess.Popen(tagging, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENVIRONMENT) as client:
        assert client.stdout is not None
        head = subprocess.run(["head", "-1"], stdin=client.stdout, capture_output=True, check=True, timeout=60)
        client.stdout.close()
        _, err = client.communicate(timeout=60)

    assert len(head.stdout.splitlines()) == 1
    assert err.decode().replace("1 image\n", "") == ""
    assert client.returncode == 0


def test_download_thumbnail_and_link_give_the_image(stack: Stack, folder: Path, tmp_path: Path) -> None:
    who = f"cli-{uuid.uuid4().hex[:8]}"
    (red,) = uploaded(stack, who, folder / "red.png")
    saved = tmp_path / "saved"
    saved.mkdir()

    downloaded = cli(stack, who, "download", red, "-o", str(saved))
    assert downloaded.returncode == 0, downloaded.stderr
    assert (saved / "red.png").read_bytes() == (folder / "red.png").read_bytes()
    again = cli(stack, who, "download", red, "-o", str(saved))
    assert again.returncode == 1
    assert "exists" in again.stderr

    thumbnail = cli_json(stack, who, "thumbnail", red, "-o", str(saved))
    webp = Path(thumbnail["file"]).read_bytes()
    assert (webp[:4], webp[8:12]) == (b"RIFF", b"WEBP")

    link = cli(stack, who, "link", red).stdout.strip()
    assert httpx.get(link, timeout=30).content == (folder / "red.png").read_bytes()


def test_an_api_that_is_down_is_one_line_and_status_2() -> None:
    command = [sys.executable, "-m", "tagging_client", "--api", "http://127.0.0.1:9", "--user", "a", "tags"]

    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60, env=ENVIRONMENT)

    assert (result.returncode, result.stdout) == (2, "")
    (line,) = result.stderr.splitlines()
    assert line.startswith("tagging: cannot reach http://127.0.0.1:9: ")
