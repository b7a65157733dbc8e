"""HTTP triggers through real HTTP on the local runner."""

from __future__ import annotations

import json
import logging
import os
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
    assert response.headers["content-type"] == "application/json"
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


def test_unknown_paths_and_wrong_methods_are_a_bare_404(host: RunningHost) -> None:
    """A method no function at the path accepts fails the route's HttpMethodRouteConstraint, so no route matches:
    404 with no body, never 405 (azure-functions-host, WebScriptHostHttpRoutesManager.cs; dotnet/aspnetcore,
    HttpMethodRouteConstraint.cs)."""
    assert httpx.get(f"{host.url}/api/nothing-here").status_code == 404
    assert httpx.get(f"{host.url}/echo/alice").status_code == 404  # outside the route prefix
    response = httpx.delete(f"{host.url}/api/echo/alice")
    assert (response.status_code, response.content, "allow" in response.headers) == (404, b"", False)


def test_an_exception_in_the_function_is_a_bare_500(host: RunningHost) -> None:
    """azure-functions-host, src/WebJobs.Script.WebHost/Middleware/ExceptionMiddleware.cs sets 500, with no body."""
    response = httpx.get(f"{host.url}/api/boom")
    assert (response.status_code, response.content) == (500, b"")


def test_the_route_prefix_and_literals_match_whatever_their_case(host: RunningHost) -> None:
    """RoutePatternMatcher.cs compares literal segments with OrdinalIgnoreCase; route values keep their case."""
    assert httpx.get(f"{host.url}/API/Echo/Alice").json()["route"] == {"name": "Alice"}


def test_sync_functions_share_one_pool_of_the_workers_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-functions-python-worker, azure_functions_worker/dispatcher.py: one ThreadPoolExecutor for every sync
    function, max_workers from PYTHON_THREADPOOL_THREAD_COUNT, else Python's default min(32, cpu + 4)."""
    assert RunningHost(make_app(), HostConfig()).host.thread_count == min(32, (os.cpu_count() or 1) + 4)
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", "3")
    assert RunningHost(make_app(), HostConfig()).host.thread_count == 3


def test_a_body_over_the_host_limit_is_a_bare_500(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kestrel refuses a body over MaxRequestBodySize when the host reads it, and the host answers the exception
    with 500 (Azure/azure-functions-host issue 10519; HttpRequestBodySizeMiddleware.cs reads
    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)."""
    monkeypatch.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "1000")
    with RunningHost(make_app(), HostConfig()) as limited:
        assert httpx.post(f"{limited.url}/api/echo/a", content=b"x" * 1000).status_code == 201
        refused = httpx.post(f"{limited.url}/api/echo/a", content=b"x" * 1001)
        assert (refused.status_code, refused.content) == (500, b"")


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("a%2Fb", "a%2Fb"),
        ("a%2fb", "a%2fb"),
        ("a%20b", "a b"),
        ("a%25b", "a%b"),
        ("a%252Fb", "a%2Fb"),
        ("caf%C3%A9", "café"),
        ("a+b", "a+b"),
        ("%FFa", "%FFa"),
    ],
)
def test_route_values_are_decoded_as_kestrel_decodes_paths_except_an_encoded_slash(
    host: RunningHost, raw: str, name: str
) -> None:
    """dotnet/aspnetcore, src/Shared/UrlDecoder/UrlDecoder.cs (SkipUnescape keeps %2F; bytes that are not UTF-8
    are copied as written); RoutePatternMatcher.cs takes the value without decoding it again."""
    assert httpx.get(f"{host.url}/api/echo/{raw}").json()["route"] == {"name": name}


def test_dot_segments_are_removed_before_routing(host: RunningHost) -> None:
    """Kestrel's PathNormalizer.RemoveDotSegments runs after decoding, so `%2E%2E` removes a segment too: a path
    ending in `/x/..` reaches the route of its parent."""
    assert httpx.get(f"{host.url}/api/echo/alice/x/%2E%2E").json()["route"] == {"name": "alice"}
    assert httpx.get(f"{host.url}/api/nothing/%2e%2e/echo/bob").json()["route"] == {"name": "bob"}


def test_an_empty_segment_matches_nothing_and_a_trailing_slash_is_ignored(host: RunningHost) -> None:
    """RoutePatternMatcher.cs: an empty segment does not match; routing ignores a trailing slash."""
    assert httpx.get(f"{host.url}//api/echo/alice").status_code == 404
    assert httpx.get(f"{host.url}/api//echo/alice").status_code == 404
    assert httpx.get(f"{host.url}/api/echo/alice/").json()["route"] == {"name": "alice"}


def test_a_chunked_body_reaches_the_function_empty(host: RunningHost) -> None:
    """The host reads the body only when Content-Length is above 0 (azure-functions-host,
    GrpcMessageConversionExtensions.cs ToRpcHttp; maintainers in Azure/azure-functions-host issue 7930: chunked
    requests are not supported out of process)."""
    response = httpx.post(f"{host.url}/api/echo/a", content=iter([b"part one, ", b"part two"]))
    assert response.json()["body"] == ""


def test_headers_and_query_reach_the_function_as_the_host_joins_them(host: RunningHost) -> None:
    """GrpcMessageConversionExtensions.cs: header names lower-cased, values joined by StringValues.ToString (`,`,
    empty ones left out); query names case-insensitive (QueryFeature.cs), empty values dropped."""
    headers = [("X-Custom", "one"), ("x-custom", "two")]
    response = httpx.get(f"{host.url}/api/echo/a?tag=x&Tag=y&empty=&flag", headers=headers)
    assert response.json()["header"] == "one,two"
    assert response.json()["query"] == {"tag": "x,y"}


@pytest.mark.parametrize(
    ("mimetype", "content_type"),
    [("application/json", "application/json"), ("text/plain", "text/plain; charset=utf-8")],
)
def test_the_response_gets_a_charset_only_for_text_types(mimetype: str, content_type: str) -> None:
    """azure-functions-python-library, azure/functions/http.py HttpResponseConverter.encode: `; charset=` only for
    `text/*`; the host passes the header on (RawScriptResult.cs)."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="typed")
    def typed(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("{}", mimetype=mimetype)

    with RunningHost(app, HostConfig()) as running:
        assert httpx.get(f"{running.url}/api/typed").headers["content-type"] == content_type


def test_the_route_prefix_comes_from_host_json() -> None:
    """host.json extensions.http.routePrefix (azure-webjobs-sdk-extensions, HttpExtensionConstants.DefaultRoutePrefix
    "api"; an empty prefix serves routes at the root)."""
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
