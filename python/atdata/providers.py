"""atdata 0.7's ``atdata.providers`` module path: the index backends.

``IndexProvider`` is the base of ``SqliteProvider``, ``PostgresProvider`` and
``RedisProvider`` and carries 0.7's provider methods; ``Index`` takes only these three (their
storage is implemented in the Rust core), not other subclasses.
"""

from ._index import PostgresProvider, RedisProvider, SqliteProvider, create_provider
from ._index import _ProviderMethods as IndexProvider

__all__ = [
    "IndexProvider",
    "PostgresProvider",
    "RedisProvider",
    "SqliteProvider",
    "create_provider",
]
