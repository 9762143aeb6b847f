"""Repositories of an ``Index`` (atdata 0.7's module path): ``Repository`` pairs an index
provider with an optional data store, ``create_repository`` makes one from a provider name.
"""

from ._index import Repository, create_repository

__all__ = ["Repository", "create_repository"]
