"""HTTP trigger route templates (`images/{id}`, `{id:int}`, `{id?}`, `{*rest}`) matched as the host does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

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
        """Parameters of a raw (still percent-encoded) path, decoded only once matched, so that an encoded `/`
        stays inside its segment."""
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items() if value is not None}


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

    def resolve(self, method: str, path: str) -> tuple[Route[T], dict[str, str]] | frozenset[str] | None:
        """The route and its parameters; or the methods allowed at `path` when only the method is wrong."""
        allowed: set[str] = set()
        for route in self._routes:
            params = route.match(path.strip("/"))
            if params is None:
                continue
            if not route.methods or method.upper() in route.methods:
                return route, params
            allowed |= route.methods
        return frozenset(allowed) if allowed else None
