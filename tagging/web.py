"""Translation between HTTP and the domain: JSON bodies, the error table, request details."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from tagging.config import TRUST_IDENTITY_HEADER_SETTING, Settings
from tagging.errors import (
    ImageNotFoundError,
    ImageNotReadyError,
    ImageTooComplexError,
    ImageTooLargeError,
    InvalidImageError,
    InvalidRequestError,
    LengthRequiredError,
    NotComparableError,
    RetryTooSoonError,
    StorageUnavailableError,
    TaggingError,
    UnauthenticatedError,
    UnsupportedMediaError,
    UploadTooLargeError,
)
from tagging.identity import PRINCIPAL_HEADER
from tagging.model import ImageRecord, Item
from tagging.ports import FetchedImage, Match

logger = logging.getLogger(__name__)

# Most specific first is not needed: the lookup walks each error's class hierarchy.
STATUS_FOR_ERROR: dict[type[TaggingError], int] = {
    UnauthenticatedError: 401,
    InvalidRequestError: 400,
    InvalidImageError: 400,
    ImageNotFoundError: 404,
    ImageNotReadyError: 409,
    NotComparableError: 409,
    StorageUnavailableError: 503,
    UploadTooLargeError: 413,
    ImageTooLargeError: 413,
    ImageTooComplexError: 422,
    UnsupportedMediaError: 415,
    LengthRequiredError: 411,
    RetryTooSoonError: 429,
}


def record_view(record: ImageRecord) -> dict[str, Any]:
    """An image as `GET /api/images/{id}` shows it."""
    meta = record.metadata
    body: dict[str, Any] = {
        "id": record.image_id,
        "status": record.status,
        "tags": [asdict(tag) for tag in record.tags],
        "width": record.width,
        "height": record.height,
        "megapixels": record.megapixels,
        "format": record.format,
        "mode": record.mode,
        "frames": record.frames,
        "bytes": record.size,
        "sha256": record.sha256,
        "phash": record.phash,
        "content_type": record.content_type,
        "filename": record.filename,
        "camera": {"make": meta.camera_make, "model": meta.camera_model, "lens": meta.lens},
        "taken_at": meta.taken_at,
        "location": {"latitude": meta.latitude, "longitude": meta.longitude} if meta.latitude is not None else None,
        "thumbnail": _thumbnail_path(record.image_id, record.thumbnail),
        "uploaded_at": record.uploaded_at,
        "tagged_at": record.tagged_at,
    }
    if record.error is not None:
        body["error"] = record.error
    return body


def item_view(item: Item) -> dict[str, Any]:
    """An image as a listing or search page shows it."""
    return {
        "id": item.image_id,
        "status": item.status,
        "tags": [asdict(tag) for tag in item.tags],
        "width": item.width,
        "height": item.height,
        "uploaded_at": item.uploaded_at,
        "thumbnail": _thumbnail_path(item.image_id, item.thumbnail),
        "filename": item.filename,
    }


def match_view(match: Match) -> dict[str, Any]:
    """A near duplicate: the image as a list shows it, and how many bits its hash differs by."""
    return {**item_view(match.item), "distance": match.distance}


def _thumbnail_path(image_id: str, exists: bool) -> str | None:
    return f"/api/images/{image_id}/thumbnail" if exists else None


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    # The final newline keeps `curl` output off the shell prompt's line, as most JSON APIs do.
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False) + "\n",
        status_code=status,
        headers=dict(headers or {}),
        mimetype="application/json",
        charset="utf-8",
    )


RETRY_AFTER_SECONDS = 5


def error_response(status: int, code: str, message: str, retry_after: int | None = None) -> func.HttpResponse:
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="image-tagging"'
    if status == 503:
        retry_after = RETRY_AFTER_SECONDS
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return json_response({"error": {"code": code, "message": message}}, status, headers)


def handle(req: func.HttpRequest, action: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    """Run a request's action, turning domain errors into their status and anything else into a 500; every answer
    says `nosniff`, so that no browser takes a JSON error or an image for something it could run."""
    response = _answer(req, action)
    if "X-Content-Type-Options" not in response.headers:  # case-insensitive
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _answer(req: func.HttpRequest, action: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    try:
        _check_headers(req)
        return action()
    except TaggingError as exc:
        return error_response(status_for(exc), exc.code, str(exc), getattr(exc, "retry_after", None))
    except Exception as exc:
        # Imported here, on the error path only: indexing the app must not load the storage SDKs.
        from tagging.storage import unreachable

        if unreachable(exc):
            logger.warning("Storage unreachable: %s", exc)
            unavailable = StorageUnavailableError("Storage is unavailable; nothing was changed. Try again shortly.")
            return error_response(503, unavailable.code, str(unavailable))
        logger.exception("Request failed unexpectedly")
        return error_response(500, "internal", "Something went wrong on our side; try again in a moment.")


def _check_headers(req: func.HttpRequest) -> None:
    """Header values are text: bytes that are not UTF-8 (which a server hands on as lone surrogates) are refused
    before anything reads them as a user, a file name or a type."""
    for name, value in req.headers.items():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequestError(f"The {name} header is not valid UTF-8 text; send it as UTF-8.") from None


def status_for(exc: TaggingError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_FOR_ERROR:
            return STATUS_FOR_ERROR[cls]
    return 500


def filename_from(req: func.HttpRequest) -> str | None:
    """The file name in `Content-Disposition` (RFC 6266, including `filename*=UTF-8''...`), if any."""
    value = req.headers.get("content-disposition")
    if not value:
        return None
    header = Message()
    header["content-disposition"] = value
    return header.get_filename()


def caller_id(req: func.HttpRequest, settings: Settings) -> str | None:
    """The caller's principal id, from the header only when something vouches for it (`config.caller_source`)."""
    if settings.callers == "none":
        raise UnauthenticatedError(
            "This deployment accepts no caller: App Service Authentication is off, so the "
            f"{PRINCIPAL_HEADER} header could be anyone's. Its owner can turn sign-in on (the authClientId "
            "parameter), or choose to trust the header for a back end that signs its users in itself "
            f"({TRUST_IDENTITY_HEADER_SETTING}=true, the trustIdentityHeader parameter)."
        )
    user: str | None = req.headers.get(PRINCIPAL_HEADER)
    if user is None or not user.strip():
        if settings.callers == "platform":
            raise UnauthenticatedError("Sign in first: the request carries no signed-in caller.")
        # Here the caller names itself: say how, rather than send someone looking for a sign-in page.
        raise UnauthenticatedError(
            f"Name the caller: send the {PRINCIPAL_HEADER} header with a user name (the command-line client's "
            "--user option or TAGGING_USER, the page's User field)."
        )
    return user


