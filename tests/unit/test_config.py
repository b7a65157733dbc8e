from __future__ import annotations

import pytest

from tagging.config import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, Settings


def test_defaults_apply_when_nothing_is_set() -> None:
    assert Settings.from_env({}) == Settings(DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_PIXELS)
    assert DEFAULT_MAX_UPLOAD_BYTES == 20 * 1024 * 1024
    assert DEFAULT_MAX_PIXELS == 100_000_000


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env({"TAGGING_MAX_UPLOAD_BYTES": "1000", "TAGGING_MAX_PIXELS": " 50 "})
    assert settings == Settings(max_upload_bytes=1000, max_pixels=50)


@pytest.mark.parametrize("value", ["0", "-1", "ten", "1.5"])
def test_a_bad_setting_fails_early_naming_the_setting(value: str) -> None:
    with pytest.raises(ValueError, match="TAGGING_MAX_PIXELS must be a positive whole number"):
        Settings.from_env({"TAGGING_MAX_PIXELS": value})
