"""Azure Storage adapters behind the ports: the only package that imports the storage SDKs."""

from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from tagging.storage.account import StorageAccount
from tagging.storage.blobs import BlobImageStore
from tagging.storage.catalog import TableCatalog

__all__ = ["BlobImageStore", "StorageAccount", "TableCatalog", "unreachable"]


def unreachable(exc: BaseException) -> bool:
    """True for failures to reach storage at all (refused, reset, timed out), after the SDK's own retries."""
    return isinstance(exc, (ServiceRequestError, ServiceResponseError))
