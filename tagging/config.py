"""Names of the storage resources and the settings read from the environment, in one place.

The names are constants because binding decorators need them when `function_app.py` is indexed; Bicep in
`infra/` provisions exactly these (a contract test holds the two together).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# The one named connection behind every binding and every SDK client the code builds. Locally it is a
# connection string; in Azure it is identity-based (`ImageStorage__blobServiceUri`, `__credential`, ...).
CONNECTION = "ImageStorage"

IMAGES_CONTAINER = "images"
THUMBNAILS_CONTAINER = "thumbnails"
JOBS_QUEUE = "image-tagging"
POISON_QUEUE = f"{JOBS_QUEUE}-poison"
RECORDS_TABLE = "ImageTags"

MAX_UPLOAD_BYTES_SETTING = "TAGGING_MAX_UPLOAD_BYTES"
MAX_PIXELS_SETTING = "TAGGING_MAX_PIXELS"
# How long after its last analysis an owner may have an image analysed again: each retry costs a whole analysis.
RETRY_INTERVAL_SETTING = "TAGGING_RETRY_INTERVAL_SECONDS"
# Azure AI Vision tagging is on when an endpoint is set; without a key it signs in with the app's identity.
VISION_ENDPOINT_SETTING = "AZURE_VISION_ENDPOINT"
VISION_KEY_SETTING = "AZURE_VISION_KEY"
VISION_CLIENT_ID_SETTING = "AZURE_VISION_CLIENT_ID"
# The offline taggers, on unless set to false: content tags from the bundled classifier, places from GPS.
CONTENT_TAGS_SETTING = "TAGGING_CONTENT_TAGS"
PLACE_TAGS_SETTING = "TAGGING_PLACE_TAGS"

# Who vouches for the caller header (X-MS-CLIENT-PRINCIPAL-ID): see `caller_source`.
TRUST_IDENTITY_HEADER_SETTING = "TAGGING_TRUST_IDENTITY_HEADER"
CallerSource = Literal["platform", "header", "none"]

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 100_000_000
DEFAULT_RETRY_INTERVAL_SECONDS = 30


@dataclass(frozen=True)
class Settings:
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    retry_interval_seconds: int = DEFAULT_RETRY_INTERVAL_SECONDS
    vision_endpoint: str | None = None
    vision_key: str | None = field(default=None, repr=False)
    vision_client_id: str | None = None
    content_tags: bool = True
    place_tags: bool = True
    callers: CallerSource = "header"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            max_upload_bytes=_positive_int(env, MAX_UPLOAD_BYTES_SETTING, DEFAULT_MAX_UPLOAD_BYTES),
            max_pixels=_positive_int(env, MAX_PIXELS_SETTING, DEFAULT_MAX_PIXELS),
            retry_interval_seconds=_whole_number(env, RETRY_INTERVAL_SETTING, DEFAULT_RETRY_INTERVAL_SECONDS),
            vision_endpoint=env.get(VISION_ENDPOINT_SETTING, "").strip() or None,
            vision_key=env.get(VISION_KEY_SETTING, "").strip() or None,
            vision_client_id=env.get(VISION_CLIENT_ID_SETTING, "").strip() or None,
            content_tags=_flag(env, CONTENT_TAGS_SETTING, default=True),
            place_tags=_flag(env, PLACE_TAGS_SETTING, default=True),
            callers=caller_source(env),
        )


def caller_source(env: Mapping[str, str]) -> CallerSource:
    """Who vouches for the caller header. `platform`: App Service Authentication, which sets it from a validated
    token and replaces anything a client sent (Azure tells the app it is on with WEBSITE_AUTH_ENABLED=True).
    `header`: the deployment's owner, who chose to trust it (TAGGING_TRUST_IDENTITY_HEADER=true: a back end that
    authenticates its users itself), or a machine outside Azure. `none`: an Azure deployment with neither, where
    the header is whatever a caller types, so no caller is accepted."""
    if env.get("WEBSITE_AUTH_ENABLED", "").strip().lower() == "true":
        return "platform"
    trusted = env.get(TRUST_IDENTITY_HEADER_SETTING, "").strip().lower()
    if trusted not in ("", "true", "false"):
        raise ValueError(f"Setting {TRUST_IDENTITY_HEADER_SETTING} must be true or false, got {trusted!r}")
    if trusted == "true":
        return "header"
    # In Azure (App Service sets WEBSITE_SITE_NAME) the header is trusted only when said so; elsewhere it is how a
    # developer names the caller.
    return "none" if trusted == "false" or env.get("WEBSITE_SITE_NAME") else "header"


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ValueError(f"Setting {name} must be true or false, got {raw!r}")
    return raw == "true"


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise ValueError(f"Setting {name} must be a whole number of seconds, got {raw!r}")
    return int(raw)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"Setting {name} must be a positive whole number, got {raw!r}")
    return value
