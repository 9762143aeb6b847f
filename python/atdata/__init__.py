"""atdata: typed, versioned, content-addressed ML datasets.

A Python API compatible with atdata 0.7 over a Rust core: ``@packable`` sample types,
``Index`` with ``LocalDiskStore`` for managed datasets, ``load_dataset`` by name or path, and
``Dataset`` iteration in columnar ``SampleBatch``es (arrays stacked into one numpy array).
"""

from . import _core
from ._core import (
    AlreadyExistsError,
    AtdataError,
    AtdataIOError,
    ConflictError,
    CorruptDataError,
    IndexDatabaseError,
    InvalidArgumentError,
    NotFoundError,
    SchemaError,
    SchemaMismatchError,
    ShardError,
    ShardNotFoundError,
    UnsupportedFeatureError,
)
from ._exceptions import LensNotFoundError, PartialFailureError, SampleKeyError
from ._core import IndexEntry, LocalDiskStore, S3DataStore, SqliteProvider, VerifyReport
from ._dataset import Dataset, DatasetDict, DictSample, SampleBatch
from ._packable import PackableSample, packable
from ._hf import get_default_index, load_dataset, set_default_index
from ._index import (
    Index,
    PostgresProvider,
    RedisProvider,
    Repository,
    SchemaRecord,
    create_repository,
)
from ._write import write_samples
from . import repository  # atdata 0.7's module path: atdata.repository.Repository

# Data sources (atdata 0.7's URLSource, S3Source, BlobSource and the DataSource protocol).
from ._sources import BlobSource, DataSource, S3Source, URLSource

__version__ = _core.__version__

__all__ = [
    "AlreadyExistsError",
    "AtdataError",
    "AtdataIOError",
    "ConflictError",
    "CorruptDataError",
    "Dataset",
    "DatasetDict",
    "DictSample",
    "Index",
    "IndexDatabaseError",
    "IndexEntry",
    "LocalDiskStore",
    "PostgresProvider",
    "RedisProvider",
    "Repository",
    "S3DataStore",
    "SchemaRecord",
    "SqliteProvider",
    "UnsupportedFeatureError",
    "VerifyReport",
    "create_repository",
    "get_default_index",
    "load_dataset",
    "set_default_index",
    "InvalidArgumentError",
    "LensNotFoundError",
    "PartialFailureError",
    "SampleKeyError",
    "SchemaError",
    "ShardError",
    "ShardNotFoundError",
    "NotFoundError",
    "PackableSample",
    "SampleBatch",
    "SchemaMismatchError",
    "packable",
    "write_samples",
    # data sources
    "BlobSource",
    "DataSource",
    "S3Source",
    "URLSource",
]
