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
from ._core import IndexEntry, LocalDiskStore, S3DataStore, VerifyReport
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
from ._logging import configure_logging, get_logger, log_operation
from . import repository  # atdata 0.7's module path: atdata.repository.Repository
from .stores import AbstractDataStore
# Dataset, DatasetDict, SampleBatch, load_dataset (issue 15): 0.7's module path
# atdata.dataset, and the unknown-split error (ValueError and KeyError).
from ._exceptions import SplitNotFoundError
from . import dataset

# Lenses and manifests (atdata 0.7's atdata.lens and atdata.manifest). As in 0.7, the
# package attribute ``atdata.lens`` is the decorator; the module stays importable as
# ``from atdata.lens import Lens``.
from .lens import Lens, LensNetwork, lens
from . import manifest
from .manifest import (
    ManifestBuilder,
    ManifestField,
    ManifestWriter,
    QueryExecutor,
    SampleLocation,
    ShardManifest,
    query_fields,
)
# Samples (issue 15): atdata 0.7's protocol name for sample types.
from ._packable import Packable

# Index API, providers, content addressing and integrity (atdata 0.7's names, issue 15).
# SqliteProvider: the class with 0.7's provider methods (a subclass of the core's).
from ._index import SqliteProvider
from ._integrity import ShardWriteResult, generate_cid, verify_checksums, verify_cid
from . import index, local, providers, stores  # 0.7's module paths (atdata.index.Index, ...)

# Data sources (atdata 0.7's URLSource, S3Source, BlobSource and the DataSource protocol).
from ._sources import BlobSource, DataSource, S3Source, URLSource

__version__ = _core.__version__

__all__ = [
    "AbstractDataStore",
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
    "configure_logging",
    "create_repository",
    "get_logger",
    "log_operation",
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
    # lenses and manifests
    "Lens",
    "LensNetwork",
    "lens",
    "ManifestBuilder",
    "ManifestField",
    "ManifestWriter",
    "QueryExecutor",
    "SampleLocation",
    "ShardManifest",
    "query_fields",
    # Samples (issue 15)
    "Packable",
    # Dataset, DatasetDict, SampleBatch, load_dataset (issue 15)
    "SplitNotFoundError",
    # Index API, content addressing and integrity (issue 15)
    "ShardWriteResult",
    "generate_cid",
    "verify_checksums",
    "verify_cid",
    # data sources
    "BlobSource",
    "DataSource",
    "S3Source",
    "URLSource",
]
