"""What the command-line client prints: the lines for images, tags and errors, and the upload progress display."""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from tagging_client.api import TOKEN_HELP, ApiError

if TYPE_CHECKING:
    from rich.progress import Progress

# A search that found nothing suggests at most this many tag names: those scoring at least get_close_matches'
# default cutoff, and not far below the closest one.
SUGGESTIONS, CLOSE_ENOUGH, NEAR_THE_BEST = 4, 0.6, 0.1


def emit(output: str | list[str] | bytes) -> None:
    """Write a command's output to stdout once its work is done. A reader that stops reading (`| head -1`) had what
    it wanted: as the Python docs advise (signal module, "Note on SIGPIPE"), stdout then points at devnull, so that
    no later write nor the interpreter's last flush fails again, and the command ends with its own status."""
    if output == []:
        return
    try:
        if isinstance(output, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(output)
        else:
            print("\n".join(output) if isinstance(output, list) else output)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


def silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # a stdout with no file descriptor of its own (captured, in tests)
        pass


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def error_text(exc: ApiError) -> str:
    """The API's message with its status and code, and for a 429 the pause it asked for."""
    detail = f"{exc.status} {exc.code}"
    if exc.status == 429 and exc.retry_after is not None:
        detail += f", Retry-After {exc.retry_after:.0f} s"
    return f"{exc.message} ({detail})"


def image_lines(image: dict[str, Any]) -> list[str]:
    """`show`: a heading (id, status, size and format when known, file name), the tags, and why it failed."""
    heading = [image["id"], image["status"]]
    width, height, form = image.get("width"), image.get("height"), image.get("format")
    size = f"{width}x{height}" if width and height else ""
    if size or form:
        heading.append(" ".join(part for part in (size, form) if part))
    if image.get("filename"):
        heading.append(image["filename"])
    lines = ["  ".join(heading)]
    lines += [f"  {tag['name']:<40} {tag['confidence']:.2f}  {tag['source']}" for tag in image.get("tags") or []]
    if image.get("error"):
        lines.append(f"  error: {image['error']}")
    elif image["status"] == "pending":
        lines.append(f"  not tagged yet: `tagging wait {image['id']}` waits until it is")
    return lines


def search_row(item: dict[str, Any]) -> str:
    names = ", ".join(tag["name"] for tag in item.get("tags") or [])
    # Rows indexed before listings carried file names have none.
    filename = item.get("filename") or "-"
    return f"{item['id']}  {item['status']:<7} {item['uploaded_at']}  {filename}  {names}"


def similar_row(item: dict[str, Any]) -> str:
    return f"{item['id']}  {item['distance']:>2} bits  {item['uploaded_at']}  {item.get('filename') or '-'}"


def group_lines(group: dict[str, Any]) -> list[str]:
    """`duplicates`: the newest image of a group, then the older ones near it, indented."""
    image = group["image"]
    heading = f"{image['id']}  {image['uploaded_at']}  {image.get('filename') or '-'}"
    return [heading, *(f"  {similar_row(item)}" for item in group["similar"])]


def upload_line(result: dict[str, Any]) -> str:
    again = "" if result["new"] else " (uploaded before)"
    return f"{result['id']}  {result['status']}{again}  {result['file']}"


def close_tags(wanted: str, names: Iterable[str]) -> list[str]:
    """The tag names most like `wanted`, as difflib's get_close_matches scores them: as a whole (`color:red` for
    `colr:red`) or by the part after the colon (`color:green` for `green`, `gren` or `colour:green`). Only the
    closest few: one much further than the best match would only be noise."""
    value = wanted.rpartition(":")[2]
    scores = {}
    for name in dict.fromkeys(names):
        whole = difflib.SequenceMatcher(None, wanted, name).ratio()
        part = difflib.SequenceMatcher(None, value, name.rpartition(":")[2]).ratio()
        scores[name] = max(whole, part)
    scores.pop(wanted, None)
    best = max(scores.values(), default=0.0)
    close = [name for name, score in scores.items() if score >= max(CLOSE_ENOUGH, best - NEAR_THE_BEST)]
    return sorted(close, key=lambda name: -scores[name])[:SUGGESTIONS]


class UploadDisplay:
    """A progress bar on stderr when it is a terminal, and a line on stdout for each image as its upload ends.

    When stdout is the same terminal, a line goes through the bar's console, so that it lands above the bar instead
    of through it; anywhere else (a file, a pipe) it is written to stdout itself, flushed at once.
    """

    def __init__(self, total: int, *, lines: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._lines = lines
        on_terminal = sys.stderr.isatty()
        self._progress: Progress = Progress(
            TextColumn("[bold]Uploading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), disable=not on_terminal, transient=False,
            # Rich would otherwise swap sys.stdout for its own console, which writes to stderr.
            redirect_stdout=False, redirect_stderr=False,
        )  # fmt: skip
        self._through_bar = on_terminal and sys.stdout.isatty()
        self._task = self._progress.add_task("upload", total=total)

    def __enter__(self) -> UploadDisplay:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()

    def uploaded(self, line: str) -> None:
        self._progress.advance(self._task)
        if self._lines:
            if self._through_bar:
                self._print_above(line)
            else:
                print(line, flush=True)

    def failed(self, line: str) -> None:
        self._progress.advance(self._task)
        if self._lines:
            if self._progress.disable:
                print(line, file=sys.stderr, flush=True)
            else:
                self._print_above(line)

    def _print_above(self, line: str) -> None:
        self._progress.console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)


class Outcomes:
    """A command acting on several images or tags: a line for each as it is done (stdout) or refused (stderr), or
    all of them as one JSON list at the end; exit status 1 if any was refused."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.entries: list[dict[str, Any]] = []
        self.refusals = 0

    def done(self, entry: dict[str, Any], line: str) -> None:
        self.entries.append(entry)
        if not self.as_json:
            print(line, flush=True)

    def refused(self, entry: dict[str, Any], subject: str, exc: ApiError) -> None:
        self.refusals += 1
        extra = {"retry_after": exc.retry_after} if exc.retry_after is not None else {}
        self.entries.append({**entry, "error": exc.message, "code": exc.code, **extra})
        if not self.as_json:
            print(f"tagging: {subject}: {error_text(exc)}", file=sys.stderr, flush=True)

    def finish(self) -> int:
        if self.as_json:
            emit(json.dumps(self.entries, indent=2))
        return 1 if self.refusals else 0


def selection_notes(bad: dict[str, str], not_images: list[Path], hints: list[str], *, empty: bool) -> list[str]:
    """What `upload` says about the paths it was given before it sends anything."""
    lines = [f"tagging: {raw}: {why}" for raw, why in bad.items()]
    if not_images:
        names = ", ".join(path.name for path in not_images[:3]) + (", ..." if len(not_images) > 3 else "")
        lines.append(f"tagging: skipped {len(not_images)} file(s) not named like images ({names})")
    lines += [f"tagging: {hint}" for hint in hints]
    if empty and not bad:
        # After a hint about subfolders, "nothing to send" is what is true, not "no images".
        lines.append("tagging: nothing sent" if hints else "tagging: no image files found")
    return lines


def upload_report(results: list[dict[str, Any]], unsent: list[dict[str, Any]], *, as_json: bool) -> None:
    """After the uploads: every file's outcome as JSON, or the counts (each image had its line as it ended)."""
    if as_json:
        emit(json.dumps(sorted(results + unsent, key=lambda result: str(result["file"])), indent=2))
        return
    failed = sum(1 for result in results if "error" in result)
    summary = f"{len(results) - failed} uploaded, {failed} failed"
    print(summary + (f", {len(unsent)} not sent" if unsent else ""))


def no_match_lines(tags: Sequence[str], known: list[str] | None) -> list[str]:
    """Why a search found nothing: the tags no image of the caller's carries (`known` being the caller's tags, if
    they could be read), each with the caller's tags that are close to it."""
    if not tags:
        return ["tagging: no tagged images yet (`tagging upload` sends some; they are listed once tagged)"]
    wanted = list(dict.fromkeys(tag.strip().lower() for tag in tags))  # as the API compares them
    unknown = wanted if known is None else [tag for tag in wanted if tag not in known]
    lines = []
    for tag in unknown:
        close = close_tags(tag, known or [])
        lines.append(f"tagging: no images with tag {tag}" + (f"; did you mean {' or '.join(close)}?" if close else ""))
    return lines or [f"tagging: no image has all of {', '.join(wanted)} (each is on some image)"]


def wait_report(
    final: dict[str, dict[str, Any]], not_found: dict[str, str], pending: list[str], *, timeout: float, as_json: bool
) -> None:
    if as_json:
        outcome = {"done": list(final.values()), "still_pending": pending, "not_found": list(not_found)}
        emit(json.dumps(outcome, indent=2))
        return
    emit([f"{image_id}  {image['status']}" + (f"  ({image['error']})" if image.get("error") else "")
          for image_id, image in final.items()])  # fmt: skip
    for image_id, reason in not_found.items():
        print(f"{image_id}  not found: {reason}", file=sys.stderr)
    for image_id in pending:
        print(f"{image_id}  still pending after {timeout:g}s", file=sys.stderr)


def refusal_lines(exc: ApiError, *, anonymous: bool, token: str | None) -> list[str]:
    """What a refusal that stops a command says; `anonymous`: a 401 for a caller who gave no user nor token."""
    if anonymous:
        return [
            "tagging: no user given, and the API wants one: name yourself with --user NAME or TAGGING_USER=NAME; "
            "in Azure, pass the function key with --key or TAGGING_KEY and an access token with --token or "
            f"TAGGING_TOKEN (get one: {TOKEN_HELP})"
        ]
    lines = [f"tagging: {error_text(exc)}"]
    if exc.status == 401 and exc.code == "http_error":  # refused by the platform, before the app
        if token:
            lines.append(f"tagging: the token was refused; it may have expired. Get a new one: {TOKEN_HELP}")
        else:
            lines.append(
                "tagging: the API wants credentials: a function key (--key or TAGGING_KEY) and, behind App Service "
                f"Authentication, an access token (--token or TAGGING_TOKEN; get one: {TOKEN_HELP})"
            )
    return lines


def unreachable_line(exc: Exception, api: str) -> str:
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return (
            f"tagging: cannot reach {api}: {exc}. Is the API running there? (`make run` starts it locally; --api or "
            "TAGGING_API names another)"
        )
    return f"tagging: no answer from {api}: {exc or type(exc).__name__}"
