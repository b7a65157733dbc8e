"""The host: serves HTTP triggers with aiohttp, runs queue listeners, and applies output bindings."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from aiohttp import web
from azure.functions.http import HttpResponseConverter
from multidict import CIMultiDict

from local_runner.config import DEFAULT_REQUEST_BODY_LIMIT, HostConfig
from local_runner.connections import Connections
from local_runner.functions import IndexedFunction, invoke
from local_runner.kestrel import DRAIN_TIMEOUT, KEEP_ALIVE_TIMEOUT, KestrelSite, SlowBodyError, read_body
from local_runner.outputs import OutputWriter
from local_runner.queues import MESSAGE_LEASE_SECONDS, QueueListener, poison_queue_name
from local_runner.routes import Route, Router, compile_route, kestrel_path

logger = logging.getLogger(__name__)


class PortInUseError(RuntimeError):
    """The HTTP port is taken, most often by another runner or Core Tools' `func start`."""


@dataclass(frozen=True)
class Endpoint:
    host: str = "127.0.0.1"
    port: int = 7071


class Host:
    def __init__(
        self,
        functions: list[IndexedFunction],
        config: HostConfig,
        connections: Connections | None = None,
        *,
        message_lease: int = MESSAGE_LEASE_SECONDS,
    ) -> None:
        self.functions = functions
        self._message_lease = message_lease
        self.config = config
        self.connections = connections or Connections()
        # As the Python worker: one pool for every sync function, HTTP and queue alike (dispatcher.py).
        threads = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT")
        self._executor = ThreadPoolExecutor(max_workers=int(threads) if threads else None, thread_name_prefix="fn")
        self._listeners: dict[str, list[QueueListener]] = {}
        self._writer = OutputWriter(self.connections, config.queues.message_encoding, self._wake_listeners)
        self._body_limit = int(os.environ.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", DEFAULT_REQUEST_BODY_LIMIT))
        http_routes: list[Route[IndexedFunction]] = []
        for fn in functions:
            if fn.trigger.type == "httpTrigger":
                template = fn.trigger.get("route") or fn.name
                http_routes.append(compile_route(template, fn.trigger.get("methods"), fn))
        self.router = Router(http_routes)
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._site: KestrelSite | None = None

    @property
    def thread_count(self) -> int:
        """How many sync invocations run at once: the worker's PYTHON_THREADPOOL_THREAD_COUNT, else min(32, cpu+4)."""
        return self._executor._max_workers

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def serve(self, endpoint: Endpoint, ready: asyncio.Event | None = None) -> None:
        """Run until `stop()`; in-flight invocations finish before it returns."""
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        runner = web.AppRunner(
            self._web_app(), access_log=None, keepalive_timeout=KEEP_ALIVE_TIMEOUT, lingering_time=DRAIN_TIMEOUT
        )
        await runner.setup()
        site = self._site = KestrelSite(runner, endpoint.host, endpoint.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            self._executor.shutdown(wait=False)
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(f"Port {endpoint.port} on {endpoint.host} is already in use") from exc
            raise
        listeners = [self._listener(fn) for fn in self.functions if fn.trigger.type == "queueTrigger"]
        tasks = [asyncio.create_task(listener.run(self._stopping)) for listener in listeners]
        for fn in self.functions:
            self._describe(fn, endpoint)
        logger.info("Host started on http://%s:%d (Ctrl-C stops it)", endpoint.host, endpoint.port)
        if ready is not None:
            ready.set()
        try:
            await self._stopping.wait()
        finally:
            logger.info("Stopping: finishing in-flight invocations")
            await asyncio.gather(*tasks, return_exceptions=True)
            site.stop()
            await runner.cleanup()
            self._executor.shutdown(wait=True)

    def stop(self) -> None:
        self._stopping.set()

    def _describe(self, fn: IndexedFunction, endpoint: Endpoint) -> None:
        if fn.trigger.type == "httpTrigger":
            methods = ",".join(fn.trigger.get("methods") or ["*"])
            route = fn.trigger.get("route") or fn.name
            logger.info("  %s: [%s] http://%s:%d/%s", fn.name, methods, endpoint.host, endpoint.port, self._path(route))
        else:
            logger.info("  %s: queueTrigger on %s", fn.name, fn.trigger.get("queueName"))

    def _path(self, route: str) -> str:
        prefix = self.config.route_prefix
        return f"{prefix}/{route}" if prefix else route

    # -- queue triggers ---------------------------------------------------------------------------------------

    def _listener(self, fn: IndexedFunction) -> QueueListener:
        queue_name = str(fn.trigger.get("queueName"))
        connection = fn.trigger.get("connection")

        async def handle(message: func.QueueMessage) -> None:
            reason = f"New queue message on '{queue_name}': {message.id}, dequeue count {message.dequeue_count}"
            result = await invoke(fn, message, self._executor, reason)
            await self._write_outputs(fn, result.outputs, result.returned)

        poison = poison_queue_name(queue_name)
        listener = QueueListener(
            fn.name,
            self.connections.queue(connection, queue_name),
            None if poison is None else self.connections.queue(connection, poison),
            self.config.queues,
            handle,
            lease_seconds=self._message_lease,
        )
        self._listeners.setdefault(queue_name, []).append(listener)
        return listener

    def _wake_listeners(self, queue_name: str) -> None:
        # Called from worker threads; the listener's event belongs to the loop.
        if self._loop is None:
            return
        for listener in self._listeners.get(queue_name, []):
            self._loop.call_soon_threadsafe(listener.wake)

    async def _write_outputs(self, fn: IndexedFunction, outputs: dict[str, Any], returned: Any) -> None:
        for binding in fn.outputs:
            value = returned if binding.name == "$return" else outputs.get(binding.name)
            if binding.type == "http" or value is None:
                continue
            try:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._writer.write, binding, value)
            except Exception:
                # The invocation fails as in the host (a 500, or a retried message); say which binding failed.
                logger.exception("Functions.%s: its %s output binding '%s' failed", fn.name, binding.type, binding.name)
                raise

    # -- HTTP triggers ----------------------------------------------------------------------------------------

    def _web_app(self) -> web.Application:
        # aiohttp's own size check is replaced by ours, which answers before reading the body.
        app = web.Application(client_max_size=self._body_limit + 1)
        app.router.add_route("*", "/{tail:.*}", self._handle_http)
        return app

    async def _handle_http(self, request: web.Request) -> web.StreamResponse:
        connection = self._site.connection(request) if self._site else None
        if connection is not None:
            connection.request_started()
        try:
            return await self._answer_http(request)
        finally:
            if connection is not None:
                connection.request_finished(request.content)

    async def _answer_http(self, request: web.Request) -> web.StreamResponse:
        path = kestrel_path(request.raw_path.split("?", 1)[0])[1:]
        prefix = self.config.route_prefix
        if prefix:
            if not (path.lower() == prefix.lower() or path.lower().startswith(prefix.lower() + "/")):
                return web.Response(status=404)
            path = path[len(prefix) + 1 :]
        resolved = self.router.resolve(request.method, path)
        if resolved is None:
            return web.Response(status=404)
        route, params = resolved
        fn = route.target
        started = time.perf_counter()
        if request.content_length is not None and request.content_length > self._body_limit:
            # Kestrel refuses the body when the host first reads it, and the host answers that exception with a
            # bare 500 (Azure/azure-functions-host issue 10519; a front end may answer 413 before it).
            logger.warning(
                "%s %s: a %d-byte body is over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (%d); the host answers 500",
                request.method, request.path, request.content_length, self._body_limit,
            )  # fmt: skip
            response = web.Response(status=500)
            response.force_close()  # as Kestrel after a body it refused
            return response
        try:
            body = await self._body(request)
        except SlowBodyError as exc:
            logger.warning(
                "%s %s: the body came slower than Kestrel's minimum rate (%s); the host answers 500 and closes",
                request.method, request.path, exc,
            )  # fmt: skip
            response = web.Response(status=500)
            response.force_close()
            return response
        req = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=host_headers(request.headers),
            params=host_query(request.query),
            route_params=params,
            body=body,
        )
        try:
            result = await invoke(fn, req, self._executor, f"{request.method} {request.path}", quiet=True)
            await self._write_outputs(fn, result.outputs, result.returned)
            response = _to_web_response(result.returned, fn, result.outputs)
        except Exception:  # logged with its traceback by invoke() or _write_outputs()
            response = web.Response(status=500)
        logger.info(
            "%s %s -> %d in %.0f ms ('Functions.%s')",
            request.method,
            request.path,  # not the query: it may carry a function key (?code=)
            response.status,
            (time.perf_counter() - started) * 1000,
            fn.name,
        )
        return response

    @staticmethod
    async def _body(request: web.Request) -> bytes:
        """The body as the host passes it to the worker: read only when Content-Length is above 0, so that a
        chunked body reaches the function empty (GrpcMessageConversionExtensions.cs `ToRpcHttp`:
        `request.ContentLength > 0`; Azure/azure-functions-host issue 7930)."""
        if request.content_length:
            return await read_body(request.content, request.content_length)
        return b""  # a chunked body is drained after the answer, as Kestrel does with a body nobody read


