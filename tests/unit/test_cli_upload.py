"""`tagging upload` against a scripted API: which paths it sends, what it says about the others, when it stops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagging_client import commands
from tests.unit.test_cli import IMAGE_ID, OTHER_ID, Answer, StubApi, refusal, run


@pytest.fixture
def api() -> Iterator[StubApi]:
    yield from StubApi().serve()


def accepted(image_id: str = IMAGE_ID) -> Answer:
    return Answer(202, {"id": image_id, "status": "pending"})


def pictures(folder: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"pixels of {name}".encode())
        paths.append(path)
    return paths


# -- who the caller is ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_without_a_user_one_refusal_says_how_to_give_one_and_no_other_file_is_sent(
    api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path, json_flag: list[str]
) -> None:
    api.on("POST", "/api/images", refusal(401, "unauthenticated", "Name the caller."))
    pictures(tmp_path, "a.png", "b.png", "c.png", "d.png")

    code, out, err = run(capsys, "--api", api.url, *json_flag, "upload", str(tmp_path))

    assert code == commands.EXIT_NO_CALLER
    assert out == ""
    (line,) = err.splitlines()
    assert "no user given" in line
    assert "--user NAME or TAGGING_USER=NAME" in line
    assert "--token or TAGGING_TOKEN" in line
    assert len(api.requests("POST")) == 1


def test_a_refusal_of_the_caller_midway_stops_the_files_not_yet_sent(
    api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    api.on("POST", "/api/images", accepted(), refusal(401, "unauthenticated", "Sign in again."))
    pictures(tmp_path, *(f"{number}.png" for number in range(8)))

    code, out, err = run(capsys, "--api", api.url, "--user", "alice", "upload", "-c", "1", str(tmp_path))

    assert code == commands.EXIT_FAILED  # a user was given: the API refuses it, which --user cannot mend
    sent = len(api.requests("POST"))
    assert sent < 8
    lines = out.splitlines()
    assert lines[0] == f"{IMAGE_ID}  pending  {tmp_path / '0.png'}"
    assert lines[-1] == f"1 uploaded, {sent - 1} failed, {8 - sent} not sent"
    assert err.count("Sign in again. (401 unauthenticated)") == 1


# -- which paths are sent -------------------------------------------------------------------------------------


def test_a_bad_path_is_reported_once_and_the_others_are_uploaded(
    api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    api.on("POST", "/api/images", accepted(), accepted(OTHER_ID))
    real, other = pictures(tmp_path, "real.png", "folder/other.jpg")
    missing = str(tmp_path / "missing.png")

    code, out, err = run(
        capsys, "--api", api.url, "--user", "alice", "upload", "-c", "1", missing, str(real), missing,
        str(tmp_path / "folder"), "/dev/null",
    )  # fmt: skip

    assert code == commands.EXIT_FAILED
    assert err.count("missing.png") == 1
    assert f"tagging: {missing}: no such file or folder" in err
    assert "tagging: /dev/null: not a file or folder" in err
    assert out.splitlines() == [
        f"{IMAGE_ID}  pending  {real}",
        f"{OTHER_ID}  pending  {other}",
        "2 uploaded, 2 failed",
    ]
    assert len(api.requests("POST")) == 2


def test_a_bad_path_is_in_the_json_with_its_reason(
    api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    api.on("POST", "/api/images", accepted())
    (real,) = pictures(tmp_path, "real.png")

    code, out, _ = run(capsys, "--api", api.url, "--user", "alice", "--json", "upload", "nowhere.png", str(real))

    assert code == commands.EXIT_FAILED
    assert {result["file"]: result for result in json.loads(out)} == {
        "nowhere.png": {"file": "nowhere.png", "error": "no such file or folder"},
        str(real): {"file": str(real), "id": IMAGE_ID, "status": "pending", "new": True},
    }


def test_a_file_the_api_finds_is_not_an_image_is_reported_once_and_the_others_are_uploaded(
    api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    not_an_image = refusal(400, "invalid_image", "The file is not an image we can read.")
    api.on("POST", "/api/images", accepted(), not_an_image, accepted(OTHER_ID))
    first, notes, last = pictures(tmp_path, "a.png", "notes.txt", "z.png")

    code, out, err = run(
        capsys, "--api", api.url, "--user", "a", "upload", "-c", "1", str(first), str(notes), str(last)
    )

    assert code == commands.EXIT_FAILED
    assert err.splitlines() == [f"failed  {notes}: 400 invalid_image: The file is not an image we can read."]
    assert out.splitlines() == [f"{IMAGE_ID}  pending  {first}", f"{OTHER_ID}  pending  {last}", "2 uploaded, 1 failed"]


def test_a_file_named_twice_is_sent_once(api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    api.on("POST", "/api/images", accepted())
    (photo,) = pictures(tmp_path, "photo.jpg")

    code, out, _ = run(capsys, "--api", api.url, "--user", "a", "upload", str(photo), str(tmp_path), str(photo))

    assert code == 0
    assert out.splitlines()[-1] == "1 uploaded, 0 failed"
    assert len(api.requests("POST")) == 1


@pytest.mark.parametrize(("names", "hint"), [(["2024/a.jpg"], "1 image"), (["x/a.jpg", "y/z/b.png"], "2 images")])
def test_a_folder_with_images_only_in_subfolders_says_to_use_recursive(
    api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path, names: list[str], hint: str
) -> None:
    pictures(tmp_path, *names, "notes.txt")

    code, out, err = run(capsys, "--api", api.url, "--user", "a", "upload", str(tmp_path))

    assert code == commands.EXIT_FAILED
    assert out == ""
    assert f"tagging: {tmp_path}: {hint} in subfolders: use --recursive" in err.splitlines()
    assert err.splitlines()[-1] == "tagging: nothing sent"
    assert api.received == []


def test_a_folder_with_no_images_anywhere_has_no_hint(
    api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pictures(tmp_path, "sub/notes.txt")

    code, _, err = run(capsys, "--api", api.url, "--user", "a", "upload", str(tmp_path))

    assert code == commands.EXIT_FAILED
    assert err == "tagging: no image files found\n"


def test_recursive_sends_the_images_in_subfolders(
    api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    api.on("POST", "/api/images", accepted())
    pictures(tmp_path, "2024/a.jpg", "2024/05/b.png")

    code, out, err = run(capsys, "--api", api.url, "--user", "a", "upload", "--recursive", str(tmp_path))

    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "2 uploaded, 0 failed"
