"""Queue triggers and queue/Table output bindings on the local runner, against a real Azurite."""

from __future__ import annotations

import base64
import json
import threading
import time
from contextlib import suppress
from typing import Any

import azure.functions as func
import httpx
import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from local_runner.config import HostConfig, QueueOptions
from tagging.storage import StorageAccount
from tests.runner.harness import RunningHost, b64, eventually, raw_messages

CONNECTION = "ImageStorage"


def options(**overrides: Any) -> HostConfig:
    base = {"batch_size": 4, "new_batch_threshold": 2, "max_polling_interval": 1.0, "visibility_timeout": 0.0}
    return HostConfig(queues=QueueOptions(**{**base, **overrides}))


def queue(account: StorageAccount, name: str) -> QueueClient:
    client = account.queues.get_queue_client(name)
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


def test_output_binding_messages_are_base64_and_a_list_sends_several(account: StorageAccount, unique: str) -> None:
    app = func.FunctionApp()

    @app.route(route="send", methods=["POST"])
    @app.queue_output(arg_name="out", queue_name=unique, connection=CONNECTION)
    def send(req: func.HttpRequest, out: func.Out[Any]) -> func.HttpResponse:
        out.set(json.loads(req.get_body()))
        return func.HttpResponse("ok")

    client = account.queues.get_queue_client(unique)
    with RunningHost(app, options()) as host:
        httpx.post(f"{host.url}/api/send", json="one")
        httpx.post(f"{host.url}/api/send", json=["two", "three"])
        httpx.post(f"{host.url}/api/send", json={"k1": 1, "k2": 2})  # Azure sends a dict's keys
    assert sorted(raw_messages(client)) == sorted(b64(t) for t in ["one", "two", "three", "k1", "k2"])


def test_a_trigger_gets_the_decoded_body_and_the_message_details(account: StorageAccount, unique: str) -> None:
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def seen(msg: func.QueueMessage) -> None:
        calls.add((msg.get_body(), msg.id, msg.dequeue_count))

    client = queue(account, unique)
    sent = client.send_message(b64("héllo"))
    with RunningHost(app, options()):
        eventually(lambda: calls.items)
        eventually(lambda: not raw_messages(client))  # deleted once the function succeeded
    assert calls.items == [("héllo".encode(), sent.id, 1)]


def test_a_failing_message_is_retried_then_moved_to_poison_unchanged(account: StorageAccount, unique: str) -> None:
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def always_fails(msg: func.QueueMessage) -> None:
        calls.add(msg.dequeue_count)
        raise RuntimeError("always")

    client, poison = queue(account, unique), account.queues.get_queue_client(f"{unique}-poison")
    client.send_message(b64("bad news"))
    with RunningHost(app, options(max_dequeue_count=3)):
        eventually(lambda: raw_messages(poison))
    assert calls.items == [1, 2, 3]
    assert raw_messages(poison) == [b64("bad news")]
    assert raw_messages(client) == []


def test_a_failed_message_waits_out_the_visibility_timeout_before_its_retry(
    account: StorageAccount, unique: str
) -> None:
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def fails_once(msg: func.QueueMessage) -> None:
        calls.add(time.monotonic())
        if msg.dequeue_count == 1:
            raise RuntimeError("first time")

    client = queue(account, unique)
    client.send_message(b64("x"))
    with RunningHost(app, options(visibility_timeout=2.0, max_polling_interval=0.2)):
        eventually(lambda: len(calls.items) == 2)
    first, second = calls.items
    assert second - first >= 1.9


def test_at_most_batch_size_plus_threshold_messages_run_at_once(account: StorageAccount, unique: str) -> None:
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

    client = queue(account, unique)
    for n in range(10):
        client.send_message(b64(str(n)))
    with RunningHost(app, options(batch_size=2, new_batch_threshold=0)):
        eventually(lambda: len(calls.items) == 10, timeout=30)
    assert calls.peak == 2  # a new batch is fetched only when in-flight work drops to newBatchThreshold


