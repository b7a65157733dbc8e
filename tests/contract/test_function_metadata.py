"""What the Python worker would send the host when it indexes function_app.py."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import typing
from functools import cache
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

import function_app
from tagging.config import (
    CONNECTION,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_BYTES,
    JOBS_QUEUE,
    MAX_PIXELS_SETTING,
    MAX_UPLOAD_BYTES_SETTING,
    POISON_QUEUE,
    RECORDS_TABLE,
)

ROOT = Path(__file__).resolve().parents[2]


@cache  # FunctionApp.get_functions() may be called once per app, as the worker does
def bindings() -> dict[str, list[dict[str, Any]]]:
    return {
        fn.get_function_name(): [json.loads(raw) for raw in fn.get_raw_bindings()]
        for fn in function_app.app.get_functions()
    }


def one(function: str, kind: str) -> dict[str, Any]:
    matches = [b for b in bindings()[function] if b["type"] == kind]
    assert len(matches) == 1, f"{function} should have one {kind} binding, has {matches}"
    return matches[0]


ROUTES = {
    "upload_image": ("images", ["POST"]),
    "list_images": ("images", ["GET"]),
    "get_image": ("images/{id}", ["GET"]),
    "delete_image": ("images/{id}", ["DELETE"]),
    "get_thumbnail": ("images/{id}/thumbnail", ["GET"]),
    "get_content": ("images/{id}/content", ["GET"]),
    "get_link": ("images/{id}/link", ["GET"]),
    "similar_images": ("images/{id}/similar", ["GET"]),
    "list_duplicates": ("duplicates", ["GET"]),
    "put_tag": ("images/{id}/tags/{name}", ["PUT"]),
    "delete_tag": ("images/{id}/tags/{name}", ["DELETE"]),
    "list_tags": ("tags", ["GET"]),
    "retry_image": ("images/{id}/retry", ["POST"]),
}


def test_the_app_has_exactly_these_functions() -> None:
    assert set(bindings()) == {*ROUTES, "tag_image", "record_failure", "web_page"}


def test_the_page_is_anonymous_and_only_the_page() -> None:
    trigger = one("web_page", "httpTrigger")
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == ("app/{*path}", ["GET"], "ANONYMOUS")


@pytest.mark.parametrize(("function", "route"), ROUTES.items())
def test_every_http_function_has_its_route_method_and_function_key(function: str, route: tuple[str, list[str]]) -> None:
    trigger = one(function, "httpTrigger")
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == (*route, "FUNCTION")


def test_upload_is_a_post_on_images_that_outputs_to_the_jobs_queue() -> None:
    trigger = one("upload_image", "httpTrigger")
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == ("images", ["POST"], "FUNCTION")
    output = one("upload_image", "queue")
    assert (output["direction"], output["queueName"], output["connection"]) == ("OUT", JOBS_QUEUE, CONNECTION)


def test_get_is_a_get_on_one_image() -> None:
    trigger = one("get_image", "httpTrigger")
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == ("images/{id}", ["GET"], "FUNCTION")


def test_the_worker_reads_the_queue_the_upload_writes_and_outputs_to_the_table() -> None:
    trigger = one("tag_image", "queueTrigger")
    assert trigger["queueName"] == one("upload_image", "queue")["queueName"] == "image-tagging"
    assert trigger["connection"] == CONNECTION
    table = one("tag_image", "table")
    assert (table["direction"], table["tableName"], table["connection"]) == ("OUT", RECORDS_TABLE, CONNECTION)
    assert RECORDS_TABLE == "ImageTags"


def test_malformed_jobs_go_to_the_queue_the_host_uses_for_poison() -> None:
    poison = one("tag_image", "queue")
    assert poison["queueName"] == POISON_QUEUE == f"{JOBS_QUEUE}-poison"


def test_retry_sends_jobs_to_the_queue_the_worker_reads() -> None:
    assert one("retry_image", "queue")["queueName"] == one("tag_image", "queueTrigger")["queueName"]


def test_poisoned_jobs_are_recorded_as_failed_by_a_function_on_the_poison_queue() -> None:
    assert one("record_failure", "queueTrigger")["queueName"] == POISON_QUEUE
    assert one("record_failure", "table")["tableName"] == RECORDS_TABLE


def test_every_storage_binding_uses_the_one_named_connection() -> None:
    for name, function_bindings in bindings().items():
        for binding in function_bindings:
            if binding["type"] in ("queue", "queueTrigger", "table", "blob", "blobTrigger"):
                assert binding.get("connection") == CONNECTION, f"{name}: {binding}"


def test_every_queue_and_table_output_is_given_bytes() -> None:
    """Bytes reach the Queues and Tables extensions untouched, whereas a str that looks like JSON is parsed and
    re-serialised by the host first (azure-functions-host, src/WebJobs.Script/Binding/FunctionBinding.cs
    ReadAsEnumerable; local_runner/host_values.py). The worker checks the annotation against the binding when it
    loads the function (azure-functions-python-worker, functions.py; bytes suit both: queue.py
    QueueMessageOutConverter and bindings/generic.py GenericBinding)."""
    outputs = 0
    for name, declared in bindings().items():
        hints = typing.get_type_hints(getattr(function_app, name)._function.get_user_function())
        for binding in declared:
            if binding["direction"] == "OUT" and binding["type"] in ("queue", "table"):
                assert hints[binding["name"]] == func.Out[bytes], (name, binding["name"])
                outputs += 1
    assert outputs == 5  # upload and retry send jobs; the worker writes records and parks poison; so does failure


def test_host_json_configures_what_the_code_relies_on() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    queues = host["extensions"]["queues"]
    assert queues["messageEncoding"] == "base64"
    assert queues["maxDequeueCount"] >= 2  # transient failures get at least one retry
    assert host["extensions"]["http"]["routePrefix"] == "api"
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"


def test_local_settings_example_defines_the_connections() -> None:
    values = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    assert values[CONNECTION] == "UseDevelopmentStorage=true"  # spelled exactly so; see the README
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    # The code's defaults, and the host's body limit just above the upload limit (as infra/ sets it in Azure),
    # so that a larger body is refused before it is read and one just over gets the app's own 413.
    assert int(values[MAX_UPLOAD_BYTES_SETTING]) == DEFAULT_MAX_UPLOAD_BYTES
    assert int(values[MAX_PIXELS_SETTING]) == DEFAULT_MAX_PIXELS
    assert int(values["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"]) == DEFAULT_MAX_UPLOAD_BYTES + 1024 * 1024


def test_the_queue_functions_can_never_hold_every_thread_of_the_workers_pool() -> None:
    """Sync functions share the Python worker's one pool (azure-functions-python-worker, dispatcher.py; its size is
    PYTHON_THREADPOOL_THREAD_COUNT), and each queue function runs up to batchSize + newBatchThreshold messages at
    once (azure-sdk-for-net, Storage.Common QueuesOptions.cs). Fewer than the pool, so HTTP always has threads."""
    queues = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    queue_functions = [
        name for name, declared in bindings().items() if any(b["type"] == "queueTrigger" for b in declared)
    ]
    held = len(queue_functions) * (queues["batchSize"] + queues["newBatchThreshold"])
    pool = int(
        json.loads((ROOT / "local.settings.json.example").read_text())["Values"]["PYTHON_THREADPOOL_THREAD_COUNT"]
    )
    assert len(queue_functions) == 2
    assert pool - held >= 8, f"{pool} threads, of which the queue functions may hold {held}"


@pytest.mark.parametrize(
    "path", ["local_runner", "tests", "local.settings.json", ".venv", "node_modules", "infra", "tools"]
)
def test_development_files_are_kept_out_of_the_deployment_package(path: str) -> None:
    ignored = (ROOT / ".funcignore").read_text().split()
    assert path in ignored


def test_the_deployment_package_carries_the_content_model_and_the_places() -> None:
    """.funcignore follows .gitignore's rules; every entry here is a plain name or a `name*` pattern."""
    ignored = (ROOT / ".funcignore").read_text().split()
    data = ROOT / "tagging" / "labels" / "data"
    for path in [data / "efficientnet-lite0.onnx", data / "places.npz", data / "classes.tsv", data / "tags.tsv"]:
        assert path.is_file()
        parts = path.relative_to(ROOT).parts
        assert not any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in ignored), path


def test_indexing_the_app_needs_no_settings_and_loads_no_storage_sdk_nor_the_model_nor_numpy() -> None:
    heavy = ("azure.storage", "azure.data", "azure.identity", "onnxruntime", "numpy")
    probe = (
        "import sys, function_app; function_app.app.get_functions(); "
        f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith((CONNECTION, "AzureWebJobs"))}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_indexing_the_app_leaves_pillow_as_it_found_it() -> None:
    """The HEIF opener and Pillow's block size are set on the first decode, not as a side effect of the import."""
    probe = (
        "from PIL import Image, _imaging; before = _imaging.get_block_size(); "
        "import function_app; function_app.app.get_functions(); "
        "print('HEIF' in Image.OPEN, _imaging.get_block_size() == before)"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True"]
