"""atdata 0.7's ``atdata.stores`` module path: where shards are kept."""

from __future__ import annotations

from typing import Protocol

from ._core import LocalDiskStore, S3DataStore


class AbstractDataStore(Protocol):
    """The shape of a data store, as atdata 0.7 names it, for type annotations.

    ``Index(data_store=...)`` takes this package's stores only (``LocalDiskStore``,
    ``S3DataStore``): publishing a shard atomically, proving a store owns what gc removes and
    checking digests happen in the Rust core, which a store written in Python could not take
    part in (docs/compat-07.md).
    """

    def read_url(self, url: str) -> str:
        """The URL a reader should open for a shard URL this store wrote."""
        ...

    def supports_streaming(self) -> bool:
        """Whether shards can be read as a stream, without a local copy."""
        ...


__all__ = ["AbstractDataStore", "LocalDiskStore", "S3DataStore"]
