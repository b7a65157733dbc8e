"""The client's commands against a scripted API: one for every route, what each prints, and how each reports a
refusal for one image or tag while it goes on with the others."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tagging_client import commands
from tests.unit.test_cli import IMAGE_ID, OTHER_ID, REPO_ROOT, Answer, StubApi, free_port, image, refusal, run

THIRD_ID = "00112233445566778899aabbccddeeff"
NOT_FOUND = refusal(404, "not_found", f"You have no image {OTHER_ID}.")
STILL_TAGGING = refusal(409, "not_ready", "The image is still being tagged; change its tags once it is done.")


@pytest.fixture
def api() -> Iterator[StubApi]:
    yield from StubApi().serve()


def tagging(api: StubApi, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run(capsys, "--api", api.url, "--user", "alice", *args)


def tag_path(image_id: str, name: str) -> str:
    return f"/api/images/{image_id}/tags/{name}"


def near(image_id: str, distance: int, **fields: Any) -> dict[str, Any]:
    return {**image(image_id, **{"filename": f"{image_id[:4]}.jpg", **fields}), "distance": distance}


def group(image_id: str = IMAGE_ID, *similar: dict[str, Any]) -> dict[str, Any]:
    return {"image": image(image_id), "similar": list(similar) or [near(OTHER_ID, 3)]}


# -- one command for every route ------------------------------------------------------------------------------


def api_routes() -> set[tuple[str, str]]:
    """(method, route) of every API function in function_app.py, read from its decorators (indexing the app twice
    in one process is refused, and the contract tests index it)."""
    tree = ast.parse((REPO_ROOT / "function_app.py").read_text())
    routes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "route":
            options = {keyword.arg: keyword.value for keyword in node.keywords}
            if "auth_level" in options:  # the page's static files: anonymous, no API operation
                continue
            route = ast.literal_eval(options["route"])
            routes |= {(method, route) for method in ast.literal_eval(options["methods"])}
    return routes


def test_every_api_route_has_a_command(api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    api.on("POST", "/api/images", Answer(202, {"id": IMAGE_ID, "status": "pending"}))
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image()))
    api.on("GET", "/api/images", Answer(200, {"items": [image()], "continuation": None}))
    api.on("GET", "/api/tags", Answer(200, {"tags": [{"name": "color:red", "count": 1}]}))
    api.on("GET", f"/api/images/{IMAGE_ID}/thumbnail", Answer(200, content=b"RIFF....WEBP"))
    api.on("GET", f"/api/images/{IMAGE_ID}/content", Answer(302, headers={"Location": f"{api.url}/blob/red.png"}))
    api.on("GET", "/blob/red.png", Answer(200, content=b"\x89PNG"))
    api.on("GET", f"/api/images/{IMAGE_ID}/link", Answer(200, {"url": f"{api.url}/blob/red.png"}))
    api.on("PUT", tag_path(IMAGE_ID, "x"), Answer(200, image()))
    api.on("DELETE", tag_path(IMAGE_ID, "x"), Answer(200, image()))
    api.on("POST", f"/api/images/{IMAGE_ID}/retry", Answer(202, {"id": IMAGE_ID, "status": "pending"}))
    api.on("DELETE", f"/api/images/{IMAGE_ID}", Answer(204))
    api.on("GET", f"/api/images/{IMAGE_ID}/similar", Answer(200, {"id": IMAGE_ID, "max_distance": 10,
                                                                  "items": [near(OTHER_ID, 3)]}))  # fmt: skip
    api.on("GET", "/api/duplicates", Answer(200, {"groups": [group()], "continuation": None}))
    (tmp_path / "red.png").write_bytes(b"\x89PNG")
    commands = [
        ["upload", str(tmp_path / "red.png")], ["show", IMAGE_ID], ["search", "color:red"], ["tags"],
        ["thumbnail", IMAGE_ID, "-o", str(tmp_path / "t.webp")], ["download", IMAGE_ID, "-o", str(tmp_path / "d.png")],
        ["link", IMAGE_ID], ["tag", IMAGE_ID, "x"], ["untag", IMAGE_ID, "x"], ["retry", IMAGE_ID],
        ["similar", IMAGE_ID], ["duplicates"], ["delete", IMAGE_ID],
    ]  # fmt: skip

    for command in commands:
        code, _, err = tagging(api, capsys, *command)
        assert code == 0, (command, err)

    asked = {(method, path.split("?")[0]) for method, path in api.requests()}
    for method, route in api_routes():
        pattern = "/api/" + re.sub(r"\{[^}]+\}", "[^/]+", route)
        assert any(sent == method and re.fullmatch(pattern, path) for sent, path in asked), (method, route)


# -- tag and untag --------------------------------------------------------------------------------------------


def test_tag_adds_each_name_and_says_so(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("PUT", tag_path(IMAGE_ID, "holiday"), Answer(200, image()))
    api.on("PUT", tag_path(IMAGE_ID, "caf%C3%A9"), Answer(200, image()))

    code, out, err = tagging(api, capsys, "tag", IMAGE_ID, "holiday", "café", "holiday")

    assert (code, err) == (0, "")
    assert out.splitlines() == [f"{IMAGE_ID}  added holiday", f"{IMAGE_ID}  added café"]
    assert api.requests() == [("PUT", tag_path(IMAGE_ID, "holiday")), ("PUT", tag_path(IMAGE_ID, "caf%C3%A9"))]


def test_a_bad_tag_name_is_reported_and_the_other_names_are_added(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("PUT", tag_path(IMAGE_ID, "a"), Answer(200, image()))
    api.on("PUT", tag_path(IMAGE_ID, "b%2Fc"), refusal(400, "invalid_tag", "'b/c' cannot be a tag name."))
    api.on("PUT", tag_path(IMAGE_ID, "d"), Answer(200, image()))

    code, out, err = tagging(api, capsys, "tag", IMAGE_ID, "a", "b/c", "..", "d")

    assert code == commands.EXIT_FAILED
    assert out.splitlines() == [f"{IMAGE_ID}  added a", f"{IMAGE_ID}  added d"]
    assert err.splitlines() == [
        f"tagging: {IMAGE_ID} b/c: 'b/c' cannot be a tag name. (400 invalid_tag)",
        f"tagging: {IMAGE_ID} ..: '.' and '..' cannot be an image id or a tag name. (400 invalid_request)",
    ]


@pytest.mark.parametrize(("answer", "said"), [(NOT_FOUND, "(404 not_found)"), (STILL_TAGGING, "(409 not_ready)")])
def test_a_refusal_for_the_image_is_said_once_not_for_every_name(
    api: StubApi, capsys: pytest.CaptureFixture[str], answer: Answer, said: str
) -> None:
    for name in ("a", "b", "c"):
        api.on("PUT", tag_path(IMAGE_ID, name), answer)

    code, out, err = tagging(api, capsys, "tag", IMAGE_ID, "a", "b", "c")

    assert code == commands.EXIT_FAILED
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"tagging: {IMAGE_ID} a: ")
    assert line.endswith(said)
    assert len(api.received) == 1


def test_untag_removes_each_name_and_says_so(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("DELETE", tag_path(IMAGE_ID, "color%3Ared"), Answer(200, image()))
    api.on("DELETE", tag_path(IMAGE_ID, "sharp"), Answer(200, image()))

    code, out, _ = tagging(api, capsys, "untag", IMAGE_ID, "color:red", "sharp")

    assert code == 0
    assert out.splitlines() == [f"{IMAGE_ID}  removed color:red", f"{IMAGE_ID}  removed sharp"]


def test_an_empty_tag_name_is_refused_before_any_request(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        tagging(api, capsys, "tag", IMAGE_ID, "ok", "  ")

    assert exit.value.code == 2
    assert "a tag name cannot be empty" in capsys.readouterr().err
    assert api.received == []


# -- retry and delete, one id after the other -----------------------------------------------------------------


def test_retry_reports_each_refused_id_at_once_and_retries_the_others(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    too_soon = refusal(
        429, "retry_too_soon", "The image was tagged 3 s ago; retry it in 27 s.", **{"Retry-After": "27"}
    )
    api.on("POST", f"/api/images/{IMAGE_ID}/retry", too_soon)
    api.on("POST", f"/api/images/{OTHER_ID}/retry", NOT_FOUND)
    api.on("POST", f"/api/images/{THIRD_ID}/retry", Answer(202, {"id": THIRD_ID, "status": "pending"}))
    api.on("POST", "/api/images/pending/retry", STILL_TAGGING)
    started = time.monotonic()

    code, out, err = tagging(api, capsys, "retry", IMAGE_ID, OTHER_ID, "pending", THIRD_ID)

    assert time.monotonic() - started < 5  # the 27 s are reported, not waited out
    assert code == commands.EXIT_FAILED
    assert out.splitlines() == [f"{THIRD_ID}  pending: tagging again"]
    assert err.splitlines() == [
        f"tagging: {IMAGE_ID}: The image was tagged 3 s ago; retry it in 27 s. (429 retry_too_soon, Retry-After 27 s)",
        f"tagging: {OTHER_ID}: You have no image {OTHER_ID}. (404 not_found)",
        "tagging: pending: The image is still being tagged; change its tags once it is done. (409 not_ready)",
    ]
    assert len(api.received) == 4


def test_retry_in_json_carries_each_refusal_with_its_code(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    too_soon = refusal(429, "retry_too_soon", "Retry it in 27 s.", **{"Retry-After": "27"})
    api.on("POST", f"/api/images/{IMAGE_ID}/retry", too_soon)
    api.on("POST", f"/api/images/{OTHER_ID}/retry", Answer(202, {"id": OTHER_ID, "status": "pending"}))

    code, out, err = tagging(api, capsys, "--json", "retry", IMAGE_ID, OTHER_ID)

    assert (code, err) == (commands.EXIT_FAILED, "")
    assert json.loads(out) == [
        {"id": IMAGE_ID, "error": "Retry it in 27 s.", "code": "retry_too_soon", "retry_after": 27},
        {"id": OTHER_ID, "status": "pending"},
    ]


def test_an_error_that_concerns_every_id_stops_the_command(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    down = refusal(503, "storage_unavailable", "Storage is down.", **{"Retry-After": "0"})
    api.on("POST", f"/api/images/{IMAGE_ID}/retry", down)

    code, _, err = tagging(api, capsys, "retry", IMAGE_ID, OTHER_ID)

    assert code == commands.EXIT_FAILED
    assert err.splitlines() == ["tagging: Storage is down. (503 storage_unavailable)"]
    assert {path for _, path in api.requests()} == {f"/api/images/{IMAGE_ID}/retry"}  # retried, then given up


def test_delete_goes_on_after_an_unknown_id(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("DELETE", f"/api/images/{IMAGE_ID}", Answer(204))
    api.on("DELETE", f"/api/images/{OTHER_ID}", NOT_FOUND)
    api.on("DELETE", f"/api/images/{THIRD_ID}", Answer(204))

    code, out, err = tagging(api, capsys, "delete", IMAGE_ID, OTHER_ID, THIRD_ID)

    assert code == commands.EXIT_FAILED
    assert out.splitlines() == [f"deleted {IMAGE_ID}", f"deleted {THIRD_ID}"]
    assert err.splitlines() == [f"tagging: {OTHER_ID}: You have no image {OTHER_ID}. (404 not_found)"]


def test_without_a_user_a_change_says_how_to_give_one(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("DELETE", f"/api/images/{IMAGE_ID}", refusal(401, "unauthenticated", "Name the caller."))

    code, out, err = run(capsys, "--api", api.url, "delete", IMAGE_ID, OTHER_ID)

    assert (code, out) == (commands.EXIT_NO_CALLER, "")
    (line,) = err.splitlines()
    assert "--user NAME or TAGGING_USER=NAME" in line
    assert len(api.received) == 1


# -- show -----------------------------------------------------------------------------------------------------


def test_show_names_the_file(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image(filename="holiday 2024.png")))

    code, out, _ = tagging(api, capsys, "show", IMAGE_ID)

    assert code == 0
    assert out.splitlines() == [
        f"{IMAGE_ID}  done  8x8 png  holiday 2024.png",
        "  color:red                                0.90  analysis",
    ]


def test_show_of_a_failed_image_gives_its_reason_and_no_empty_values(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = image(status="failed", tags=[], width=None, height=None, format=None, filename="broken.jpg",
                   error="The image data is damaged or truncated.")  # fmt: skip
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, failed))

    code, out, _ = tagging(api, capsys, "show", IMAGE_ID)

    assert code == 0
    assert out.splitlines() == [f"{IMAGE_ID}  failed  broken.jpg", "  error: The image data is damaged or truncated."]
    assert "None" not in out


def test_show_of_a_pending_image_says_how_to_wait(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    pending = image(status="pending", tags=[], width=None, height=None, format=None, filename=None)
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, pending))

    code, out, _ = tagging(api, capsys, "show", IMAGE_ID)

    assert code == 0
    assert out.splitlines() == [
        f"{IMAGE_ID}  pending",
        f"  not tagged yet: `tagging wait {IMAGE_ID}` waits until it is",
    ]


def test_show_of_a_deleted_image_is_one_line_and_status_1(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", f"/api/images/{OTHER_ID}", NOT_FOUND)

    code, out, err = tagging(api, capsys, "show", OTHER_ID)

    assert (code, out) == (commands.EXIT_FAILED, "")
    assert err == f"tagging: You have no image {OTHER_ID}. (404 not_found)\n"


def test_an_answer_that_is_not_the_apis_is_one_line(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, content=b"<html>Welcome to nginx</html>"))

    code, out, err = tagging(api, capsys, "show", IMAGE_ID)

    assert (code, out) == (commands.EXIT_FAILED, "")
    (line,) = err.splitlines()
    assert "did not answer as the tagging API does: is --api (TAGGING_API) the right address?" in line


def test_show_on_an_api_that_is_down_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    code, out, err = run(capsys, "--api", url, "--user", "alice", "show", IMAGE_ID)

    assert (code, out) == (commands.EXIT_UNREACHABLE, "")
    (line,) = err.splitlines()
    assert line.startswith(f"tagging: cannot reach {url}: ")


# -- search ---------------------------------------------------------------------------------------------------


def test_search_rows_name_the_file_or_say_there_is_none(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    older = image(OTHER_ID, filename=None, uploaded_at="2024-04-01T10:00:00Z")
    api.on("GET", "/api/images", Answer(200, {"items": [image(), older], "continuation": None}))

    code, out, err = tagging(api, capsys, "search", "color:red")

    assert code == 0
    assert out.splitlines() == [
        f"{IMAGE_ID}  done    2024-05-01T10:00:00Z  red.png  color:red",
        f"{OTHER_ID}  done    2024-04-01T10:00:00Z  -  color:red",
    ]
    assert err == "2 images\n"


@pytest.mark.parametrize(
    ("wanted", "said"),
    [
        ("gren", "no images with tag gren; did you mean color:green?"),
        ("green", "no images with tag green; did you mean color:green?"),
        ("Colour:Green", "no images with tag colour:green; did you mean color:green?"),
        ("colr:red", "no images with tag colr:red; did you mean color:red?"),
        ("zebra", "no images with tag zebra"),
    ],
)
def test_a_search_for_a_tag_no_image_has_says_so_and_suggests_close_ones(
    api: StubApi, capsys: pytest.CaptureFixture[str], wanted: str, said: str
) -> None:
    api.on("GET", "/api/images", Answer(200, {"items": [], "continuation": None}))
    tags = [{"name": name, "count": 2} for name in ("color:green", "color:red", "orientation:portrait", "sharp")]
    api.on("GET", "/api/tags", Answer(200, {"tags": tags}))

    code, out, err = tagging(api, capsys, "search", wanted)

    assert (code, out) == (commands.EXIT_FAILED, "")
    assert err == f"tagging: {said}\n"


def test_a_search_whose_tags_exist_but_not_together_says_so(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/api/images", Answer(200, {"items": [], "continuation": None}))
    api.on(
        "GET", "/api/tags", Answer(200, {"tags": [{"name": "color:red", "count": 1}, {"name": "sharp", "count": 1}]})
    )

    code, out, err = tagging(api, capsys, "--json", "search", "color:red", "sharp")

    assert (code, json.loads(out)) == (commands.EXIT_FAILED, [])
    assert err == "tagging: no image has all of color:red, sharp (each is on some image)\n"


def test_a_search_with_no_images_at_all_says_so(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/api/images", Answer(200, {"items": [], "continuation": None}))

    code, out, err = tagging(api, capsys, "search")

    assert (code, out) == (commands.EXIT_FAILED, "")
    assert err.startswith("tagging: no tagged images yet")


def test_an_empty_search_still_says_so_when_the_tags_cannot_be_read(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("GET", "/api/images", Answer(200, {"items": [], "continuation": None}))
    api.on("GET", "/api/tags", refusal(500, "internal", "Oops."))

    code, _, err = tagging(api, capsys, "search", "gren")

    assert code == commands.EXIT_FAILED
    assert err == "tagging: no images with tag gren\n"


def test_an_empty_tag_in_a_search_is_refused_before_any_request(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        tagging(api, capsys, "search", "color:red", "")

    assert exit.value.code == 2
    assert "a tag name cannot be empty" in capsys.readouterr().err
    assert api.received == []


# -- download, thumbnail, link --------------------------------------------------------------------------------


@pytest.fixture
def stored(api: StubApi) -> bytes:
    data = b"\x89PNG the uploaded bytes"
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image(filename="../holiday.png", content_type="image/png")))
    api.on("GET", f"/api/images/{IMAGE_ID}/content", Answer(302, headers={"Location": f"{api.url}/blob/x?sig=1"}))
    api.on("GET", "/blob/x", Answer(200, content=data, headers={"Content-Type": "image/png"}))
    return data


def test_download_saves_the_bytes_under_the_uploaded_name_here(
    api: StubApi, capsys: pytest.CaptureFixture[str], stored: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    code, out, _ = tagging(api, capsys, "download", IMAGE_ID)

    assert code == 0
    assert (tmp_path / "holiday.png").read_bytes() == stored  # the name only, never a path the API gave
    assert out == f"{IMAGE_ID}  saved holiday.png ({len(stored)} bytes)\n"


def test_download_never_replaces_a_file_unless_forced(
    api: StubApi, capsys: pytest.CaptureFixture[str], stored: bytes, tmp_path: Path
) -> None:
    (tmp_path / "holiday.png").write_bytes(b"mine")

    code, _, err = tagging(api, capsys, "download", IMAGE_ID, "-o", str(tmp_path))

    assert code == commands.EXIT_FAILED
    assert "exists: name another with -o, or replace it with --force" in err
    assert (tmp_path / "holiday.png").read_bytes() == b"mine"
    assert code == commands.EXIT_FAILED
    assert ("GET", f"/api/images/{IMAGE_ID}/content") not in api.requests()

    code, _, _ = tagging(api, capsys, "download", IMAGE_ID, "-o", str(tmp_path), "--force")

    assert code == 0
    assert (tmp_path / "holiday.png").read_bytes() == stored


def test_download_to_stdout(api: StubApi, stored: bytes) -> None:
    command = [sys.executable, "-m", "tagging_client", "--api", api.url, "--user", "a", "download", IMAGE_ID, "-o", "-"]

    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, check=False, timeout=60)

    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == stored


def test_thumbnail_saves_the_webp(api: StubApi, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}/thumbnail", Answer(200, content=b"RIFF\0\0\0\0WEBP"))

    code, out, _ = tagging(api, capsys, "--json", "thumbnail", IMAGE_ID, "-o", str(tmp_path))

    assert code == 0
    saved: dict[str, Any] = json.loads(out)
    assert saved == {"id": IMAGE_ID, "file": str(tmp_path / f"{IMAGE_ID}.webp"), "bytes": 12}
    assert (tmp_path / f"{IMAGE_ID}.webp").read_bytes() == b"RIFF\0\0\0\0WEBP"


def test_link_prints_the_link(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}/link", Answer(200, {"url": "https://account.blob.example/x?sig=1"}))

    code, out, _ = tagging(api, capsys, "link", IMAGE_ID)

    assert (code, out) == (0, "https://account.blob.example/x?sig=1\n")


# -- near duplicates ------------------------------------------------------------------------------------------


def test_similar_lists_the_near_duplicates_with_their_distance(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    older = near(THIRD_ID, 5, filename=None, uploaded_at="2023-01-02T03:04:05Z")
    found = {"id": IMAGE_ID, "max_distance": 6, "items": [near(OTHER_ID, 2), older]}
    api.on("GET", f"/api/images/{IMAGE_ID}/similar", Answer(200, found))

    code, out, _ = tagging(api, capsys, "similar", IMAGE_ID, "--max-distance", "6", "--limit", "5")

    assert code == 0
    assert out.splitlines() == [
        f"{OTHER_ID}   2 bits  2024-05-01T10:00:00Z  fedc.jpg",
        f"{THIRD_ID}   5 bits  2023-01-02T03:04:05Z  -",
    ]
    (sent,) = api.requests()
    assert sent == ("GET", f"/api/images/{IMAGE_ID}/similar?max_distance=6&limit=5")


def test_similar_with_none_says_so(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}/similar", Answer(200, {"id": IMAGE_ID, "max_distance": 0, "items": []}))

    code, out, err = tagging(api, capsys, "similar", IMAGE_ID, "--max-distance", "0")

    assert (code, out) == (commands.EXIT_FAILED, "")
    assert err == f"tagging: no image of yours within 0 bits of {IMAGE_ID}\n"
    assert api.requests() == [("GET", f"/api/images/{IMAGE_ID}/similar?max_distance=0")]


def test_similar_of_an_image_that_cannot_be_compared_is_one_line(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}/similar", refusal(409, "not_comparable", "It has no perceptual hash."))

    code, _, err = tagging(api, capsys, "similar", IMAGE_ID)

    assert code == commands.EXIT_FAILED
    assert err == "tagging: It has no perceptual hash. (409 not_comparable)\n"


def test_duplicates_follows_every_page_and_shows_each_group(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on(
        "GET", "/api/duplicates",
        Answer(200, {"groups": [group(IMAGE_ID, near(OTHER_ID, 1), near(THIRD_ID, 4))], "continuation": "next"}),
        Answer(200, {"groups": [], "continuation": "again"}),  # a page of images that had no group
        Answer(200, {"groups": [group(OTHER_ID, near(THIRD_ID, 3))], "continuation": None}),
    )  # fmt: skip

    code, out, _ = tagging(api, capsys, "duplicates")

    assert code == 0
    assert out.splitlines() == [
        f"{IMAGE_ID}  2024-05-01T10:00:00Z  red.png",
        f"  {OTHER_ID}   1 bits  2024-05-01T10:00:00Z  fedc.jpg",
        f"  {THIRD_ID}   4 bits  2024-05-01T10:00:00Z  0011.jpg",
        f"{OTHER_ID}  2024-05-01T10:00:00Z  red.png",
        f"  {THIRD_ID}   3 bits  2024-05-01T10:00:00Z  0011.jpg",
    ]
    assert [path for _, path in api.requests()] == [
        "/api/duplicates?limit=50", "/api/duplicates?limit=50&continuation=next",
        "/api/duplicates?limit=50&continuation=again",
    ]  # fmt: skip


def test_duplicates_with_none_says_so(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/api/duplicates", Answer(200, {"groups": [], "continuation": None}))

    code, out, err = tagging(api, capsys, "--json", "duplicates")

    assert (code, json.loads(out)) == (commands.EXIT_FAILED, [])
    assert err == "tagging: none of your images has a near duplicate\n"