def test_messages_that_are_not_base64_go_to_poison_at_once(account: StorageAccount, unique: str) -> None:
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def never_called(msg: func.QueueMessage) -> None:
        calls.add(msg)

    client, poison = queue(account, unique), account.queues.get_queue_client(f"{unique}-poison")
    client.send_message("this is {not} base64!")  # what the queue SDK sends without TextBase64EncodePolicy
    # Five deliveries a minute apart would take minutes: the message must go to poison on its first.
    with RunningHost(app, options(max_dequeue_count=5, visibility_timeout=60.0)):
        eventually(lambda: raw_messages(poison))
    assert raw_messages(poison) == ["this is {not} base64!"]
    assert client.get_queue_properties().approximate_message_count == 0  # invisible ones count too
    assert calls.items == []


def test_message_encoding_none_passes_text_through(account: StorageAccount, unique: str) -> None:
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def plain(msg: func.QueueMessage) -> None:
        calls.add(msg.get_body())

    client = queue(account, unique)
    client.send_message("plain text")
    with RunningHost(app, options(message_encoding="none")):
        eventually(lambda: calls.items)
    assert calls.items == [b"plain text"]


def test_the_table_output_binding_only_inserts(account: StorageAccount, unique: str) -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    @app.table_output(arg_name="row", table_name=unique, connection=CONNECTION)
    def record(msg: func.QueueMessage, row: func.Out[str]) -> None:
        body = json.loads(msg.get_body())
        row.set(json.dumps({"PartitionKey": "p", "RowKey": body["key"], "value": body["value"]}))

    client, poison = queue(account, unique), account.queues.get_queue_client(f"{unique}-poison")
    client.send_message(b64(json.dumps({"key": "r1", "value": "first"})))
    with RunningHost(app, options(max_dequeue_count=2)):
        table = account.tables.get_table_client(unique)
        eventually(lambda: rows(table))  # the binding created the table
        client.send_message(b64(json.dumps({"key": "r1", "value": "second"})))
        eventually(lambda: raw_messages(poison))
    entities = list(table.list_entities())
    assert [(e["RowKey"], e["value"]) for e in entities] == [("r1", "first")]
    assert json.loads(base64.b64decode(raw_messages(poison)[0]))["value"] == "second"


def test_a_message_from_the_apps_own_output_binding_is_picked_up_at_once(account: StorageAccount, unique: str) -> None:
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

    queue(account, unique)
    with RunningHost(app, options(max_polling_interval=60.0)) as host:
        # Idle long enough for the empty-queue backoff to reach 6.4 s between polls (0.1 s doubling).
        time.sleep(7)
        sent_at = time.monotonic()
        httpx.post(f"{host.url}/api/send")
        eventually(lambda: calls.items, timeout=20)
    assert calls.items[0] - sent_at < 3.0, "the listener waited for its backoff instead of being woken"


@pytest.mark.parametrize("max_polling_interval", [1.0])
def test_a_message_from_elsewhere_is_found_within_max_polling_interval(
    account: StorageAccount, unique: str, max_polling_interval: float
) -> None:
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def found(msg: func.QueueMessage) -> None:
        calls.add(time.monotonic())

    client = queue(account, unique)
    with RunningHost(app, options(max_polling_interval=max_polling_interval)):
        time.sleep(3)  # the backoff has reached its ceiling
        sent_at = time.monotonic()
        client.send_message(b64("from another app"))
        eventually(lambda: calls.items)
    assert calls.items[0] - sent_at < max_polling_interval + 1.5


def test_a_message_already_dequeued_too_often_goes_to_poison_without_running(
    account: StorageAccount, unique: str
) -> None:
    app = func.FunctionApp()
    calls = Calls()

    @app.queue_trigger(arg_name="msg", queue_name=unique, connection=CONNECTION)
    def never_called(msg: func.QueueMessage) -> None:
        calls.add(msg)

    client, poison = queue(account, unique), account.queues.get_queue_client(f"{unique}-poison")
    client.send_message(b64("crashed a host twice"))
    for _ in range(2):  # two deliveries that never completed, as when a host dies mid-invocation
        eventually(lambda: list(client.receive_messages(visibility_timeout=1)), timeout=10)
        time.sleep(1.1)
    with RunningHost(app, options(max_dequeue_count=1)):
        eventually(lambda: raw_messages(poison))
    assert calls.items == []
    assert raw_messages(poison) == [b64("crashed a host twice")]
