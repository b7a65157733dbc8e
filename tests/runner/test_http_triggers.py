"""HTTP triggers through real HTTP on the local runner."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
from pathlib import Path

import azure.functions as func
import httpx
import pytest

from local_runner.config import HostConfig
from tests.runner.harness import RunningHost


def make_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.route(route="echo/{name}/{rest?}", methods=["POST", "GET"])
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        body = {
            "method": req.method,
            "route": dict(req.route_params),
            "query": dict(req.params),
            "header": req.headers.get("x-custom"),
            "body": req.get_body().decode(),
        }
        return func.HttpResponse(json.dumps(body), status_code=201, mimetype="application/json", headers={"X-A": "1"})

    @app.route(route="boom")
    def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("boom")

    @app.function_name("unrouted")
    @app.route()
    def unrouted(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("by name")

    return app


@pytest.fixture(scope="module")
def host() -> RunningHost:
    with RunningHost(make_app(), HostConfig()) as running:
        yield running  # type: ignore[misc]


def test_the_request_reaches_the_function_whole(host: RunningHost) -> None:
    response = httpx.post(f"{host.url}/api/echo/alice/x?tag=a", content=b"payload", headers={"X-Custom": "yes"})
    assert response.status_code == 201
    assert response.headers["x-a"] == "1"
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "method": "POST",
        "route": {"name": "alice", "rest": "x"},
        "query": {"tag": "a"},
        "header": "yes",
        "body": "payload",
    }


def test_optional_parameters_may_be_left_out(host: RunningHost) -> None:
    assert httpx.get(f"{host.url}/api/echo/bob").json()["route"] == {"name": "bob"}


def test_a_function_without_a_route_is_served_under_its_name(host: RunningHost) -> None:
    assert httpx.get(f"{host.url}/api/unrouted").text == "by name"


def test_unknown_paths_are_404_and_wrong_methods_405(host: RunningHost) -> None:
    assert httpx.get(f"{host.url}/api/nothing-here").status_code == 404
    assert httpx.get(f"{host.url}/echo/alice").status_code == 404  # outside the route prefix
    response = httpx.delete(f"{host.url}/api/echo/alice")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_an_exception_in_the_function_is_a_500(host: RunningHost) -> None:
    assert httpx.get(f"{host.url}/api/boom").status_code == 500


def test_a_body_over_the_host_limit_is_refused_before_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "1000")
    with RunningHost(make_app(), HostConfig()) as limited:
        assert httpx.post(f"{limited.url}/api/echo/a", content=b"x" * 1000).status_code == 201
        assert httpx.post(f"{limited.url}/api/echo/a", content=b"x" * 1001).status_code == 413


def test_the_route_prefix_comes_from_host_json() -> None:
    with RunningHost(make_app(), HostConfig(route_prefix="")) as bare:
        assert httpx.get(f"{bare.url}/echo/carol").json()["route"] == {"name": "carol"}


def test_each_request_is_logged_once_with_its_status(host: RunningHost, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="local_runner"):
        httpx.post(f"{host.url}/api/echo/alice?code=secret", content=b"x")
        httpx.get(f"{host.url}/api/boom")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    echo = re.compile(r"POST /api/echo/alice -> 201 in \d+ ms \('Functions.echo'\)")  # no query: keys stay out
    boom = re.compile(r"GET /api/boom -> 500 in \d+ ms \('Functions.boom'\)")
    assert any(echo.fullmatch(line) for line in lines), lines
    assert any(boom.fullmatch(line) for line in lines), lines
    assert not [line for line in lines if "Functions.echo" in line and "->" not in line], lines
    assert not [r for r in caplog.records if "secret" in r.getMessage()]
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records), "the 500's traceback is logged"


def test_a_taken_port_is_one_clear_line_and_exit_status_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "local_runner", "--port", str(port), "--settings", str(tmp_path / "none.json")],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert run.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in run.stderr
    assert "RUN_ARGS='--port" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
