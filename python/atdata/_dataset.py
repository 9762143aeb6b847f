"""Datasets, batches and untyped samples.

Iteration and batching run in Rust (``atdata._core``) with the GIL released; a batch arrives
as a dict of columns (one numpy array per array field, lists for the rest) and is wrapped here.
"""

from __future__ import annotations

import os
from typing import Any, Generic, Iterator, Optional, TypeVar

from . import _core
from ._args import check_int, check_progress
from ._packable import _values_equal, schema_json_of, type_from_schema
from ._sources import dataset_source

ST = TypeVar("ST")

#: Samples read per Rust batch when iterating sample by sample.
_ROW_CHUNK = 256


class DictSample:
    """A sample without a static type: field access by attribute or key."""

    __slots__ = ("_data",)

    def __init__(self, _data: Optional[dict] = None, **kwargs: Any) -> None:
        data = dict(_data) if _data is not None else {}
        data.update(kwargs)
        object.__setattr__(self, "_data", data)

    @classmethod
    def from_data(cls, data: dict) -> "DictSample":
        return cls(_data=data)

    @classmethod
    def from_bytes(cls, data: bytes) -> "DictSample":
        return cls(_data=_core.unpack(data))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(
                f"DictSample has no field {name!r}; fields: {list(self._data)}"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> list:
        return list(self._data)

    def values(self) -> list:
        return list(self._data.values())

    def items(self) -> list:
        return list(self._data.items())

    def to_dict(self) -> dict:
        return dict(self._data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DictSample):
            return NotImplemented
        return self.keys() == other.keys() and all(
            _values_equal(self._data[k], other._data[k]) for k in self._data
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._data.items())
        return f"DictSample({inner})"


def _row(columns: dict, i: int) -> dict:
    return {name: col[i] for name, col in columns.items()}


def _make_sample(sample_type: Any, data: dict) -> Any:
    if sample_type is None or sample_type is DictSample:
        return DictSample(_data=data)
    names = sample_type.__atdata_fields__
    return sample_type(**{n: data.get(n) for n in names})


class SampleBatch(Generic[ST]):
    """A batch of samples as columns.

    ``batch.<field>`` is one stacked numpy array of shape ``(B, ...)`` for an array field and a
    Python list for any other field. An array field whose arrays in this batch differ in shape
    or dtype (ragged data), or include None, is a list of arrays instead: per-sample iteration
    always works, and stacking is tried again for every batch. ``batch.samples`` builds the
    individual samples.
    """

    def __init__(self, columns: dict, sample_type: Any = None) -> None:
        self._columns = columns
        self._sample_type = sample_type
        self._len = len(next(iter(columns.values()))) if columns else 0

    @property
    def sample_type(self) -> Any:
        return self._sample_type if self._sample_type is not None else DictSample

    def __getattr__(self, name: str) -> Any:
        columns = self.__dict__.get("_columns", {})
        if name in columns:
            return columns[name]
        st = self.__dict__.get("_sample_type")
        if st is not None and name in getattr(st, "__atdata_fields__", ()):
            return [None] * self.__dict__.get("_len", 0)
        raise AttributeError(f"no sample attribute named {name!r}; fields: {list(columns)}")

    def __getitem__(self, i: int) -> Any:
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(f"batch index {i} out of range for a batch of {self._len}")
        return _make_sample(self._sample_type, _row(self._columns, i))

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Any]:
        return iter(self.samples)

    @property
    def samples(self) -> list:
        """The batch's samples, one object each."""
        return [self[i] for i in range(self._len)]

    def keys(self) -> list:
        return list(self._columns)

    def to_dict(self) -> dict:
        return dict(self._columns)

    def __repr__(self) -> str:
        return f"SampleBatch[{self.sample_type.__name__}](len={self._len}, fields={self.keys()})"


class _TypedDatasetFactory:
    def __init__(self, sample_type: Any) -> None:
        self.sample_type = sample_type

    def __call__(self, source: Any) -> "Dataset":
        return Dataset(source, sample_type=self.sample_type)