def body_of(req: func.HttpRequest) -> bytes:
    """The request body; a chunked one is refused, because in Azure it reaches the function empty (the host reads a
    body only when Content-Length is set: azure-functions-host, GrpcMessageConversionExtensions.cs `ToRpcHttp`)."""
    body = req.get_body()
    if not body and "chunked" in req.headers.get("transfer-encoding", "").lower():
        raise LengthRequiredError(
            "The body was sent in chunks, without a Content-Length, and Azure Functions hands such a body to the "
            "app empty. Send the file with its length: curl --data-binary @photo.jpg (not curl -T -)."
        )
    return body


def route_tag(req: func.HttpRequest) -> str | None:
    """The `{name}` of a tag route. Kestrel decodes every escape in a path except `%2F`, which reaches the app as
    written (dotnet/aspnetcore, UrlDecoder.cs); read back as the `/` it stands for, it is refused as a tag name."""
    name = req.route_params.get("name")
    return None if name is None else name.replace("%2F", "/").replace("%2f", "/")


def query_values(req: func.HttpRequest, name: str) -> list[str]:
    """Every value of a repeated query parameter (`?tag=a&tag=b`), read from the URL: the host's `params` joins
    repeated values with `,` (which a tag may contain) and drops empty ones."""
    return [value for key, value in parse_qsl(urlsplit(req.url).query) if key == name and value.strip()]


def file_response(req: func.HttpRequest, found: FetchedImage) -> func.HttpResponse:
    """Image bytes with caching and a strict type: the browser must never sniff them into something else."""
    headers = {
        "ETag": found.etag,
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if found.etag and req.headers.get("if-none-match") == found.etag:
        return func.HttpResponse(status_code=304, headers=headers)
    # An explicit header: given only a mimetype, the worker would append a text charset to image bytes.
    headers["Content-Type"] = found.content_type
    return func.HttpResponse(found.data, status_code=200, headers=headers, mimetype=found.content_type)


def link_response(link: str) -> func.HttpResponse:
    """A redirect to a short-lived link to the bytes. Never cached: the link expires, the redirect must not outlive
    it. The caller needs nothing but the link, so it should not send its own credentials there."""
    return func.HttpResponse(status_code=302, headers={"Location": link, "Cache-Control": "no-store"})


# The web page: three files next to function_app.py, served by the app itself so that it shares the API's origin.
PAGE_DIR = Path(__file__).resolve().parent.parent / "web"
PAGE_FILES = {
    "": ("index.html", "text/html; charset=utf-8"),
    "index.html": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
}


def page_policy(image_origin: str) -> str:
    """The page's content policy: its own files, thumbnails it fetched (blob: URLs), and full-size images from the
    storage origin that download links point at, which an <img> loads without credentials or CORS."""
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: {image_origin}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def link_view(link: str) -> func.HttpResponse:
    """A download link as JSON, for a page that shows the image with an <img> (which cannot follow a redirect
    that needs the API's headers). Never cached: the link expires."""
    return json_response({"url": link}, headers={"Cache-Control": "no-store"})


def page_response(req: func.HttpRequest, image_origin: str) -> func.HttpResponse:
    """One of the page's files, by a fixed list (never a path from the request), with a strict CSP."""
    requested = req.route_params.get("path") or ""
    path = urlsplit(req.url).path
    if not requested and not path.endswith("/"):
        # Relative links in the page need the trailing slash. The redirect is relative too ("app/" from .../app):
        # a Location built from the request's path could start with "//" and send the browser to another host.
        return func.HttpResponse(status_code=308, headers={"Location": path.rsplit("/", 1)[-1] + "/"})
    if requested == "identity.json":
        # Who the page should ask for: a signed-in user, a typed name, or nobody (and why).
        callers = Settings.from_env().callers
        return json_response({"callers": callers}, headers={"Cache-Control": "no-cache"})
    entry = PAGE_FILES.get(requested)
    if entry is None:
        return error_response(404, "not_found", "No such page file.")
    name, content_type = entry
    headers = {
        "Content-Type": content_type,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": page_policy(image_origin),
        "Referrer-Policy": "no-referrer",
    }
    return func.HttpResponse((PAGE_DIR / name).read_bytes(), status_code=200, headers=headers, mimetype=content_type)
