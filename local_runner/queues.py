"""Queue trigger listener: the storage extension's polling, batching, retries and poison queue."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionQueueMessage
from azure.storage.queue import QueueClient, QueueMessage

from local_runner.config import MIN_POLLING_INTERVAL, QueueOptions
from local_runner.outputs import send_message

logger = logging.getLogger(__name__)

# Received messages stay invisible this long and are renewed at half of it while the function runs.
MESSAGE_LEASE_SECONDS = 600
# While storage is unreachable, wait at most this long between attempts (the listener never gives up).
MAX_RECONNECT_DELAY = 30.0

Handler = Callable[[FunctionQueueMessage], Awaitable[Any]]
POISON_SUFFIX = "-poison"
MAX_QUEUE_NAME = 63


def poison_queue_name(queue: str) -> str | None:
    """The poison queue of a queue, or None for a queue that has none: one that is a poison queue itself, or whose
    name would grow too long (azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.Storage.Queues,
    src/Listeners/QueueListenerFactory.cs `CreatePoisonQueueReference`)."""
    if queue.endswith(POISON_SUFFIX) or len(queue) + len(POISON_SUFFIX) > MAX_QUEUE_NAME:
        return None
    return queue + POISON_SUFFIX


class QueueListener:
    def __init__(
        self,
        function_name: str,
        queue: QueueClient,
        poison: QueueClient | None,
        options: QueueOptions,
        handler: Handler,
        *,
        lease_seconds: int = MESSAGE_LEASE_SECONDS,
    ) -> None:
        self.function_name = function_name
        self.queue_name = queue.queue_name
        self._queue = queue
        self._poison = poison
        self._options = options
        self._handler = handler
        self._lease = lease_seconds
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """A message was just added by this app: poll now instead of waiting out the backoff."""
        self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        delay = MIN_POLLING_INTERVAL
        while not stopping.is_set():
            if len(self._in_flight) > self._options.new_batch_threshold:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                messages = await asyncio.to_thread(self._receive)
            except AzureError as exc:
                delay = min(max(delay * 2, 1.0), MAX_RECONNECT_DELAY)
                logger.warning("Queue %s unreachable (%s); retrying in %.0fs", self.queue_name, _short(exc), delay)
                await self._sleep(delay, stopping)
                continue
            if messages:
                delay = MIN_POLLING_INTERVAL
                for message in messages:
                    task = asyncio.create_task(self._process(message))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                continue
            delay = min(delay * 2, self._options.max_polling_interval)
            await self._sleep(delay, stopping)
        if self._in_flight:
            await asyncio.wait(self._in_flight)

    async def _sleep(self, seconds: float, stopping: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stopping.wait())]
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    def _receive(self) -> list[QueueMessage]:
        try:
            return list(
                self._queue.receive_messages(
                    messages_per_page=self._options.batch_size,
                    max_messages=self._options.batch_size,
                    visibility_timeout=self._lease,
                )
            )
        except ResourceNotFoundError:
            return []  # the queue does not exist until the first message is sent to it

    async def _process(self, message: QueueMessage) -> None:
        if (message.dequeue_count or 0) > self._options.max_dequeue_count:
            # Delivered more often than allowed without completing (a crashed host, say): straight to poison; a
            # queue with no poison queue leaves it invisible until its lease ends, without running or logging it
            # (QueueProcessor.cs BeginProcessingMessageAsync, HandlePoisonMessageAsync).
            if self._poison is not None:
                await asyncio.to_thread(self._move_to_poison, message, self._too_often(message))
            return
        try:
            body = self._decode(message.content)
        except ValueError as exc:
            # As the host's queues extension does: decoding fails the same way every time, so the message goes to
            # poison at once instead of being retried maxDequeueCount times (azure-sdk-for-net pull request 18326).
            logger.error("Message %s on %s is not valid base64 (%s)", message.id, self.queue_name, exc)
            if self._poison is not None:
                await asyncio.to_thread(self._move_to_poison, message, "it cannot be decoded")
            return
        trigger = FunctionQueueMessage(  # type: ignore[no-untyped-call]  # the worker's class is untyped
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        renewal = asyncio.create_task(self._keep_invisible(message))
        try:
            await self._handler(trigger)
            succeeded = True
        except Exception:  # the handler has logged it; the message decides its own fate below
            succeeded = False
        finally:
            renewal.cancel()
        await self._complete(message, succeeded)

    def _decode(self, content: str) -> bytes:
        if self._options.message_encoding == "base64":
            try:
                return base64.b64decode(content, validate=True)
            except binascii.Error as exc:
                raise ValueError(str(exc)) from exc
        return content.encode("utf-8")

    async def _keep_invisible(self, message: QueueMessage) -> None:
        while True:
            await asyncio.sleep(self._lease / 2)
            receipt = await asyncio.to_thread(
                self._queue.update_message, message, pop_receipt=message.pop_receipt, visibility_timeout=self._lease
            )
            message.pop_receipt = receipt.pop_receipt

    async def _complete(self, message: QueueMessage, succeeded: bool) -> None:
        try:
            if succeeded:
                await asyncio.to_thread(self._queue.delete_message, message.id, message.pop_receipt)
            elif self._poison is None:
                # No poison queue: the message is not released, so it stays invisible for the rest of its lease
                # instead of failing again at once (QueueProcessor.cs CompleteProcessingMessageAsync).
                logger.warning(
                    "Message %s on %s failed; it comes back when its lease ends (%s has no poison queue)",
                    message.id, self.queue_name, self.queue_name,
                )  # fmt: skip
            elif (message.dequeue_count or 0) >= self._options.max_dequeue_count:
                await asyncio.to_thread(self._move_to_poison, message, self._too_often(message))
            else:
                await asyncio.to_thread(
                    self._queue.update_message,
                    message.id,
                    pop_receipt=message.pop_receipt,
                    visibility_timeout=int(self._options.visibility_timeout),
                )
        except AzureError as exc:
            # The lease runs out and the message comes back: at least once, never lost.
            logger.warning("Could not complete message %s on %s (%s)", message.id, self.queue_name, _short(exc))

    def _too_often(self, message: QueueMessage) -> str:
        return f"it has been dequeued {message.dequeue_count} times (maxDequeueCount {self._options.max_dequeue_count})"

    def _move_to_poison(self, message: QueueMessage, why: str) -> None:
        assert self._poison is not None
        logger.error("Message %s: %s; moving it to %s", message.id, why, self._poison.queue_name)
        send_message(self._poison, message.content)
        self._queue.delete_message(message.id, message.pop_receipt)


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
