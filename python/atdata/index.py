"""atdata 0.7's ``atdata.index`` module path: the index and its entries.

``from atdata.index import Index, LocalDatasetEntry`` works as in 0.7. (The module is
``atdata.index``; the class is ``atdata.Index``: importing the module does not replace the
class on the package.)
"""

from ._index import BasicIndexEntry, Index, LocalDatasetEntry

#: Key prefixes of atdata 0.7's Redis layout (``LocalDatasetEntry:<cid>``,
#: ``LocalSchema:<name>@<version>``), which the Redis provider reads and writes.
REDIS_KEY_DATASET_ENTRY = "LocalDatasetEntry"
REDIS_KEY_SCHEMA = "LocalSchema"

__all__ = [
    "BasicIndexEntry",
    "Index",
    "LocalDatasetEntry",
    "REDIS_KEY_DATASET_ENTRY",
    "REDIS_KEY_SCHEMA",
]
