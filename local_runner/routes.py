"""HTTP trigger route templates (`images/{id}`, `{id:int}`, `{id?}`, `{*rest}`) matched as the host does, on the path
as Kestrel hands it over.

Kestrel decodes every percent-escape of the path except `%2F`, which stays as written, then removes dot segments
(dotnet/aspnetcore, src/Shared/UrlDecoder/UrlDecoder.cs `SkipUnescape`, and Kestrel's PathNormalizer
`RemoveDotSegments`); routing takes route values from that path without decoding again
(src/Http/Routing/src/Patterns/RoutePatternMatcher.cs). A request whose method no function at the path accepts
matches no route: 404, never 405 (HttpMethodRouteConstraint in the legacy routes of azure-webjobs-sdk-extensions'
WebJobsRouteBuilder.cs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "float": r"-?\d+(?:\.\d+)?",
    "double": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "alpha": r"[A-Za-z]+",
}
_PARAMETER = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+)(?:\([^)]*\))?)?(\?)?\}")


@dataclass(frozen=True)
class Route(Generic[T]):
    template: str
    methods: frozenset[str]
    target: T
    pattern: re.Pattern[str]
    literal_segments: int

    def match(self, path: str) -> dict[str, str] | None:
        """Parameters of a path as `kestrel_path` gives it (without its leading `/`)."""
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: value for name, value in found.groupdict().items() if value is not None}


def compile_route(template: str, methods: list[str] | None, target: T) -> Route[T]:
    parts: list[str] = []
    literals = 0
    for segment in template.strip("/").split("/"):
        match = _PARAMETER.fullmatch(segment)
        if match is None:
            if "{" in segment:
                raise ValueError(f"Route {template!r}: a parameter must fill its whole segment in the local runner")
            literals += 1
            parts.append(("/" if parts else "") + re.escape(segment))
            continue
        catch_all, name, constraint, optional = match.groups()
        body = ".*" if catch_all else _CONSTRAINTS.get(constraint or "", "[^/]+")
        slash = "/" if parts else ""
        if optional or catch_all:
            parts.append(f"(?:{slash}(?P<{name}>{body}))?")
        else:
            parts.append(f"{slash}(?P<{name}>{body})")
    pattern = re.compile("".join(parts), re.IGNORECASE)
    allowed = frozenset(m.upper() for m in methods) if methods else frozenset()
    return Route(template, allowed, target, pattern, literals)


class Router(Generic[T]):
    def __init__(self, routes: list[Route[T]]) -> None:
        # Literal segments beat parameters, as in ASP.NET routing: `images/search` before `images/{id}`.
        self._routes = sorted(routes, key=lambda r: -r.literal_segments)

    def resolve(self, method: str, path: str) -> tuple[Route[T], dict[str, str]] | None:
        """The route and its parameters for a path relative to the route prefix; None when nothing matches."""
        if path.endswith("/"):
            path = path[:-1]  # routing ignores one trailing slash
        if "//" in f"/{path}/" and path:
            return None  # an empty segment matches nothing
        for route in self._routes:
            params = route.match(path)
            if params is not None and (not route.methods or method.upper() in route.methods):
                return route, params
        return None


def kestrel_path(raw: str) -> str:
    """The path of a request as routing sees it: escapes decoded as UTF-8 except `%2F` (and bytes that are not
    UTF-8, which stay as written), then `.` and `..` segments removed."""
    decoded: list[str] = []
    position = 0
    for run in _ESCAPE_RUN.finditer(raw):
        decoded.append(raw[position : run.start()])
        decoded.append(_decode_run(run.group()))
        position = run.end()
    decoded.append(raw[position:])
    return _remove_dot_segments("".join(decoded))


_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _decode_run(run: str) -> str:
    escapes = [run[i : i + 3] for i in range(0, len(run), 3)]
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        data = bytes(int(escape[1:], 16) for escape in pending)
        text = data.decode("utf-8", "surrogateescape")
        consumed = 0
        for char in text:
            if "\udc80" <= char <= "\udcff":
                out.append(pending[consumed])  # not UTF-8: copied as written
                consumed += 1
            else:
                out.append(char)
                consumed += len(char.encode("utf-8"))
        pending.clear()

    for escape in escapes:
        if escape.upper() == "%2F":
            flush()
            out.append(escape)
        else:
            pending.append(escape)
    flush()
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, as Kestrel applies it to a decoded path."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output) or "/"
