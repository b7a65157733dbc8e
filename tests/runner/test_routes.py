from __future__ import annotations

import pytest

from local_runner.routes import Router, compile_route, kestrel_path


def resolve(router: Router[str], method: str, path: str) -> tuple[str, dict[str, str]] | None:
    found = router.resolve(method, path)
    if found is None:
        return found
    route, params = found
    return route.target, params


def test_parameters_are_captured() -> None:
    router = Router([compile_route("images/{id}/tags/{name}", ["PUT"], "tag")])
    assert resolve(router, "PUT", "images/abc/tags/cat") == ("tag", {"id": "abc", "name": "cat"})
    assert resolve(router, "PUT", "images/abc/tags") is None
    assert resolve(router, "PUT", "images/abc/tags/cat/extra") is None


def test_literals_win_over_parameters_whatever_the_order() -> None:
    """dotnet/aspnetcore routing orders a literal segment before a parameter (the legacy Route templates the host
    registers in WebJobsRouteBuilder.cs, azure-webjobs-sdk-extensions)."""
    router = Router([compile_route("images/{id}", ["GET"], "one"), compile_route("images/search", ["GET"], "search")])
    assert resolve(router, "GET", "images/search") == ("search", {})
    assert resolve(router, "GET", "images/123") == ("one", {"id": "123"})


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("items/{n:int}", "items/42", {"n": "42"}),
        ("items/{n:int}", "items/x", None),
        ("items/{g:guid}", "items/3f2b9a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", {"g": "3f2b9a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}),
        ("items/{g:guid}", "items/nope", None),
        ("items/{id?}", "items", {}),
        ("items/{id?}", "items/7", {"id": "7"}),
        ("files/{*path}", "files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("Images", "images", {}),
    ],
)
def test_constraints_optionals_and_catch_alls(template: str, path: str, expected: dict[str, str] | None) -> None:
    """dotnet/aspnetcore, src/Http/Routing/src/Constraints (int, guid, ...), optional and catch-all parameters, and
    literals compared whatever their case (RoutePatternMatcher.cs, OrdinalIgnoreCase)."""
    found = resolve(Router([compile_route(template, None, "t")]), "GET", path)
    assert (found[1] if isinstance(found, tuple) else found) == expected


def test_a_known_path_with_the_wrong_method_matches_nothing() -> None:
    router = Router([compile_route("images", ["POST"], "up"), compile_route("images", ["GET"], "list")])
    assert resolve(router, "POST", "images") == ("up", {})
    assert resolve(router, "get", "images") == ("list", {})
    assert resolve(router, "DELETE", "images") is None


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("/api/images/1/tags/a%2Fb", "/api/images/1/tags/a%2Fb"),
        ("/api/images/1/tags/a%2fb%20c", "/api/images/1/tags/a%2fb c"),
        ("/api/images/1/tags/%2E%2E", "/api/images/1/"),
        ("/api/images/1/tags/.", "/api/images/1/tags/"),
        ("/api/app/%2e%2e/images", "/api/images"),
        ("/a/%E2%82%AC/%E2%82", "/a/€/%E2%82"),
    ],
)
def test_paths_are_decoded_and_normalised_as_kestrel_does(raw: str, path: str) -> None:
    """dotnet/aspnetcore, src/Shared/UrlDecoder/UrlDecoder.cs (every escape but %2F; bytes that are not UTF-8 kept)
    and Kestrel's PathNormalizer.RemoveDotSegments, which runs after decoding."""
    assert kestrel_path(raw) == path
