"""Short-lived, read-only links to one blob each (shared access signatures).

The app answers a download with such a link rather than the bytes, so it never holds a whole image per request:
the caller fetches it from Blob Storage itself. With an identity-based connection (Azure, shared keys off) the
link is a user delegation SAS, signed with a key the app's identity asks Blob Storage for (its Storage Blob Data
Owner role grants `generateUserDelegationKey`); with a connection string (Azurite) it is signed with the account key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from azure.storage.blob import BlobSasPermissions, BlobServiceClient, UserDelegationKey, generate_blob_sas

# Links made within one window are the same URL, so a browser's cache of the bytes outlives a single link. Each is
# valid from when it is made until the end of the following window: between 5 and 10 minutes.
LINK_WINDOW = timedelta(minutes=5)
# A user delegation key serves the links of an hour; asked for with a little slack either side for clock skew.
KEY_LIFETIME = timedelta(hours=1)
CLOCK_SKEW = timedelta(minutes=5)
_ORIGIN = datetime.min.replace(tzinfo=UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BlobLinks:
    """Signs read-only links to single blobs of one account."""

    def __init__(self, service: BlobServiceClient, clock: Callable[[], datetime] = _utcnow) -> None:
        self._service = service
        self._clock = clock
        self._account_key: str | None = getattr(service.credential, "account_key", None)
        if not self._account_key and not hasattr(service.credential, "get_token"):
            raise ValueError(
                "Download links need the account key (a connection string with AccountKey, or "
                "UseDevelopmentStorage=true) or an identity-based connection; a SAS connection string cannot sign them."
            )
        self._lock = threading.Lock()
        self._key: UserDelegationKey | None = None
        self._key_expiry = _ORIGIN

    def link(self, container: str, name: str) -> str:
        expiry = self._expiry(self._clock())
        sas = generate_blob_sas(
            self._service.account_name or "",
            container,
            name,
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
            # The bytes of an image id never change: let the browser keep them as long as the link lives.
            cache_control=f"private, max-age={int(2 * LINK_WINDOW.total_seconds())}, immutable",
            protocol="https" if self._service.url.startswith("https://") else "https,http",
            account_key=self._account_key,
            user_delegation_key=None if self._account_key else self._delegation_key(expiry),
        )
        return f"{self._service.get_blob_client(container, name).url}?{sas}"

    @staticmethod
    def _expiry(now: datetime) -> datetime:
        windows = (now - _ORIGIN) // LINK_WINDOW
        return _ORIGIN + (windows + 2) * LINK_WINDOW

    def _delegation_key(self, expiry: datetime) -> UserDelegationKey:
        with self._lock:
            if self._key is None or self._key_expiry < expiry:
                # One storage call an hour per process: a link must not outlive the key that signs it.
                now = self._clock()
                self._key_expiry = expiry + KEY_LIFETIME
                self._key = self._service.get_user_delegation_key(now - CLOCK_SKEW, self._key_expiry)
            return self._key
