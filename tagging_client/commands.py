"""The commands of `tagging`, one function per thing the API does: each takes the client and the parsed arguments
and returns the exit status (tagging_client.cli parses the arguments and runs them)."""

from __future__ import annotations

import argparse
import itertools
import json
import mimetypes
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import httpx

from tagging_client import smoke
from tagging_client.api import ApiError, Client
from tagging_client.output import (
    Outcomes,
    UploadDisplay,
    emit,
    group_lines,
    image_lines,
    no_match_lines,
    plural,
    refusal_lines,
    search_row,
    selection_notes,
    similar_row,
    unreachable_line,
    upload_line,
    upload_report,
    wait_report,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".heif"}
# Exit codes: 1 when the API refused something, an image failed or a search found nothing; 2 when the API could not
# be reached, or refused a caller who gave no user (nothing can work until they give one).
EXIT_FAILED, EXIT_UNREACHABLE, EXIT_NO_CALLER = 1, 2, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
# What concerns every file and so stops an upload: the caller was refused, or the API cannot be reached at all.
STOPS_UPLOADS = (ApiError, httpx.ConnectError, httpx.ConnectTimeout)


# -- upload -------------------------------------------------------------------------------------------------


@dataclass
class Selection:
    files: list[Path] = field(default_factory=list)
    not_images: list[Path] = field(default_factory=list)  # in folders, not named like images
    bad: dict[str, str] = field(default_factory=dict)  # path as given -> why it is not sent
    hints: list[str] = field(default_factory=list)


def select_files(paths: Sequence[str], recursive: bool) -> Selection:
    """The files to send, each once. A file named on the command line is always sent (the API says whether it is
    an image); from folders, only files named like images."""
    chosen = Selection()
    seen: set[Path] = set()

    def add(file: Path) -> None:
        if file.resolve() not in seen:
            seen.add(file.resolve())
            chosen.files.append(file)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            images = 0
            for file in sorted(p for p in pattern if p.is_file()):
                if _named_like_an_image(file):
                    images += 1
                    add(file)
                else:
                    chosen.not_images.append(file)
            below = 0 if recursive or images else sum(1 for p in path.rglob("*") if _named_like_an_image(p))
            if below:
                chosen.hints.append(f"{raw}: {plural(below, 'image')} in subfolders: use --recursive")
        elif path.is_file():
            add(path)
        else:
            chosen.bad[raw] = "not a file or folder" if path.exists() else "no such file or folder"
    return chosen


def _named_like_an_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def _upload_one(client: Client, path: Path) -> dict[str, Any]:
    """One file's outcome; raises what concerns every file instead (a 401, no connection at all)."""
    try:
        body = client.upload(path)
    except ApiError as exc:
        if exc.status == 401:
            raise
        return {"file": str(path), "error": str(exc)}
    except (httpx.ConnectError, httpx.ConnectTimeout):
        raise
    except httpx.HTTPError as exc:
        return {"file": str(path), "error": f"no answer: {exc}"}
    except OSError as exc:
        return {"file": str(path), "error": f"cannot read it: {exc.strerror or exc}"}
    return {"file": str(path), "id": body["id"], "status": body["status"], "new": body["new"]}


def _upload_all(
    client: Client, files: list[Path], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[Path], Exception | None]:
    """Each file's outcome as its upload ends (shown at once), the files not sent, and what stopped the rest."""
    results: list[dict[str, Any]] = []
    not_sent: list[Path] = []
    stopped: Exception | None = None
    with UploadDisplay(len(files), lines=not args.json) as display:

        def finished(result: dict[str, Any]) -> None:
            results.append(result)
            if "error" in result:
                display.failed(f"failed  {result['file']}: {result['error']}")
            else:
                display.uploaded(upload_line(result))

        # The first file goes alone: a refusal that concerns every file shows there, before any other is sent.
        try:
            finished(_upload_one(client, files[0]))
        except STOPS_UPLOADS as exc:
            return results, files[1:], exc
        pool = ThreadPoolExecutor(max_workers=args.concurrency)
        try:
            futures = {pool.submit(_upload_one, client, path): path for path in files[1:]}
            for future in as_completed(futures):
                if future.cancelled():
                    not_sent.append(futures[future])
                    continue
                try:
                    finished(future.result())
                except STOPS_UPLOADS as exc:
                    results.append({"file": str(futures[future]), "error": _why(exc)})
                    if stopped is None:  # the others would only meet the same answer, one by one
                        stopped = exc
                        for other in futures:
                            other.cancel()
        finally:
            pool.shutdown(cancel_futures=True)
    return results, not_sent, stopped


