"""Datasets, batches and untyped samples.

Iteration and batching run in Rust (``atdata._core``) with the GIL released; a batch arrives
as a dict of columns (one numpy array per array field, lists for the rest) and is wrapped here.
Exports (``to_dict``, ``to_pandas``, ``to_parquet``) stream those columnar batches.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import os
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Iterator, Optional, Sequence, TypeVar

import numpy as np

from . import _core
from ._args import check_int, check_progress
from ._exceptions import PartialFailureError, SampleKeyError
from ._packable import PackableSample, _values_equal, field_hints, schema_json_of, type_from_schema
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


def _type_name(t: Any) -> str:
    return getattr(t, "__name__", repr(t))


def _require(module: str, what: str) -> Any:
    """Imports an optional dependency only when a call needs it, naming it if missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise ImportError(
            f"{what} needs the package {package!r}, which is not installed "
            f"(pip install {package})"
        ) from None


class _Parameterized:
    """``Dataset[T]`` and ``SampleBatch[T]``: the class with its sample type bound.

    Calling it builds the class with ``sample_type=T`` (every other argument passes through),
    so that the type is known from the start rather than read back from ``__orig_class__``
    after construction, as typing's aliases would. ``isinstance(x, Dataset[T])`` is true for a
    ``Dataset`` whose sample type is ``T``.
    """

    __slots__ = ("__origin__", "__args__")

    def __init__(self, origin: type, sample_type: Any) -> None:
        self.__origin__ = origin
        self.__args__ = (sample_type,)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "sample_type" in kwargs:
            raise TypeError(
                f"{self!r} has its sample type already; do not pass sample_type= as well"
            )
        return self.__origin__(*args, sample_type=self.__args__[0], **kwargs)

    def __instancecheck__(self, obj: Any) -> bool:
        return isinstance(obj, self.__origin__) and obj.sample_type is self.__args__[0]

    def __mro_entries__(self, bases: tuple) -> tuple:
        # `class MyBatch(SampleBatch[T])` subclasses the class itself, as with typing's aliases.
        return (self.__origin__,)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Parameterized):
            return NotImplemented
        return self.__origin__ is other.__origin__ and self.__args__ == other.__args__

    def __hash__(self) -> int:
        return hash((self.__origin__, self.__args__))

    def __repr__(self) -> str:
        return f"atdata.{self.__origin__.__name__}[{_type_name(self.__args__[0])}]"


def _batchable(sample: Any) -> bool:
    return isinstance(sample, (DictSample, PackableSample))


class SampleBatch(Generic[ST]):
    """A batch of samples as columns.

    ``batch.<field>`` is one stacked numpy array of shape ``(B, ...)`` for an array field and a
    Python list for any other field. An array field whose arrays in this batch differ in shape
    or dtype (ragged data), or include None, is a list of arrays instead: per-sample iteration
    always works, and stacking is tried again for every batch. ``batch.samples`` builds the
    individual samples.

    ``SampleBatch[T](samples)`` (atdata 0.7's form) makes a batch of a list of ``@packable``
    samples (or ``DictSample``\\ s); its columns come from the same rule as batches read from
    shards, built on first use. ``SampleBatch(columns, sample_type)`` wraps columns as read.
    """

    def __class_getitem__(cls, sample_type: Any) -> Any:  # type: ignore[override]
        return _Parameterized(cls, sample_type)

    def __init__(self, samples: Any = (), sample_type: Any = None) -> None:
        if isinstance(samples, dict):
            self._columns: Optional[dict] = samples
            self._samples: Optional[list] = None
            self._len = len(next(iter(samples.values()))) if samples else 0
        else:
            if isinstance(samples, (str, bytes)) or not isinstance(samples, Iterable):
                raise TypeError(
                    "SampleBatch takes a list of samples (or a dict of columns), got "
                    f"{type(samples).__name__}"
                )
            items = list(samples)
            if sample_type is None and items:
                sample_type = type(items[0])
            st = sample_type
            if st is not None and st is not DictSample and not hasattr(
                st, "__atdata_schema_json__"
            ):
                raise TypeError(
                    f"SampleBatch holds @packable samples or DictSample, not {_type_name(st)}"
                )
            self._columns = None
            self._samples = items
            self._len = len(items)
        self._sample_type = sample_type

    def _cols(self) -> dict:
        if self._columns is None:
            samples = self._samples or []
            st = self._sample_type
            if st is None or st is DictSample:
                self._columns = _core.Dataset.columns_of([_data_of(s) for s in samples])
            else:
                self._columns = _core.Dataset.columns_of(samples, schema_json_of(st))
        return self._columns

    @property
    def sample_type(self) -> Any:
        """The sample class (``DictSample`` when the data has no type)."""
        return self._sample_type if self._sample_type is not None else DictSample

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "_columns" not in self.__dict__:
            raise AttributeError(name)
        columns = self._cols()
        if name in columns:
            return columns[name]
        st = self._sample_type
        if st is not None and name in getattr(st, "__atdata_fields__", ()):
            return [None] * self._len
        raise AttributeError(f"no sample attribute named {name!r}; fields: {list(columns)}")

    def __getitem__(self, i: int) -> Any:
        i = operator.index(i)
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(f"batch index {i} out of range for a batch of {self._len}")
        if self._samples is not None:
            return self._samples[i]
        return _make_sample(self._sample_type, _row(self._cols(), i))

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Any]:
        return iter(self.samples)

    @property
    def samples(self) -> list:
        """The batch's samples, one object each (the very objects it was made of, if any)."""
        if self._samples is None:
            self._samples = [self[i] for i in range(self._len)]
        return self._samples

    def keys(self) -> list:
        return list(self._cols())

    def to_dict(self) -> dict:
        return dict(self._cols())

    def __repr__(self) -> str:
        return f"SampleBatch[{self.sample_type.__name__}](len={self._len}, fields={self.keys()})"


