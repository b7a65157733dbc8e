from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from local_runner.config import HostConfig, QueueOptions, load_host_config, load_local_settings, parse_timespan


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("00:00:02", 2.0),
        ("00:01:00", 60.0),
        ("01:00:00", 3600.0),
        ("1.00:00:00", 86400.0),
        ("00:00:00.5", 0.5),
        (1500, 1.5),
    ],
)
def test_timespans_parse_as_dotnet_writes_them(value: str | int, seconds: float) -> None:
    assert parse_timespan(value) == seconds


def test_a_malformed_timespan_is_refused() -> None:
    with pytest.raises(ValueError, match="hh:mm:ss"):
        parse_timespan("2 seconds")


def test_without_host_json_the_extension_defaults_apply(tmp_path: Path) -> None:
    """QueuesOptions.cs defaults: BatchSize 16, NewBatchThreshold BatchSize / 2 per processor, maxPollingInterval
    1 minute, visibilityTimeout 0, MaxDequeueCount 5, MessageEncoding Base64."""
    config = load_host_config(tmp_path / "host.json")
    assert config == HostConfig(route_prefix="api", queues=QueueOptions())
    processors = os.cpu_count() or 1
    assert (config.queues.batch_size, config.queues.max_dequeue_count) == (16, 5)
    assert config.queues.new_batch_threshold == 8 * processors  # batchSize / 2 per processor
    assert (config.queues.max_polling_interval, config.queues.visibility_timeout) == (60.0, 0.0)
    assert config.queues.message_encoding == "base64"


def test_host_json_queue_options_are_read(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "extensions": {
                    "http": {"routePrefix": ""},
                    "queues": {
                        "batchSize": 4,
                        "maxPollingInterval": "00:00:03",
                        "visibilityTimeout": "00:00:07",
                        "maxDequeueCount": 2,
                        "messageEncoding": "none",
                    },
                },
            }
        )
    )
    config = load_host_config(tmp_path / "host.json")
    assert config.route_prefix == ""
    assert config.queues == QueueOptions(4, 2 * (os.cpu_count() or 1), 3.0, 7.0, 2, "none")


@pytest.mark.parametrize(("queues", "message"), [({"batchSize": 33}, "1..32"), ({"messageEncoding": "hex"}, "base64")])
def test_invalid_queue_options_are_refused(tmp_path: Path, queues: dict[str, object], message: str) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"queues": queues}}))
    with pytest.raises(ValueError, match=message):
        load_host_config(tmp_path / "host.json")


def test_local_settings_become_environment_variables_unless_already_set(tmp_path: Path) -> None:
    """Azure Functions Core Tools (learn.microsoft.com, functions-develop-local, "Local settings file"): Values become
    environment variables, and a variable already set wins."""
    path = tmp_path / "local.settings.json"
    values = {"A": "from file", "B": "from file", "E": "from file", "N": 5}
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    env = {"B": "from environment", "E": ""}  # as with Core Tools, an empty variable does not count as set
    applied = load_local_settings(path, env)
    assert env == {"A": "from file", "B": "from environment", "E": "from file", "N": "5"}
    assert applied == {"A": "from file", "E": "from file", "N": "5"}


def test_encrypted_local_settings_are_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": True, "Values": {"A": "x"}}))
    with pytest.raises(ValueError, match="func settings decrypt"):
        load_local_settings(path, {})


def test_missing_local_settings_change_nothing(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    assert load_local_settings(tmp_path / "absent.json", env) == {}
    assert env == {}
