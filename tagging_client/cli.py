"""`tagging` / `python -m tagging_client`: the command-line client, one command per thing the API does.

httpx and rich are this package's only dependencies: it is installed with `pip install .` and never deployed with
the function app.
"""

from __future__ import annotations

import argparse
import itertools
import json
import mimetypes
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import httpx

from tagging_client import smoke
from tagging_client.api import DEFAULT_API, TOKEN_HELP, ApiError, Client
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
    silence_stdout,
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
        return _report(stopped, args)
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


def _tag_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a tag name cannot be empty")
    return text


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
                         help="who you are, for a local API (make run) [$TAGGING_USER]")  # fmt: skip
    options.add_argument("--key", default=default(env.get("TAGGING_KEY") or None),
                         help="function key in Azure, sent as x-functions-key [$TAGGING_KEY]")  # fmt: skip
    options.add_argument("--token", default=default(env.get("TAGGING_TOKEN") or None),
                         help=f"Entra ID access token for App Service Authentication, sent as Authorization: Bearer; "
                              f"replaces --user [$TAGGING_TOKEN] (get one: {TOKEN_HELP})")  # fmt: skip
    options.add_argument("--json", action="store_true", default=default(False),
                         help="print JSON on stdout, for scripts")  # fmt: skip


DESCRIPTION = """\
Upload images to the image tagging API, find them by their tags, and change
their tags. `tagging COMMAND --help` tells more about each command."""

EPILOG = """\
examples:
  tagging --user alice upload --recursive ~/Pictures
  tagging --user alice search color:blue orientation:portrait
  tagging --user alice tag 5f0c... holiday beach

--api, --user, --key and --token also come from TAGGING_API, TAGGING_USER,
TAGGING_KEY and TAGGING_TOKEN.

exit status: 0 done; 1 the API refused something, an image failed, or a search
found nothing; 2 the API cannot be reached, or it asked who you are and no
--user (or --token) was given."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="tagging",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _connection_options(root, with_defaults=True)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[Client, argparse.Namespace], int], summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")
        _connection_options(sub, with_defaults=False)
        sub.set_defaults(run=run)
        return sub

    upload = command("upload", cmd_upload, "upload image files and folders, printing each image's id as its "
                                           "upload ends (from folders, only files named like images)")  # fmt: skip
    upload.add_argument("paths", nargs="+", metavar="PATH", help="an image file or a folder of them")
    upload.add_argument("--recursive", "-r", action="store_true", help="descend into subfolders")
    upload.add_argument("--concurrency", "-c", type=_positive(int), default=4, help="parallel uploads [4]")

    wait = command(
        "wait", cmd_wait, "wait until images are tagged (or failed); unknown ids are reported, not waited for"
    )
    wait.add_argument("ids", nargs="+", metavar="ID")
    wait.add_argument("--timeout", type=_positive(float), default=120.0, help="give up after this many seconds [120]")
    wait.add_argument("--interval", type=_positive(float), default=0.5, help="seconds between checks [0.5]")

    search = command("search", cmd_search, "your tagged images carrying all the tags, newest first (every image "
                                           "without tags); exits 1 when none does")  # fmt: skip
    search.add_argument("tags", nargs="*", type=_tag_name, metavar="TAG")
    search.add_argument("--limit", type=_positive(int), help="stop after this many")

    similar = command("similar", cmd_similar, "your images that look like this one (near duplicates), nearest "
                                              "first; exits 1 when none does")  # fmt: skip
    similar.add_argument("id", metavar="ID")
    similar.add_argument("--max-distance", type=int, metavar="BITS", help="how many bits their hashes may differ by")
    similar.add_argument("--limit", type=_positive(int), help="stop after this many")

    duplicates = command("duplicates", cmd_duplicates, "every image of yours that has near duplicates, newest first, "
                                                       "each with the older ones near it")  # fmt: skip
    duplicates.add_argument("--limit", type=_positive(int), help="stop after this many groups")

    show = command("show", cmd_show, "one image: its status, size, file name and tags, or why tagging failed")
    show.add_argument("id", metavar="ID")

    command("tags", cmd_tags, "your tags with their image counts, most used first")

    tag = command("tag", cmd_tag, "add tags of your own to an image")
    tag.add_argument("id", metavar="ID")
    tag.add_argument("names", nargs="+", type=_tag_name, metavar="NAME")

    untag = command("untag", cmd_untag, "remove tags from an image (a removed automatic tag stays away on a retry)")
    untag.add_argument("id", metavar="ID")
    untag.add_argument("names", nargs="+", type=_tag_name, metavar="NAME")

    retry = command("retry", cmd_retry, "tag images afresh (a failed one, or one tagged a while ago)")
    retry.add_argument("ids", nargs="+", metavar="ID")

    download = command("download", cmd_download, "save an image's uploaded bytes, under the name it was uploaded with")

    link = command("link", cmd_link, "a link to an image's bytes that works for 5 to 10 minutes, with no other "
                                     "credential (to open in a browser or share)")  # fmt: skip
    link.add_argument("id", metavar="ID")

    thumbnail = command("thumbnail", cmd_thumbnail, "save an image's 256 px WebP thumbnail (as ID.webp)")
    for saving in (download, thumbnail):
        saving.add_argument("id", metavar="ID")
        saving.add_argument("--output", "-o", metavar="FILE", help="file or folder to write ('-' for stdout)")
        saving.add_argument("--force", "-f", action="store_true", help="replace an existing file")

    delete = command("delete", cmd_delete, "delete images, with their thumbnails and tags")
    delete.add_argument("ids", nargs="+", metavar="ID")

    smoke = command("smoke", cmd_smoke, "check a running system end to end with one generated image, then delete it")
    smoke.add_argument("--timeout", type=_positive(float), default=120.0, help="seconds to wait for tagging [120]")
    return root


# -- running ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.token = (args.token or "").strip() or None
    if args.token and args.user:
        print("tagging: --user is ignored with --token: the platform takes the caller from the token", file=sys.stderr)
    client = Client(args.api, user=args.user, key=args.key, token=args.token)
    code: int | None = None
    try:
        code = args.run(client, args)
        sys.stdout.flush()
        return code
    except (ApiError, httpx.HTTPError) as exc:
        return _report(exc, args)
    except BrokenPipeError:
        # The reader stopped reading (`| head -1`) while the command was still at work, printing a line per upload
        # or change: it stops there, cut short (a command that prints once its work is done keeps its status, see
        # output.emit).
        silence_stdout()
        return code if code is not None else EXIT_FAILED
    except KeyboardInterrupt:
        print("tagging: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        client.close()


def _report(exc: Exception, args: argparse.Namespace) -> int:
    """Say what stopped a command, with what to do about it; the exit status it means."""
    if isinstance(exc, ApiError):
        anonymous = exc.status == 401 and not args.user and not args.token
        for line in refusal_lines(exc, anonymous=anonymous, token=args.token):
            print(line, file=sys.stderr)
        return EXIT_NO_CALLER if anonymous else EXIT_FAILED
    print(unreachable_line(exc, args.api), file=sys.stderr)
    return EXIT_UNREACHABLE
