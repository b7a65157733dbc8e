"""What the host reads before it starts: `host.json` and, as Core Tools does, `local.settings.json`."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# The host's minimum polling interval; it doubles on every empty poll up to maxPollingInterval.
MIN_POLLING_INTERVAL = 0.1
# FUNCTIONS_REQUEST_BODY_SIZE_LIMIT's default in the host: 100 MB.
DEFAULT_REQUEST_BODY_LIMIT = 104_857_600


@dataclass(frozen=True)
class QueueOptions:
    """`extensions.queues` in host.json, with the storage extension 5.x defaults."""

    batch_size: int = 16
    new_batch_threshold: int = field(default_factory=lambda: default_new_batch_threshold(16))
    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    queues: QueueOptions = field(default_factory=QueueOptions)


def default_new_batch_threshold(batch_size: int) -> int:
    """The queues extension's default: batchSize / 2 per processor (its QueuesOptions, and its tests)."""
    return batch_size // 2 * (os.cpu_count() or 1)


def load_host_config(path: Path) -> HostConfig:
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    extensions = data.get("extensions", {})
    queues = extensions.get("queues", {})
    batch_size = int(queues.get("batchSize", 16))
    if not 1 <= batch_size <= 32:
        raise ValueError(f"host.json extensions.queues.batchSize must be 1..32 (the service's limit), got {batch_size}")
    encoding = str(queues.get("messageEncoding", "base64")).lower()
    if encoding not in ("base64", "none"):
        raise ValueError(f"host.json extensions.queues.messageEncoding must be 'base64' or 'none', got {encoding!r}")
    options = QueueOptions(
        batch_size=batch_size,
        new_batch_threshold=int(queues.get("newBatchThreshold", default_new_batch_threshold(batch_size))),
        max_polling_interval=max(parse_timespan(queues.get("maxPollingInterval", "00:01:00")), MIN_POLLING_INTERVAL),
        visibility_timeout=parse_timespan(queues.get("visibilityTimeout", "00:00:00")),
        max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
        message_encoding=encoding,
    )
    prefix = extensions.get("http", {}).get("routePrefix", "api")
    return HostConfig(route_prefix=str(prefix).strip("/"), queues=options)


_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)")


def parse_timespan(value: str | int | float) -> float:
    """Seconds in a .NET TimeSpan string (`[d.]hh:mm:ss[.fff]`); host.json also accepts milliseconds as a number."""
    if isinstance(value, (int, float)):
        return float(value) / 1000
    match = _TIMESPAN.fullmatch(value.strip())
    if not match:
        raise ValueError(f"Not a TimeSpan (expected hh:mm:ss): {value!r}")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def load_local_settings(path: Path, env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put `Values` from local.settings.json into the environment; variables already set (not empty) win, as in
    Core Tools."""
    env = os.environ if env is None else env
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if data.get("IsEncrypted"):
        raise ValueError(f"{path} is encrypted (IsEncrypted: true); decrypt it with `func settings decrypt` first.")
    applied: dict[str, str] = {}
    for name, value in (data.get("Values") or {}).items():
        if env.get(name):  # as with Core Tools, a variable set to "" does not count as set
            logger.info("Setting %s comes from the environment, not %s", name, path.name)
            continue
        env[name] = applied[name] = "" if value is None else str(value)
    return applied
