"""`tagging` / `python -m tagging`: a command-line client of the HTTP API (upload folders, search, wait, delete).

It talks to the API like any client: over HTTP, with the identity header locally (`--user`) and a function key in
Azure (`--key`, sent as `x-functions-key`). httpx and rich are imported here only: the function app never needs them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_API = "http://127.0.0.1:7071"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".heif"}
RETRIED_STATUSES = {429, 502, 503, 504}
# A server that refuses connections is more often down than busy: fail fast rather than keep a user waiting.
CONNECT_RETRIES = 2


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Client:
    """The API over httpx, with timeouts and patient retries on 429/5xx-unavailable (honouring Retry-After)."""

    api: str
    user: str | None = None
    key: str | None = None
    retries: int = 5
    timeout: float = 60.0

    def __post_init__(self) -> None:
        headers = {}
        if self.user:
            headers["X-MS-CLIENT-PRINCIPAL-ID"] = self.user
        if self.key:
            headers["x-functions-key"] = self.key
        self._http = httpx.Client(base_url=self.api.rstrip("/"), headers=headers, timeout=self.timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt >= CONNECT_RETRIES:
                    raise
                time.sleep(min(10.0, 0.5 * 2**attempt))
                continue
            if response.status_code in RETRIED_STATUSES and attempt < self.retries:
                wait = response.headers.get("retry-after", "")
                time.sleep(float(wait) if wait.isdigit() else min(10.0, 0.5 * 2**attempt))
                continue
            if response.status_code >= 400:
                raise _error(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def upload(self, path: Path) -> dict[str, Any]:
        headers = {"Content-Type": "application/octet-stream",
                   "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name)}"}  # fmt: skip
        body: dict[str, Any] = self.request("POST", "/api/images", content=path.read_bytes(), headers=headers).json()
        return body

    def show(self, image_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.request("GET", f"/api/images/{quote(image_id, safe='')}").json()
        return body

    def search(self, tags: Sequence[str], limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every matching image, newest first, following continuation tokens."""
        token: str | None = None
        count = 0
        while True:
            params: list[tuple[str, str]] = [("tag", tag) for tag in tags] + [("limit", "500")]
            if token:
                params.append(("continuation", token))
            page = self.request("GET", "/api/images", params=params).json()
            for item in page["items"]:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            token = page.get("continuation")
            if not token:
                return

    def tags(self) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self.request("GET", "/api/tags").json()["tags"]
        return body

    def delete(self, image_id: str) -> None:
        self.request("DELETE", f"/api/images/{quote(image_id, safe='')}")


def _error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, error["code"], error["message"])
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, "http_error", response.text[:200] or response.reason_phrase)


def image_files(paths: Sequence[str], recursive: bool) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            found += sorted(p for p in pattern if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"tagging: {raw}: no such file or folder")
    return found


# -- commands -----------------------------------------------------------------------------------------------


