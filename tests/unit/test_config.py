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


@pytest.mark.parametrize(
    ("env", "callers"),
    [
        ({}, "header"),  # a developer's machine: the header names the caller
        ({"WEBSITE_SITE_NAME": "app"}, "none"),  # Azure without sign-in: the header could be anyone's
        ({"WEBSITE_SITE_NAME": "app", "WEBSITE_AUTH_ENABLED": "True"}, "platform"),
        ({"WEBSITE_SITE_NAME": "app", "TAGGING_TRUST_IDENTITY_HEADER": "True"}, "header"),  # Bicep's string(true)
        ({"WEBSITE_SITE_NAME": "app", "TAGGING_TRUST_IDENTITY_HEADER": "False"}, "none"),
        ({"TAGGING_TRUST_IDENTITY_HEADER": "false"}, "none"),
        ({"WEBSITE_AUTH_ENABLED": "true", "TAGGING_TRUST_IDENTITY_HEADER": "false"}, "platform"),
    ],
)
def test_the_caller_header_is_trusted_only_when_something_vouches_for_it(env: dict[str, str], callers: str) -> None:
    """App Service sets WEBSITE_AUTH_ENABLED=True when Authentication is on, and WEBSITE_SITE_NAME in every app
    (learn.microsoft.com, app-service/reference-app-settings)."""
    assert Settings.from_env(env).callers == callers


def test_a_trust_setting_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(ValueError, match="TAGGING_TRUST_IDENTITY_HEADER must be true or false"):
        Settings.from_env({"TAGGING_TRUST_IDENTITY_HEADER": "yes"})


def test_the_offline_taggers_are_on_unless_turned_off() -> None:
    assert (Settings.from_env({}).content_tags, Settings.from_env({}).place_tags) == (True, True)
    # Bicep's string(false) is 'False'.
    off = Settings.from_env({"TAGGING_CONTENT_TAGS": "False", "TAGGING_PLACE_TAGS": "false"})
    assert (off.content_tags, off.place_tags) == (False, False)
    with pytest.raises(ValueError, match="TAGGING_CONTENT_TAGS must be true or false"):
        Settings.from_env({"TAGGING_CONTENT_TAGS": "yes"})


def test_the_ports_carry_the_offline_taggers_the_settings_ask_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from tagging import bootstrap

    monkeypatch.setenv("ImageStorage", "UseDevelopmentStorage=true")
    monkeypatch.delenv("TAGGING_CONTENT_TAGS", raising=False)
    monkeypatch.delenv("TAGGING_PLACE_TAGS", raising=False)
    built = bootstrap._from_environment()
    assert [tagger.name for tagger in built.taggers] == ["efficientnet-lite0", "geonames"]
    monkeypatch.setenv("TAGGING_CONTENT_TAGS", "false")
    assert [tagger.name for tagger in bootstrap._from_environment().taggers] == ["geonames"]
