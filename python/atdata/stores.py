"""atdata 0.7's ``atdata.stores`` module path: where shards are kept."""

from ._core import LocalDiskStore, S3DataStore

__all__ = ["LocalDiskStore", "S3DataStore"]
