"""Azure Storage adapters behind the ports: the only package that imports the storage SDKs."""

from tagging.storage.account import StorageAccount
from tagging.storage.blobs import BlobImageStore
from tagging.storage.catalog import TableCatalog

__all__ = ["BlobImageStore", "StorageAccount", "TableCatalog"]
