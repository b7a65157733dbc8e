"""`tagging` / `python -m tagging_client`: the command-line client (upload folders, search, wait, delete, smoke).

httpx and rich are this package's only dependencies: it is installed with `pip install .` and never deployed with
the function app.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import httpx

from tagging_client import smoke
from tagging_client.api import DEFAULT_API, TOKEN_HELP, ApiError, Client

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".heif"}
# Exit codes: 1 when the API refused something or an image failed, 2 when the API could not be reached.
EXIT_FAILED, EXIT_UNREACHABLE = 1, 2


def image_files(paths: Sequence[str], recursive: bool) -> tuple[list[Path], list[Path]]:
    """The files to send, and those skipped in folders for not being named like images (a file named on the
    command line is always sent: the API says whether it is an image)."""
    found: list[Path] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            for file in sorted(p for p in pattern if p.is_file()):
                (found if file.suffix.lower() in IMAGE_SUFFIXES else skipped).append(file)
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"tagging: {raw}: no such file or folder")
    return found, skipped


def _report_uploads(results: list[dict[str, Any]], *, as_json: bool) -> None:
    """One line per image with its id (for `wait`, `show` and scripts), failures on stderr, then a summary."""
    if as_json:
        print(json.dumps(results, indent=2))
        return
    failed = 0
    for result in results:
        if "error" in result:
            failed += 1
            print(f"failed  {result['file']}: {result['error']}", file=sys.stderr)
        else:
            again = "" if result["new"] else " (uploaded before)"
            print(f"{result['id']}  {result['status']}{again}  {result['file']}")
    print(f"{len(results) - failed} uploaded, {failed} failed")


# -- commands -----------------------------------------------------------------------------------------------


def cmd_upload(client: Client, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    files, skipped = image_files(args.paths, args.recursive)
    if skipped:
        names = ", ".join(path.name for path in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        print(f"tagging: skipped {len(skipped)} file(s) not named like images ({names})", file=sys.stderr)
    if not files:
        print("tagging: no image files found", file=sys.stderr)
        return EXIT_FAILED
    results: list[dict[str, Any]] = []
    unreachable: httpx.TransportError | None = None  # no connection at all, unlike a slow answer
    # On stderr, and only on a terminal: stdout carries the results (JSON with --json), whatever it is piped to.
    progress = Progress(
        TextColumn("[bold]Uploading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), disable=not sys.stderr.isatty(), transient=False,
    )  # fmt: skip
    with progress, ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        task = progress.add_task("upload", total=len(files))
        futures = {pool.submit(client.upload, path): path for path in files}
        for future in as_completed(futures):
            path = futures[future]
            try:
                body = future.result()
                results.append({"file": str(path), "id": body["id"], "status": body["status"], "new": body["new"]})
            except CancelledError:
                results.append({"file": str(path), "error": "not sent: the API could not be reached"})
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                results.append({"file": str(path), "error": f"cannot reach {args.api}: {exc}"})
                if unreachable is None:  # the others would only wait out the same failure, one by one
                    unreachable = exc
                    for other in futures:
                        other.cancel()
            except (ApiError, httpx.HTTPError, OSError) as exc:
                results.append({"file": str(path), "error": str(exc)})
            progress.advance(task)
    failed = [r for r in results if "error" in r]
    _report_uploads(sorted(results, key=lambda result: str(result["file"])), as_json=args.json)
    if unreachable is not None:
        print(f"tagging: cannot reach {args.api}: {unreachable}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return EXIT_FAILED if failed else 0


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
    not_found: dict[str, str] = {}
    while pending:
        for image_id in list(pending):
            try:
                image = client.show(image_id)
            except ApiError as exc:
                # This id can never be tagged (unknown, or not an id at all); anything else concerns every id.
                if exc.status not in (400, 404):
                    raise
                not_found[image_id] = exc.message
                pending.remove(image_id)
                continue
            if image["status"] != "pending":
                final[image_id] = image
                pending.remove(image_id)
        left = deadline - time.monotonic()
        if not pending or left <= 0:
            break
        time.sleep(min(args.interval, left))
    if args.json:
        outcome = {"done": list(final.values()), "still_pending": pending, "not_found": list(not_found)}
        print(json.dumps(outcome, indent=2))
    else:
        for image_id, image in final.items():
            print(f"{image_id}  {image['status']}" + (f"  ({image['error']})" if image.get("error") else ""))
        for image_id, reason in not_found.items():
            print(f"{image_id}  not found: {reason}", file=sys.stderr)
        for image_id in pending:
            print(f"{image_id}  still pending after {args.timeout:g}s", file=sys.stderr)
    unfinished = pending or not_found or any(image["status"] != "done" for image in final.values())
    return EXIT_FAILED if unfinished else 0


def cmd_smoke(client: Client, args: argparse.Namespace) -> int:
    result = smoke.run(client, timeout=args.timeout, as_json=args.json)
    if result.unreachable:
        return EXIT_UNREACHABLE
    return 0 if all(step.passed for step in result.steps) else EXIT_FAILED


# -- arguments ----------------------------------------------------------------------------------------------


def _positive(kind: Callable[[str], float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not more than 0")
        return value

    return parse


def _api_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(
            f"{text!r} (--api or TAGGING_API) is not a URL: start it with http:// or https://"
        )
    return text


def _connection_options(parser: argparse.ArgumentParser, *, with_defaults: bool) -> None:
    """The options every command shares, accepted before or after the command's name.

    Only the root parser holds their defaults; a command's copies have none (SUPPRESS), so a value given before
    the command's name is not reset by the command's parser, and one given after it wins.
    """

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    env = os.environ
    options = parser.add_argument_group("connection and output (before or after the command)")
    options.add_argument("--api", type=_api_url, default=default(env.get("TAGGING_API") or DEFAULT_API),
                         help=f"API base URL [$TAGGING_API, else {DEFAULT_API}]")  # fmt: skip
    options.add_argument("--user", default=default(env.get("TAGGING_USER") or None),
                         help="caller identity header, for local use [$TAGGING_USER]")  # fmt: skip
    options.add_argument("--key", default=default(env.get("TAGGING_KEY") or None),
                         help="function key, sent as x-functions-key [$TAGGING_KEY]")  # fmt: skip
    options.add_argument("--token", default=default(env.get("TAGGING_TOKEN") or None),
                         help=f"Entra ID access token for App Service Authentication, sent as Authorization: Bearer; "
                              f"replaces --user [$TAGGING_TOKEN] (get one: {TOKEN_HELP})")  # fmt: skip
    options.add_argument("--json", action="store_true", default=default(False), help="print JSON for scripts")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="tagging", description="Upload images, search them by tag, and more.")
    _connection_options(root, with_defaults=True)
    commands = root.add_subparsers(dest="command", required=True)

    def command(name: str, run: Callable[[Client, argparse.Namespace], int], summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary)
        _connection_options(sub, with_defaults=False)
        sub.set_defaults(run=run)
        return sub

    upload = command("upload", cmd_upload, "upload image files or folders")
    upload.add_argument("paths", nargs="+")
    upload.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    upload.add_argument("--concurrency", "-c", type=_positive(int), default=4, help="parallel uploads [4]")

    show = command("show", cmd_show, "one image with its tags")
    show.add_argument("id")

    search = command("search", cmd_search, "images carrying all the tags (all images without tags)")
    search.add_argument("tags", nargs="*")
    search.add_argument("--limit", type=_positive(int), help="stop after this many")

    command("tags", cmd_tags, "your tags with their image counts")

    delete = command("delete", cmd_delete, "delete an image")
    delete.add_argument("id")

    wait = command("wait", cmd_wait, "wait until images are tagged; unknown ids are reported, not waited for")
    wait.add_argument("ids", nargs="+")
    wait.add_argument("--timeout", type=_positive(float), default=120.0, help="give up after this many seconds [120]")
    wait.add_argument("--interval", type=_positive(float), default=0.5, help="seconds between checks [0.5]")

    smoke = command("smoke", cmd_smoke, "check a running system end to end with one generated image, then delete it")
    smoke.add_argument("--timeout", type=_positive(float), default=120.0, help="seconds to wait for tagging [120]")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    token = (args.token or "").strip() or None
    if token and args.user:
        print("tagging: --user is ignored with --token: the platform takes the caller from the token", file=sys.stderr)
    client = Client(args.api, user=args.user, key=args.key, token=token)
    try:
        code: int = args.run(client, args)
        return code
    except ApiError as exc:
        print(f"tagging: {exc.message} ({exc.status} {exc.code})", file=sys.stderr)
        if exc.status == 401 and exc.code == "http_error":  # refused by the platform, before the app
            print(_sign_in_hint(token), file=sys.stderr)
        return EXIT_FAILED
    except httpx.HTTPError as exc:
        print(f"tagging: cannot reach {args.api}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    finally:
        client.close()


def _sign_in_hint(token: str | None) -> str:
    if token:
        return f"tagging: the token was refused; it may have expired. Get a new one: {TOKEN_HELP}"
    return (
        "tagging: the API wants credentials: a function key (--key or TAGGING_KEY) and, behind App Service "
        f"Authentication, an access token (--token or TAGGING_TOKEN; get one: {TOKEN_HELP})"
    )
