"""Who the caller is and how users and images are named in storage keys.

Table keys forbid `/ \\ # ?` and control characters and blob names are paths, so raw user input never
becomes a key: a user id made of a few plain characters is kept readable, anything else is base64url
encoded behind a `~` (a character the readable form never contains, so two users never share a key).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from tagging.errors import InvalidImageIdError, UnauthenticatedError

# What App Service Authentication sets after signing a caller in; clients cannot forge it there.
PRINCIPAL_HEADER = "x-ms-client-principal-id"

MAX_USER_ID_BYTES = 256

_READABLE_USER = re.compile(r"[A-Za-z0-9._@-]{1,128}")
_IMAGE_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Caller:
    id: str
    key: str


def caller(user_id: str | None) -> Caller:
    """The authenticated caller; raises UnauthenticatedError when the request names none."""
    return Caller(id=user_id or "", key=user_key(user_id))


def user_key(user_id: str | None) -> str:
    """The storage key for a caller's principal id; raises UnauthenticatedError when there is none."""
    if user_id is None or not user_id.strip():
        raise UnauthenticatedError(
            f"Sign in first: the request carries no caller identity ({PRINCIPAL_HEADER} header)."
        )
    if len(user_id.encode("utf-8")) > MAX_USER_ID_BYTES:
        raise UnauthenticatedError(
            f"The caller identity is longer than {MAX_USER_ID_BYTES} bytes and cannot be a principal id."
        )
    # Blob names are URL paths: a name part of dots, or ending in one, is resolved away or refused on the way.
    if _READABLE_USER.fullmatch(user_id) and not user_id.endswith("."):
        return user_id
    encoded = base64.urlsafe_b64encode(user_id.encode("utf-8")).decode("ascii").rstrip("=")
    return f"~{encoded}"


def image_id_for(key: str, sha256: str) -> str:
    """Same bytes from the same user give the same id; ids of two users never reveal a shared photo."""
    return hashlib.sha256(f"{key}\n{sha256}".encode("ascii")).hexdigest()[:32]


def checked_image_id(text: str | None) -> str:
    if text is None or not _IMAGE_ID.fullmatch(text):
        raise InvalidImageIdError("Image ids are 32 lower-case hexadecimal characters, as returned by the upload.")
    return text
