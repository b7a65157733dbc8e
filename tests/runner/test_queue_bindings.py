"""Queue triggers and queue/Table output bindings on the local runner, against a real Azurite."""

from __future__ import annotations

import base64
import json
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import azure.functions as func
import httpx
import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableClient
from azure.storage.queue import QueueClient, QueueServiceClient

from local_runner.config import HostConfig, QueueOptions, load_host_config
from tagging.storage import StorageAccount
from tests.runner.harness import RunningHost, b64, eventually, raw_messages

CONNECTION = "ImageStorage"


def options(**overrides: Any) -> HostConfig:
    base = {"batch_size": 4, "new_batch_threshold": 2, "max_polling_interval": 1.0, "visibility_timeout": 0.0}
    return HostConfig(queues=QueueOptions(**{**base, **overrides}))


def queue(queues: QueueServiceClient, name: str) -> QueueClient:
    client = queues.get_queue_client(name)
    with suppress(ResourceExistsError):
        client.create_queue()
    return client


def rows(table: TableClient) -> list[Any]:
    try:
        return list(table.list_entities())
    except ResourceNotFoundError:
        return []


class Calls:
    """What the test functions saw, shared with the host's worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[Any] = []
        self.running = 0
        self.peak = 0

    def add(self, item: Any) -> None:
        with self.lock:
            self.items.append(item)


def recording(queue_name: str) -> tuple[func.FunctionApp, Calls]:
    """An app whose one function records every message it is given from `queue_name`."""
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection=CONNECTION)
    def record(msg: func.QueueMessage) -> None:
        calls.add(msg)

    return app, calls


def test_output_binding_messages_are_base64_and_a_list_sends_several(queues: QueueServiceClient, unique: str) -> None:
    """azure-sdk-for-net, sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common,
    src/Shared/Queues/QueuesOptions.cs (MessageEncoding defaults to Base64); a list is several messages and a dict its
    keys (azure-functions-python-library, azure/functions/queue.py QueueMessageOutConverter)."""
    app = func.FunctionApp()

    @app.route(route="send", methods=["POST"])
    @app.queue_output(arg_name="out", queue_name=unique, connection=CONNECTION)
    def send(req: func.HttpRequest, out: func.Out[Any]) -> func.HttpResponse:
        out.set(json.loads(req.get_body()))
        return func.HttpResponse("ok")

    client = queues.get_queue_client(unique)
    with RunningHost(app, options()) as host:
        httpx.post(f"{host.url}/api/send", json="one")
        httpx.post(f"{host.url}/api/send", json=["two", "three"])
        httpx.post(f"{host.url}/api/send", json={"k1": 1, "k2": 2})  # Azure sends a dict's keys
    assert sorted(raw_messages(client)) == sorted(b64(t) for t in ["one", "two", "three", "k1", "k2"])


def test_a_trigger_gets_the_decoded_body_and_the_message_details(queues: QueueServiceClient, unique: str) -> None:
    """azure-functions-python-library, azure/functions/queue.py (QueueMessageInConverter: id, body, dequeue count);
    the message is deleted once the function succeeds (QueueProcessor.cs CompleteProcessingMessageAsync)."""
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def seen(msg: func.QueueMessage) -> None:
        calls.add((msg.get_body(), msg.id, msg.dequeue_count))

    client = queue(queues, unique)
    sent = client.send_message(b64("héllo"))
    with RunningHost(app, options()):
        eventually(lambda: calls.items)
        eventually(lambda: not raw_messages(client))  # deleted once the function succeeded
    assert calls.items == [("héllo".encode(), sent.id, 1)]


def test_a_failing_message_is_retried_then_moved_to_poison_unchanged(queues: QueueServiceClient, unique: str) -> None:
    """azure-sdk-for-net, sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common,
    src/Shared/Queues/QueueProcessor.cs: released while DequeueCount < MaxDequeueCount, then copied to <queue>-poison
    (CopyMessageToPoisonQueueAsync copies the body) and deleted."""
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def always_fails(msg: func.QueueMessage) -> None:
        calls.add(msg.dequeue_count)
        raise RuntimeError("always")

    client, poison = queue(queues, unique), queues.get_queue_client(f"{unique}-poison")
    client.send_message(b64("bad news"))
    with RunningHost(app, options(max_dequeue_count=3)):
        eventually(lambda: raw_messages(poison))
    assert calls.items == [1, 2, 3]
    assert raw_messages(poison) == [b64("bad news")]
    assert raw_messages(client) == []


def test_a_failed_message_waits_out_the_visibility_timeout_before_its_retry(
    queues: QueueServiceClient, unique: str
) -> None:
    """QueueProcessor.cs ReleaseMessageAsync: a failed message becomes visible again after
    QueuesOptions.VisibilityTimeout (host.json extensions.queues.visibilityTimeout)."""
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def fails_once(msg: func.QueueMessage) -> None:
        calls.add(time.monotonic())
        if msg.dequeue_count == 1:
            raise RuntimeError("first time")

    client = queue(queues, unique)
    client.send_message(b64("x"))
    with RunningHost(app, options(visibility_timeout=2.0, max_polling_interval=0.2)):
        eventually(lambda: len(calls.items) == 2)
    first, second = calls.items
    assert second - first >= 1.9


def test_at_most_batch_size_plus_threshold_messages_run_at_once(queues: QueueServiceClient, unique: str) -> None:
    """azure-sdk-for-net, sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common,
    src/Shared/Queues/QueueListener.cs: a new batch of BatchSize is fetched only while the messages in flight are at
    most NewBatchThreshold (QueuesOptions.cs)."""
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def slow(msg: func.QueueMessage) -> None:
        with calls.lock:
            calls.running += 1
            calls.peak = max(calls.peak, calls.running)
        time.sleep(0.3)
        with calls.lock:
            calls.running -= 1
        calls.add(msg.get_body())

    client = queue(queues, unique)
    for n in range(10):
        client.send_message(b64(str(n)))
    with RunningHost(app, options(batch_size=2, new_batch_threshold=0)):
        eventually(lambda: len(calls.items) == 10, timeout=30)
    assert calls.peak == 2  # a new batch is fetched only when in-flight work drops to newBatchThreshold


def test_messages_that_are_not_base64_go_to_poison_at_once(queues: QueueServiceClient, unique: str) -> None:
    """azure-sdk-for-net, sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues,
    src/QueueServiceClientProvider.cs: a MessageDecodingFailed handler moves the message to poison on its first receive
    (Azure/azure-sdk-for-net pull request 18326)."""
    app, calls = recording(unique)
    client, poison = queue(queues, unique), queues.get_queue_client(f"{unique}-poison")
    client.send_message("this is {not} base64!")  # what the queue SDK sends without TextBase64EncodePolicy
    # Five deliveries a minute apart would take minutes: the message must go to poison on its first.
    with RunningHost(app, options(max_dequeue_count=5, visibility_timeout=60.0)):
        eventually(lambda: raw_messages(poison))
    assert raw_messages(poison) == ["this is {not} base64!"]
    assert client.get_queue_properties().approximate_message_count == 0  # invisible ones count too
    assert calls.items == []


def test_message_encoding_none_passes_text_through(queues: QueueServiceClient, unique: str) -> None:
    """QueuesOptions.cs: MessageEncoding None passes the message text as it is."""
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def plain(msg: func.QueueMessage) -> None:
        calls.add(msg.get_body())

    client = queue(queues, unique)
    client.send_message("plain text")
    with RunningHost(app, options(message_encoding="none")):
        eventually(lambda: calls.items)
    assert calls.items == [b"plain text"]


def test_the_table_output_binding_only_inserts(
    queues: QueueServiceClient, account: StorageAccount, unique: str
) -> None:
    """Microsoft.Azure.WebJobs.Extensions.Tables, TableEntityWriter.cs: an entity without an ETag is added, and a
    duplicate key fails the invocation with 409 EntityAlreadyExists (Azure/azure-functions-python-worker issue 1726)."""
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    @app.table_output(arg_name="row", table_name=unique, connection=CONNECTION)
    def record(msg: func.QueueMessage, row: func.Out[str]) -> None:
        body = json.loads(msg.get_body())
        row.set(json.dumps({"PartitionKey": "p", "RowKey": body["key"], "value": body["value"]}))

    client, poison = queue(queues, unique), queues.get_queue_client(f"{unique}-poison")
    client.send_message(b64(json.dumps({"key": "r1", "value": "first"})))
    with RunningHost(app, options(max_dequeue_count=2)):
        table = account.tables.get_table_client(unique)
        eventually(lambda: rows(table))  # the binding created the table
        client.send_message(b64(json.dumps({"key": "r1", "value": "second"})))
        eventually(lambda: raw_messages(poison))
    entities = list(table.list_entities())
    assert [(e["RowKey"], e["value"]) for e in entities] == [("r1", "first")]
    assert json.loads(base64.b64decode(raw_messages(poison)[0]))["value"] == "second"


def test_a_message_from_the_apps_own_output_binding_is_picked_up_at_once(
    queues: QueueServiceClient, unique: str
) -> None:
    """QueueListener.cs with SharedQueueWatcher: a message this host adds to a queue it listens on wakes the
    listener."""
    app = func.FunctionApp()
    calls = Calls()

    @app.route(route="send", methods=["POST"])
    @app.queue_output(arg_name="out", queue_name=unique, connection=CONNECTION)
    def send(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
        out.set("wake up")
        return func.HttpResponse("ok")

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def woken(msg: func.QueueMessage) -> None:
        calls.add(time.monotonic())

    queue(queues, unique)
    with RunningHost(app, options(max_polling_interval=60.0)) as host:
        # Idle long enough for the empty-queue backoff to reach 6.4 s between polls (0.1 s doubling).
        time.sleep(7)
        sent_at = time.monotonic()
        httpx.post(f"{host.url}/api/send")
        eventually(lambda: calls.items, timeout=20)
    assert calls.items[0] - sent_at < 3.0, "the listener waited for its backoff instead of being woken"


@pytest.mark.parametrize("max_polling_interval", [1.0])
def test_a_message_from_elsewhere_is_found_within_max_polling_interval(
    queues: QueueServiceClient, unique: str, max_polling_interval: float
) -> None:
    """azure-sdk-for-net, sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common,
    src/Shared/Queues/QueuePollingIntervals.cs and QueueListener.cs: on an empty queue polling backs off from 100 ms to
    maxPollingInterval."""
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def found(msg: func.QueueMessage) -> None:
        calls.add(time.monotonic())

    client = queue(queues, unique)
    with RunningHost(app, options(max_polling_interval=max_polling_interval)):
        time.sleep(3)  # the backoff has reached its ceiling
        sent_at = time.monotonic()
        client.send_message(b64("from another app"))
        eventually(lambda: calls.items)
    assert calls.items[0] - sent_at < max_polling_interval + 1.5


def test_a_message_already_dequeued_too_often_goes_to_poison_without_running(
    queues: QueueServiceClient, unique: str
) -> None:
    """QueueProcessor.cs BeginProcessingMessageAsync: a message received with DequeueCount > MaxDequeueCount goes to
    poison without running."""
    app, calls = recording(unique)
    client, poison = queue(queues, unique), queues.get_queue_client(f"{unique}-poison")
    client.send_message(b64("crashed a host twice"))
    for _ in range(2):  # two deliveries that never completed, as when a host dies mid-invocation
        eventually(lambda: list(client.receive_messages(visibility_timeout=1)), timeout=10)
        time.sleep(1.1)
    with RunningHost(app, options(max_dequeue_count=1)):
        eventually(lambda: raw_messages(poison))
    assert calls.items == []
    assert raw_messages(poison) == [b64("crashed a host twice")]


def test_a_failing_message_on_a_poison_queue_comes_back_after_its_lease_and_stops_running(
    queues: QueueServiceClient, unique: str
) -> None:
    """azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.Storage.Queues: QueueListenerFactory.cs
    CreatePoisonQueueReference gives a queue ending in -poison no poison queue; QueueProcessor.cs then leaves a
    failed message invisible (no ReleaseMessage) and, past maxDequeueCount, neither runs nor moves it."""
    app = func.FunctionApp()
    calls = Calls()
    name = f"{unique}-poison"

    @app.queue_trigger(arg_name="msg", queue_name=name, connection=CONNECTION)
    def always_fails(msg: func.QueueMessage) -> None:
        calls.add((time.monotonic(), msg.dequeue_count))
        raise RuntimeError("cannot be helped")

    client = queue(queues, name)
    client.send_message(b64("parked"))
    with RunningHost(app, options(max_dequeue_count=2, visibility_timeout=0.0), message_lease=2):
        eventually(lambda: len(calls.items) == 2, timeout=20)
        # Not retried at once, as a queue with a poison queue is: only once the lease ran out.
        (first, _), (second, count) = calls.items
        assert second - first >= 1.5
        assert count == 2
        eventually(lambda: _dequeue_count(client) > 2, timeout=20)  # received again, but not run
    assert len(calls.items) == 2
    assert raw_messages(client) == [b64("parked")]  # never deleted
    assert not raw_messages(queues.get_queue_client(f"{name}-poison"))


def _dequeue_count(client: QueueClient) -> int:
    peeked = client.peek_messages(max_messages=1)
    return int(peeked[0].dequeue_count or 0) if peeked else 0


def test_table_output_stores_what_the_tables_extension_stores(account: StorageAccount, unique: str) -> None:
    """azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.Tables/src/TablesExtensionConfigProvider.cs
    (CreateTableEntityFromJsonBytes, CreateTableEntityFromJObject): integers Int64, doubles, nested JSON as text,
    keys in any case; azure-functions-host FunctionBinding.cs: a str is re-serialised first (dates rewritten, an
    array one entity per element), bytes are not."""
    app = func.FunctionApp()
    entity = {"partitionKey": "p", "RowKey": "str", "size": 12467, "ratio": 0.5, "tags": ["a"],
              "at": "2026-12-02T13:06:00.000Z"}  # fmt: skip

    @app.route(route="write", methods=["POST"])
    @app.table_output(arg_name="row", table_name=unique, connection=CONNECTION)
    def write(req: func.HttpRequest, row: func.Out[Any]) -> func.HttpResponse:
        kind = req.params["as"]
        if kind == "str":
            row.set(json.dumps(entity))
        elif kind == "bytes":
            row.set(json.dumps(entity | {"RowKey": "bytes"}).encode())
        else:
            row.set(json.dumps([entity | {"RowKey": "first"}, entity | {"RowKey": "second"}]))
        return func.HttpResponse("ok")

    with RunningHost(app, options()) as host:
        for kind in ("str", "bytes", "array"):
            assert httpx.post(f"{host.url}/api/write?as={kind}").status_code == 200
    stored = {e["RowKey"]: e for e in account.tables.get_table_client(unique).list_entities()}
    assert sorted(stored) == ["bytes", "first", "second", "str"]
    assert stored["str"]["size"] == EntityProperty(12467, EdmType.INT64)
    assert stored["str"]["ratio"] == 0.5
    assert stored["str"]["tags"] == '[\n  "a"\n]'
    assert stored["str"]["at"] == "2026-12-02T13:06:00Z"  # the host's Json.NET rewrote the date-like string
    assert stored["bytes"]["at"] == "2026-12-02T13:06:00.000Z"  # bytes reach the extension untouched
    assert stored["bytes"]["size"] == EntityProperty(12467, EdmType.INT64)


def test_queue_output_of_a_json_str_is_re_serialised_and_bytes_are_not(queues: QueueServiceClient, unique: str) -> None:
    """azure-functions-host, src/WebJobs.Script/Binding/FunctionBinding.cs (ReadAsEnumerable, JToken.Parse, each item's
    ToString()); the Queues extension then base64-encodes the bytes (QueuesOptions.MessageEncoding)."""
    app = func.FunctionApp()
    job = {"v": 1, "at": "2026-12-02T13:06:00.000Z"}

    @app.route(route="send", methods=["POST"])
    @app.queue_output(arg_name="out", queue_name=unique, connection=CONNECTION)
    def send(req: func.HttpRequest, out: func.Out[Any]) -> func.HttpResponse:
        out.set(json.dumps(job) if req.params["as"] == "str" else json.dumps(job).encode())
        return func.HttpResponse("ok")

    with RunningHost(app, options()) as host:
        httpx.post(f"{host.url}/api/send?as=str")
        httpx.post(f"{host.url}/api/send?as=bytes")
    bodies = {base64.b64decode(m).decode() for m in raw_messages(queues.get_queue_client(unique))}
    assert bodies == {'{"v": 1, "at": "2026-12-02T13:06:00.000Z"}', '{\n  "v": 1,\n  "at": "2026-12-02T13:06:00Z"\n}'}


def test_a_message_stays_invisible_while_its_function_outlasts_the_lease(
    queues: QueueServiceClient, unique: str
) -> None:
    """The listener receives with a lease and renews it at half its length while the function runs
    (azure-sdk-for-net, Storage.Common src/Shared/Queues/QueueListener.cs: a 10-minute visibility timeout and
    `visibilityTimeout.Ticks / 2` updates), so a slow run is not handed to a second invocation."""
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def slow(msg: func.QueueMessage) -> None:
        calls.add(msg.dequeue_count)
        time.sleep(3.5)

    client = queue(queues, unique)
    client.send_message(b64("slow work"))
    with RunningHost(app, options(), message_lease=2):
        eventually(lambda: calls.items)
        eventually(lambda: not raw_messages(client), timeout=15)  # deleted once the one run succeeded
    assert calls.items == [1]


def test_outputs_are_written_only_when_the_function_succeeds(queues: QueueServiceClient, unique: str) -> None:
    """The host binds outputs after the invocation succeeded (azure-functions-host,
    src/WebJobs.Script/Description/Workers/WorkerFunctionInvoker.cs BindOutputsAsync)."""
    app = func.FunctionApp()

    @app.route(route="half", methods=["POST"])
    @app.queue_output(arg_name="out", queue_name=unique, connection=CONNECTION)
    def half(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
        out.set("sent before the failure")
        raise RuntimeError("then it failed")

    with RunningHost(app, options()) as host:
        assert httpx.post(f"{host.url}/api/half").status_code == 500
    assert raw_messages(queues.get_queue_client(unique)) == []


def test_an_etag_of_star_replaces_an_existing_entity(account: StorageAccount, unique: str) -> None:
    """TableEntityWriter.cs in Microsoft.Azure.WebJobs.Extensions.Tables: no ETag adds, `*` upserts (replace),
    any other ETag replaces only an unchanged entity."""
    app = func.FunctionApp()

    @app.route(route="put", methods=["POST"])
    @app.table_output(arg_name="row", table_name=unique, connection=CONNECTION)
    def put(req: func.HttpRequest, row: func.Out[bytes]) -> func.HttpResponse:
        row.set(req.get_body())
        return func.HttpResponse("ok")

    with RunningHost(app, options()) as host:
        first = {"PartitionKey": "p", "RowKey": "r", "value": "first"}
        assert httpx.post(f"{host.url}/api/put", json=first).status_code == 200
        assert httpx.post(f"{host.url}/api/put", json=first | {"value": "again"}).status_code == 500
        assert httpx.post(f"{host.url}/api/put", json=first | {"value": "star", "ETag": "*"}).status_code == 200
        stale = first | {"value": "stale", "ETag": "W/\"datetime'2000-01-01T00%3A00%3A00Z'\""}
        assert httpx.post(f"{host.url}/api/put", json=stale).status_code == 500
    assert [(e["RowKey"], e["value"]) for e in account.tables.get_table_client(unique).list_entities()] == [
        ("r", "star")
    ]


def test_http_answers_while_the_queue_functions_hold_all_the_threads_they_can(
    queues: QueueServiceClient, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the repository's host.json and local settings: sync functions share one pool (azure-functions-python-
    worker, dispatcher.py), each queue function runs batchSize + newBatchThreshold messages at once
    (QueuesOptions.cs), and what is left of the pool still serves HTTP while every one of them is blocked (as a
    decode waiting for its memory budget blocks)."""
    root = Path(__file__).resolve().parents[2]
    pool = json.loads((root / "local.settings.json.example").read_text())["Values"]["PYTHON_THREADPOOL_THREAD_COUNT"]
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", pool)
    config = load_host_config(root / "host.json")
    # With none finishing, each holds one batch; the most it ever holds is batchSize + newBatchThreshold.
    per_function = config.queues.batch_size
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    calls = Calls()
    release = threading.Event()

    def blocked(msg: func.QueueMessage) -> None:
        with calls.lock:
            calls.running += 1
        release.wait(60)

    app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)(app.function_name("jobs")(blocked))
    app.queue_trigger(arg_name="msg", queue_name=f"{unique}-poison", connection=CONNECTION)(
        app.function_name("poisoned")(blocked)
    )

    @app.route(route="ping")
    def ping(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("pong")

    for name in (unique, f"{unique}-poison"):
        client = queue(queues, name)
        for n in range(per_function + 2):
            client.send_message(b64(str(n)))
    with RunningHost(app, config) as host:
        try:
            eventually(lambda: calls.running == 2 * per_function, timeout=30)
            assert httpx.get(f"{host.url}/api/ping", timeout=30).text == "pong"
            assert calls.running == 2 * per_function  # none of them finished: HTTP did not wait for them
        finally:
            release.set()
