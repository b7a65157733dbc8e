"""The parts of Json.NET (Newtonsoft.Json 13, which the Functions host uses) that change output values on their way
to a binding: `JToken.Parse` with its default settings, which turns date-like strings into DateTime, and
`JToken.ToString()`, which writes indented JSON and those dates in its own format.

Sources (JamesNK/Newtonsoft.Json 13.0.3, Src/Newtonsoft.Json/): `Utilities/DateTimeUtils.cs` (`TryParseDateTime`:
only strings of 19 to 40 characters that start with a digit and have `T` at index 10 are tried;
`WriteDateTimeString`), `Utilities/DateTimeParser.cs` (`yyyy-MM-ddTHH:mm:ss`, 1 to 7 fraction digits, `Z` or an
offset), `JsonReader.cs` (defaults `DateParseHandling.DateTime`, `DateTimeZoneHandling.RoundtripKind`),
`JsonTextWriter.cs` and `Utilities/JavaScriptUtils.cs` (indentation of 2, escaping), `Linq/JToken.cs` (`ToString()`
is `ToString(Formatting.Indented)`), `Linq/JValue.cs` (`ToString()` of a plain value is its .NET text).
The host's machine is taken to run in UTC, as Azure Functions does unless WEBSITE_TIME_ZONE says otherwise.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?(?:(Z|z)|([+-])(\d{2})(?::?(\d{2}))?)?"
)
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_ESCAPED = re.compile('["\\\\\x00-\x1f\u0085\u2028\u2029]')
INDENT = "  "
NEWLINE = "\n"  # Environment.NewLine on the Linux hosts Flex Consumption runs


@dataclass(frozen=True)
class NetDateTime:
    """A DateTime as Json.NET holds it: whole seconds, ticks of 100 ns, and its Kind (Utc, Local or Unspecified)."""

    seconds: datetime
    ticks: int
    kind: str

    def iso(self) -> str:
        """`DateTimeUtils.WriteDateTimeString`, IsoDateFormat: the fraction without trailing zeros (none when
        zero); `Z` for Utc, the machine's offset for Local (UTC here), nothing for Unspecified."""
        fraction = f".{self.ticks:07d}".rstrip("0") if self.ticks else ""
        zone = {"Utc": "Z", "Local": "+00:00", "Unspecified": ""}[self.kind]
        return f"{self.seconds:%Y-%m-%dT%H:%M:%S}{fraction}{zone}"

    def text(self) -> str:
        """`DateTime.ToString()` under the invariant culture, as `JValue.ToString()` gives it."""
        return f"{self.seconds:%m/%d/%Y %H:%M:%S}"


def parse_date(text: str) -> NetDateTime | None:
    """What `JToken.Parse` makes of a string value under `DateParseHandling.DateTime`: a DateTime, or None when the
    string stays a string."""
    if not (19 <= len(text) <= 40 and text[0].isdigit() and text[10] == "T"):
        return None
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, utc, sign, off_hours, off_minutes = match.groups()
    try:
        if (hour, minute, second) == ("24", "00", "00") and not fraction:
            moment = datetime(int(year), int(month), int(day)) + timedelta(days=1)
        else:
            moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    ticks = int((fraction or "0").ljust(7, "0"))
    if utc:
        return NetDateTime(moment, ticks, "Utc")
    if sign is None:
        return NetDateTime(moment, ticks, "Unspecified")
    offset = timedelta(hours=int(off_hours), minutes=int(off_minutes or 0))
    # Converted to UTC, then to the machine's local time (UTC on the host): the writer then gives "+00:00".
    return NetDateTime(moment - offset if sign == "+" else moment + offset, ticks, "Local")


def parse(text: str | bytes, *, dates: bool = True) -> Any:
    """`JToken.Parse(text)`; with `dates=False`, a reader with `DateParseHandling.None`."""
    value = json.loads(text)
    return _with_dates(value) if dates else value


def _with_dates(value: Any) -> Any:
    if isinstance(value, str):
        return parse_date(value) or value
    if isinstance(value, list):
        return [_with_dates(item) for item in value]
    if isinstance(value, dict):
        return {name: _with_dates(item) for name, item in value.items()}
    return value


def to_string(token: Any, depth: int = 0) -> str:
    """`JToken.ToString()`: indented JSON for objects and arrays, and a value's own .NET text for anything else."""
    if isinstance(token, (dict, list)):
        return _write(token, depth)
    if token is None:
        return ""
    if isinstance(token, bool):
        return "True" if token else "False"
    if isinstance(token, NetDateTime):
        return token.text()
    if isinstance(token, float):
        return _double(token)
    return str(token)


def _write(token: Any, depth: int) -> str:
    pad, inner = INDENT * depth, INDENT * (depth + 1)
    if isinstance(token, dict):
        if not token:
            return "{}"
        items = [f"{inner}{_string(str(name))}: {_write(value, depth + 1)}" for name, value in token.items()]
        return "{" + NEWLINE + ("," + NEWLINE).join(items) + NEWLINE + pad + "}"
    if isinstance(token, list):
        if not token:
            return "[]"
        items = [f"{inner}{_write(value, depth + 1)}" for value in token]
        return "[" + NEWLINE + ("," + NEWLINE).join(items) + NEWLINE + pad + "]"
    if token is None:
        return "null"
    if isinstance(token, bool):
        return "true" if token else "false"
    if isinstance(token, NetDateTime):
        return _string(token.iso())
    if isinstance(token, float):
        text = _double(token)
        return text if math.isfinite(token) else _string(text)
    if isinstance(token, int):
        return str(token)
    return _string(str(token))


def _string(text: str) -> str:
    """`JavaScriptUtils.WriteEscapedJavaScriptString` with the default escaping: only what JSON needs, plus U+0085,
    U+2028 and U+2029; everything else, non-ASCII included, as itself."""
    return '"' + _ESCAPED.sub(lambda m: _ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), text) + '"'


def _double(value: float) -> str:
    """A double as Json.NET writes it: the shortest digits that round-trip (`"R"`), in `E` notation from 1e15 up and
    below 1e-4, and with `.0` added to a whole number."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    power = len(digits) + exponent - 1  # the power of ten of the first digit
    if power >= 15 or power < -4:
        significand = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        return f"{'-' if sign else ''}{significand}E{'+' if power >= 0 else '-'}{abs(power):02d}"
    text = repr(value)
    return text if "." in text else text + ".0"
