"""The image tagging API over HTTP, as any client calls it: requests with timeouts and patient retries.

Locally a caller names itself with the identity header (`user`). In Azure a client sends a function key (`key`, as
`x-functions-key`) and, behind App Service Authentication, an Entra ID access token (`token`, as
`Authorization: Bearer`) from which the platform sets the caller itself.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_API = "http://127.0.0.1:7071"
RETRIED_STATUSES = {429, 502, 503, 504}
# A server that refuses connections is more often down than busy: fail fast rather than keep a user waiting.
CONNECT_RETRIES = 2
# Someone is waiting at a terminal: a server asking for a longer pause is retried sooner, then reported.
MAX_RETRY_AFTER = 60.0
TOKEN_HELP = "az account get-access-token --resource api://<client id> --query accessToken -o tsv"


class ApiError(Exception):
    """The API refused a request: its status, its error code and its message for people; `retry_after` holds the
    seconds its Retry-After header asked for, if any."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after


@dataclass
class Client:
    """The API over httpx, with timeouts and patient retries on 429/5xx-unavailable (honouring Retry-After).

    Every request is safe to repeat, uploads included: an image's id derives from its bytes, so a repeated upload
    finds the first one.
    """

    api: str
    user: str | None = None
    key: str | None = None
    token: str | None = None
    retries: int = 5
    timeout: float = 60.0

    def __post_init__(self) -> None:
        headers = {}
        if self.token:
            # The platform sets X-MS-CLIENT-PRINCIPAL-ID from the validated token, replacing anything sent.
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.user:
            headers["X-MS-CLIENT-PRINCIPAL-ID"] = self.user
        if self.key:
            headers["x-functions-key"] = self.key
        self._http = httpx.Client(base_url=self.api.rstrip("/"), headers=headers, timeout=self.timeout)
        # Download links carry their own short-lived signature: the API's credentials are not storage's business.
        self._links = httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        self._http.close()
        self._links.close()

    def request(self, method: str, path: str, *, final_codes: Collection[str] = (), **kwargs: Any) -> httpx.Response:
        """`final_codes`: error codes reported at once although their status is one that is otherwise retried."""
        return self._send(self._http, method, path, final_codes=final_codes, **kwargs)

    def _send(
        self, http: httpx.Client, method: str, url: str, *, final_codes: Collection[str] = (), **kwargs: Any
    ) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                response = http.request(method, url, **kwargs)
            except httpx.TransportError:
                if attempt >= CONNECT_RETRIES:
                    raise
                time.sleep(_backoff(attempt))
                continue
            retried = response.status_code in RETRIED_STATUSES and attempt < self.retries
            if retried and not (final_codes and _error(response).code in final_codes):
                time.sleep(_retry_delay(response, attempt))
                continue
            if response.status_code >= 400:
                raise _error(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def upload(self, path: Path) -> dict[str, Any]:
        return self.upload_bytes(path.read_bytes(), path.name)

    def upload_bytes(self, data: bytes, filename: str) -> dict[str, Any]:
        """The API's answer, with `new`: False when the same bytes were uploaded before (200, not 202)."""
        headers = {"Content-Type": "application/octet-stream",
                   "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}  # fmt: skip
        response = self.request("POST", "/api/images", content=data, headers=headers)
        body = _body(response, "id", "status")
        return {**body, "new": response.status_code == 202}

    def show(self, image_id: str) -> dict[str, Any]:
        return _body(self.request("GET", _image_path(image_id)), "id", "status")

    def search(self, tags: Sequence[str], limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every matching image, newest first, following continuation tokens."""
        token: str | None = None
        count = 0
        while True:
            params: list[tuple[str, str]] = [("tag", tag) for tag in tags] + [("limit", "500")]
            if token:
                params.append(("continuation", token))
            page = _body(self.request("GET", "/api/images", params=params), "items")
            for item in page["items"]:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            token = page.get("continuation")
            if not token:
                return

    def similar(self, image_id: str, max_distance: int | None = None, limit: int | None = None) -> dict[str, Any]:
        """The image's near duplicates, nearest first: `items`, each with its `distance` in bits."""
        params = {
            name: str(value) for name, value in (("max_distance", max_distance), ("limit", limit)) if value is not None
        }
        return _body(self.request("GET", _image_path(image_id, "similar"), params=params), "items")

    def duplicates(self) -> Iterator[dict[str, Any]]:
        """Every group of near duplicates (an image and the older ones near it), newest first, page after page."""
        token: str | None = None
        while True:
            params = {"limit": "50", **({"continuation": token} if token else {})}
            page = _body(self.request("GET", "/api/duplicates", params=params), "groups")
            yield from page["groups"]
            token = page.get("continuation")
            if not token:
                return

    def tags(self) -> list[dict[str, Any]]:
        tags: list[dict[str, Any]] = _body(self.request("GET", "/api/tags"), "tags")["tags"]
        return tags

    def delete(self, image_id: str) -> None:
        self.request("DELETE", _image_path(image_id))

    def content(self, image_id: str) -> httpx.Response:
        """The image's bytes, from the short-lived link the API redirects to."""
        redirect = self.request("GET", _image_path(image_id, "content"))
        link = redirect.headers.get("location")
        if redirect.status_code != 302 or not link:
            raise ApiError(redirect.status_code, "http_error", "expected a redirect to the image's bytes")
        return self._send(self._links, "GET", link)

    def link(self, image_id: str) -> str:
        """A short-lived read-only link to the image's bytes, which needs no other credential."""
        url: str = _body(self.request("GET", _image_path(image_id, "link")), "url")["url"]
        return url

    def thumbnail(self, image_id: str) -> httpx.Response:
        return self.request("GET", _image_path(image_id, "thumbnail"))

    def tag(self, image_id: str, name: str) -> dict[str, Any]:
        return _body(self.request("PUT", _image_path(image_id, "tags", name)), "id")

    def untag(self, image_id: str, name: str) -> dict[str, Any]:
        return _body(self.request("DELETE", _image_path(image_id, "tags", name)), "id")

    def retry(self, image_id: str, *, wait_if_too_soon: bool = True) -> dict[str, Any]:
        """Tag the image afresh. An image tagged moments ago is refused with 429 `retry_too_soon` and a
        Retry-After: waited out like any 429 by default, or raised at once (with `retry_after`) when the caller
        would rather say so than wait."""
        final = () if wait_if_too_soon else ("retry_too_soon",)
        return _body(self.request("POST", _image_path(image_id, "retry"), final_codes=final), "id", "status")


def _image_path(image_id: str, *parts: str) -> str:
    """An image's URL path, every part escaped whole. A part that is `.` or `..` is refused: servers drop such
    segments before routing, so `DELETE .../tags/..` would reach the image itself."""
    every = (image_id, *parts)
    if any(part.strip() in (".", "..") for part in every):
        raise ApiError(400, "invalid_request", "'.' and '..' cannot be an image id or a tag name.")
    return "/".join(["/api/images", *(quote(part, safe="") for part in every)])


def _backoff(attempt: int) -> float:
    return min(10.0, 0.5 * 2.0**attempt)


def _retry_delay(response: httpx.Response, attempt: int) -> float:
    """The pause the server asks for in Retry-After; without one, exponential backoff."""
    asked = _retry_after(response)
    return _backoff(attempt) if asked is None else min(MAX_RETRY_AFTER, asked)


def _retry_after(response: httpx.Response) -> float | None:
    """The seconds Retry-After asks for (it holds seconds or an HTTP date), or None without a readable one."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": a date in UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error(response: httpx.Response) -> ApiError:
    retry_after = _retry_after(response)
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, error["code"], error["message"], retry_after)
    except (ValueError, KeyError, TypeError):
        text = response.text[:200] or response.reason_phrase
        return ApiError(response.status_code, "http_error", text, retry_after)


def _body(response: httpx.Response, *keys: str) -> dict[str, Any]:
    """The JSON object the API answered, holding `keys`; anything else means --api names some other server."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or any(key not in body for key in keys):
        raise ApiError(
            response.status_code,
            "unexpected_answer",
            f"{response.request.method} {response.request.url.path} did not answer as the tagging API does: "
            "is --api (TAGGING_API) the right address?",
        )
    return body
