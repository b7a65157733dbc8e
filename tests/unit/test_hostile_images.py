"""Broken and hostile files: each ends in a domain error with a reason, never another exception."""

from __future__ import annotations

import random

import pytest

from tagging.analysis import analyse, probe
from tagging.errors import ImageTooLargeError, InvalidImageError, TaggingError, UnsupportedMediaError
from tagging.model import Analysis
from tests.images import image_bytes, noisy_jpeg, png_header_claiming, save, scene

LIMIT = 100_000_000
FORMATS = ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF"]


def mutations(data: bytes, seed: int, count: int = 60) -> list[bytes]:
    """Random byte flips, truncations and splices of a valid file: the classic cheap fuzz corpus."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        mutated = bytearray(data)
        kind = rng.choice(("flip", "truncate", "splice"))
        if kind == "flip":
            for _ in range(rng.randint(1, 16)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        elif kind == "truncate":
            mutated = mutated[: rng.randrange(1, len(mutated))]
        else:
            at = rng.randrange(len(mutated))
            mutated[at:at] = rng.randbytes(rng.randint(1, 64))
        out.append(bytes(mutated))
    return out


def outcome_of(data: bytes) -> Analysis | TaggingError:
    """The analysis, or the domain error it ends in; any other exception escapes and fails the test."""
    try:
        return analyse(data, LIMIT)
    except TaggingError as exc:
        return exc


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_files_fail_cleanly_or_decode(fmt: str) -> None:
    """Each mutation is tagged as what it still is, or refused with the error its damage calls for: damaged
    (InvalidImageError) while the format's signature survives, not an image (UnsupportedMediaError) only once it is
    gone, or too large when a flipped header claims more pixels. Anything else escapes and fails the test."""
    original = save(scene((120, 90)), fmt) if fmt != "GIF" else image_bytes("GIF", (120, 90))
    expected_format = analyse(original, LIMIT).format
    signature = original[:4]
    failures = 0
    for data in mutations(original, seed=sum(fmt.encode())):
        outcome = outcome_of(data)
        if isinstance(outcome, UnsupportedMediaError):
            assert not data.startswith(signature), f"a {fmt} with its signature intact called unsupported: {outcome}"
        elif isinstance(outcome, (InvalidImageError, ImageTooLargeError)):
            assert str(outcome), "every refusal says why"
        else:
            assert isinstance(outcome, Analysis), f"unexpected {outcome!r}"
            assert outcome.format == expected_format
            assert outcome.width * outcome.height <= LIMIT
        failures += not isinstance(outcome, Analysis)
    assert failures > 0, "no mutation was refused: the corpus tests nothing"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        b"\xff\xd8\xff",  # a JPEG start and nothing else
        b"\x89PNG\r\n\x1a\n",  # a PNG signature and nothing else
        b"GIF89a" + b"\xff" * 7,
        noisy_jpeg()[:200] + random.Random(1).randbytes(5000),  # random bytes after a valid JPEG header
        png_header_claiming(1, 1),
        png_header_claiming(0, 10),
    ],
)
def test_degenerate_files_fail_with_a_reason(data: bytes) -> None:
    with pytest.raises(TaggingError) as raised:
        analyse(data, LIMIT)
    assert str(raised.value)


def test_a_lying_extension_or_content_type_changes_nothing() -> None:
    # Types come from the bytes: a PNG is a PNG whatever it was called.
    assert probe(image_bytes("PNG"), LIMIT).content_type == "image/png"
