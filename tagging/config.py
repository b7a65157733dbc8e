"""Names of the storage resources and the settings read from the environment, in one place.

The names are constants because binding decorators need them when `function_app.py` is indexed; Bicep in
`infra/` provisions exactly these (a contract test holds the two together).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# The one named connection behind every binding and every SDK client the code builds. Locally it is a
# connection string; in Azure it is identity-based (`ImageStorage__blobServiceUri`, `__credential`, ...).
CONNECTION = "ImageStorage"

IMAGES_CONTAINER = "images"
JOBS_QUEUE = "image-tagging"
POISON_QUEUE = f"{JOBS_QUEUE}-poison"
RECORDS_TABLE = "ImageTags"

MAX_UPLOAD_BYTES_SETTING = "TAGGING_MAX_UPLOAD_BYTES"
MAX_PIXELS_SETTING = "TAGGING_MAX_PIXELS"

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 100_000_000


@dataclass(frozen=True)
class Settings:
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            max_upload_bytes=_positive_int(env, MAX_UPLOAD_BYTES_SETTING, DEFAULT_MAX_UPLOAD_BYTES),
            max_pixels=_positive_int(env, MAX_PIXELS_SETTING, DEFAULT_MAX_PIXELS),
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
