from __future__ import annotations

import re

import pytest

from tagging.errors import InvalidImageIdError, UnauthenticatedError
from tagging.identity import caller, checked_image_id, image_id_for, user_key

FORBIDDEN_IN_TABLE_KEYS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def test_plain_principal_ids_stay_readable() -> None:
    assert user_key("alice") == "alice"
    assert user_key("3f2b9a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b") == "3f2b9a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    "user_id",
    ["a/b", "a\\b", "a#b", "a?b", "tab\there", "nul\x00", "x' or PartitionKey ne 'x", "Zoë", "用户", "~abc", "a" * 200],
)
def test_other_principal_ids_are_encoded_into_valid_keys(user_id: str) -> None:
    key = user_key(user_id)
    assert key.startswith("~")
    assert not FORBIDDEN_IN_TABLE_KEYS.search(key)
    assert "'" not in key


def test_encoding_never_maps_two_users_to_one_key() -> None:
    users = ["alice", "~alice", "a/b", "a\\b", "a#b", "Alice", "alice ", "YWxpY2U"]
    assert len({user_key(u) for u in users}) == len(users)


@pytest.mark.parametrize("user_id", [None, "", "   "])
def test_a_missing_identity_is_unauthenticated(user_id: str | None) -> None:
    with pytest.raises(UnauthenticatedError, match="x-ms-client-principal-id"):
        caller(user_id)


def test_an_absurdly_long_identity_is_refused() -> None:
    with pytest.raises(UnauthenticatedError, match="256 bytes"):
        user_key("x" * 257)


def test_image_ids_depend_on_user_and_content() -> None:
    sha = "ab" * 32
    assert image_id_for("alice", sha) == image_id_for("alice", sha)
    assert image_id_for("alice", sha) != image_id_for("bob", sha)
    assert image_id_for("alice", sha) != image_id_for("alice", "cd" * 32)
    assert re.fullmatch(r"[0-9a-f]{32}", image_id_for("alice", sha))


@pytest.mark.parametrize("text", [None, "", "xyz", "A" * 32, "0" * 31, "0" * 33, "../" + "0" * 29, "0" * 31 + "'"])
def test_malformed_image_ids_are_refused(text: str | None) -> None:
    with pytest.raises(InvalidImageIdError):
        checked_image_id(text)


@pytest.mark.parametrize("user_id", [".", "..", "...", "alice.", "a.b."])
def test_principal_ids_that_url_paths_would_resolve_away_are_encoded(user_id: str) -> None:
    # A blob name is a URL path: "." and ".." segments are resolved by the client, a trailing dot is refused.
    key = user_key(user_id)
    assert key.startswith("~")
    assert not key.endswith(".")
    assert user_key("a.b") == "a.b"
