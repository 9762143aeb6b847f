"""atdata 0.7's ``atdata.local`` module path (0.7 keeps it for older code; its new homes are
``atdata.index`` and ``atdata.stores``): the index, its entries and the stores."""

from .index import (
    REDIS_KEY_DATASET_ENTRY,
    REDIS_KEY_SCHEMA,
    BasicIndexEntry,
    Index,
    LocalDatasetEntry,
)
from .stores import LocalDiskStore, S3DataStore

__all__ = [
    "BasicIndexEntry",
    "Index",
    "LocalDatasetEntry",
    "LocalDiskStore",
    "REDIS_KEY_DATASET_ENTRY",
    "REDIS_KEY_SCHEMA",
    "S3DataStore",
]