def cmd_upload(client: Client, args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    files = image_files(args.paths, args.recursive)
    if not files:
        print("tagging: no image files found", file=sys.stderr)
        return 1
    results: list[dict[str, Any]] = []
    progress = Progress(
        TextColumn("[bold]Uploading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        disable=args.json or not sys.stderr.isatty(), transient=False,
    )  # fmt: skip
    with progress, ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
        task = progress.add_task("upload", total=len(files))
        futures = {pool.submit(client.upload, path): path for path in files}
        for future in as_completed(futures):
            path = futures[future]
            try:
                body = future.result()
                results.append({"file": str(path), "id": body["id"], "status": body["status"]})
            except (ApiError, httpx.HTTPError, OSError) as exc:
                results.append({"file": str(path), "error": str(exc)})
            progress.advance(task)
    failed = [r for r in results if "error" in r]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in failed:
            print(f"failed  {result['file']}: {result['error']}", file=sys.stderr)
        print(f"{len(results) - len(failed)} uploaded, {len(failed)} failed")
    return 1 if failed else 0


def cmd_show(client: Client, args: argparse.Namespace) -> int:
    image = client.show(args.id)
    if args.json:
        print(json.dumps(image, indent=2))
    else:
        print(f"{image['id']}  {image['status']}  {image.get('width')}x{image.get('height')} {image.get('format')}")
        for tag in image["tags"]:
            print(f"  {tag['name']:<40} {tag['confidence']:.2f}  {tag['source']}")
        if image.get("error"):
            print(f"  error: {image['error']}")
    return 0


def cmd_search(client: Client, args: argparse.Namespace) -> int:
    items = list(client.search(args.tags, args.limit))
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        for item in items:
            names = ", ".join(tag["name"] for tag in item["tags"])
            print(f"{item['id']}  {item['status']:<7} {item['uploaded_at']}  {names}")
        print(f"{len(items)} image(s)", file=sys.stderr)
    return 0


def cmd_tags(client: Client, args: argparse.Namespace) -> int:
    tags = client.tags()
    if args.json:
        print(json.dumps(tags, indent=2))
    else:
        for tag in tags:
            print(f"{tag['count']:>6}  {tag['name']}")
    return 0


def cmd_delete(client: Client, args: argparse.Namespace) -> int:
    client.delete(args.id)
    if args.json:
        print(json.dumps({"id": args.id, "deleted": True}))
    else:
        print(f"deleted {args.id}")
    return 0


def cmd_wait(client: Client, args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    pending = list(dict.fromkeys(args.ids))
    final: dict[str, dict[str, Any]] = {}
    while pending and time.monotonic() < deadline:
        for image_id in list(pending):
            image = client.show(image_id)
            if image["status"] != "pending":
                final[image_id] = image
                pending.remove(image_id)
        if pending:
            time.sleep(args.interval)
    if args.json:
        print(json.dumps({"done": list(final.values()), "still_pending": pending}, indent=2))
    else:
        for image_id, image in final.items():
            print(f"{image_id}  {image['status']}" + (f"  ({image['error']})" if image.get("error") else ""))
        for image_id in pending:
            print(f"{image_id}  still pending after {args.timeout:.0f}s", file=sys.stderr)
    return 1 if pending or any(image["status"] != "done" for image in final.values()) else 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="tagging", description="Upload images, search them by tag, and more.")
    root.add_argument("--api", default=os.environ.get("TAGGING_API", DEFAULT_API), help=f"API base URL [{DEFAULT_API}]")
    root.add_argument("--user", default=os.environ.get("TAGGING_USER"), help="identity header value (local use)")
    root.add_argument("--key", default=os.environ.get("TAGGING_KEY"), help="function key, sent as x-functions-key")
    root.add_argument("--json", action="store_true", help="print JSON for scripts")
    commands = root.add_subparsers(dest="command", required=True)

    upload = commands.add_parser("upload", help="upload image files or folders")
    upload.add_argument("paths", nargs="+")
    upload.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    upload.add_argument("--concurrency", "-c", type=int, default=4, help="parallel uploads [4]")
    upload.set_defaults(run=cmd_upload)

    show = commands.add_parser("show", help="one image with its tags")
    show.add_argument("id")
    show.set_defaults(run=cmd_show)

    search = commands.add_parser("search", help="images carrying all the tags (all images without tags)")
    search.add_argument("tags", nargs="*")
    search.add_argument("--limit", type=int, help="stop after this many")
    search.set_defaults(run=cmd_search)

    tags = commands.add_parser("tags", help="your tags with their image counts")
    tags.set_defaults(run=cmd_tags)

    delete = commands.add_parser("delete", help="delete an image")
    delete.add_argument("id")
    delete.set_defaults(run=cmd_delete)

    wait = commands.add_parser("wait", help="wait until images are tagged")
    wait.add_argument("ids", nargs="+")
    wait.add_argument("--timeout", type=float, default=120.0)
    wait.add_argument("--interval", type=float, default=0.5)
    wait.set_defaults(run=cmd_wait)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    client = Client(args.api, user=args.user, key=args.key)
    try:
        code: int = args.run(client, args)
        return code
    except ApiError as exc:
        print(f"tagging: {exc.message} ({exc.status} {exc.code})", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"tagging: cannot reach {args.api}: {exc}", file=sys.stderr)
        return 2