def _data_of(sample: Any) -> dict:
    if isinstance(sample, DictSample):
        return sample.to_dict()
    if isinstance(sample, dict):
        return sample
    raise TypeError(f"a batch of DictSample holds DictSamples, got {type(sample).__name__}")


def _check_callable(name: str, fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__} {fn!r}")


class Dataset(Generic[ST]):
    """A dataset of samples stored in WebDataset shards.

    ``Dataset(url)``, ``Dataset(url=...)`` or ``Dataset[T](url)`` opens shards at a path, brace
    pattern (``data-{000000..000009}.tar``), glob, directory or URL; ``load_dataset`` and
    ``Index.load`` return datasets whose type comes from the index's schema. Datasets are lazy:
    nothing is read until iterated, and ``filter``/``map`` make new lazy datasets.
    """

    def __class_getitem__(cls, sample_type: Any) -> Any:  # type: ignore[override]
        return _Parameterized(cls, sample_type)

    def __init__(
        self,
        source: Any = None,
        metadata_url: "Optional[str | os.PathLike[str]]" = None,
        *,
        url: "Optional[str | os.PathLike[str]]" = None,
        sample_type: Any = None,
    ) -> None:
        if source is None:
            if url is None:
                raise TypeError(
                    "Dataset() needs its shards: Dataset(url) or Dataset(url=...), a path, "
                    "brace pattern, glob, directory or URL"
                )
            source = url
        elif url is not None:
            raise TypeError("Dataset() takes its shards once: pass source or url=, not both")
        if metadata_url is not None and not isinstance(metadata_url, (str, os.PathLike)):
            raise TypeError(
                f"metadata_url must be a path or URL text, got {type(metadata_url).__name__}"
            )
        core = self._open(source)
        if sample_type is not None and sample_type is not DictSample:
            if core.schema_json is None:
                core = core.with_schema(schema_json_of(sample_type))
            else:
                schema_json_of(sample_type)  # type check only
        elif sample_type is None and core.schema_json is not None:
            sample_type = type_from_schema(core.schema_json)
        self._core = core
        self._sample_type = sample_type
        self._given = source
        self._metadata_url = os.fspath(metadata_url) if metadata_url is not None else None
        self._metadata: Optional[dict] = None
        self._content_metadata: Any = None
        self._filter: Optional[Callable[[Any], bool]] = None
        self._map: Optional[Callable[[Any], Any]] = None

    @staticmethod
    def _open(source: Any) -> Any:
        """The core dataset a constructor argument names (a new kind of source adds a branch
        here)."""
        if isinstance(source, _core.Dataset):
            return source
        if isinstance(source, (str, os.PathLike)):
            return _core.Dataset.open(os.fspath(source))
        # URLSource, S3Source, BlobSource or another DataSource (atdata/_sources.py), which
        # names what an object lacks to be one.
        return dataset_source(source)

    def _derive(self, core: Any = None, sample_type: Any = None) -> "Dataset":
        """A dataset over the same data (or ``core``) keeping this one's settings and
        transforms."""
        st = sample_type if sample_type is not None else self._sample_type
        d = Dataset(core if core is not None else self._core, sample_type=st)
        d._given = self._given
        d._metadata_url = self._metadata_url
        d._metadata = self._metadata
        d._content_metadata = self._content_metadata
        d._filter = self._filter
        d._map = self._map
        return d

    # -- what the dataset is -------------------------------------------------------------

    @property
    def sample_type(self) -> Any:
        """The sample class (``DictSample`` when the data has no type)."""
        return self._sample_type if self._sample_type is not None else DictSample

    @property
    def batch_type(self) -> Any:
        """``SampleBatch[T]`` for this dataset's sample type ``T``: what batched iteration
        yields."""
        return SampleBatch[self.sample_type]

    @property
    def urls(self) -> list:
        """Shard URLs."""
        return self._core.urls

    def list_shards(self) -> list:
        """Shard URLs."""
        return self._core.urls

    @property
    def shards(self) -> Iterator[str]:
        """The shard URLs, as an iterator (atdata 0.7)."""
        return iter(self._core.urls)

    @property
    def shard_list(self) -> list:
        """Shard URLs. Deprecated (as in atdata 0.7): use ``list_shards()``."""
        import warnings

        warnings.warn(
            "Dataset.shard_list is deprecated, use list_shards() instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.list_shards()

    @property
    def url(self) -> str:
        """The path or pattern the dataset was opened from; for a dataset the package made
        (``load_dataset``, ``Index.load``, ``write_samples``), its first shard, as in 0.7."""
        if isinstance(self._given, (str, os.PathLike)):
            return os.fspath(self._given)
        urls = self._core.urls
        return urls[0] if urls else ""

    @property
    def source(self) -> Any:
        """Where the shards come from: the data source the dataset was made from, or for a
        dataset opened from a URL or path, a ``URLSource`` over it (atdata 0.7's rule). None
        for datasets the package made, whose shards ``list_shards()`` gives."""
        given = self._given
        if isinstance(given, (str, os.PathLike)):
            from ._sources import URLSource

            return URLSource(os.fspath(given))
        if isinstance(given, _core.Dataset):
            return None
        return given

    @property
    def name(self) -> Optional[str]:
        return self._core.name

    @property
    def schema_json(self) -> Optional[str]:
        """The schema record (JSON text), if the dataset has one."""
        return self._core.schema_json

    @property
    def schema(self) -> dict:
        """Field name -> annotation of the sample type (empty for ``DictSample``, whose fields
        are not known before reading)."""
        st = self.sample_type
        if st is DictSample or not dataclasses.is_dataclass(st):
            return {}
        fields = dataclasses.fields(st)
        hints: dict = {}
        if any(isinstance(f.type, str) for f in fields):
            # `from __future__ import annotations` left text: show the types it names.
            try:
                hints = field_hints(st)
            except Exception:  # unresolvable annotations: show them as written
                hints = {}
        return {
            f.name: hints.get(f.name, f.type) if isinstance(f.type, str) else f.type
            for f in fields
        }

    @property
    def column_names(self) -> list:
        """The sample type's field names (empty for ``DictSample``)."""
        return list(self.schema)

    @property
    def metadata_url(self) -> Optional[str]:
        """Where the dataset's metadata (a msgpack map) is read from, if anywhere."""
        return self._metadata_url

    @metadata_url.setter
    def metadata_url(self, value: "Optional[str | os.PathLike[str]]") -> None:
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"metadata_url must be a path or URL text, got {type(value).__name__}")
        self._metadata_url = os.fspath(value) if value is not None else None
        self._metadata = None

    @property
    def metadata(self) -> Optional[dict]:
        """The msgpack map at ``metadata_url``, read on first use and kept; None without one.

        The file is read the way the shards are (a path, ``file://``, ``http(s)://`` or
        ``s3://``), so a missing file is a ``FileNotFoundError`` naming it.
        """
        if self._metadata_url is None:
            return None
        if self._metadata is None:
            data = self._core.read_url(self._metadata_url)
            try:
                self._metadata = _core.unpack(data)
            except _core.CorruptDataError as e:
                raise _core.CorruptDataError(
                    f"metadata at '{self._metadata_url}' is not a msgpack map: {e}"
                ) from None
        return self._metadata

    @property
    def content_metadata(self) -> Any:
        """Dataset-level content metadata (a sample or dict) set by whoever made the dataset;
        None when unset (atdata 0.7's attribute)."""
        return self._content_metadata

    @content_metadata.setter
    def content_metadata(self, value: Any) -> None:
        self._content_metadata = value

    def describe(self) -> dict:
        """A summary: sample type name, fields, shard count and URLs, url and metadata."""
        shards = self.list_shards()
        return {
            "sample_type": self.sample_type.__name__,
            "fields": self.schema,
            "num_shards": len(shards),
            "shards": shards,
            "url": self.url,
            "metadata": self.metadata,
        }

    def as_type(self, sample_type: Any) -> "Dataset":
        """The same data read as ``sample_type``: through the lens registered (``@atdata.lens``)
        from this dataset's type to it, else directly, which needs its required fields in the
        data (``LensNotFoundError``, also a ``SchemaMismatchError``, naming the missing ones).
        The rules are in ``atdata.lens.dataset_as_type``."""
        from .lens import dataset_as_type

        return dataset_as_type(self, sample_type)

    @property
    def fields(self) -> Any:
        """Field proxies for ``query`` (``ds.fields.score > 0.5``); see ``atdata.manifest``."""
        from .manifest import dataset_fields

        return dataset_fields(self)

    def query(self, where: Any) -> list:
        """``SampleLocation``s of the samples ``where`` selects, from the shards' manifests
        (written with ``manifest=True``); see ``atdata.manifest``."""
        from .manifest import query_dataset

        return query_dataset(self, where)

    # -- lazy transforms -----------------------------------------------------------------

    def filter(self, predicate: Callable[[Any], bool]) -> "Dataset":
        """A new dataset yielding only the samples for which ``predicate(sample)`` is true.

        Lazy: applied while iterating (by sample and by batch: batches are then made of the
        samples kept), after any earlier filter and map.
        """
        _check_callable("filter predicate", predicate)
        d = self._derive()
        if self._map is not None:
            # A filter after a map sees mapped values: fold both into the map step.
            inner_map, keep = self._map, predicate
            inner_filter = self._filter

            def step(s: Any) -> Any:
                v = inner_map(s)
                return v if keep(v) else _DROP

            d._map = step
            d._filter = inner_filter
        elif self._filter is not None:
            outer = self._filter
            d._filter = lambda s: bool(outer(s)) and bool(predicate(s))
        else:
            d._filter = predicate
        return d

    def map(self, fn: Callable[[Any], Any]) -> "Dataset":
        """A new dataset yielding ``fn(sample)`` for each sample (after any filter).

        Lazy. Batched iteration yields ``SampleBatch``\\ es when ``fn`` returns samples, and
        plain lists of its results otherwise.
        """
        _check_callable("map function", fn)
        d = self._derive()
        if self._map is not None:
            outer = self._map

            def step(s: Any) -> Any:
                v = outer(s)
                return v if v is _DROP else fn(v)

            d._map = step
        else:
            d._map = fn
        return d

    def _transformed(self, samples: Iterable[Any]) -> Iterator[Any]:
        keep, fn = self._filter, self._map
        for s in samples:
            if keep is not None and not keep(s):
                continue
            if fn is not None:
                s = fn(s)
                if s is _DROP:
                    continue
            yield s

    @property
    def _plain(self) -> bool:
        return self._filter is None and self._map is None

    # -- iteration -----------------------------------------------------------------------

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

    def _samples(self, shuffle: Any, progress: Optional[bool]) -> Iterator[Any]:
        st = self._sample_type
        for cols in self._batches(_ROW_CHUNK, shuffle, progress):
            n = len(next(iter(cols.values()))) if cols else 0
            for i in range(n):
                yield _make_sample(st, _row(cols, i))

    def _generate(
        self, batch_size: Optional[int], shuffle: Any, progress: Optional[bool]
    ) -> Iterator[Any]:
        st = self._sample_type
        if self._plain:
            if batch_size is None:
                yield from self._samples(shuffle, progress)
            else:
                for cols in self._batches(batch_size, shuffle, progress):
                    yield SampleBatch(cols, st)
            return
        out = self._transformed(self._samples(shuffle, progress))
        if batch_size is None:
            yield from out
            return
        while True:
            chunk = list(itertools.islice(out, batch_size))
            if not chunk:
                return
            kind = type(chunk[0])
            if _batchable(chunk[0]) and all(type(x) is kind for x in chunk):
                yield SampleBatch(chunk, kind)
            else:
                yield chunk

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
        buffer_shards: Optional[int] = None,
        buffer_samples: int = 10_000,
        batch_size: Optional[int] = None,
        *,
        seed: Optional[int] = None,
        epoch: int = 0,
        progress: Optional[bool] = None,
    ) -> Iterator[Any]:
        """Samples in random order (shards permuted, then a buffer of ``buffer_samples``).

        The same ``seed`` and ``epoch`` give the same order; ``seed=None`` picks one at random.
        ``buffer_shards`` is accepted for atdata 0.7 compatibility (all shards are permuted).
        The positional order is 0.7's: ``shuffled(buffer_shards, buffer_samples, batch_size)``.
        ``progress`` as for ``ordered``.
        """
        check_int("buffer_shards", buffer_shards, minimum=1, optional=True)
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
        return self.len()

    def len(self) -> int:
        """Number of samples (after any filter: counting them reads the data)."""
        if self._filter is None and self._map is None:
            return self._core.len()
        return sum(1 for _ in self._transformed(self._samples(None, None)))

    def head(self, n: int = 5) -> list:
        """The first ``n`` samples (fewer if the dataset is shorter)."""
        n = check_int("n", n)
        if self._plain:
            return [_make_sample(self._sample_type, d) for d in self._core.head(n)]
        return list(itertools.islice(self._transformed(self._samples(None, None)), n))

    def get(self, key: str) -> Any:
        """The sample whose WebDataset key (``__key__``) is ``key``.

        Scans the shards in order (only the match is decoded); ``SampleKeyError`` (a
        ``KeyError``) when no sample has it. Filters and maps do not apply: a key names a
        stored sample.
        """
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, got {type(key).__name__}")
        found = self._core.get(key)
        if found is None:
            where = f"dataset '{self.name}'" if self.name else "the dataset"
            raise SampleKeyError(key, where)
        return _make_sample(self._sample_type, found)

    def select(self, indices: Sequence[int]) -> list:
        """The samples at positions ``indices`` (0-based, in shard order), in the order asked.

        Reads up to the largest index; only the samples asked for are built. ``IndexError``
        naming the positions past the end.
        """
        if isinstance(indices, (str, bytes)) or not isinstance(indices, Iterable):
            raise TypeError(f"indices must be a sequence of ints, got {type(indices).__name__}")
        wanted = []
        for i in indices:
            if isinstance(i, bool):
                raise TypeError(f"indices must be ints, got {i!r}")
            try:
                wanted.append(operator.index(i))
            except TypeError:
                raise TypeError(f"indices must be ints, got {type(i).__name__} {i!r}") from None
        if not wanted:
            return []
        negative = [i for i in wanted if i < 0]
        if negative:
            raise IndexError(
                f"indices must be >= 0 (a dataset streams: there is no end to count back "
                f"from), got {negative}"
            )
        want = set(wanted)
        last = max(want)
        found: dict = {}
        seen = 0
        if self._plain:
            st = self._sample_type
            for cols in self._batches(_ROW_CHUNK):
                n = len(next(iter(cols.values()))) if cols else 0
                for i in range(seen, seen + n):
                    if i in want:
                        found[i] = _make_sample(st, _row(cols, i - seen))
                seen += n
                if seen > last:
                    break
        else:
            for i, s in enumerate(self._transformed(self._samples(None, None))):
                seen = i + 1
                if i in want:
                    found[i] = s
                if i >= last:
                    break
        missing = [i for i in wanted if i not in found]
        if missing:
            raise IndexError(f"indices {missing} out of range: the dataset has {seen} samples")
        return [found[i] for i in wanted]

    def part(self, index: int, count: int) -> "Dataset":
        """Part ``index`` of ``count`` (disjoint shard subsets, for data-parallel workers)."""
        count = check_int("count", count, minimum=1)
        index = check_int("index", index, maximum=count - 1)
        return self._derive(self._core.part(index, count))

    # -- raw WebDataset samples ----------------------------------------------------------

    def wrap(self, sample: dict) -> Any:
        """The sample of a raw WebDataset sample dict (``{"__key__": ..., "msgpack": bytes}``)
        as this dataset's type."""
        if not isinstance(sample, dict) or "msgpack" not in sample:
            keys = list(sample) if isinstance(sample, dict) else type(sample).__name__
            raise ValueError(f"a raw sample needs a 'msgpack' entry, got {keys}")
        data = sample["msgpack"]
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValueError(f"sample['msgpack'] must be bytes, got {type(data).__name__}")
        st = self._sample_type
        schema = schema_json_of(st) if st is not None and st is not DictSample else None
        return _make_sample(st, _core.unpack(bytes(data), schema))

    def wrap_batch(self, batch: dict) -> SampleBatch:
        """A ``SampleBatch`` of a raw WebDataset batch (``{"msgpack": [bytes, ...]}``)."""
        if not isinstance(batch, dict) or "msgpack" not in batch:
            keys = list(batch) if isinstance(batch, dict) else type(batch).__name__
            raise ValueError(f"a raw batch needs a 'msgpack' entry, got {keys}")
        samples = [self.wrap({"msgpack": b}) for b in batch["msgpack"]]
        return SampleBatch(samples, self.sample_type)

    # -- per shard -----------------------------------------------------------------------

    def process_shards(
        self,
        fn: Callable[[list], Any],
        *,
        shards: Optional[Sequence[str]] = None,
        checkpoint: "Optional[str | os.PathLike[str]]" = None,
        on_shard_error: Optional[Callable[[str, Exception], None]] = None,
    ) -> dict:
        """Calls ``fn(samples_of_one_shard)`` for each shard and returns ``{shard: result}``.

        Eager, one shard at a time. A shard whose reading or ``fn`` fails does not stop the
        others; at the end ``PartialFailureError`` carries the results and the errors, so that
        ``process_shards(fn, shards=e.failed_shards)`` retries only those. ``on_shard_error``
        is called with each failure as it happens. With ``checkpoint`` (a file path), shards
        listed in the file are skipped, each success is appended to it, and the file is
        removed once every shard succeeded.
        """
        _check_callable("fn", fn)
        if on_shard_error is not None:
            _check_callable("on_shard_error", on_shard_error)
        if shards is None:
            todo = self.list_shards()
        else:
            if isinstance(shards, (str, bytes)):
                raise TypeError("shards must be a list of shard URLs, not one string")
            todo = list(shards)
            bad = [s for s in todo if not isinstance(s, str)]
            if bad:
                raise TypeError(f"shards must be shard URL strings, got {bad[0]!r}")
        ckpt = Path(os.fspath(checkpoint)) if checkpoint is not None else None
        if ckpt is not None and ckpt.exists():
            done = set(ckpt.read_text(encoding="utf-8").splitlines())
            todo = [s for s in todo if s not in done]
        results: dict = {}
        failed: list = []
        errors: dict = {}
        for shard in todo:
            try:
                one = self._derive(self._core.with_urls([shard]))
                results[shard] = fn(list(one.ordered(progress=False)))
            except Exception as e:  # noqa: BLE001 - every shard's failure is reported
                failed.append(shard)
                errors[shard] = e
                if on_shard_error is not None:
                    on_shard_error(shard, e)
                continue
            if ckpt is not None:
                with open(ckpt, "a", encoding="utf-8") as f:
                    f.write(shard + "\n")
        if failed:
            raise PartialFailureError(
                succeeded_shards=list(results), failed_shards=failed, errors=errors, results=results
            )
        if ckpt is not None and ckpt.exists():
            ckpt.unlink()
        return results

    # -- exports -------------------------------------------------------------------------

    def _fields(self) -> Optional[tuple]:
        """The export's columns: the fields of the type this dataset yields (a lens's view,
        not its source); None when its samples decide (DictSample, or after a map)."""
        st = self.sample_type
        if self._map is not None or st is None or st is DictSample:
            return None
        return tuple(st.__atdata_fields__)

    def _column_chunks(self, limit: Optional[int]) -> Iterator[tuple]:
        """``(columns, rows)`` per batch, at most ``limit`` rows in all: the columns of the
        sample type's fields (all the data's for ``DictSample``), straight from the core's
        columnar batches unless a filter or map needs the samples."""
        limit = check_int("limit", limit, optional=True)
        if limit == 0:
            return
        fields = self._fields()
        left = limit
        if self._plain:
            chunks: Iterable[dict] = self._batches(_ROW_CHUNK)
        else:
            chunks = self._transformed_columns()
        for cols in chunks:
            n = len(next(iter(cols.values()))) if cols else 0
            if n == 0:
                continue
            if fields is not None:
                cols = {f: cols[f] if f in cols else [None] * n for f in fields}
            if left is not None and n > left:
                cols = {k: v[:left] for k, v in cols.items()}
                n = left
            yield cols, n
            if left is not None:
                left -= n
                if left == 0:
                    return

    def _transformed_columns(self) -> Iterator[dict]:
        out = self._transformed(self._samples(None, None))
        while True:
            chunk = list(itertools.islice(out, _ROW_CHUNK))
            if not chunk:
                return
            bad = next((x for x in chunk if not _batchable(x)), None)
            if bad is not None:
                raise TypeError(
                    "this dataset's map returns "
                    f"{type(bad).__name__} values, which have no fields to export; map to "
                    "@packable samples (or DictSample) to export"
                )
            yield SampleBatch(chunk, type(chunk[0])).to_dict()

    def to_dict(self, limit: Optional[int] = None) -> dict:
        """Field -> list of values of the first ``limit`` samples (all when None), in shard
        order; arrays stay numpy arrays, one per sample. Loads what it returns into memory."""
        out: dict = {}
        for cols, _ in self._column_chunks(limit):
            for name, col in cols.items():
                out.setdefault(name, []).extend(list(col))
        return out

    def to_pandas(self, limit: Optional[int] = None) -> Any:
        """A pandas DataFrame of the first ``limit`` samples (all when None): one row per
        sample, one column per field; an array field is a column of numpy arrays (dtype
        object), as in atdata 0.7. Built batch by batch; needs pandas."""
        pd = _require("pandas", "Dataset.to_pandas")
        frames = []
        for cols, n in self._column_chunks(limit):
            frames.append(pd.DataFrame({k: _object_column(v, n) for k, v in cols.items()}))
        if not frames:
            return pd.DataFrame()
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True)

    def to_parquet(
        self,
        path: "str | os.PathLike[str]",
        sample_map: Optional[Callable[[Any], dict]] = None,
        maxcount: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Writes the dataset to Parquet: one file at ``path``, or with ``maxcount`` files of
        at most that many rows named ``{stem}-{000000}{suffix}`` beside it (atdata 0.7's names).

        Streams batch by batch (memory is one batch, whatever ``maxcount``). An array field
        becomes a list column (nested lists for n-d arrays). ``sample_map(sample) -> dict``
        chooses the columns per sample instead. Other keywords go to
        ``pyarrow.parquet.ParquetWriter`` (``compression=...``); pandas' ``index`` and
        ``engine="pyarrow"`` are accepted. Needs pyarrow.
        """
        pa = _require("pyarrow", "Dataset.to_parquet")
        pq = _require("pyarrow.parquet", "Dataset.to_parquet")
        maxcount = check_int("maxcount", maxcount, minimum=1, optional=True)
        kwargs.pop("index", None)  # pandas' option; we never write a pandas index
        engine = kwargs.pop("engine", None)
        if engine not in (None, "auto", "pyarrow"):
            raise ValueError(f"to_parquet writes with pyarrow; engine={engine!r} is not available")
        if sample_map is not None:
            _check_callable("sample_map", sample_map)
            samples = self._transformed(self._samples(None, None))
            chunks: Iterable[tuple] = _mapped_chunks(samples, sample_map)
        else:
            chunks = self._column_chunks(None)
        sink = _ParquetSink(pa, pq, Path(os.fspath(path)), maxcount, kwargs)
        try:
            for cols, n in chunks:
                sink.add(cols, n)
            sink.close()
        except BaseException:
            sink.abort()
            raise

    def __repr__(self) -> str:
        return (
            f"Dataset[{self.sample_type.__name__}](name={self.name!r}, "
            f"shards={len(self.urls)})"
        )


class _Drop:
    """Marks a sample a filter placed after a map removed."""

    def __repr__(self) -> str:
        return "<dropped>"


_DROP = _Drop()


def _object_column(col: Any, n: int) -> Any:
    """A column as pandas takes it: a stacked array column becomes one array per row."""
    if isinstance(col, np.ndarray) and col.ndim > 1:
        out = np.empty(n, dtype=object)
        for i in range(n):
            out[i] = col[i]
        return out
    return col


def _mapped_chunks(samples: Iterator[Any], sample_map: Callable[[Any], dict]) -> Iterator[tuple]:
    """``(columns, rows)`` of ``sample_map``'s rows, a batch at a time."""
    while True:
        rows = [sample_map(s) for s in itertools.islice(samples, _ROW_CHUNK)]
        if not rows:
            return
        bad = next((r for r in rows if not isinstance(r, dict)), None)
        if bad is not None:
            raise TypeError(f"sample_map must return a dict per sample, got {type(bad).__name__}")
        names = list(rows[0])
        for r in rows[1:]:
            names.extend(k for k in r if k not in names)
        yield {k: [r.get(k) for r in rows] for k in names}, len(rows)


def _arrow_column(pa: Any, name: str, col: Any) -> Any:
    """One column as an Arrow array; numpy array columns ``(B, d1, ...)`` become (nested)
    lists over the one buffer, without a Python object per value."""
    if isinstance(col, np.ndarray):
        if col.ndim == 1:
            return pa.array(col)
        values = pa.array(np.ascontiguousarray(col).reshape(-1))
        for dim in reversed(col.shape[1:]):
            offsets = np.arange(0, len(values) + 1, dim, dtype=np.int64)
            if offsets[-1] <= np.iinfo(np.int32).max:
                values = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)
            else:
                values = pa.LargeListArray.from_arrays(pa.array(offsets), values)
        return values
    items = [x.tolist() if isinstance(x, np.ndarray) and x.ndim > 1 else x for x in col]
    try:
        arr = pa.array(items)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise ValueError(f"to_parquet: column {name!r} cannot be stored in Parquet: {e}") from None
    # Text as pandas (and so atdata 0.7's to_parquet) writes it.
    return arr.cast(pa.large_string()) if pa.types.is_string(arr.type) else arr


class _ParquetSink:
    """Rows into one Parquet file, or files of ``maxcount`` rows; the schema is fixed by the
    first rows whose columns all have a type (columns that are None so far wait, up to
    ``_HOLD_ROWS`` rows), and later batches are cast to it."""

    _HOLD_ROWS = 65_536

    def __init__(self, pa: Any, pq: Any, path: Path, maxcount: Optional[int], options: dict):
        self.pa, self.pq, self.path, self.maxcount, self.options = pa, pq, path, maxcount, options
        self.schema: Any = None
        self.held: list = []
        self.held_rows = 0
        self.writer: Any = None
        self.current: Optional[Path] = None
        self.in_file = 0
        self.segment = 0

    def _next_path(self) -> Path:
        if self.maxcount is None:
            return self.path
        p = self.path.parent / f"{self.path.stem}-{self.segment:06d}{self.path.suffix}"
        self.segment += 1
        return p

    def add(self, cols: dict, n: int) -> None:
        pa = self.pa
        table = pa.table({k: _arrow_column(pa, k, v) for k, v in cols.items()})
        if self.schema is None:
            self.held.append(table)
            self.held_rows += n
            if self.held_rows < self._HOLD_ROWS and any(
                pa.types.is_null(f.type) for f in table.schema
            ):
                return
            self._fix_schema()
            return
        self._write(self._conform(table))

    def _fix_schema(self) -> None:
        held, self.held = self.held, []
        schemas = [t.schema for t in held]
        try:
            self.schema = self.pa.unify_schemas(schemas, promote_options="permissive")
        except TypeError:  # pyarrow < 14: no promotion (a column that is None stays null)
            self.schema = self.pa.unify_schemas(schemas)
        for t in held:
            self._write(self._conform(t))

    def _conform(self, table: Any) -> Any:
        if table.schema.equals(self.schema):
            return table
        try:
            return table.select(self.schema.names).cast(self.schema)
        except (KeyError, ValueError, self.pa.ArrowInvalid, self.pa.ArrowNotImplementedError) as e:
            raise ValueError(
                f"to_parquet: rows after the first ones do not fit the columns those fixed "
                f"({self.schema}): {e}"
            ) from None

    def _write(self, table: Any) -> None:
        start = 0
        while start < table.num_rows:
            if self.writer is None:
                self.current = self._next_path()
                self.writer = self.pq.ParquetWriter(str(self.current), self.schema, **self.options)
                self.in_file = 0
            room = table.num_rows - start
            if self.maxcount is not None:
                room = min(room, self.maxcount - self.in_file)
            self.writer.write_table(table.slice(start, room))
            start += room
            self.in_file += room
            if self.maxcount is not None and self.in_file >= self.maxcount:
                self.writer.close()
                self.writer = None

    def close(self) -> None:
        if self.schema is None and self.held:
            self._fix_schema()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        elif self.schema is None and self.maxcount is None:
            # No rows at all: still an (empty) file, as pandas writes one.
            self.pq.write_table(self.pa.table({}), str(self.path), **self.options)

    def abort(self) -> None:
        """Closes and removes the file being written: a half-written file is never left."""
        if self.writer is not None:
            try:
                self.writer.close()
            finally:
                self.writer = None
                if self.current is not None:
                    self.current.unlink(missing_ok=True)


class DatasetDict(dict):
    """Datasets by split name (``train``, ``test``, ``validation``), as HF ``datasets`` and
    atdata 0.7 have it: a dict, plus ``sample_type``, ``streaming``, ``num_shards``, and, when
    there is exactly one split, that split's ``ordered``/``shuffled``/``as_type``/
    ``list_shards``/``head``."""

    #: Dataset methods a one-split dict answers itself (atdata 0.7's list).
    _SPLIT_METHODS = frozenset({"ordered", "shuffled", "as_type", "list_shards", "head"})

    def __class_getitem__(cls, sample_type: Any) -> Any:
        return cls

    def __init__(
        self,
        splits: Any = None,
        sample_type: Any = None,
        streaming: bool = False,
    ) -> None:
        super().__init__(splits or {})
        self._sample_type = sample_type
        self._streaming = bool(streaming)

    @property
    def sample_type(self) -> Any:
        """The sample type given, else the first split's; None for an empty dict."""
        if self._sample_type is not None:
            return self._sample_type
        for ds in self.values():
            return ds.sample_type
        return None

    @property
    def streaming(self) -> bool:
        """Whether ``load_dataset(..., streaming=True)`` made it (every dataset streams)."""
        return self._streaming

    @property
    def num_shards(self) -> dict:
        """Split -> number of shards."""
        return {name: len(ds.list_shards()) for name, ds in self.items()}

    def __missing__(self, key: Any) -> Any:
        from ._exceptions import SplitNotFoundError

        raise SplitNotFoundError(
            f"no split {key!r}; available splits: {', '.join(map(str, self)) or '(none)'}"
        )

    def __getattr__(self, name: str) -> Any:
        if name in DatasetDict._SPLIT_METHODS:
            if len(self) == 1:
                return getattr(next(iter(self.values())), name)
            raise AttributeError(
                f"DatasetDict has {len(self)} splits ({', '.join(map(str, self)) or 'none'}); "
                f"pick one first, e.g. dd[{next(iter(self), 'train')!r}].{name}(...)"
            )
        raise AttributeError(f"'DatasetDict' object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"DatasetDict({ {k: v for k, v in self.items()} })"


__all__ = ["DictSample", "SampleBatch", "Dataset", "DatasetDict"]