def cmd_upload(client: Client, args: argparse.Namespace) -> int:
    chosen = select_files(args.paths, args.recursive)
    for line in selection_notes(chosen.bad, chosen.not_images, chosen.hints, empty=not chosen.files):
        print(line, file=sys.stderr)
    if not chosen.files:
        return EXIT_FAILED
    results, not_sent, stopped = _upload_all(client, chosen.files, args)
    if stopped is not None and not results:
        raise stopped  # on the first file: said once, as for any other command
    results += [{"file": raw, "error": why} for raw, why in chosen.bad.items()]
    unsent = [{"file": str(path), "error": f"not sent: {_why(stopped)}"} for path in not_sent]
    upload_report(results, unsent, as_json=args.json)
    if stopped is not None:
        return report(stopped, args)
    return EXIT_FAILED if any("error" in result for result in results) else 0


def _why(exc: Exception | None) -> str:
    if isinstance(exc, ApiError):
        return f"the API refused the caller: {exc.message}"
    return "the API could not be reached"


# -- reading ------------------------------------------------------------------------------------------------


def cmd_show(client: Client, args: argparse.Namespace) -> int:
    image = client.show(args.id)
    emit(json.dumps(image, indent=2) if args.json else image_lines(image))
    return 0


def cmd_search(client: Client, args: argparse.Namespace) -> int:
    items = list(client.search(args.tags, args.limit))
    emit(json.dumps(items, indent=2) if args.json else [search_row(item) for item in items])
    if not items:
        for line in _no_match(client, args.tags):
            print(line, file=sys.stderr)
        return EXIT_FAILED
    if not args.json:
        print(plural(len(items), "image"), file=sys.stderr)
    return 0


def _no_match(client: Client, tags: Sequence[str]) -> list[str]:
    if not tags:
        return no_match_lines([], [])
    try:
        known = [tag["name"] for tag in client.tags() if tag.get("count", 1) > 0]
    except (ApiError, httpx.HTTPError):
        known = None  # the empty search said enough; suggestions are a bonus
    return no_match_lines(tags, known)