def host_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Request headers as the worker gets them: names lower-cased, repeated values joined by `,` with empty ones
    left out (GrpcMessageConversionExtensions.cs; StringValues.ToString in dotnet/runtime)."""
    joined: dict[str, list[str]] = {}
    for name, value in headers.items():
        joined.setdefault(name.lower(), []).append(value)
    return {name: ",".join(value for value in values if value) for name, values in joined.items()}


def host_query(query: Mapping[str, str]) -> dict[str, str]:
    """Query parameters as the worker gets them: names matched whatever their case (the first spelling kept),
    repeated values joined by `,`, empty values left out and a name with no value dropped (QueryFeature.cs in
    dotnet/aspnetcore; GrpcMessageConversionExtensions.cs skips empty values)."""
    spelled: dict[str, str] = {}
    joined: dict[str, list[str]] = {}
    for name, value in query.items():
        spelling = spelled.setdefault(name.lower(), name)
        joined.setdefault(spelling, []).append(value)
    values = {name: ",".join(value for value in found if value) for name, found in joined.items()}
    return {name: value for name, value in values.items() if value}


def _to_web_response(returned: Any, fn: IndexedFunction, outputs: dict[str, Any]) -> web.Response:
    """The function's answer through the library's own converter, as the worker sends it: a Content-Type from the
    mimetype, with `charset` for `text/*` only (azure-functions-python-library, azure/functions/http.py
    `HttpResponseConverter.encode`); the host passes it on as it is (RawScriptResult.cs)."""
    http_out = next((b for b in fn.outputs if b.type == "http"), None)
    response = returned if http_out is None or http_out.name == "$return" else outputs.get(http_out.name)
    if response is None:
        return web.Response(status=204)
    if not isinstance(response, func.HttpResponse):
        return web.Response(status=200, text=str(response))
    datum = HttpResponseConverter.encode(response, expected_type=None)
    answer = datum.value
    headers = CIMultiDict((name, value.value) for name, value in answer["headers"].items())
    for cookie in answer["cookies"] or []:
        for morsel in cookie.values():
            headers.add("Set-Cookie", morsel.OutputString())
    return web.Response(status=int(answer["status_code"].value), body=answer["body"].value, headers=headers)
