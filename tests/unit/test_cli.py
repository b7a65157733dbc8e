"""The command-line client against a tiny real HTTP server that answers from a script and records what it received."""

from __future__ import annotations

import json
import os
import pty
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tagging_client import cli, commands
from tagging_client.api import ApiError, Client

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_ID = "0123456789abcdef0123456789abcdef"
OTHER_ID = "fedcba9876543210fedcba9876543210"


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # sent as JSON
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None  # sent as it is, instead of a JSON body
    delay: float = 0.0  # seconds before answering


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    at: float


class StubApi:
    """Answers each request with the next scripted answer for its method and path (the last one repeats)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: dict[tuple[str, str], list[Answer]] = {}
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = stub.next_answer(self.command, self.path.split("?")[0])
                with stub._lock:
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    stub.received.append(Received(self.command, self.path, headers, time.monotonic()))
                if answer.content is not None:
                    data, kind = answer.content, "application/octet-stream"
                else:
                    data, kind = (
                        (json.dumps(answer.body).encode() if answer.body is not None else b""),
                        "application/json",
                    )
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in {"Content-Type": kind, **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self._script[(method, path)] = list(answers)

    def requests(self, method: str | None = None) -> list[tuple[str, str]]:
        """What was asked, in order: (method, path with its query)."""
        return [(r.method, r.path) for r in self.received if method in (None, r.method)]

    def next_answer(self, method: str, path: str) -> Answer:
        with self._lock:
            answers = self._script.get((method, path))
            if not answers:
                return Answer(404, {"error": {"code": "not_found", "message": f"No route {method} {path}."}})
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def serve(self) -> Iterator[StubApi]:
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()


def image(image_id: str = IMAGE_ID, status: str = "done", **fields: Any) -> dict[str, Any]:
    return {"id": image_id, "status": status, "tags": [{"name": "color:red", "confidence": 0.9, "source": "analysis"}],
            "width": 8, "height": 8, "format": "png", "uploaded_at": "2024-05-01T10:00:00Z",
            "filename": "red.png", **fields}  # fmt: skip


def refusal(status: int, code: str, message: str, **headers: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}}, headers)


@pytest.fixture
def api() -> Iterator[StubApi]:
    yield from StubApi().serve()


@pytest.fixture(autouse=True)
def no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TAGGING_API", "TAGGING_USER", "TAGGING_KEY", "TAGGING_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- retries --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_answer_is_retried_after_the_pause_the_server_asks_for(
    api: StubApi, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    busy = Answer(status, {"error": {"code": "busy", "message": "Try again."}}, {"Retry-After": "1"})
    api.on("GET", "/api/tags", busy, Answer(200, {"tags": [{"name": "color:red", "count": 2}]}))

    code, out, _ = run(capsys, "--api", api.url, "--user", "alice", "--json", "tags")

    assert code == 0
    assert json.loads(out) == [{"name": "color:red", "count": 2}]
    first, second = api.received
    assert second.at - first.at >= 0.95


def test_retry_after_may_be_an_http_date(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    busy = Answer(503, {"error": {"code": "storage_unavailable", "message": "Soon."}}, {"Retry-After": later})
    api.on("GET", "/api/tags", busy, Answer(200, {"tags": []}))

    code, _, _ = run(capsys, "--api", api.url, "--user", "alice", "tags")

    assert code == 0
    first, second = api.received
    assert second.at - first.at >= 0.95  # the date has whole seconds: between one and two seconds from now


def test_an_api_that_stays_unavailable_is_reported_after_the_retries(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    down = Answer(503, {"error": {"code": "storage_unavailable", "message": "Storage is down."}}, {"Retry-After": "0"})
    api.on("GET", "/api/tags", down)

    code, out, err = run(capsys, "--api", api.url, "--user", "alice", "--json", "tags")

    assert code == 1
    assert out == ""
    assert "Storage is down. (503 storage_unavailable)" in err
    assert len(api.received) == 1 + Client("http://x").retries


def test_a_refused_request_is_not_retried(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(404, {"error": {"code": "not_found", "message": "No image."}}))

    code, _, err = run(capsys, "--api", api.url, "--user", "alice", "show", IMAGE_ID)

    assert code == 1
    assert "No image. (404 not_found)" in err
    assert len(api.received) == 1


# -- who the caller is ----------------------------------------------------------------------------------------


def test_settings_come_from_the_environment(
    api: StubApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.on("GET", "/api/tags", Answer(200, {"tags": []}))
    monkeypatch.setenv("TAGGING_API", api.url)
    monkeypatch.setenv("TAGGING_USER", "alice")
    monkeypatch.setenv("TAGGING_KEY", "the-function-key")

    code, out, _ = run(capsys, "--json", "tags")

    assert (code, json.loads(out)) == (0, [])
    (sent,) = api.received
    assert sent.headers["x-ms-client-principal-id"] == "alice"
    assert sent.headers["x-functions-key"] == "the-function-key"
    assert "authorization" not in sent.headers


def test_options_override_the_environment(
    api: StubApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.on("GET", "/api/tags", Answer(200, {"tags": []}))
    monkeypatch.setenv("TAGGING_API", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("TAGGING_USER", "alice")
    monkeypatch.setenv("TAGGING_KEY", "old-key")

    code, _, _ = run(capsys, "--api", api.url, "--user", "bob", "tags", "--key", "new-key")

    assert code == 0
    (sent,) = api.received
    assert (sent.headers["x-ms-client-principal-id"], sent.headers["x-functions-key"]) == ("bob", "new-key")


def test_a_token_is_sent_as_bearer_and_the_platform_names_the_caller(
    api: StubApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.on("GET", "/api/tags", Answer(200, {"tags": []}))
    monkeypatch.setenv("TAGGING_TOKEN", "eyJ0eXAi.payload.signature\n")  # as `$(az ... -o tsv)` may leave it

    code, _, err = run(capsys, "--api", api.url, "--user", "alice", "--key", "k", "tags")

    assert code == 0
    (sent,) = api.received
    assert sent.headers["authorization"] == "Bearer eyJ0eXAi.payload.signature"
    assert sent.headers["x-functions-key"] == "k"
    assert "x-ms-client-principal-id" not in sent.headers
    assert "--user is ignored with --token" in err


def test_a_token_option_needs_no_user(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/api/tags", Answer(200, {"tags": [{"name": "color:red", "count": 1}]}))

    code, _, err = run(capsys, "tags", "--api", api.url, "--token", "abc")

    assert (code, err) == (0, "")
    (sent,) = api.received
    assert sent.headers["authorization"] == "Bearer abc"
    assert "x-ms-client-principal-id" not in sent.headers


@pytest.mark.parametrize(
    ("token", "advice", "exit_code"),
    [
        (None, "--token or TAGGING_TOKEN", commands.EXIT_NO_CALLER),
        ("expired", "may have expired", commands.EXIT_FAILED),
    ],
)
def test_a_refusal_by_the_platform_says_how_to_sign_in(
    api: StubApi, capsys: pytest.CaptureFixture[str], token: str | None, advice: str, exit_code: int
) -> None:
    # What App Service Authentication answers before the app runs: 401 with no JSON body.
    api.on("GET", "/api/tags", Answer(401, None, {"WWW-Authenticate": "Bearer"}))

    code, _, err = run(capsys, "--api", api.url, "tags", *(["--token", token] if token else []))

    assert code == exit_code
    assert advice in err
    assert "az account get-access-token --resource api://<client id>" in err


# -- options before or after the command ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "order",
    [
        ["--api", "{url}", "--user", "alice", "--key", "k", "--json", "show", IMAGE_ID],
        ["show", IMAGE_ID, "--api", "{url}", "--user", "alice", "--key", "k", "--json"],
        ["show", "--json", "--key", "k", IMAGE_ID, "--user", "alice", "--api", "{url}"],
        ["--api", "{url}", "--json", "show", "--user", "alice", IMAGE_ID, "--key", "k"],
    ],
)
def test_shared_options_work_before_and_after_the_command(
    api: StubApi, capsys: pytest.CaptureFixture[str], order: list[str]
) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image()))

    code, out, _ = run(capsys, *(arg.replace("{url}", api.url) for arg in order))

    assert code == 0
    assert json.loads(out)["id"] == IMAGE_ID
    (sent,) = api.received
    assert (sent.headers["x-ms-client-principal-id"], sent.headers["x-functions-key"]) == ("alice", "k")


def test_an_option_after_the_command_wins_over_the_same_one_before_it(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("GET", "/api/tags", Answer(200, {"tags": []}))

    code, _, _ = run(capsys, "--api", f"http://127.0.0.1:{free_port()}", "--user", "a", "tags", "--api", api.url)

    assert code == 0
    assert [r.headers["x-ms-client-principal-id"] for r in api.received] == ["a"]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--api", "127.0.0.1:7071", "tags"], "is not a URL"),
        (["wait", "--timeout", "0", IMAGE_ID], "0 is not more than 0"),
        (["upload", "--concurrency", "none", "."], "'none' is not a number"),
    ],
)
def test_bad_options_fail_before_any_request(
    capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.main(args)
    assert exit.value.code == 2
    assert complaint in capsys.readouterr().err


# -- an API that cannot be reached ----------------------------------------------------------------------------


def test_an_unreachable_api_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    code, out, err = run(capsys, "--api", url, "--user", "alice", "--json", "tags")

    assert code == 2
    assert out == ""
    assert f"tagging: cannot reach {url}:" in err


def test_an_upload_to_an_unreachable_api_stops_at_the_first_file_and_says_so_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for number in range(12):
        (tmp_path / f"{number:02}.png").write_bytes(b"\x89PNG not really")
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()

    code, out, err = run(capsys, "--api", url, "--user", "alice", "upload", "--concurrency", "2", str(tmp_path))

    assert code == commands.EXIT_UNREACHABLE
    # The first file alone retries its connection for about 1.5 s; the others are never sent.
    assert time.monotonic() - started < 3
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"tagging: cannot reach {url}:")
    assert "Is the API running there?" in line


# -- wait -----------------------------------------------------------------------------------------------------


def test_wait_reports_an_unknown_id_and_keeps_waiting_for_the_others(
    api: StubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image(status="pending")), Answer(200, image()))

    code, out, _ = run(capsys, "--api", api.url, "--user", "a", "--json", "wait", OTHER_ID, IMAGE_ID, "not-an-id")

    assert code == 1
    waited = json.loads(out)
    assert [done["id"] for done in waited["done"]] == [IMAGE_ID]
    assert waited["still_pending"] == []
    assert waited["not_found"] == [OTHER_ID, "not-an-id"]


def test_wait_names_unknown_ids_on_stderr(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image()))

    code, out, err = run(capsys, "--api", api.url, "--user", "a", "wait", IMAGE_ID, OTHER_ID)

    assert code == 1
    assert out == f"{IMAGE_ID}  done\n"
    assert f"{OTHER_ID}  not found: No route GET /api/images/{OTHER_ID}." in err


def test_wait_gives_up_after_its_timeout(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image(status="pending")))
    started = time.monotonic()

    code, out, _ = run(capsys, "--api", api.url, "--user", "a", "--json", "wait", IMAGE_ID, "--timeout", "1")

    assert code == 1
    assert 1 <= time.monotonic() - started < 3
    assert json.loads(out) == {"done": [], "still_pending": [IMAGE_ID], "not_found": []}
    assert len(api.received) >= 2  # checked again and again until the timeout


def test_wait_stops_on_an_error_that_concerns_every_id(api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(401, {"error": {"code": "unauthenticated", "message": "Sign in."}}))

    code, out, err = run(capsys, "--api", api.url, "--user", "a", "--json", "wait", IMAGE_ID, OTHER_ID)

    assert (code, out) == (1, "")
    assert "Sign in. (401 unauthenticated)" in err
    assert len(api.received) == 1


# -- output ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["show", IMAGE_ID], image()),
        (["search", "color:red"], [image()]),
        (["tags"], [{"name": "color:red", "count": 1}]),
        (["delete", IMAGE_ID], [{"id": IMAGE_ID, "deleted": True}]),
        (["tag", IMAGE_ID, "color:red"], [{"id": IMAGE_ID, "tag": "color:red", "added": True}]),
        (["untag", IMAGE_ID, "color:red"], [{"id": IMAGE_ID, "tag": "color:red", "removed": True}]),
        (["retry", IMAGE_ID], [{"id": IMAGE_ID, "status": "pending"}]),
        (["link", IMAGE_ID], {"id": IMAGE_ID, "url": "https://storage.example/blob?sig=x"}),
        (["wait", IMAGE_ID], {"done": [image()], "still_pending": [], "not_found": []}),
    ],
)
def test_json_output_of_every_command_is_json_and_nothing_else(
    api: StubApi, capsys: pytest.CaptureFixture[str], command: list[str], expected: Any
) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image()))
    api.on("DELETE", f"/api/images/{IMAGE_ID}", Answer(204))
    api.on("GET", "/api/images", Answer(200, {"items": [image()], "continuation": None}))
    api.on("GET", "/api/tags", Answer(200, {"tags": [{"name": "color:red", "count": 1}]}))
    api.on("PUT", f"/api/images/{IMAGE_ID}/tags/color%3Ared", Answer(200, image()))
    api.on("DELETE", f"/api/images/{IMAGE_ID}/tags/color%3Ared", Answer(200, image()))
    api.on("POST", f"/api/images/{IMAGE_ID}/retry", Answer(202, {"id": IMAGE_ID, "status": "pending"}))
    api.on("GET", f"/api/images/{IMAGE_ID}/link", Answer(200, {"url": "https://storage.example/blob?sig=x"}))

    code, out, _ = run(capsys, "--api", api.url, "--user", "a", *command, "--json")

    assert code == 0
    assert json.loads(out) == expected


def test_the_progress_bar_goes_to_the_terminal_on_stderr_and_stdout_keeps_only_json(
    api: StubApi, tmp_path: Path
) -> None:
    api.on("POST", "/api/images", Answer(201, {"id": IMAGE_ID, "status": "pending"}))
    for name in ("a.png", "b.jpg", "c.gif"):
        (tmp_path / name).write_bytes(b"pixels")
    process, out, shown = with_terminal_stderr(
        lambda stderr: cli_process(api, "upload", str(tmp_path), "--json", stdout=subprocess.PIPE, stderr=stderr)
    )

    assert process.returncode == 0
    assert sorted(Path(result["file"]).name for result in json.loads(out)) == ["a.png", "b.jpg", "c.gif"]
    assert "Uploading" in shown
    assert "3/3" in shown


def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other end of the terminal closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("part", [".", "..", " .. "])
def test_the_client_never_sends_a_dot_segment(api: StubApi, part: str) -> None:
    """A server drops `.` and `..` path segments before routing (Kestrel's PathNormalizer): `DELETE .../tags/..`
    would delete the image itself. The client refuses such a part before sending anything."""
    client = Client(api.url, user="alice")

    with pytest.raises(ApiError, match="cannot be an image id or a tag name"):
        client.untag(IMAGE_ID, part)

    assert api.received == []


def with_terminal_stderr(start: Callable[[int], subprocess.Popen[bytes]]) -> tuple[subprocess.Popen[bytes], bytes, str]:
    """Run a client whose stderr is a terminal (as in a shell) and whose stdout is a pipe: its exit, its stdout,
    and what the terminal showed."""
    terminal, stderr = pty.openpty()
    with start(stderr) as process:
        os.close(stderr)
        shown = bytearray()
        reader = threading.Thread(target=lambda: shown.extend(read_all(terminal)))
        reader.start()
        out, _ = process.communicate(timeout=60)
        reader.join(10)
    os.close(terminal)
    return process, out, shown.decode(errors="replace")


def cli_process(api: StubApi, *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tagging_client", "--api", api.url, "--user", "a", *args]
    # Without PYTHONUNBUFFERED, as most users run it: stdout to a pipe is then written in blocks unless flushed.
    environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    environment.pop("PYTHONUNBUFFERED", None)
    return subprocess.Popen(command, cwd=REPO_ROOT, env=environment, **popen)


def test_each_upload_is_printed_as_it_ends_not_at_the_end(api: StubApi, tmp_path: Path) -> None:
    api.on("POST", "/api/images", Answer(202, {"id": IMAGE_ID, "status": "pending"}),
           Answer(202, {"id": OTHER_ID, "status": "pending"}, delay=3))  # fmt: skip
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"pixels")
    started = time.monotonic()

    with cli_process(api, "upload", str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        first = process.stdout.readline().decode()
        shown_after = time.monotonic() - started
        running_then = process.poll() is None
        rest, err = process.communicate(timeout=60)

    assert first == f"{IMAGE_ID}  pending  {tmp_path / 'a.png'}\n"
    assert running_then, "the first line came only when the command ended"
    assert shown_after < 3
    assert rest.decode().splitlines() == [f"{OTHER_ID}  pending  {tmp_path / 'b.png'}", "2 uploaded, 0 failed"]
    assert (process.returncode, err) == (0, b"")


def test_the_bar_goes_to_the_terminal_and_the_image_lines_to_stdout(api: StubApi, tmp_path: Path) -> None:
    """Rich would swap sys.stdout for its own console while the bar runs, which writes to stderr."""
    api.on("POST", "/api/images", Answer(202, {"id": IMAGE_ID, "status": "pending"}))
    for name in ("a.png", "b.jpg", "c.gif"):
        (tmp_path / name).write_bytes(b"pixels")
    process, out, shown = with_terminal_stderr(
        lambda stderr: cli_process(api, "upload", str(tmp_path), stdout=subprocess.PIPE, stderr=stderr)
    )

    assert process.returncode == 0
    lines = out.decode().splitlines()
    assert sorted(lines[:3]) == [f"{IMAGE_ID}  pending  {tmp_path / name}" for name in ("a.png", "b.jpg", "c.gif")]
    assert lines[3:] == ["3 uploaded, 0 failed"]
    assert "3/3" in shown
    assert IMAGE_ID not in shown


def test_on_one_terminal_the_image_lines_are_printed_whole_above_the_bar(api: StubApi, tmp_path: Path) -> None:
    # Slow enough answers that the bar is drawn before each line is printed.
    api.on("POST", "/api/images", Answer(202, {"id": IMAGE_ID, "status": "pending"}, delay=0.4))
    for name in ("a.png", "b.jpg"):
        (tmp_path / name).write_bytes(b"pixels")
    terminal, both = pty.openpty()
    with cli_process(api, "upload", str(tmp_path), stdout=both, stderr=both) as process:
        os.close(both)
        shown = bytearray()
        reader = threading.Thread(target=lambda: shown.extend(read_all(terminal)))
        reader.start()
        process.wait(timeout=60)
        reader.join(10)
    os.close(terminal)

    text = shown.decode(errors="replace")
    assert process.returncode == 0
    for name in ("a.png", "b.jpg"):
        # Each line starts a line of its own, the bar's line cleared first (ESC [2K), never written after the bar.
        line = f"{IMAGE_ID}  pending  {tmp_path / name}"
        assert re.search(r"(^|\n|\x1b\[2K)" + re.escape(line) + r"\r?\n", text), text
    # The finished bar stays below the lines, above the summary.
    assert text.rindex(f"{IMAGE_ID}  pending") < text.rindex("2/2") < text.index("2 uploaded, 0 failed")


# -- a reader that stops reading ------------------------------------------------------------------------------


def test_json_show_piped_to_head_ends_quietly(api: StubApi) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image()))

    with cli_process(api, "--json", "show", IMAGE_ID, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as tagging:
        assert tagging.stdout is not None
        head = subprocess.run(["head", "-1"], stdin=tagging.stdout, capture_output=True, check=True, timeout=60)
        tagging.stdout.close()  # head alone holds the pipe's read end now, as in a shell
        _, err = tagging.communicate(timeout=60)

    assert head.stdout == b"{\n"
    assert err == b""
    assert tagging.returncode == 0


def test_a_long_listing_piped_to_head_ends_quietly(api: StubApi) -> None:
    tags = [{"name": f"tag-{number:05}", "count": 1} for number in range(20000)]  # far more than a pipe holds
    api.on("GET", "/api/tags", Answer(200, {"tags": tags}))

    with cli_process(api, "tags", stdout=subprocess.PIPE, stderr=subprocess.PIPE) as tagging:
        assert tagging.stdout is not None
        head = subprocess.run(["head", "-1"], stdin=tagging.stdout, capture_output=True, check=True, timeout=60)
        tagging.stdout.close()
        _, err = tagging.communicate(timeout=60)

    assert head.stdout == b"     1  tag-00000\n"
    assert err == b""
    assert tagging.returncode == 0  # the tags were read; the reader chose to stop


@pytest.mark.parametrize(
    "command", [["--json", "show", IMAGE_ID], ["show", IMAGE_ID], ["tags"], ["search", "color:red"]]
)
def test_a_closed_stdout_ends_the_command_quietly(api: StubApi, command: list[str]) -> None:
    api.on("GET", f"/api/images/{IMAGE_ID}", Answer(200, image()))
    api.on("GET", "/api/images", Answer(200, {"items": [image()], "continuation": None}))
    api.on("GET", "/api/tags", Answer(200, {"tags": [{"name": "color:red", "count": 1}]}))
    read_end, write_end = os.pipe()
    os.close(read_end)  # whatever the command writes now fails with EPIPE

    with cli_process(api, *command, stdout=write_end, stderr=subprocess.PIPE) as tagging:
        os.close(write_end)
        _, err = tagging.communicate(timeout=60)

    assert err.decode().replace("1 image\n", "") == ""  # search counts on stderr; nothing else, no traceback
    assert tagging.returncode == 0  # the command had done its work when it found no one reading


def test_a_closed_stdout_stops_a_command_that_is_still_changing_things(api: StubApi, tmp_path: Path) -> None:
    api.on("PUT", f"/api/images/{IMAGE_ID}/tags/a", Answer(200, image()))
    api.on("PUT", f"/api/images/{IMAGE_ID}/tags/b", Answer(200, image()))
    read_end, write_end = os.pipe()
    os.close(read_end)

    with cli_process(api, "tag", IMAGE_ID, "a", "b", stdout=write_end, stderr=subprocess.PIPE) as tagging:
        os.close(write_end)
        _, err = tagging.communicate(timeout=60)

    assert err == b""
    assert tagging.returncode == commands.EXIT_FAILED  # cut short: b was never added
    assert api.requests("PUT") == [("PUT", f"/api/images/{IMAGE_ID}/tags/a")]
