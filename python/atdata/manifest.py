"""Per-shard manifests: a small summary written beside each shard, to query without reading it.

For shard ``data-000000.tar`` a manifest is two files (atdata 0.7's format, readable by 0.7):

- ``data-000000.manifest.json``: the header (shard id, schema name and version, sample count,
  msgpack bytes, creation time) with one aggregate per manifest field (value counts for a
  categorical field, min/max/mean/count for a numeric one, the union of values for a list);
- ``data-000000.manifest.parquet``: one row per sample: ``__key__``, ``__offset__`` (where the
  sample's tar entry starts), ``__size__`` (its msgpack bytes) and the manifest fields' values.

Which fields: ``str``/``bool`` fields are categorical, ``int``/``float`` numeric, ``list``
fields sets; arrays and bytes are left out. ``Annotated[T, ManifestField("numeric")]`` sets
the kind, ``ManifestField(..., exclude=True)`` leaves a field out.

Write them with ``write_samples(..., manifest=True)`` or ``index.write_samples(...,
manifest=True)``; query with ``ds.query(where=...)``, where ``where`` is a function of the
per-sample DataFrame or a predicate built from ``ds.fields`` / ``query_fields(T)`` / ``F``::

    Q = ds.fields
    hits = ds.query(where=(Q.confidence > 0.9) & Q.label.isin(["dog", "cat"]))
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import mmap
import os
import typing
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Optional, Sequence

MANIFEST_FORMAT_VERSION = "1.0.0"

AggregateKind = Literal["categorical", "numeric", "set"]
_KINDS = ("categorical", "numeric", "set")

# Columns every per-sample table has, before the manifest fields.
_KEY, _OFFSET, _SIZE = "__key__", "__offset__", "__size__"


# -- which fields --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ManifestField:
    """Marks a sample field for manifests: ``Annotated[float, ManifestField("numeric")]``.

    ``aggregate`` is ``"categorical"``, ``"numeric"`` or ``"set"``; ``exclude=True`` keeps a
    field out of manifests that would otherwise be in (any ``str``, ``bool``, ``int``,
    ``float`` or ``list`` field is, without a marker).
    """

    aggregate: AggregateKind
    exclude: bool = False

    def __post_init__(self) -> None:
        if self.aggregate not in _KINDS:
            raise ValueError(
                f"ManifestField aggregate must be one of {list(_KINDS)}, got {self.aggregate!r}"
            )


def _inferred_kind(tp: Any) -> Optional[str]:
    from ._packable import _is_ndarray, _unwrap_optional

    inner, _ = _unwrap_optional(tp)
    if _is_ndarray(inner) or inner is bytes:
        return None
    if inner is str or inner is bool:
        return "categorical"
    if inner is int or inner is float:
        return "numeric"
    if inner is list or typing.get_origin(inner) is list:
        return "set"
    return None


def resolve_manifest_fields(sample_type: type) -> dict:
    """``{field name: ManifestField}`` for the fields of ``sample_type`` that manifests hold,
    in declaration order: the marked ones and those whose type implies a kind."""
    names = getattr(sample_type, "__atdata_fields__", None)
    if names is None:
        if isinstance(sample_type, type) and dataclasses.is_dataclass(sample_type):
            names = tuple(f.name for f in dataclasses.fields(sample_type))
        else:
            raise TypeError(
                f"manifests need a @packable sample class with declared fields; "
                f"{getattr(sample_type, '__name__', sample_type)!r} has none"
            )
    from ._packable import field_hints

    try:
        hints = field_hints(sample_type, include_extras=True)
    except TypeError as e:
        raise TypeError(f"cannot read the field types for a manifest: {e}") from None
    out: dict = {}
    for name in names:
        tp = hints.get(name)
        marks = [m for m in getattr(tp, "__metadata__", ()) if isinstance(m, ManifestField)]
        if marks:
            if not marks[0].exclude:
                out[name] = marks[0]
            continue
        base = typing.get_args(tp)[0] if hasattr(tp, "__metadata__") else tp
        kind = _inferred_kind(base)
        if kind is not None:
            out[name] = ManifestField(kind)
    return out


# -- aggregates ----------------------------------------------------------------------------


def _present(values: Iterable[Any]) -> Iterator[Any]:
    return (v for v in values if v is not None)


@dataclasses.dataclass
class CategoricalAggregate:
    """How often each value occurs (values as text, in first-seen order)."""

    value_counts: dict = dataclasses.field(default_factory=dict)

    @property
    def cardinality(self) -> int:
        """Distinct values seen."""
        return len(self.value_counts)

    def add(self, value: Any) -> None:
        key = str(value)
        self.value_counts[key] = self.value_counts.get(key, 0) + 1

    def update(self, values: Iterable[Any]) -> None:
        """Adds many values (None skipped) at C speed."""
        counts = Counter(self.value_counts)
        counts.update(map(str, _present(values)))
        self.value_counts = dict(counts)

    def to_dict(self) -> dict:
        return {
            "type": "categorical",
            "cardinality": self.cardinality,
            "value_counts": dict(self.value_counts),
        }


@dataclasses.dataclass
class NumericAggregate:
    """Minimum, maximum, mean and count of a number field (as floats)."""

    _min: float = math.inf
    _max: float = -math.inf
    _sum: float = 0.0
    count: int = 0

    @property
    def min(self) -> float:
        return self._min

    @property
    def max(self) -> float:
        return self._max

    @property
    def mean(self) -> float:
        return self._sum / self.count if self.count else 0.0

    def add(self, value: Any) -> None:
        self.update((value,))

    def update(self, values: Iterable[Any]) -> None:
        """Adds many values (None skipped)."""
        try:
            vals = [float(v) for v in _present(values)]
        except (TypeError, ValueError) as e:
            raise TypeError(f"a numeric manifest field holds a value that is not a number: {e}")
        if vals:
            self._min = min(self._min, min(vals))
            self._max = max(self._max, max(vals))
            self._sum += math.fsum(vals)
            self.count += len(vals)

    def to_dict(self) -> dict:
        return {
            "type": "numeric",
            "min": self._min,
            "max": self._max,
            "mean": self.mean,
            "count": self.count,
        }


@dataclasses.dataclass
class SetAggregate:
    """Every value that occurs in a list field (as text)."""

    all_values: set = dataclasses.field(default_factory=set)

    def add(self, values: Any) -> None:
        self.update((values,))

    def update(self, lists: Iterable[Any]) -> None:
        """Adds the items of many lists (None skipped)."""
        for values in _present(lists):
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise TypeError(
                    f"a set manifest field holds {type(values).__name__} {values!r}, not a list"
                )
            self.all_values.update(map(str, values))

    def to_dict(self) -> dict:
        return {"type": "set", "all_values": sorted(self.all_values)}


def create_aggregate(kind: str) -> Any:
    """A fresh aggregate for ``kind`` (``categorical``, ``numeric`` or ``set``)."""
    makers = {"categorical": CategoricalAggregate, "numeric": NumericAggregate, "set": SetAggregate}
    if kind not in makers:
        raise ValueError(
            f"unknown manifest aggregate kind {kind!r}; expected one of {list(_KINDS)}"
        )
    return makers[kind]()


# -- one shard's manifest -------------------------------------------------------------------


def _empty_frame() -> Any:
    import pandas as pd

    return pd.DataFrame()


@dataclasses.dataclass
class ShardManifest:
    """One shard's manifest: the header fields, ``aggregates`` (field -> summary dict) and
    ``samples``, a pandas DataFrame with one row per sample."""

    shard_id: str
    schema_type: str
    schema_version: str
    num_samples: int
    size_bytes: int
    created_at: datetime
    aggregates: dict
    samples: Any
    provenance: dict = dataclasses.field(default_factory=dict)

    def header_dict(self) -> dict:
        """The header as written to ``.manifest.json``."""
        header = {
            "manifest_version": MANIFEST_FORMAT_VERSION,
            "shard_id": self.shard_id,
            "schema_type": self.schema_type,
            "schema_version": self.schema_version,
            "num_samples": self.num_samples,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at.isoformat(),
            "aggregates": self.aggregates,
        }
        if self.provenance:
            header["provenance"] = self.provenance
        return header

    @classmethod
    def _from_header(cls, header: Any, samples: Any, where: str) -> "ShardManifest":
        if not isinstance(header, dict):
            raise ValueError(f"manifest {where}: the header is not a JSON object")
        try:
            return cls(
                shard_id=header["shard_id"],
                schema_type=header["schema_type"],
                schema_version=header["schema_version"],
                num_samples=header["num_samples"],
                size_bytes=header["size_bytes"],
                created_at=datetime.fromisoformat(header["created_at"]),
                aggregates=header.get("aggregates", {}),
                samples=samples,
                provenance=header.get("provenance", {}),
            )
        except KeyError as e:
            raise ValueError(f"manifest {where}: the header has no {e.args[0]!r}") from None
        except (TypeError, ValueError) as e:
            raise ValueError(f"manifest {where}: bad created_at: {e}") from None

    @classmethod
    def from_files(
        cls, json_path: "str | os.PathLike[str]", parquet_path: "str | os.PathLike[str]"
    ) -> "ShardManifest":
        """Loads a manifest from its ``.manifest.json`` and ``.manifest.parquet`` files."""
        header = _read_header(json_path)
        return cls._from_header(header, _read_samples(parquet_path), os.fspath(json_path))

    @classmethod
    def from_json_only(cls, json_path: "str | os.PathLike[str]") -> "ShardManifest":
        """Loads only the header (``samples`` is empty): enough to look at aggregates."""
        return cls._from_header(_read_header(json_path), _empty_frame(), os.fspath(json_path))


def _read_header(path: "str | os.PathLike[str]") -> Any:
    with open(path, "r", encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"manifest {os.fspath(path)} is not valid JSON: {e}") from None


def _read_samples(path: "str | os.PathLike[str]") -> Any:
    """The per-sample table. List fields are stored as JSON text (parquet's JSON type, as
    0.7's writer does); they come back as lists, as 0.7's reader gives them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not os.path.exists(path):
        raise FileNotFoundError(f"manifest table {os.fspath(path)} does not exist")
    table = pq.read_table(path)
    frame = table.to_pandas()
    for field in table.schema:
        if isinstance(field.type, pa.JsonType):
            frame[field.name] = [None if v is None else json.loads(v) for v in frame[field.name]]
    return frame


class ManifestWriter:
    """Writes a ``ShardManifest`` beside its shard: ``{base_path}.manifest.json`` and
    ``{base_path}.manifest.parquet``, ``base_path`` being the shard path without ``.tar``."""

    def __init__(self, base_path: "str | os.PathLike[str]") -> None:
        self._base_path = Path(base_path)

    @property
    def json_path(self) -> Path:
        return self._base_path.parent / (self._base_path.name + ".manifest.json")

    @property
    def parquet_path(self) -> Path:
        return self._base_path.parent / (self._base_path.name + ".manifest.parquet")

    def write(self, manifest: ShardManifest) -> tuple:
        """Writes both files (each whole or not at all) and returns their paths."""
        js, pq_path = self.json_path, self.parquet_path
        js.parent.mkdir(parents=True, exist_ok=True)
        kinds = {k: a.get("type") for k, a in manifest.aggregates.items() if isinstance(a, dict)}
        _atomic_write(pq_path, lambda tmp: _write_table(manifest.samples, tmp, kinds))
        text = json.dumps(manifest.header_dict(), indent=2)
        _atomic_write(js, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return js, pq_path


def _atomic_write(dest: Path, write: Callable[[str], Any]) -> None:
    # A reader never sees half a manifest: write beside it, then rename over.
    tmp = str(dest) + f".tmp-{os.getpid()}"
    try:
        write(tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_table(frame: Any, path: str, kinds: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    null_types = {"numeric": pa.float64(), "categorical": pa.string(), "set": pa.json_()}
    columns, names = [], []
    for name in frame.columns:
        values = frame[name].tolist()
        sample = next((v for v in values if v is not None), None)
        if sample is None and kinds.get(name) in null_types:
            # No value at all: a column of nulls of the type the field's kind implies.
            columns.append(pa.nulls(len(values), null_types[kinds[name]]))
        elif isinstance(sample, (list, tuple, dict, set)):
            text = [None if v is None else json.dumps(_jsonable(v)) for v in values]
            columns.append(pa.array(text, type=pa.json_(pa.string())))
        else:
            try:
                columns.append(pa.array(values, from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                kinds = sorted({type(v).__name__ for v in values if v is not None})
                raise TypeError(
                    f"manifest field {name!r} holds values of types {kinds}: a manifest "
                    f"column needs one type ({e})"
                ) from None
        names.append(str(name))
    pq.write_table(pa.table(columns, names=names), path)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (set, tuple)):
        return list(v)
    return v


class ManifestBuilder:
    """Collects one shard's manifest while it is written: ``add_sample`` per sample, then
    ``build()``. Aggregates are computed once, over whole columns, at ``build()``."""

    def __init__(
        self,
        sample_type: type,
        shard_id: str,
        schema_version: str = "1.0.0",
        source_job_id: Optional[str] = None,
        parent_shards: Optional[list] = None,
        pipeline_version: Optional[str] = None,
    ) -> None:
        self._sample_type = sample_type
        self._shard_id = shard_id
        self._schema_version = schema_version
        self._provenance: dict = {}
        if source_job_id:
            self._provenance["source_job_id"] = source_job_id
        if parent_shards:
            self._provenance["parent_shards"] = list(parent_shards)
        if pipeline_version:
            self._provenance["pipeline_version"] = pipeline_version
        self._fields = resolve_manifest_fields(sample_type)
        self._keys: list = []
        self._offsets: list = []
        self._sizes: list = []
        self._columns: dict = {name: [] for name in self._fields}

    def add_sample(self, *, key: str, offset: int, size: int, sample: Any) -> None:
        """Records one sample: its key, tar offset, msgpack size and manifest fields."""
        self._keys.append(key)
        self._offsets.append(offset)
        self._sizes.append(size)
        for name, col in self._columns.items():
            col.append(getattr(sample, name, None))

    def _extend(self, keys: list, offsets: list, sizes: list, columns: dict) -> None:
        # The write path hands over whole columns it collected while writing.
        self._keys += keys
        self._offsets += offsets
        self._sizes += sizes
        for name, col in self._columns.items():
            col += columns[name]

    def build(self) -> ShardManifest:
        """The finished manifest."""
        import pandas as pd

        aggregates = {}
        for name, mf in self._fields.items():
            agg = create_aggregate(mf.aggregate)
            try:
                agg.update(self._columns[name])
            except TypeError as e:
                raise TypeError(
                    f"manifest of shard {self._shard_id!r}, field {name!r}: {e}"
                ) from None
            aggregates[name] = agg.to_dict()
        if self._keys:
            data = {_KEY: self._keys, _OFFSET: self._offsets, _SIZE: self._sizes}
            # A field never set in this shard is still a column (of nulls; 0.7 leaves it
            # out), so that a query naming it works on every shard.
            data.update(self._columns)
            samples = pd.DataFrame(data)
        else:
            samples = pd.DataFrame()
        return ShardManifest(
            shard_id=self._shard_id,
            schema_type=self._sample_type.__name__,
            schema_version=self._schema_version,
            num_samples=len(self._keys),
            size_bytes=sum(self._sizes),
            created_at=datetime.now(timezone.utc),
            aggregates=aggregates,
            samples=samples,
            provenance=dict(self._provenance),
        )


# -- queries -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SampleLocation:
    """Where a matching sample is: the shard's id, the sample's key and its tar offset."""

    shard: str
    key: str
    offset: int


def _manifest_base(url: str) -> str:
    return url[: -len(".tar")] if url.endswith(".tar") else url


class QueryExecutor:
    """Runs a query over many shards' manifests: ``where`` (a function of a shard's
    per-sample DataFrame returning a boolean Series, or a ``Predicate``) selects rows; the
    result lists their locations, shard by shard in order."""

    def __init__(self, manifests: Sequence[ShardManifest]) -> None:
        self._manifests = list(manifests)

    @property
    def manifests(self) -> list:
        return list(self._manifests)

    def query(self, where: Any) -> list:
        """The locations of the samples ``where`` selects."""
        if not callable(where):
            raise TypeError(
                f"where must be a function of the manifest DataFrame or a Predicate, got {where!r}"
            )
        out: list = []
        for m in self._manifests:
            df = m.samples
            if df is None or len(df) == 0:
                continue
            try:
                mask = where(df)
            except KeyError as e:
                fields = [c for c in df.columns if not str(c).startswith("__")]
                raise KeyError(
                    f"manifest of shard {m.shard_id!r} has no field {e.args[0]!r}; its fields: "
                    f"{fields}"
                ) from None
            if getattr(mask, "dtype", None) != bool or len(mask) != len(df):
                raise TypeError(
                    f"where must return one boolean per manifest row; for shard {m.shard_id!r} "
                    f"it returned {type(mask).__name__}"
                )
            hits = df[mask]
            out.extend(
                SampleLocation(m.shard_id, str(k), int(o))
                for k, o in zip(hits[_KEY].tolist(), hits[_OFFSET].tolist())
            )
        return out

    @classmethod
    def from_directory(cls, directory: "str | os.PathLike[str]") -> "QueryExecutor":
        """Every manifest in ``directory`` (header only where the table is missing)."""
        d = Path(directory)
        if not d.is_dir():
            raise FileNotFoundError(f"manifest directory {os.fspath(directory)} does not exist")
        manifests = []
        for js in sorted(d.glob("*.manifest.json")):
            table = js.parent / (js.name[: -len(".json")] + ".parquet")
            manifests.append(_load(js, table))
        return cls(manifests)

    @classmethod
    def from_shard_urls(cls, shard_urls: Iterable[str]) -> "QueryExecutor":
        """The manifests beside the given shards; shards without one are left out."""
        manifests = []
        for url in shard_urls:
            base = _manifest_base(str(url))
            js = Path(base + ".manifest.json")
            if js.exists():
                manifests.append(_load(js, Path(base + ".manifest.parquet")))
        return cls(manifests)


def _load(js: Path, table: Path) -> ShardManifest:
    if table.exists():
        return ShardManifest.from_files(js, table)
    return ShardManifest.from_json_only(js)


# -- the predicate language -----------------------------------------------------------------


class Predicate:
    """A condition on manifest fields, built with comparisons on ``FieldProxy`` objects and
    combined with ``&``, ``|`` and ``~``. Calling it on a DataFrame gives the boolean mask,
    so it is a valid ``where``."""

    __slots__ = ("_kind", "_field", "_op", "_value", "_children", "_compiled")
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self,
        kind: str,
        *,
        field: Optional[str] = None,
        op: Optional[str] = None,
        value: Any = None,
        children: Optional[list] = None,
    ) -> None:
        self._kind = kind
        self._field = field
        self._op = op
        self._value = value
        self._children = children or []
        self._compiled: Optional[Callable[[Any], Any]] = None

    def _join(self, other: Any, kind: str) -> "Predicate":
        if not isinstance(other, Predicate):
            return NotImplemented
        parts = []
        for p in (self, other):
            parts += p._children if p._kind == kind else [p]
        return Predicate(kind, children=parts)

    def __and__(self, other: Any) -> "Predicate":
        return self._join(other, "and")

    def __or__(self, other: Any) -> "Predicate":
        return self._join(other, "or")

    def __invert__(self) -> "Predicate":
        return Predicate("not", children=[self])

    def __bool__(self) -> bool:
        raise TypeError(
            "a manifest Predicate has no truth value: combine conditions with & | ~, "
            "not and/or/not, and write a < F.x < b as F.x.between(a, b)"
        )

    def compile(self) -> Callable[[Any], Any]:
        """The function DataFrame -> boolean Series this predicate stands for."""
        if self._compiled is None:
            self._compiled = self._build()
        return self._compiled

    def _build(self) -> Callable[[Any], Any]:
        if self._kind == "cmp":
            return _comparison(self._field, self._op, self._value)
        parts = [c.compile() for c in self._children]
        if self._kind == "not":
            (only,) = parts
            return lambda df: ~only(df)
        join = (lambda a, b: a & b) if self._kind == "and" else (lambda a, b: a | b)
        return lambda df: functools.reduce(join, (p(df) for p in parts))

    def __call__(self, df: Any) -> Any:
        return self.compile()(df)

    def __repr__(self) -> str:
        if self._kind == "cmp":
            return f"Predicate({self._field!r} {self._op} {self._value!r})"
        if self._kind == "not":
            return f"~{self._children[0]!r}"
        sep = " & " if self._kind == "and" else " | "
        return "(" + sep.join(repr(c) for c in self._children) + ")"


_OPS: dict = {
    "gt": lambda col, v: col > v,
    "lt": lambda col, v: col < v,
    "ge": lambda col, v: col >= v,
    "le": lambda col, v: col <= v,
    "eq": lambda col, v: col == v,
    "ne": lambda col, v: col != v,
    "isin": lambda col, v: col.isin(v),
}


def _comparison(field: Any, op: Any, value: Any) -> Callable[[Any], Any]:
    apply = _OPS[op]
    return lambda df: apply(df[field], value)


class FieldProxy:
    """One manifest field in a query: ``F.score > 0.5``, ``F.label.isin([...])``."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def _cmp(self, op: str, value: Any) -> Predicate:
        return Predicate("cmp", field=self._name, op=op, value=value)

    def __gt__(self, value: Any) -> Predicate:
        return self._cmp("gt", value)

    def __lt__(self, value: Any) -> Predicate:
        return self._cmp("lt", value)

    def __ge__(self, value: Any) -> Predicate:
        return self._cmp("ge", value)

    def __le__(self, value: Any) -> Predicate:
        return self._cmp("le", value)

    def __eq__(self, value: Any) -> Predicate:  # type: ignore[override]
        return self._cmp("eq", value)

    def __ne__(self, value: Any) -> Predicate:  # type: ignore[override]
        return self._cmp("ne", value)

    __hash__ = None  # type: ignore[assignment]

    def isin(self, values: Iterable[Any]) -> Predicate:
        """The field's value is one of ``values``."""
        if isinstance(values, (str, bytes)):
            raise TypeError(f"isin takes a collection of values, not the single value {values!r}")
        return self._cmp("isin", list(values))

    def between(self, low: Any, high: Any) -> Predicate:
        """``low <= field <= high``."""
        return (self >= low) & (self <= high)

    def __repr__(self) -> str:
        return f"FieldProxy({self._name!r})"


def query_fields(sample_type: type) -> Any:
    """An object with one ``FieldProxy`` attribute per manifest field of ``sample_type``
    (so that a typo is an ``AttributeError`` here, not an empty result later)."""
    names = list(resolve_manifest_fields(sample_type))
    attrs: dict = {n: FieldProxy(n) for n in names}
    attrs["__slots__"] = ()
    attrs["__annotations__"] = {n: FieldProxy for n in names}
    cls_name = f"{sample_type.__name__}Fields"
    attrs["__repr__"] = lambda self: f"{cls_name}({', '.join(names)})"
    return type(cls_name, (), attrs)()


class _AnyField:
    """``F.<name>``: a field proxy for any name, when no sample type is at hand."""

    def __getattr__(self, name: str) -> FieldProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        return FieldProxy(name)

    def __repr__(self) -> str:
        return "F"


F = _AnyField()


# -- datasets: writing and querying (the hooks in write_samples, Index and Dataset) -------


class ManifestRecorder:
    """Collects the manifest fields of the samples being written, as they go by, and then
    writes one manifest beside each written shard.

    Field values are taken from the samples as the writer pulls them (no decoding); the
    per-sample key, tar offset and size are read from the tar headers of each new shard,
    since the core writer does not report them.
    """

    def __init__(self, sample_type: type) -> None:
        self._type = sample_type
        self._fields = resolve_manifest_fields(sample_type)
        self._columns: dict = {name: [] for name in self._fields}

    def wrap(self, samples: Iterable[Any]) -> Iterator[Any]:
        """``samples``, recording each one's manifest fields as it is pulled."""
        cols = [(name, col.append) for name, col in self._columns.items()]
        for s in samples:
            for name, append in cols:
                append(getattr(s, name, None))
            yield s

    def finish(self, urls: Sequence[str]) -> list:
        """Writes the manifests of the shards at ``urls`` (in write order); returns the
        JSON paths."""
        schema_version = _schema_version(self._type)
        start, written = 0, []
        for url in urls:
            if not os.path.isfile(url):
                from ._core import UnsupportedFeatureError

                raise UnsupportedFeatureError(
                    f"manifest=True needs shards on local disk; {url!r} is not a local file"
                )
            keys, offsets, sizes = _tar_layout(url)
            end = start + len(keys)
            base = _manifest_base(url)
            b = ManifestBuilder(self._type, Path(base).name, schema_version=schema_version)
            b._extend(keys, offsets, sizes, {n: c[start:end] for n, c in self._columns.items()})
            written.append(ManifestWriter(base).write(b.build())[0])
            start = end
        recorded = len(next(iter(self._columns.values()))) if self._columns else start
        if start != recorded:
            raise RuntimeError(
                f"manifest: the shards hold {start} samples but {recorded} were written"
            )
        return written


def _schema_version(sample_type: type) -> str:
    schema = getattr(sample_type, "__atdata_schema_json__", None)
    if schema:
        try:
            return str(json.loads(schema).get("version") or "1.0.0")
        except ValueError:
            pass
    return "1.0.0"


def _tar_layout(path: str) -> tuple:
    """(keys, header offsets, msgpack sizes) of a shard's samples, from its tar headers.

    The shard was just written by the core: one plain ustar header per sample, read here
    header by header (512 bytes each, the data skipped), which is several times faster than
    ``tarfile``. Anything else in the archive (long-name or PAX records) goes the general
    ``tarfile`` way instead."""
    keys, offsets, sizes = [], [], []
    with open(path, "rb") as f:
        end = os.fstat(f.fileno()).st_size
        if end == 0:
            return keys, offsets, sizes
        # A map of the file: only the pages holding headers are read from it.
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos = 0
            while pos + 512 <= end:
                if mm[pos] == 0:  # the zero blocks that end the archive
                    break
                raw_size = mm[pos + 124 : pos + 136]
                if mm[pos + 156] not in (0x30, 0) or mm[pos + 345] != 0 or raw_size[0] & 0x80:
                    return _tar_layout_general(path)
                size = int(raw_size.strip(b"\0 ") or b"0", 8)
                name = mm[pos : pos + 100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                dot = name.find(".")
                plain = dot > 0 and dot == len(name) - 8 and "/" not in name
                if plain and name.endswith(".msgpack") and not name.startswith("__"):
                    keys.append(name[:dot])
                    offsets.append(pos)
                    sizes.append(size)
                else:
                    _note_member(name, pos, size, keys, offsets, sizes)
                pos += 512 + ((size + 511) & ~511)
    return keys, offsets, sizes


def _note_member(name: str, offset: int, size: int, keys: list, offsets: list, sizes: list) -> None:
    # A sample's key is the member name up to the first dot of its basename; only the
    # .msgpack member counts (the core writes no other).
    base = name.rsplit("/", 1)[-1]
    if base.startswith("__") or "." not in base:
        return
    dot = len(name) - len(base) + base.index(".")
    if name[dot + 1 :] == "msgpack":
        keys.append(name[:dot])
        offsets.append(offset)
        sizes.append(size)


def _tar_layout_general(path: str) -> tuple:
    import tarfile

    keys: list = []
    offsets: list = []
    sizes: list = []
    with tarfile.open(path, "r:") as tf:
        for m in tf:
            if m.isfile():
                _note_member(m.name, m.offset, m.size, keys, offsets, sizes)
    return keys, offsets, sizes


def manifest_for_write(
    sample_type: type, samples: Iterable[Any], repos: Optional[dict] = None, name: str = ""
) -> tuple:
    """For ``write_samples(..., manifest=True)``: (recorder, samples to hand to the writer).
    Checks before anything is written that ``sample_type`` can have a manifest and, for an
    index write (``repos``, ``name``), that the target repository keeps shards on local disk."""
    if repos is not None:
        from ._core import S3DataStore, UnsupportedFeatureError

        head = name[1:] if name.startswith("@") else name
        repo = head.split("/", 1)[0] if "/" in head else "local"
        store = getattr(repos.get(repo, repos.get("local")), "data_store", None)
        if isinstance(store, S3DataStore):
            raise UnsupportedFeatureError(
                f"write_samples(manifest=True) to {name!r}: manifests are written beside shards "
                "on local disk only; this repository stores its shards in S3"
            )
    rec = ManifestRecorder(sample_type)
    return rec, rec.wrap(samples)


def query_dataset(ds: Any, where: Any) -> list:
    """``Dataset.query``: the samples of ``ds`` that ``where`` selects, from the manifests
    beside its shards. Every shard needs one: a partial answer would look like a complete
    one, so a shard without a manifest is an error (``ShardNotFoundError``, also a
    ``FileNotFoundError``) naming it."""
    from ._core import ShardNotFoundError

    urls = list(ds.list_shards())
    missing = [u for u in urls if not os.path.exists(_manifest_base(u) + ".manifest.json")]
    if missing:
        some = ", ".join(missing[:3])
        if len(missing) > 3:
            some += f" and {len(missing) - 3} more"
        raise ShardNotFoundError(
            f"no manifest beside {len(missing)} of the {len(urls)} shards of this dataset "
            f"({some}); write the data with manifest=True to query it"
        )
    return QueryExecutor.from_shard_urls(urls).query(where)


def dataset_fields(ds: Any) -> Any:
    """``Dataset.fields``: ``query_fields`` of the dataset's sample type."""
    return query_fields(ds.sample_type)


__all__ = [
    "AggregateKind",
    "CategoricalAggregate",
    "F",
    "FieldProxy",
    "MANIFEST_FORMAT_VERSION",
    "ManifestBuilder",
    "ManifestField",
    "ManifestWriter",
    "NumericAggregate",
    "Predicate",
    "QueryExecutor",
    "SampleLocation",
    "SetAggregate",
    "ShardManifest",
    "create_aggregate",
    "query_fields",
    "resolve_manifest_fields",
]
