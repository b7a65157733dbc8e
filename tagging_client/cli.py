"""`tagging` / `python -m tagging_client`: the command-line client, one command per thing the API does; this
module reads the arguments and runs the command (tagging_client.commands).

httpx and rich are this package's only dependencies: it is installed with `pip install .` and never deployed with
the function app.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from tagging_client.api import DEFAULT_API, TOKEN_HELP, ApiError, Client
from tagging_client.commands import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    cmd_delete,
    cmd_download,
    cmd_duplicates,
    cmd_link,
    cmd_retry,
    cmd_search,
    cmd_show,
    cmd_similar,
    cmd_smoke,
    cmd_tag,
    cmd_tags,
    cmd_thumbnail,
    cmd_untag,
    cmd_upload,
    cmd_wait,
    report,
)
from tagging_client.output import (
    silence_stdout,
)

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
        return report(exc, args)
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
