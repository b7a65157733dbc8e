"""What the camera wrote into EXIF: camera, lens, date and position; unreadable metadata is ignored, never fatal."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from tagging.analysis.opening import DECODE_ERRORS
from tagging.model import PhotoMetadata

logger = logging.getLogger(__name__)

ORIENTATION, _MAKE, _MODEL, _DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL, _LENS_MODEL = 0x9003, 0x9011, 0xA434


def metadata(exif: Image.Exif) -> PhotoMetadata:
    """Camera, lens, date and position from EXIF; unreadable metadata is ignored, never fatal."""
    try:
        details = exif.get_ifd(_EXIF_IFD)
        gps = exif.get_ifd(_GPS_IFD)
        latitude = _degrees(gps.get(2), gps.get(1), "S")
        longitude = _degrees(gps.get(4), gps.get(3), "W")
        taken = _taken_at(details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME), details.get(_OFFSET_TIME_ORIGINAL))
        return PhotoMetadata(
            camera_make=_text(exif.get(_MAKE)),
            camera_model=_text(exif.get(_MODEL)),
            lens=_text(details.get(_LENS_MODEL)),
            taken_at=taken,
            latitude=latitude,
            longitude=longitude,
        )
    except DECODE_ERRORS as exc:
        logger.info("Ignoring unreadable EXIF metadata (%s)", exc)
        return PhotoMetadata()


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    # EXIF strings are C strings: anything after a NUL is padding or garbage.
    cleaned = "".join(ch for ch in value.split("\0", 1)[0] if ch.isprintable()).strip()
    return cleaned[:100] or None


def _taken_at(value: Any, offset: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    try:
        taken = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if not 1826 <= taken.year <= datetime.now(UTC).year + 1:  # the first photograph; clocks set in the future
        return None
    zone = _text(offset)
    return taken.isoformat() + (zone if zone and len(zone) == 6 else "")


def _degrees(value: Any, reference: Any, negative: str) -> float | None:
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    degrees, minutes, seconds = (float(part) for part in value)
    result = degrees + minutes / 60 + seconds / 3600
    if _text(reference) == negative:
        result = -result
    limit = 90 if negative == "S" else 180
    return round(result, 6) if -limit <= result <= limit else None
