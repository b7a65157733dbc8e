"""What the host hands an output binding for the value a Python function set, step by step as in Azure.

1. The worker turns the value into TypedData (azure-functions-python-worker, `bindings/datumdef.py`
   `datum_as_proto`; the converters of azure-functions-python-library, `azure/functions/queue.py`
   `QueueMessageOutConverter.encode`, and the worker's `bindings/generic.py` `GenericBinding.encode` for bindings
   the library has no converter for, such as `table`): a `str` is `string`, `bytes` are `bytes`, a list or dict
   is `json`.
2. The host turns TypedData into a .NET value (azure-functions-host, `src/WebJobs.Script.Grpc/MessageExtensions/
   GrpcMessageConversionExtensions.cs` `ToObject`: `json` is parsed with `DateParseHandling.None`).
3. Queue and Table outputs bind to `IAsyncCollector<byte[]>`, the first of byte[], JObject, string that the
   extension converts from (azure-webjobs-sdk, `AsyncCollectorBindingProvider.cs` `GetDefaultType`).
   `FunctionBinding.ReadAsEnumerable` splits the value into items: a string that starts and ends with `{}` or
   `[]` (`Utility.IsJson`) is parsed by `JToken.Parse` with Json.NET's defaults (dates!), an array gives one item
   per element; `BindAsyncCollectorAsync<byte[]>` then writes each item as UTF-8 of its `ToString()`. Bytes pass
   through untouched.
4. The Tables extension parses each item with `DateParseHandling.None` into a `TableEntity`
   (azure-sdk-for-net, `sdk/tables/Microsoft.Azure.WebJobs.Extensions.Tables/src/TablesExtensionConfigProvider.cs`,
   `CreateTableEntityFromJsonBytes` and `CreateTableEntityFromJObject`): integers become Int64, objects and arrays
   their indented JSON text, PartitionKey, RowKey and ETag are matched whatever their case.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from azure.data.tables import EdmType, EntityProperty

from local_runner import json_net

# Azure.Data.Tables drops a property named exactly so when it serialises an entity (DictionaryTableExtensions).
_DROPPED = "Timestamp"
_INT64 = (-(2**63), 2**63 - 1)


class OutputValueError(ValueError):
    """The value cannot be delivered; in Azure the invocation fails after the function returned."""


@dataclass(frozen=True)
class TypedData:
    kind: str  # "string", "bytes" or "json"
    value: Any


def typed_data(binding_type: str, value: Any) -> TypedData:
    """Step 1: what the worker sends the host for a value set on an output of this binding type."""
    if binding_type == "queue":
        from azure.functions.queue import QueueMessageOutConverter

        datum = QueueMessageOutConverter.encode(value, expected_type=None)
        return TypedData(str(datum.type), datum.value)
    if isinstance(value, str):
        return TypedData("string", value)
    if isinstance(value, (bytes, bytearray)):
        return TypedData("bytes", bytes(value))
    if isinstance(value, (dict, list)):
        return TypedData("json", json.dumps(value))
    raise OutputValueError(f"a {binding_type} output takes str, bytes, a dict or a list, not {type(value).__name__}")


def collector_items(data: TypedData) -> list[bytes]:
    """Steps 2 and 3: the byte[] items the host adds to the binding's collector, one message or entity each."""
    if data.kind == "bytes":
        return [data.value]
    if data.kind == "json":
        token = json_net.parse(data.value, dates=False)
        return [_item_bytes(item) for item in (token if isinstance(token, list) else [token])]
    text: str = data.value
    stripped = text.strip()
    if stripped[:1] + stripped[-1:] not in ("{}", "[]"):
        return [text.encode("utf-8")]
    try:
        token = json_net.parse(text)
    except ValueError as exc:
        raise OutputValueError(f"the value looks like JSON but is not: {exc}") from exc
    return [_item_bytes(item) for item in (token if isinstance(token, list) else [token])]


def _item_bytes(item: Any) -> bytes:
    return json_net.to_string(item).encode("utf-8")


@dataclass(frozen=True)
class TableWrite:
    """One entity as the Tables extension writes it: inserted, upserted (`ETag: *`) or replaced if unchanged."""

    entity: dict[str, Any]
    etag: str | None

    @property
    def key(self) -> tuple[str, str]:
        return self.entity["PartitionKey"], self.entity["RowKey"]


def table_writes(items: Iterable[bytes]) -> list[TableWrite]:
    """Step 4, for each item."""
    return [table_write(item) for item in items]


def table_write(item: bytes) -> TableWrite:
    try:
        parsed = json_net.parse(item, dates=False)
    except ValueError as exc:
        raise OutputValueError(f"a Table output item is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise OutputValueError("a Table output item must be a JSON object")
    entity: dict[str, Any] = {}
    etag: str | None = None
    for name, value in parsed.items():
        folded = name.lower()
        if folded == "etag":
            etag = None if value is None else json_net.to_string(value)
            continue
        key = {"partitionkey": "PartitionKey", "rowkey": "RowKey"}.get(folded) or name
        if key == _DROPPED or value is None:
            continue  # null: sent as null, which the service does not store
        entity[key] = _property(key, value)
    for key in ("PartitionKey", "RowKey"):
        if not isinstance(entity.get(key), str):
            raise OutputValueError(
                f"'{entity.get(key)}' is not a valid value for a partition key or row key. Ensure that the table "
                "entity contains valid 'PartitionKey' and 'RowKey' values."
            )
    return TableWrite(entity, etag or None)


def _property(name: str, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json_net.to_string(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise OutputValueError(f"property {name!r}: {value} does not fit an Int64 (Json.NET reads a BigInteger)")
        return EntityProperty(value, EdmType.INT64)
    if isinstance(value, float):
        return EntityProperty(value, EdmType.DOUBLE)
    return value
