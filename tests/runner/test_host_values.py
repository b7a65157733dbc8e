"""What the host does to an output value before a binding gets it (local_runner/host_values.py, json_net.py).

Each test names the upstream code it reproduces; docs/host-fidelity.md lists them all.
"""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.data.tables import EdmType, EntityProperty

from local_runner.host_values import OutputValueError, collector_items, table_write, typed_data
from local_runner.json_net import parse_date


def items(binding_type: str, value: object) -> list[str]:
    return [item.decode() for item in collector_items(typed_data(binding_type, value))]


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2026-12-02T13:06:00.000Z", "2026-12-02T13:06:00Z"),
        ("2026-12-02T13:06:00.120Z", "2026-12-02T13:06:00.12Z"),
        ("2026-12-02T13:06:00.1234567Z", "2026-12-02T13:06:00.1234567Z"),
        ("2007-05-12T10:20:30+02:00", "2007-05-12T08:20:30+00:00"),
        ("2007-05-12T10:20:30", "2007-05-12T10:20:30"),
        ("2007-05-12 10:20:30", None),
        ("2007:05:12 10:20:30", None),
        ("2007-05-12", None),
        ("2007-05-12T10:20", None),
        ("x007-05-12T10:20:30", None),
    ],
)
def test_json_net_reads_only_iso_date_times_as_dates(written: str, stored: str | None) -> None:
    """JamesNK/Newtonsoft.Json 13.0.3, Src/Newtonsoft.Json/Utilities/DateTimeUtils.cs (TryParseDateTime: 19 to 40
    characters, a digit first, `T` at index 10; WriteDateTimeString: no trailing fraction zeros, `Z` for Utc, the
    machine's offset for an offset, which became Local) and Utilities/DateTimeParser.cs."""
    parsed = parse_date(written)

    assert (parsed.iso() if parsed else None) == stored


def test_a_str_that_is_a_json_object_is_re_serialised_indented_with_its_dates_rewritten() -> None:
    """Azure/azure-functions-host, src/WebJobs.Script/Binding/FunctionBinding.cs: ReadAsEnumerable parses a JSON
    string with `JToken.Parse` (default settings: DateParseHandling.DateTime) and BindAsyncCollectorAsync<byte[]>
    writes each item's `ToString()`, which Newtonsoft's JToken.cs makes `ToString(Formatting.Indented)`."""
    sent = json.dumps({"v": 1, "at": "2026-12-02T13:06:00.000Z", "name": "Köln", "tags": ["a"], "n": 1.0})

    (stored,) = items("queue", sent)

    assert stored == (
        '{\n  "v": 1,\n  "at": "2026-12-02T13:06:00Z",\n  "name": "Köln",\n  "tags": [\n    "a"\n  ],\n  "n": 1.0\n}'
    )


def test_a_str_that_is_a_json_array_becomes_one_item_per_element() -> None:
    """FunctionBinding.cs ReadAsEnumerable (an array gives its elements); a plain element is written by
    JValue.ToString(), its .NET text (Azure/azure-functions-python-worker issue 1492 shows '[1,2,3]' sending
    three messages)."""
    assert items("queue", '[{"a": 1}, "text", 5, true, null]') == ['{\n  "a": 1\n}', "text", "5", "True", ""]


def test_bytes_and_plain_strings_pass_through_untouched() -> None:
    """FunctionBinding.cs: bytes are handed on as they are, and a string that does not start and end with {} or []
    (Utility.IsJson) is sent as its UTF-8 bytes."""
    compact = b'{"at":"2026-12-02T13:06:00.000Z"}'

    assert collector_items(typed_data("queue", compact)) == [compact]
    assert collector_items(typed_data("table", compact)) == [compact]
    assert items("queue", "hello [world]") == ["hello [world]"]


def test_a_str_that_looks_like_json_but_is_not_fails_the_invocation() -> None:
    """FunctionBinding.cs: JToken.Parse throws while the outputs are bound, after the function returned."""
    with pytest.raises(OutputValueError, match="looks like JSON"):
        collector_items(typed_data("queue", "[INFO] started [ok]"))


def test_a_list_of_str_sends_each_string_as_it_is() -> None:
    """azure-functions-python-library, azure/functions/queue.py QueueMessageOutConverter.encode (a list is `json`);
    the host parses `json` with DateParseHandling.None (GrpcMessageConversionExtensions.cs ToObject)."""
    assert items("queue", ["2026-12-02T13:06:00.000Z", '{"a":1}']) == ["2026-12-02T13:06:00.000Z", '{"a":1}']


def test_a_queue_message_object_is_sent_as_its_id_and_body_json() -> None:
    """queue.py QueueMessageOutConverter.encode sends `{"id", "body"}` as json, which the host writes out whole."""
    (stored,) = items("queue", func.QueueMessage(body=b"hello"))

    assert json.loads(stored) == {"id": None, "body": "hello"}


def test_the_tables_extension_types_integers_as_int64_and_nested_values_as_text() -> None:
    """Azure/azure-sdk-for-net, sdk/tables/Microsoft.Azure.WebJobs.Extensions.Tables/src/
    TablesExtensionConfigProvider.cs: CreateTableEntityFromJsonBytes (DateParseHandling.None) and
    CreateTableEntityFromJObject (`tableEntity[key] = value.Value`, a JSON integer being a long; anything else its
    ToString()). A null is sent as null, which the service does not store."""
    write = table_write(
        b'{"PartitionKey":"p","RowKey":"r","size":12467,"ratio":1.5,"ok":true,"gone":null,'
        b'"at":"2026-12-02T13:06:00.000Z","tags":["a"]}'
    )

    assert write.entity == {
        "PartitionKey": "p",
        "RowKey": "r",
        "size": EntityProperty(12467, EdmType.INT64),
        "ratio": EntityProperty(1.5, EdmType.DOUBLE),
        "ok": True,
        "at": "2026-12-02T13:06:00.000Z",
        "tags": '[\n  "a"\n]',
    }
    assert write.etag is None  # inserted


def test_keys_and_etag_are_matched_whatever_their_case_and_timestamp_is_dropped() -> None:
    """TablesExtensionConfigProvider.cs CreateTableEntityFromJObject (OrdinalIgnoreCase for PartitionKey, RowKey,
    ETag); Azure.Data.Tables DictionaryTableExtensions leaves out a property named exactly Timestamp."""
    write = table_write(b'{"partitionKey":"p","ROWKEY":"r","etag":"*","Timestamp":"x"}')

    assert write.entity == {"PartitionKey": "p", "RowKey": "r"}
    assert write.etag == "*"  # TableEntityWriter.cs: `*` upserts


@pytest.mark.parametrize("item", [b'{"RowKey":"r"}', b'{"PartitionKey":5,"RowKey":"r"}', b"[1]", b"not json"])
def test_an_entity_without_string_keys_fails_the_invocation(item: bytes) -> None:
    """TableClientHelpers.ValidateAzureTableKeyValue and TableEntity.PartitionKey (GetString) in Azure.Data.Tables;
    CreateTableEntityFromJsonBytes needs a JSON object."""
    with pytest.raises(OutputValueError):
        table_write(item)
