"""atdata 0.7's module path ``atdata.dataset``: the names 0.7 code imports from it.

``from atdata.dataset import Dataset, SampleBatch, PackableSample, packable, DictSample,
write_samples`` works unchanged; each name is the package's own object (no second copy).
Names 0.7's module re-exported from other parts of the package (lenses, data sources, the
``Packable`` protocol) are looked up on ``atdata`` when asked for, so they appear here as soon
as the package has them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, TypeVar, Union

from ._dataset import Dataset, DatasetDict, DictSample, SampleBatch
from ._exceptions import LensNotFoundError, PartialFailureError, SampleKeyError
from ._packable import PackableSample, packable
from ._write import write_samples

#: A path as 0.7's signatures spell it.
Pathlike = Union[str, Path, "os.PathLike[str]"]
#: A raw WebDataset sample (``{"__key__": ..., "msgpack": bytes}``), as ``Dataset.wrap`` takes.
WDSRawSample = Dict[str, Any]
#: A raw WebDataset batch (``{"msgpack": [bytes, ...]}``), as ``Dataset.wrap_batch`` takes.
WDSRawBatch = Dict[str, Any]
#: One exported row, as ``to_parquet(sample_map=...)`` returns per sample.
SampleExportRow = Dict[str, Any]
#: The ``sample_map`` of ``Dataset.to_parquet``.
SampleExportMap = Callable[[Any], SampleExportRow]

DT = TypeVar("DT")
ST = TypeVar("ST")
RT = TypeVar("RT")

#: 0.7's module also exposed these, which live elsewhere in the package.
_ELSEWHERE = frozenset({"Lens", "LensNetwork", "URLSource", "DataSource", "Packable"})


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        import atdata

        try:
            return getattr(atdata, name)
        except AttributeError:
            pass
    raise AttributeError(f"module 'atdata.dataset' has no attribute {name!r}")


__all__ = [
    "Dataset",
    "DatasetDict",
    "DictSample",
    "LensNotFoundError",
    "PackableSample",
    "PartialFailureError",
    "Pathlike",
    "SampleBatch",
    "SampleExportMap",
    "SampleExportRow",
    "SampleKeyError",
    "WDSRawBatch",
    "WDSRawSample",
    "packable",
    "write_samples",
]