def cmd_similar(client: Client, args: argparse.Namespace) -> int:
    found = client.similar(args.id, args.max_distance, args.limit)
    emit(json.dumps(found, indent=2) if args.json else [similar_row(item) for item in found["items"]])
    if not found["items"]:
        print(f"tagging: no image of yours within {found.get('max_distance')} bits of {args.id}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def cmd_duplicates(client: Client, args: argparse.Namespace) -> int:
    groups = list(itertools.islice(client.duplicates(), args.limit))
    emit(json.dumps(groups, indent=2) if args.json else [line for group in groups for line in group_lines(group)])
    if not groups:
        print("tagging: none of your images has a near duplicate", file=sys.stderr)
        return EXIT_FAILED
    return 0


def cmd_tags(client: Client, args: argparse.Namespace) -> int:
    tags = client.tags()
    if args.json:
        emit(json.dumps(tags, indent=2))
    elif not tags:
        print("tagging: no tags yet: `tagging upload` sends images to tag", file=sys.stderr)
    else:
        emit([f"{tag['count']:>6}  {tag['name']}" for tag in tags])
    return 0


def cmd_download(client: Client, args: argparse.Namespace) -> int:
    image = client.show(args.id)
    filename = PurePath(str(image.get("filename") or "")).name
    if filename in ("", ".", ".."):
        filename = f"{image['id']}{mimetypes.guess_extension(image.get('content_type') or '') or ''}"
    return _save(args, filename, lambda: client.content(args.id).content)


def cmd_link(client: Client, args: argparse.Namespace) -> int:
    url = client.link(args.id)
    emit(json.dumps({"id": args.id, "url": url}) if args.json else url)
    return 0


def cmd_thumbnail(client: Client, args: argparse.Namespace) -> int:
    return _save(args, f"{args.id}.webp", lambda: client.thumbnail(args.id).content)


def _save(args: argparse.Namespace, default: str, fetch: Callable[[], bytes]) -> int:
    """Write the bytes to -o (a file or folder; `-` is stdout), else to `default`, never over a file unless told."""
    if args.output == "-":
        emit(fetch())
        return 0
    target = Path(args.output or default)
    if target.is_dir():
        target /= default
    if target.exists() and not args.force:
        print(f"tagging: {target} exists: name another with -o, or replace it with --force", file=sys.stderr)
        return EXIT_FAILED
    data = fetch()
    try:
        target.write_bytes(data)
    except OSError as exc:
        print(f"tagging: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    saved = {"id": args.id, "file": str(target), "bytes": len(data)}
    emit(json.dumps(saved) if args.json else f"{args.id}  saved {target} ({len(data):,} bytes)")
    return 0


# -- changing -----------------------------------------------------------------------------------------------


def _concerns_one(exc: ApiError) -> bool:
    """A refusal about one image or one tag name; anything else (401, storage down) concerns the whole command."""
    return exc.status in (400, 404, 409) or exc.code == "retry_too_soon"


def cmd_tag(client: Client, args: argparse.Namespace) -> int:
    return _change_tags(args, client.tag, "added")


def cmd_untag(client: Client, args: argparse.Namespace) -> int:
    return _change_tags(args, client.untag, "removed")


def _change_tags(args: argparse.Namespace, change: Callable[[str, str], object], verb: str) -> int:
    outcomes = Outcomes(as_json=args.json)
    for name in dict.fromkeys(args.names):
        try:
            change(args.id, name)
        except ApiError as exc:
            if not _concerns_one(exc):
                raise
            outcomes.refused({"id": args.id, "tag": name}, f"{args.id} {name}", exc)
            if exc.status == 400 and exc.code != "invalid_id":
                continue  # this name is wrong: the others may be right
            break  # the image is unknown or not tagged yet: every name would be refused alike
        outcomes.done({"id": args.id, "tag": name, verb: True}, f"{args.id}  {verb} {name}")
    return outcomes.finish()


def cmd_retry(client: Client, args: argparse.Namespace) -> int:
    def retry(image_id: str) -> dict[str, Any]:
        return {"id": image_id, "status": client.retry(image_id, wait_if_too_soon=False)["status"]}

    return _each_image(args, retry, lambda done: f"{done['id']}  {done['status']}: tagging again")


def cmd_delete(client: Client, args: argparse.Namespace) -> int:
    def delete(image_id: str) -> dict[str, Any]:
        client.delete(image_id)
        return {"id": image_id, "deleted": True}

    return _each_image(args, delete, lambda done: f"deleted {done['id']}")


def _each_image(
    args: argparse.Namespace, act: Callable[[str], dict[str, Any]], line: Callable[[dict[str, Any]], str]
) -> int:
    """Act on each id in turn: one refused (unknown, not ready, too soon) is reported and the others go on."""
    outcomes = Outcomes(as_json=args.json)
    for image_id in dict.fromkeys(args.ids):
        try:
            done = act(image_id)
        except ApiError as exc:
            if not _concerns_one(exc):
                raise
            outcomes.refused({"id": image_id}, image_id, exc)
            continue
        outcomes.done(done, line(done))
    return outcomes.finish()


# -- waiting and checking -----------------------------------------------------------------------------------


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
    wait_report(final, not_found, pending, timeout=args.timeout, as_json=args.json)
    unfinished = pending or not_found or any(image["status"] != "done" for image in final.values())
    return EXIT_FAILED if unfinished else 0


def cmd_smoke(client: Client, args: argparse.Namespace) -> int:
    result = smoke.run(client, timeout=args.timeout, as_json=args.json)
    if result.unreachable:
        return EXIT_UNREACHABLE
    return 0 if all(step.passed for step in result.steps) else EXIT_FAILED


def report(exc: Exception, args: argparse.Namespace) -> int:
    """Say what stopped a command, with what to do about it; the exit status it means."""
    if isinstance(exc, ApiError):
        anonymous = exc.status == 401 and not args.user and not args.token
        for line in refusal_lines(exc, anonymous=anonymous, token=args.token):
            print(line, file=sys.stderr)
        return EXIT_NO_CALLER if anonymous else EXIT_FAILED
    print(unreachable_line(exc, args.api), file=sys.stderr)
    return EXIT_UNREACHABLE
