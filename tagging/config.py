"""Names of the storage resources and the settings read from the environment, in one place.

The names are constants because binding decorators need them when `function_app.py` is indexed; Bicep in
`infra/` provisions exactly these (a contract test holds the two together).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

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
# Azure AI Vision tagging is on when an endpoint is set; without a key it signs in with the app's identity.
VISION_ENDPOINT_SETTING = "AZURE_VISION_ENDPOINT"
VISION_KEY_SETTING = "AZURE_VISION_KEY"
VISION_CLIENT_ID_SETTING = "AZURE_VISION_CLIENT_ID"

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 100_000_000


@dataclass(frozen=True)
class Settings:
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    vision_endpoint: str | None = None
    vision_key: str | None = field(default=None, repr=False)
    vision_client_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            max_upload_bytes=_positive_int(env, MAX_UPLOAD_BYTES_SETTING, DEFAULT_MAX_UPLOAD_BYTES),
            max_pixels=_positive_int(env, MAX_PIXELS_SETTING, DEFAULT_MAX_PIXELS),
            vision_endpoint=env.get(VISION_ENDPOINT_SETTING, "").strip() or None,
            vision_key=env.get(VISION_KEY_SETTING, "").strip() or None,
            vision_client_id=env.get(VISION_CLIENT_ID_SETTING, "").strip() or None,
        )


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
