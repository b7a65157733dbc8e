"""`tagging smoke`: the whole life of one generated image against a running system, step by step.

Meant for any deployment, right after `azd up` as much as against `make run`: it uses the API as a client does and
leaves nothing behind (the image is deleted at the end, and on a failure as far as the API allows).
"""

from __future__ import annotations

import json
import struct
import sys
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tagging_client.api import ApiError, Client

# Tags the built-in analysis gives any PNG wider than tall: what the smoke image must come back with.
EXPECTED_TAGS = ("format:png", "orientation:landscape")
# Search pages read before giving up on finding the new image (it is the newest, so it comes first).
SEARCH_LIMIT = 1000


class SmokeFailure(Exception):
    """A step did not get what a working system answers."""


@dataclass
class Step:
    name: str
    seconds: float
    passed: bool
    detail: str


@dataclass
class Smoke:
    client: Client
    timeout: float = 120.0
    interval: float = 0.5
    print_line: Callable[[str], None] = print
    steps: list[Step] = field(default_factory=list)
    image_id: str | None = None
    deleted: bool = False
    unreachable: bool = False

    def run(self) -> bool:
        nonce = uuid.uuid4().hex[:12]
        data = smoke_png(nonce)
        tag = f"smoke-{nonce}"
        try:
            self._step("upload", lambda: self._upload(data, f"smoke-{nonce}.png"))
            self._step("tagged", self._tagged)
            self._step("search", lambda: self._found_by(EXPECTED_TAGS))
            self._step("thumbnail", self._thumbnail)
            self._step("content", lambda: self._content(data))
            self._step("add tag", lambda: self._add_tag(tag))
            self._step("search by it", lambda: self._found_by([tag]))
            self._step("remove tag", lambda: self._remove_tag(tag))
            self._step("retry", self._retry)
            self._step("tagged again", self._tagged)
            self._step("delete", self._delete)
            self._step("gone", self._gone)
        except SmokeFailure:
            self._clean_up()
            return False
        return True

    # -- steps ---------------------------------------------------------------------------------------------

    def _upload(self, data: bytes, filename: str) -> str:
        answer = self.client.upload_bytes(data, filename)
        self.image_id = str(answer["id"])
        _expect(answer["status"] == "pending", f"a new image should be pending, not {answer['status']!r}")
        return f"{self.image_id} accepted, {len(data):,} bytes"

    def _tagged(self) -> str:
        image = self._settled()
        _expect(image["status"] == "done", f"tagging ended {image['status']!r}: {image.get('error')}")
        names = [tag["name"] for tag in image["tags"]]
        missing = [name for name in EXPECTED_TAGS if name not in names]
        _expect(not missing, f"tags {missing} are missing from {names}")
        return ", ".join(names)

    def _found_by(self, tags: list[str] | tuple[str, ...]) -> str:
        ids = [item["id"] for item in self.client.search(tags, SEARCH_LIMIT)]
        _expect(self.image_id in ids, f"searching {' '.join(tags)} did not find the image ({len(ids)} others)")
        return f"{' '.join(tags)}: found among {len(ids)}"

    def _thumbnail(self) -> str:
        response = self.client.thumbnail(self._id)
        body = response.content
        _expect(body[:4] == b"RIFF" and body[8:12] == b"WEBP", "the thumbnail is not a WebP image")
        return f"{response.headers.get('content-type')}, {len(body):,} bytes"

    def _content(self, data: bytes) -> str:
        response = self.client.content(self._id)
        _expect(response.content == data, f"the content differs from the upload ({len(response.content):,} bytes)")
        return f"the uploaded bytes, {response.headers.get('content-type')}"

    def _add_tag(self, tag: str) -> str:
        image = self.client.tag(self._id, tag)
        _expect(tag in _names(image), f"{tag} is not among the tags after adding it: {_names(image)}")
        return tag

    def _remove_tag(self, tag: str) -> str:
        image = self.client.untag(self._id, tag)
        _expect(tag not in _names(image), f"{tag} is still among the tags after removing it")
        gone = [item["id"] for item in self.client.search([tag], SEARCH_LIMIT)]
        _expect(gone == [], f"searching {tag} still finds {gone}")
        return f"{tag}, and no search finds it"

    def _retry(self) -> str:
        answer = self.client.retry(self._id)
        _expect(answer["status"] == "pending", f"a retried image should be pending, not {answer['status']!r}")
        return "queued again"

    def _delete(self) -> str:
        self.client.delete(self._id)
        self.deleted = True
        return "204"

    def _gone(self) -> str:
        for what, call in (("the image", self.client.show), ("its content", self.client.content),
                           ("its thumbnail", self.client.thumbnail)):  # fmt: skip
            try:
                call(self._id)
            except ApiError as exc:
                _expect(exc.status == 404, f"{what} answered {exc.status}, not 404")
                continue
            raise SmokeFailure(f"{what} is still served after the delete")
        return "image, content and thumbnail answer 404"

    # -- helpers -------------------------------------------------------------------------------------------

    @property
    def _id(self) -> str:
        assert self.image_id is not None, "no image uploaded yet"
        return self.image_id

    def _settled(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            image = self.client.show(self._id)
            if image["status"] != "pending":
                return image
            if time.monotonic() > deadline:
                raise SmokeFailure(f"still pending after {self.timeout:g} s: is the queue worker running?")
            time.sleep(self.interval)

    def _step(self, name: str, action: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            detail, passed = action(), True
        except SmokeFailure as exc:
            detail, passed = str(exc), False
        except ApiError as exc:
            detail, passed = f"the API answered {exc.status} {exc.code}: {exc.message}", False
        except httpx.HTTPError as exc:
            detail, passed = f"no answer: {exc}", False
            self.unreachable = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
        step = Step(name, time.perf_counter() - started, passed, detail)
        self.steps.append(step)
        self.print_line(f"  {'ok' if passed else 'FAIL':<4}  {name:<13} {step.seconds:6.2f} s  {detail}")
        if not passed:
            raise SmokeFailure(detail)

    def _clean_up(self) -> None:
        if self.image_id is None or self.deleted:
            return
        try:
            self.client.delete(self.image_id)
            self.print_line(f"  cleaned up: image {self.image_id} deleted")
        except (ApiError, httpx.HTTPError) as exc:
            self.print_line(f"  could not delete image {self.image_id} ({exc}): delete it by hand")


def _expect(condition: bool, failure: str) -> None:
    if not condition:
        raise SmokeFailure(failure)


def _names(image: dict[str, Any]) -> list[str]:
    return [tag["name"] for tag in image.get("tags", [])]


def smoke_png(nonce: str, size: tuple[int, int] = (96, 64)) -> bytes:
    """A small landscape PNG, unique through a text chunk (so each run is a new image, never "uploaded before"),
    written by hand so that the client needs no imaging library."""
    width, height = size
    rows = b"".join(b"\x00" + b"".join(bytes((40 + x, 90 + y, 200)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"Comment\x00tagging smoke " + nonce.encode("ascii"))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def run(client: Client, *, timeout: float, as_json: bool) -> Smoke:
    """Run every step, printing each as it ends (on stderr with --json, which prints the steps at the end)."""

    def progress(line: str) -> None:
        print(line, file=sys.stderr if as_json else sys.stdout, flush=True)

    progress(f"smoke test of {client.api}")
    smoke = Smoke(client, timeout=timeout, print_line=progress)
    started = time.perf_counter()
    passed = smoke.run()
    total = time.perf_counter() - started
    if as_json:
        steps = [{**vars(step), "seconds": round(step.seconds, 3)} for step in smoke.steps]
        print(json.dumps({"passed": passed, "seconds": round(total, 3), "steps": steps}, indent=2))
    verdict = f"passed: {len(smoke.steps)} steps" if passed else f"FAILED at '{smoke.steps[-1].name}'"
    progress(f"{verdict} in {total:.2f} s")
    return smoke
