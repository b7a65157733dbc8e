"""Download links: when they expire, which key signs them, and how often the app asks for a user delegation key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import BlobServiceClient, UserDelegationKey

from tagging.storage.links import BlobLinks

START = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def expiry(link: str) -> datetime:
    return datetime.fromisoformat(parse_qs(urlsplit(link).query)["se"][0].replace("Z", "+00:00"))


def keyed_service() -> BlobServiceClient:
    return BlobServiceClient.from_connection_string("UseDevelopmentStorage=true")


def test_links_of_one_window_are_the_same_url_and_live_5_to_10_minutes() -> None:
    clock = Clock()
    links = BlobLinks(keyed_service(), clock)
    first = links.link("images", "alice/img")
    clock.now = START + timedelta(minutes=4, seconds=59)
    assert links.link("images", "alice/img") == first  # the browser's cached bytes stay valid
    assert expiry(first) == START + timedelta(minutes=10)
    clock.now = START + timedelta(minutes=5)
    later = links.link("images", "alice/img")
    assert later != first
    assert expiry(later) - clock.now == timedelta(minutes=10)
    clock.now = START + timedelta(minutes=9, seconds=59)
    assert expiry(links.link("images", "alice/img")) - clock.now == timedelta(seconds=1 + 5 * 60)


def test_a_link_grants_read_on_one_blob_over_the_endpoints_scheme() -> None:
    link = BlobLinks(keyed_service(), Clock()).link("images", "~YWxpY2U/img")
    query = parse_qs(urlsplit(link).query)
    assert urlsplit(link).path == "/devstoreaccount1/images/~YWxpY2U/img"
    assert (query["sp"], query["sr"], query["spr"]) == (["r"], ["b"], ["https,http"])


@dataclass
class IdentityService:
    """What BlobLinks uses of a BlobServiceClient built on a token credential (Azure, shared keys off)."""

    account_name: str = "tagging"
    url: str = "https://tagging.blob.core.windows.net/"
    asked: list[tuple[datetime, datetime]] = field(default_factory=list)

    class credential:
        @staticmethod
        def get_token(*scopes: str) -> Any:
            raise AssertionError("links need no token of their own")

    def get_user_delegation_key(self, start: datetime, expiry: datetime) -> UserDelegationKey:
        self.asked.append((start, expiry))
        key = UserDelegationKey()
        key.signed_oid, key.signed_tid, key.signed_service, key.signed_version = "oid", "tid", "b", "2025-01-05"
        key.signed_start, key.signed_expiry = start.isoformat(), expiry.isoformat()
        key.value = "a2V5" * 11
        return key

    def get_blob_client(self, container: str, name: str) -> Any:
        return BlobServiceClient(self.url).get_blob_client(container, name)


def test_with_an_identity_one_user_delegation_key_signs_an_hours_links() -> None:
    service, clock = IdentityService(), Clock()
    links = BlobLinks(cast(BlobServiceClient, service), clock)
    link = links.link("images", "alice/img")
    query = parse_qs(urlsplit(link).query)
    assert (query["skoid"], query["sktid"], query["spr"]) == (["oid"], ["tid"], ["https"])
    for minutes in range(0, 60, 5):
        clock.now = START + timedelta(minutes=minutes)
        links.link("images", "alice/img")
    assert len(service.asked) == 1
    start, key_expiry = service.asked[0]
    assert start < START < expiry(link) < key_expiry  # a little slack for clock skew; no link outlives its key
    clock.now = START + timedelta(minutes=65)  # its links would outlive the key
    links.link("images", "alice/img")
    assert len(service.asked) == 2
    assert all(expiry(links.link("images", "x")) <= service.asked[-1][1] for _ in range(3))


def test_a_connection_that_cannot_sign_is_refused_with_the_reason() -> None:
    sas_only = BlobServiceClient("https://tagging.blob.core.windows.net/", credential="sv=2025-01-05&sig=x")
    with pytest.raises(ValueError, match="cannot sign"):
        BlobLinks(sas_only)