class Dataset(Generic[ST]):
    """A dataset of samples stored in WebDataset shards.

    ``Dataset(path)`` or ``Dataset[T](path)`` opens shards at a path, brace pattern
    (``data-{000000..000009}.tar``), glob or directory; ``load_dataset`` and
    ``Index.load`` return datasets whose type comes from the index's schema.
    """

    def __class_getitem__(cls, sample_type: Any) -> Any:  # type: ignore[override]
        return _TypedDatasetFactory(sample_type)

    def __init__(self, source: Any, sample_type: Any = None) -> None:
        if isinstance(source, _core.Dataset):
            core = source
        elif isinstance(source, (str, os.PathLike)):
            core = _core.Dataset.open(os.fspath(source))
        else:
            # URLSource, S3Source, BlobSource or another DataSource (atdata/_sources.py).
            core = dataset_source(source)
        if sample_type is not None and sample_type is not DictSample:
            if core.schema_json is None:
                core = core.with_schema(schema_json_of(sample_type))
            else:
                schema_json_of(sample_type)  # type check only
        elif sample_type is None and core.schema_json is not None:
            sample_type = type_from_schema(core.schema_json)
        self._core = core
        self._sample_type = sample_type

    @property
    def sample_type(self) -> Any:
        """The sample class (``DictSample`` when the data has no type)."""
        return self._sample_type if self._sample_type is not None else DictSample

    @property
    def urls(self) -> list:
        """Shard URLs."""
        return self._core.urls

    def list_shards(self) -> list:
        """Shard URLs."""
        return self._core.urls

    @property
    def name(self) -> Optional[str]:
        return self._core.name

    @property
    def schema_json(self) -> Optional[str]:
        """The schema record (JSON text), if the dataset has one."""
        return self._core.schema_json

    def as_type(self, sample_type: Any) -> "Dataset":
        """The same data read as ``sample_type``; its required fields must exist in the data
        (``SchemaMismatchError`` naming the missing ones otherwise)."""
        if sample_type is DictSample:
            return Dataset(self._core, sample_type=DictSample)
        self._core.check_readable_as(schema_json_of(sample_type))
        return Dataset(self._core, sample_type=sample_type)

    def _batches(
        self, batch_size: int, shuffle: Any = None, progress: Optional[bool] = None
    ) -> Iterator[dict]:
        return self._core.batches(batch_size, shuffle, False, progress)

    def _iterate(
        self, batch_size: Optional[int], shuffle: Any, progress: Optional[bool]
    ) -> Iterator[Any]:
        batch_size = check_int("batch_size", batch_size, minimum=1, optional=True)
        check_progress(progress)
        return self._generate(batch_size, shuffle, progress)

    def _generate(
        self, batch_size: Optional[int], shuffle: Any, progress: Optional[bool]
    ) -> Iterator[Any]:
        st = self._sample_type
        if batch_size is None:
            for cols in self._batches(_ROW_CHUNK, shuffle, progress):
                n = len(next(iter(cols.values()))) if cols else 0
                for i in range(n):
                    yield _make_sample(st, _row(cols, i))
        else:
            for cols in self._batches(batch_size, shuffle, progress):
                yield SampleBatch(cols, st)

    def ordered(
        self, batch_size: Optional[int] = None, *, progress: Optional[bool] = None
    ) -> Iterator[Any]:
        """Samples in shard order; with ``batch_size``, ``SampleBatch`` objects of that size.

        ``progress``: None shows a bar on stderr for long reads when stderr is a terminal;
        True always shows one; False never does.
        """
        return self._iterate(batch_size, None, progress)

    def shuffled(
        self,
        batch_size: Optional[int] = None,
        seed: Optional[int] = None,
        *,
        epoch: int = 0,
        buffer_samples: int = 10_000,
        buffer_shards: Optional[int] = None,
        progress: Optional[bool] = None,
    ) -> Iterator[Any]:
        """Samples in random order (shards permuted, then a buffer of ``buffer_samples``).

        The same ``seed`` and ``epoch`` give the same order; ``seed=None`` picks one at random.
        ``buffer_shards`` is accepted for atdata 0.7 compatibility (all shards are permuted).
        ``progress`` as for ``ordered``.
        """
        del buffer_shards
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        shuffle = (
            check_int("seed", seed),
            check_int("epoch", epoch),
            check_int("buffer_samples", buffer_samples, minimum=1),
        )
        return self._iterate(batch_size, shuffle, progress)

    def __iter__(self) -> Iterator[Any]:
        return self.ordered()

    def __len__(self) -> int:
        return self._core.len()

    def len(self) -> int:
        """Number of samples."""
        return self._core.len()

    def head(self, n: int = 5) -> list:
        """The first ``n`` samples."""
        n = check_int("n", n)
        return [_make_sample(self._sample_type, d) for d in self._core.head(n)]

    def part(self, index: int, count: int) -> "Dataset":
        """Part ``index`` of ``count`` (disjoint shard subsets, for data-parallel workers)."""
        count = check_int("count", count, minimum=1)
        index = check_int("index", index, maximum=count - 1)
        return Dataset(self._core.part(index, count), sample_type=self._sample_type)

    def __repr__(self) -> str:
        return (
            f"Dataset[{self.sample_type.__name__}](name={self.name!r}, "
            f"shards={len(self.urls)})"
        )


class DatasetDict(dict):
    """Datasets by split name (``train``, ``test``, ``validation``)."""

    def __repr__(self) -> str:
        return f"DatasetDict({ {k: v for k, v in self.items()} })"


__all__ = ["DictSample", "SampleBatch", "Dataset", "DatasetDict"]
