"""``Index``: datasets by name and version, with schemas, over SQLite, PostgreSQL or Redis and a
local data store.

Keyword arguments follow atdata 0.7; what this version does not support yet raises
``UnsupportedFeatureError`` saying so. Writing, reading and resolution run in Rust.
"""

from __future__ import annotations

import json
import os
import warnings
from abc import ABCMeta
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Optional

from . import _core
from ._core import LocalDiskStore, UnsupportedFeatureError
from ._core import PostgresProvider as _CorePostgresProvider
from ._core import RedisProvider as _CoreRedisProvider
from ._core import SqliteProvider as _CoreSqliteProvider
from ._integrity import generate_cid
from ._args import check_int, check_progress, check_text
from ._dataset import Dataset
from ._logging import log_operation
from ._packable import schema_json_of, type_from_schema
from ._write import peek_samples

_DEFAULT = object()
# Keywords atdata 0.7's Index accepts that we ignore when left at their defaults.
_IGNORED_DEFAULTS = {"auto_stubs": False, "stub_dir": None}


def _redis_url(redis: Any) -> str:
    """A Redis URL from a URL text or a redis-py client (its connection's host, port, db,
    username and password), as 0.7 takes a ``redis.Redis``; None is redis-py's default
    server (``localhost:6379``, db 0)."""
    if redis is None:
        return "redis://localhost:6379/0"
    if isinstance(redis, str):
        return redis
    pool = getattr(redis, "connection_pool", None)
    kw = getattr(pool, "connection_kwargs", None)
    if not isinstance(kw, dict):
        raise TypeError(
            f"redis=: expected a redis:// URL or a redis.Redis client, got {type(redis).__name__}"
        )
    from urllib.parse import quote

    if kw.get("path"):
        raise UnsupportedFeatureError("redis=: Redis over a Unix socket is not supported yet")
    user = kw.get("username") or ""
    password = kw.get("password")
    auth = ""
    if password is not None:
        auth = f"{quote(user, safe='')}:{quote(str(password), safe='')}@"
    elif user:
        auth = f"{quote(user, safe='')}@"
    scheme = "rediss" if kw.get("ssl") or "SSL" in type(pool.connection_class).__name__ else "redis"
    host = kw.get("host", "localhost")
    return f"{scheme}://{auth}{host}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


@dataclass
class LocalDatasetEntry(metaclass=ABCMeta):
    """An index entry as atdata 0.7 models it: ``name``, ``schema_ref``, ``data_urls`` and
    ``metadata``, identified by a CID over ``{schema_ref, data_urls}`` (0.7's recipe,
    computed by the core's ``generate_cid``). The provider methods (``get_entry_by_cid``, ...)
    return these; ``metadata["checksums"]`` holds each shard's sha256 when it is known, as
    0.7 keeps it.

    The entries ``Index`` methods return (``IndexEntry``: versions, sample counts, per-shard
    facts) count as ``LocalDatasetEntry`` too (``isinstance`` is True), as 0.7's do.
    """

    name: str
    schema_ref: str
    data_urls: list
    metadata: Optional[dict] = None
    _cid: Optional[str] = field(default=None, repr=False)
    _legacy_uuid: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_text("name", self.name)
        check_text("schema_ref", self.schema_ref)
        if isinstance(self.data_urls, str) or not all(
            isinstance(u, str) for u in self.data_urls
        ):
            raise TypeError(f"data_urls must be a list of str, got {self.data_urls!r}")
        self.data_urls = list(self.data_urls)
        if self.metadata is not None and not isinstance(self.metadata, dict):
            raise TypeError(f"metadata must be a dict or None, got {type(self.metadata).__name__}")
        if self._cid is None:
            self._cid = generate_cid({"schema_ref": self.schema_ref, "data_urls": self.data_urls})

    @property
    def cid(self) -> str:
        """The content identifier (given, or computed from ``schema_ref`` and ``data_urls``)."""
        return self._cid  # type: ignore[return-value]

    @property
    def wds_url(self) -> str:
        """The first shard URL ("" for none): atdata's older single-URL name for the data."""
        return self.data_urls[0] if self.data_urls else ""

    @property
    def sample_kind(self) -> str:
        """The schema reference, under atdata's older name."""
        return self.schema_ref

    @classmethod
    def _from_core(cls, entry: Any) -> "LocalDatasetEntry":
        """The 0.7-shaped view of a core ``IndexEntry``: its CID kept as it is, digests put
        back into ``metadata["checksums"]`` where 0.7 reads them."""
        metadata = entry.metadata
        digests = {s["url"]: s["sha256"] for s in entry.shards if s.get("sha256")}
        if digests:
            metadata = dict(metadata or {})
            metadata["checksums"] = digests
        return cls(
            name=entry.name,
            schema_ref=entry.schema_ref,
            data_urls=entry.data_urls,
            metadata=metadata,
            _cid=entry.cid,
        )


# Our richer entries are 0.7 entries for isinstance checks written against 0.7.
LocalDatasetEntry.register(_core.IndexEntry)
#: atdata 0.7's older name for ``LocalDatasetEntry``.
BasicIndexEntry = LocalDatasetEntry


class _ProviderMethods:
    """atdata 0.7's ``IndexProvider`` methods for reading an index and publishing schemas,
    on every provider class: each calls the core, which runs it on the provider's backend.

    Prefer ``Index.write_samples``/``insert_dataset`` to write: they hash and count the
    shards. ``store_entry`` records an entry as 0.7 does (as given). 0.7's ``store_label``
    (a name pointing at any entry) is not offered: names and versions here are the entries'
    own.
    """

    def store_entry(self, entry: LocalDatasetEntry) -> None:
        """Records ``entry`` (a ``LocalDatasetEntry``) as atdata 0.7 does, as the next
        version of its name: its shards are not read, their digests are the ones in
        ``metadata["checksums"]`` if any (loading it counts the samples, as for every entry
        0.7 wrote). Its CID must be the one 0.7 computes from ``schema_ref`` and
        ``data_urls`` (the default) and its schema record must be stored
        (``store_schema``); recording it again changes nothing (entries never change, where
        0.7 replaces them)."""
        if not isinstance(entry, LocalDatasetEntry):
            raise TypeError(
                f"store_entry: expected a LocalDatasetEntry, got {type(entry).__name__}"
            )
        metadata = dict(entry.metadata) if entry.metadata else None
        checksums = (metadata or {}).pop("checksums", None) or {}
        if not isinstance(checksums, Mapping):
            raise TypeError("store_entry: metadata['checksums'] must be a dict of url -> sha256")
        _core.provider_record_07_entry(
            self,
            entry.name,
            entry.schema_ref,
            list(entry.data_urls),
            [checksums.get(u) for u in entry.data_urls],
            entry.cid,
            metadata,
        )

    def get_entry_by_cid(self, cid: str) -> LocalDatasetEntry:
        """The entry with content identifier ``cid``; ``NotFoundError`` (a ``KeyError``) if
        there is none."""
        check_text("cid", cid)
        entry = _core.provider_entry_by_cid(self, cid)
        if entry is None:
            raise _core.NotFoundError(f"no entry with CID {cid!r} in {self!r}")
        return LocalDatasetEntry._from_core(entry)

    def get_entry_by_name(self, name: str) -> LocalDatasetEntry:
        """The newest version of dataset ``name``; ``NotFoundError`` (a ``KeyError``) if
        there is none."""
        check_text("name", name)
        entry = _core.provider_entry_by_name(self, name)
        if entry is None:
            raise _core.NotFoundError(f"no dataset named {name!r} in {self!r}")
        return LocalDatasetEntry._from_core(entry)

    def iter_entries(self) -> Iterator[LocalDatasetEntry]:
        """Every entry, oldest first (an unreadable row is skipped with a
        ``RuntimeWarning`` naming it)."""
        return iter([LocalDatasetEntry._from_core(e) for e in _core.provider_entries(self)])

    def store_schema(self, name: str, version: str, schema_json: str) -> None:
        """Stores a schema record (JSON text, 0.7's format) as ``name@version``, which must be
        the record's own name and version. Storing the same record again does nothing; a
        different record under a stored version raises ``AlreadyExistsError`` (a
        ``ValueError``): entries refer to records by version, so one never changes."""
        check_text("name", name)
        check_text("version", version)
        check_text("schema_json", schema_json)
        _core.provider_store_schema(self, name, version, schema_json)

    def get_schema_json(self, name: str, version: str) -> Optional[str]:
        """The schema record ``name@version`` as JSON text, or None."""
        check_text("name", name)
        check_text("version", version)
        return _core.provider_schema_json(self, name, version)

    def iter_schemas(self) -> Iterator[tuple]:
        """Every schema record as ``(name, version, json)``."""
        return iter(_core.provider_schemas(self))

    def find_latest_version(self, name: str) -> Optional[str]:
        """The highest stored version of schema ``name`` (semantic version order), or None."""
        check_text("name", name)
        return _core.provider_latest_schema_version(self, name)

    def get_label(self, name: str, version: Optional[str] = None) -> tuple:
        """``(cid, version)`` of dataset ``name`` at ``version`` (None: its newest);
        ``NotFoundError`` (a ``KeyError``) if there is none."""
        check_text("name", name)
        check_text("version", version, optional=True)
        entry = _core.provider_entry_by_name(self, name, version)
        if entry is None:
            at = f" version {version!r}" if version is not None else ""
            raise _core.NotFoundError(f"no dataset named {name!r}{at} in {self!r}")
        return entry.cid, entry.version

    def iter_labels(self) -> Iterator[tuple]:
        """``(name, cid, version)`` for every version of every dataset, oldest first."""
        return iter([(e.name, e.cid, e.version) for e in _core.provider_entries(self)])

    def close(self) -> None:
        """Nothing to do: connections are pooled by the core and closed when the provider
        is no longer used. Kept so atdata 0.7 code that closes its provider runs."""


class SqliteProvider(_ProviderMethods, _CoreSqliteProvider):
    """The SQLite index backend: a database file (``SqliteProvider("lab.db")``, a leading
    ``~`` is the home directory), or memory when no path is given. Several processes may
    share the file."""


class PostgresProvider(_ProviderMethods, _CorePostgresProvider):
    """The PostgreSQL index backend (atdata 0.7's tables), connected to ``dsn``
    (``postgresql://user:password@host:port/dbname``)."""


class RedisProvider(_ProviderMethods, _CoreRedisProvider):
    """The Redis index backend (0.7's keys): ``RedisProvider("redis://host:port/db")`` or
    ``RedisProvider(redis.Redis(...))`` (its host, port, db and password are used for a
    connection of our own). ``prefix`` precedes every key (none by default: 0.7 reads only
    unprefixed keys)."""

    def __new__(cls, redis: Any = None, prefix: Optional[str] = None):
        return super().__new__(cls, _redis_url(redis), prefix)


@dataclass(frozen=True)
class SchemaField:
    """One field of a stored schema."""

    name: str
    field_type: dict
    optional: bool = False


@dataclass(frozen=True)
class SchemaRecord:
    """A stored schema record (name, version, fields, description)."""

    name: str
    version: str
    fields: list = field(default_factory=list)
    description: Optional[str] = None
    created_at: Optional[str] = None
    ref: str = ""

    @classmethod
    def from_json(cls, text: str) -> "SchemaRecord":
        """The record of a schema as the core gives it (``Index.schemas``); the core fills in
        defaults and makes the reference."""
        d = json.loads(_core.normalize_schema(text))
        return cls(
            name=d["name"],
            version=d["version"],
            fields=[SchemaField(f["name"], f["fieldType"], f["optional"]) for f in d["fields"]],
            description=d.get("description"),
            created_at=d.get("createdAt"),
            ref=_core.schema_ref(text),
        )

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "version": self.version,
            "fields": [
                {"name": f.name, "fieldType": f.field_type, "optional": f.optional}
                for f in self.fields
            ],
            "description": self.description,
            "$ref": self.ref,
        }
        if self.created_at is not None:
            out["createdAt"] = self.created_at
        return out


_PROVIDER_CLASSES = (_CoreSqliteProvider, _CorePostgresProvider, _CoreRedisProvider)
# What atdata 0.7 passes on to ``redis.Redis(**kwargs)`` that a connection URL can say.
_REDIS_KEYWORDS = ("host", "port", "db", "username", "password", "ssl")


def _make_provider(
    caller: str,
    provider: Any,
    path: Any,
    dsn: Optional[str],
    redis: Any,
    kwargs: Optional[Mapping[str, Any]] = None,
) -> Any:
    """The index provider that ``provider`` (a name, a provider object or None) and its
    keywords name, as atdata 0.7's ``create_provider``, except that SQLite without ``path`` is
    in memory (as ``Index()``). ``kwargs`` are 0.7's ``redis.Redis`` keywords (host, port,
    db, username, password, ssl) for the Redis provider."""
    name = provider.lower().strip() if isinstance(provider, str) else None
    if name is None and provider is None and (redis is not None or kwargs):
        name = "redis"  # 0.7: Index(redis=conn), Index(host=..., port=...)
    if dsn is not None and name not in ("postgres", "postgresql"):
        raise ValueError(f"{caller}(dsn=...) is for provider='postgres'")
    if kwargs and name != "redis":
        raise TypeError(
            f"{caller}() got unexpected keyword arguments {sorted(kwargs)}: keywords beyond "
            "path/dsn/redis are Redis connection settings (provider='redis')"
        )
    if isinstance(provider, _PROVIDER_CLASSES):
        if path is not None:
            raise ValueError("give either provider=...Provider(...) or path=..., not both")
        return provider
    if (provider is None and name is None) or name == "sqlite":
        return SqliteProvider(os.fspath(path) if path is not None else None)
    if name in ("postgres", "postgresql"):
        if dsn is None:
            raise ValueError("dsn is required for the postgres provider")
        return PostgresProvider(dsn)
    if name == "redis":
        if kwargs:
            if redis is not None:
                raise ValueError(f"{caller}: give redis=... or connection keywords, not both")
            redis = _redis_url_from_keywords(caller, kwargs)
        return RedisProvider(redis)
    # "Unknown provider": the words atdata 0.7 users match on (a ValueError there too).
    raise _core.InvalidArgumentError(
        f"Unknown provider {provider!r} given to {caller}(): expected 'sqlite', 'postgres', "
        "'redis', a SqliteProvider, PostgresProvider or RedisProvider, or None"
    )


def _redis_url_from_keywords(caller: str, kwargs: Mapping[str, Any]) -> str:
    """A ``redis://`` URL from 0.7's ``redis.Redis(host=, port=, db=, username=, password=,
    ssl=)`` keywords (redis-py's defaults for the ones left out)."""
    from urllib.parse import quote

    unknown = sorted(set(kwargs) - set(_REDIS_KEYWORDS))
    if unknown:
        raise UnsupportedFeatureError(
            f"{caller}({', '.join(f'{k}=...' for k in unknown)}): Redis connection settings "
            f"other than {', '.join(_REDIS_KEYWORDS)} are not supported; pass "
            "redis='redis://host:port/db'"
        )
    host = check_text("host", kwargs.get("host", "localhost"))
    port = check_int("port", kwargs.get("port", 6379), minimum=1)
    db = check_int("db", kwargs.get("db", 0), minimum=0)
    user = check_text("username", kwargs.get("username"), optional=True) or ""
    password = kwargs.get("password")
    auth = ""
    if password is not None:
        auth = f"{quote(user, safe='')}:{quote(str(password), safe='')}@"
    elif user:
        auth = f"{quote(user, safe='')}@"
    scheme = "rediss" if kwargs.get("ssl") else "redis"
    return f"{scheme}://{auth}{host}:{port}/{db}"


def create_provider(
    name: str,
    *,
    path: "str | os.PathLike[str] | None" = None,
    dsn: Optional[str] = None,
    redis: Any = None,
    **kwargs: Any,
) -> Any:
    """An index provider by backend name, as atdata 0.7's ``create_provider``: ``"sqlite"``
    (``path``; in memory without one), ``"postgres"`` (``dsn``) or ``"redis"`` (``redis``: a
    ``redis://`` URL or a redis.Redis client, or ``host=``, ``port=``, ``db=``,
    ``password=`` keywords). Another name raises ``InvalidArgumentError`` (a ``ValueError``)
    saying "Unknown provider"."""
    if not isinstance(name, str):
        raise TypeError(f"create_provider: name must be a str, got {type(name).__name__}")
    return _make_provider("create_provider", name, path, dsn, redis, kwargs)


@dataclass
class Repository:
    """A named storage unit of an index: an index ``provider`` (``SqliteProvider``,
    ``PostgresProvider``, ``RedisProvider``) and, optionally, a ``data_store`` for its shards
    (without one, writes to it go to the default store, ``~/.atdata/data``).

    Mount repositories with ``Index(repos={"lab": Repository(...)})`` and address their
    datasets as ``@lab/name``.
    """

    provider: Any
    data_store: Any = None


def create_repository(
    provider: str = "sqlite",
    *,
    path: "str | os.PathLike[str] | None" = None,
    dsn: Optional[str] = None,
    redis: Any = None,
    data_store: Any = None,
    **kwargs: Any,
) -> Repository:
    """A ``Repository`` over a provider made by name, as ``Index(provider=...)`` makes one:
    ``"sqlite"`` (``path``; in memory without one), ``"postgres"`` (``dsn``) or ``"redis"``
    (``redis``: a ``redis://`` URL or a redis.Redis client, or 0.7's ``host=``, ``port=``,
    ``db=``, ``password=`` keywords). Another name raises ``InvalidArgumentError`` (a
    ``ValueError``) saying "Unknown provider"."""
    return Repository(
        provider=_make_provider("create_repository", provider, path, dsn, redis, kwargs),
        data_store=data_store,
    )


class Index:
    """An index of datasets: names, versions, schemas and shards, in one or more
    repositories.

    ``Index()`` is an in-memory SQLite index; ``Index(path=...)`` keeps it in a file that
    several processes may share; ``Index(provider="postgres", dsn="postgresql://...")`` and
    ``Index(provider="redis", redis="redis://..." or a redis.Redis client)`` keep it on a
    server a lab shares (an unreachable one raises ``IndexDatabaseError`` naming it). ``data_store`` is where written shards go
    (``LocalDiskStore()``, default ``~/.atdata/data``). These make the ``local`` repository;
    ``repos={"lab": Repository(provider=..., data_store=...)}`` mounts more, whose datasets
    are ``@lab/name`` (or ``lab/name``) in every method that takes a dataset reference.
    """

    def __init__(
        self,
        provider: Any = None,
        *,
        path: "str | os.PathLike[str] | None" = None,
        dsn: Optional[str] = None,
        redis: Any = None,
        data_store: Any = None,
        repos: Optional[dict] = None,
        atmosphere: Any = _DEFAULT,
        **kwargs: Any,
    ) -> None:
        # Keywords 0.7 passes on to redis.Redis(...) make the Redis provider's URL.
        redis_keywords = {k: kwargs.pop(k) for k in list(kwargs) if k in _REDIS_KEYWORDS}
        for key, value in kwargs.items():
            if key not in _IGNORED_DEFAULTS:
                raise TypeError(f"Index() got an unexpected keyword argument {key!r}")
            if value is not _IGNORED_DEFAULTS[key] and value is not None and value is not False:
                what = {
                    "auto_stubs": "auto_stubs",
                    "stub_dir": "stub_dir",
                }[key]
                raise UnsupportedFeatureError(
                    f"Index({key}=...): {what} is not supported yet; use the SQLite provider "
                    "(provider='sqlite', path=...)"
                )
        if atmosphere is not _DEFAULT and atmosphere is not None:
            raise UnsupportedFeatureError(
                "Index(atmosphere=...): the ATProto atmosphere backend is not supported yet; "
                "pass atmosphere=None or leave it out"
            )
        if repos is not None and not isinstance(repos, Mapping):
            raise TypeError(
                f"repos must be a dict of name -> Repository, got {type(repos).__name__}"
            )
        for name, repo in (repos or {}).items():
            if not isinstance(repo, Repository):
                raise TypeError(f"repos[{name!r}] must be a Repository, got {type(repo).__name__}")
            check_text("repository name", name)
        prov = _make_provider("Index", provider, path, dsn, redis, redis_keywords)
        self._core = _core.Index(prov, data_store)
        # Our own Repository objects: changing the caller's later does not change what is
        # mounted, and ``repos`` shows what is.
        self._repos = {"local": Repository(prov, data_store)}
        for name, repo in (repos or {}).items():
            try:
                self._core.mount(name, repo.provider, repo.data_store)
            except (TypeError, UnsupportedFeatureError) as e:
                raise type(e)(f"repos[{name!r}]: {e}") from None
            self._repos[name] = Repository(repo.provider, repo.data_store)

    # -- repositories -------------------------------------------------------------------

    @property
    def provider(self) -> Any:
        """The ``local`` repository's index provider."""
        return self._repos["local"].provider

    @property
    def data_store(self) -> Any:
        """The ``local`` repository's data store (None: the default store is used)."""
        return self._repos["local"].data_store

    @property
    def repos(self) -> dict:
        """Every repository by name: ``local`` first, then the mounted ones in the order
        given. Each shows its provider and store (kind and location, never a password)."""
        return {name: Repository(r.provider, r.data_store) for name, r in self._repos.items()}

    # -- writing -------------------------------------------------------------------------

    def write_samples(
        self,
        samples: Iterable[Any],
        *,
        name: str,
        schema_ref: Optional[str] = None,
        description: Optional[str] = None,
        tags: Optional[list] = None,
        license: Optional[str] = None,
        maxcount: Optional[int] = None,
        maxsize: Optional[int] = None,
        metadata: Optional[dict] = None,
        manifest: bool = False,
        data_store: Any = None,
        force: bool = False,
        progress: Optional[bool] = None,
    ) -> Any:
        """Writes samples as a new version of dataset ``name`` (``@lab/name``: into the
        mounted repository ``lab``, its shards into its store) and returns its entry.

        Shards roll over at ``maxcount`` samples (None: the core's default, 10,000, as in
        atdata 0.7) or ``maxsize`` bytes. Writing the same samples
        under the same name again returns the existing entry. ``samples`` may be any iterable,
        a generator too: it is consumed chunk by chunk as the shards are written, never held
        whole; if a sample fails, nothing is added to the index.

        ``progress``: None shows a bar on stderr for long writes when stderr is a terminal;
        True always shows one; False never does.
        """
        del force
        check_progress(progress)
        if data_store is not None:
            raise UnsupportedFeatureError(
                "write_samples(data_store=...) is not supported yet; pass it to Index()"
            )
        if schema_ref is not None:
            raise UnsupportedFeatureError(
                "write_samples(schema_ref=...) is not supported yet; the schema comes from "
                "the samples' @packable class"
            )
        check_text("name", name)
        check_text("description", description, optional=True)
        check_text("license", license, optional=True)
        if tags is not None and (
            isinstance(tags, str) or not all(isinstance(t, str) for t in tags)
        ):
            raise TypeError(f"tags must be a list of str, got {tags!r}")
        for t in tags or ():
            check_text("tag", t)
        maxcount = check_int("maxcount", maxcount, minimum=1, optional=True)
        maxsize = check_int("maxsize", maxsize, minimum=1, optional=True)
        first, items, total = peek_samples(
            samples, f"no samples to write to dataset {name!r}: the iterable is empty"
        )
        schema_json = schema_json_of(type(first))
        if manifest:  # atdata.manifest: records the fields as the samples go by
            from .manifest import manifest_for_write

            recorder, items = manifest_for_write(type(first), items, self._repos, name)
        with log_operation("write_samples", name=name):
            entry = self._core.write(
                items,
                schema_json,
                name,
                description,
                list(tags) if tags is not None else [],
                license,
                metadata,
                maxcount,
                maxsize,
                progress,
                total,
            )
            if manifest:
                recorder.finish(entry.data_urls)
        return entry

    def write(self, samples: Iterable[Any], *, name: str, **kwargs: Any) -> Any:
        """Same as ``write_samples`` (kept for atdata 0.7 code; no deprecation warning)."""
        return self.write_samples(samples, name=name, **kwargs)

    def commit_entries(self, sample_type: type, entries: Iterable[Any]) -> int:
        """Indexes shards that are already in place, many datasets in ONE transaction (bulk
        import). ``entries``: ``(name, shards)`` pairs, ``shards`` a list of
        ``(url, sha256_hex, num_samples, num_bytes)``; every entry has the schema of the
        ``@packable`` class ``sample_type``. Returns how many entries were created (an entry
        whose CID is there already is not created again)."""
        rows = []
        for name, shards in entries:
            check_text("name", name)
            rows.append((name, [tuple(s) for s in shards]))
        return self._core.commit_entries(schema_json_of(sample_type), rows)

    def insert_dataset(
        self,
        ds: Any,
        *,
        name: str,
        schema_ref: Optional[str] = None,
        description: Optional[str] = None,
        tags: Optional[list] = None,
        license: Optional[str] = None,
        data_store: Any = None,
        force: bool = False,
        copy: bool = False,
        metadata: Optional[dict] = None,
        **kwargs: Any,
    ) -> Any:
        """Indexes the shards of dataset ``ds`` (a ``Dataset`` over local shard files) as a
        new version of ``name`` (``@lab/name``: into the mounted repository ``lab``) and
        returns its entry, as atdata 0.7 does.

        Every sample is read, checked against the schema (the one ``schema_ref`` names, else
        the dataset's ``@packable`` type, else inferred from the samples), counted and
        hashed. When the repository has a data store (``Index(data_store=...)``,
        ``Repository(data_store=...)``), or with ``copy=True``, the samples are copied into
        it; otherwise the entry points at the files where they are. Indexing the same shards
        under the same name again returns the existing entry.
        """
        del force  # 0.7's size guard is for its ATProto backend, which this version lacks
        if kwargs:
            raise UnsupportedFeatureError(
                f"insert_dataset({', '.join(f'{k}=...' for k in sorted(kwargs))}): not "
                "supported; shard names and layout are chosen by the store"
            )
        check_text("name", name)
        check_text("description", description, optional=True)
        check_text("license", license, optional=True)
        if tags is not None and (
            isinstance(tags, str) or not all(isinstance(t, str) for t in tags)
        ):
            raise TypeError(f"tags must be a list of str, got {tags!r}")
        if not isinstance(copy, bool):
            raise TypeError(f"copy must be True or False, got {copy!r}")
        if data_store is not None:
            # The store shards go to is the repository's: the core publishes into it and
            # garbage-collects it by that index. Naming that same store means copy.
            if not any(data_store is r.data_store for r in self._repos.values()):
                raise UnsupportedFeatureError(
                    "insert_dataset(data_store=...): a store other than the repository's is "
                    "not supported yet; give it to Index(data_store=...) or "
                    "Repository(data_store=...)"
                )
            copy = True
        return self._insert(
            ds, name, schema_ref, copy or None, description, tags, license, metadata
        )

    def add_entry(
        self,
        ds: Any,
        *,
        name: str,
        schema_ref: Optional[str] = None,
        metadata: Optional[dict] = None,
    ) -> Any:
        """Indexes the shards of ``ds`` where they are, as a new version of ``name``: atdata
        0.7's older form of ``insert_dataset`` (it warns, as 0.7 does, with a
        ``DeprecationWarning``)."""
        warnings.warn(
            "Index.add_entry() is deprecated, use Index.insert_dataset()",
            DeprecationWarning,
            stacklevel=2,
        )
        check_text("name", name)
        return self._insert(ds, name, schema_ref, False, None, None, None, metadata)

    def _insert(
        self,
        ds: Any,
        name: str,
        schema_ref: Optional[str],
        copy: Optional[bool],
        description: Optional[str],
        tags: Optional[list],
        license: Optional[str],
        metadata: Optional[dict],
    ) -> Any:
        """``insert_dataset``'s work: the shard list and schema of ``ds``, then the core's
        insert (``copy`` None: copy when the repository has a store of its own)."""
        list_shards = getattr(ds, "list_shards", None)
        if not callable(list_shards):
            raise TypeError(
                f"insert_dataset: ds must be a Dataset, got {type(ds).__name__}"
            )
        files = list(list_shards())
        remote = [u for u in files if "://" in u and not u.startswith("file://")]
        if remote:
            raise UnsupportedFeatureError(
                f"insert_dataset: shard {remote[0]!r} is not a local file; indexing remote "
                "shards is not supported yet: write the samples with "
                "index.write_samples(samples, name=...)"
            )
        if schema_ref is not None:
            check_text("schema_ref", schema_ref)
            schema_json: Optional[str] = self._core.get_schema(schema_ref)
        else:
            sample_type = getattr(ds, "sample_type", None)
            schema_json = getattr(sample_type, "__atdata_schema_json__", None)
        return self._core.insert(
            name,
            files,
            schema_json,
            copy,
            description,
            list(tags) if tags is not None else [],
            license,
            metadata,
        )

    # -- reading -------------------------------------------------------------------------

    def get_entry(self, cid: str) -> LocalDatasetEntry:
        """The ``local`` repository's entry with CID ``cid`` (0.7's provider view);
        ``NotFoundError`` (a ``KeyError``) if there is none."""
        return _ProviderMethods.get_entry_by_cid(self.provider, cid)

    def get_entry_by_name(self, name: str) -> LocalDatasetEntry:
        """The newest version of dataset ``name`` in the ``local`` repository (0.7's
        provider view); ``NotFoundError`` (a ``KeyError``) if there is none."""
        return _ProviderMethods.get_entry_by_name(self.provider, name)

    def list_entries(self) -> list:
        """Every entry of the ``local`` repository (0.7's provider view), oldest first."""
        return list(_ProviderMethods.iter_entries(self.provider))

    @property
    def all_entries(self) -> list:
        """Same as ``list_entries()`` (0.7's older name, a property there too)."""
        return self.list_entries()

    @property
    def entries(self) -> Iterator[LocalDatasetEntry]:
        """Every entry of the ``local`` repository (0.7's provider view), oldest first."""
        return _ProviderMethods.iter_entries(self.provider)


    def get_dataset(self, ref: str) -> Any:
        """The entry ``ref`` names: ``name``, ``@local/name``, ``@lab/name`` (a mounted
        repository), ``name@2`` or ``name@<cid>``.

        Unknown names or versions raise ``NotFoundError`` listing what exists.
        """
        check_text("ref", ref)
        return self._core.get_dataset(ref)

    def list_datasets(self, repo: Optional[str] = None) -> list:
        """Every version of every dataset, oldest first within each repository (``local``
        first, then the mounted ones by name), or of repository ``repo`` only.

        An unknown repository raises ``NotFoundError`` listing the mounted ones.
        """
        if repo is not None:
            check_text("repo", repo)
        return self._core.list_datasets(repo)

    @property
    def datasets(self) -> Iterable[Any]:
        return iter(self.list_datasets())

    def versions(self, name: str) -> list:
        """The versions of a dataset, oldest first."""
        check_text("name", name)
        return self._core.versions(name)

    def load(self, ref: str, sample_type: Any = None) -> Dataset:
        """The dataset ``ref`` names, typed by its stored schema (or ``sample_type``)."""
        check_text("ref", ref)
        core = self._core.load(ref)
        if sample_type is None:
            return Dataset(core)
        return Dataset(core).as_type(sample_type)

    def verify(self, ref: str) -> Any:
        """Re-hashes every shard of the dataset ``ref`` names; the report says which differ."""
        check_text("ref", ref)
        return self._core.verify(ref)

    # -- schemas -------------------------------------------------------------------------

    @property
    def schemas(self) -> list:
        """Every stored schema record, oldest first (as atdata 0.7 lists them)."""
        return [SchemaRecord.from_json(s) for s in self._core.schemas()]

    def list_schemas(self) -> list:
        """Every stored schema record, as dicts."""
        return [r.to_dict() for r in self.schemas]

    def get_schema(self, ref: str) -> dict:
        """A schema record by reference: ``atdata://local/schema/Name@1.0.0``,
        ``Name@1.0.0`` or ``Name`` (its newest version); ``atdata://lab/schema/...`` or
        ``@lab/Name[@1.0.0]`` read repository ``lab``'s schemas."""
        return SchemaRecord.from_json(self._core.get_schema(ref)).to_dict()

    def get_schema_type(self, ref: str, *, register: bool = True) -> type:
        """The ``@packable`` class rebuilt from a stored schema (the same class for the same
        record every time). ``register`` is accepted for atdata 0.7 code: this version has no
        ``index.types`` namespace to register the class in."""
        if not isinstance(register, bool):
            raise TypeError(f"register must be True or False, got {register!r}")
        return type_from_schema(self._core.get_schema(ref))

    def load_schema(self, ref: str) -> type:
        """Same as ``get_schema_type``."""
        return self.get_schema_type(ref)

    def decode_schema(self, ref: str) -> type:
        """Same as ``get_schema_type``."""
        return self.get_schema_type(ref)

    def publish_schema(
        self,
        sample_type: type,
        *,
        version: Optional[str] = None,
        description: Optional[str] = None,
    ) -> str:
        """Stores the schema of the ``@packable`` class ``sample_type`` in the ``local``
        repository and returns its reference (``atdata://local/schema/Name@1.0.0``), so
        datasets and other programs can name it before any data is written.

        ``version`` None: the version of a stored record with the same fields if there is
        one (publishing again changes nothing), else the patch after the highest stored
        (``1.0.0`` for the first). A given ``version`` already stored with other fields
        raises ``AlreadyExistsError``. ``description`` None: the class docstring.
        """
        record = json.loads(schema_json_of(sample_type))
        check_text("version", version, optional=True)
        check_text("description", description, optional=True)
        name = record["name"]
        provider = self.provider
        if description is not None:
            record["description"] = description
        if version is None:
            version = self._published_version(provider, record)
        record["version"] = version
        record.pop("createdAt", None)
        text = json.dumps(record)
        _ProviderMethods.store_schema(provider, name, version, text)
        return _core.schema_ref(text)

    @staticmethod
    def _published_version(provider: Any, record: dict) -> str:
        """The version ``publish_schema`` gives ``record`` when none is given: a stored one
        with the same fields, else the next patch (0.7's rule for a new version)."""
        name = record["name"]
        same = _core.provider_schema_version_like(provider, json.dumps(record))
        if same is not None:
            return same
        latest = _core.provider_latest_schema_version(provider, name)
        if latest is None:
            return record.get("version") or "1.0.0"
        parts = latest.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise _core.InvalidArgumentError(
                f"publish_schema: the newest stored version of schema {name!r} is "
                f"{latest!r}, not MAJOR.MINOR.PATCH; give version=... explicitly"
            )
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"

    def __repr__(self) -> str:
        local = self._repos["local"]
        mounted = {name: r for name, r in self._repos.items() if name != "local"}
        more = f", repos={mounted!r}" if mounted else ""
        return f"Index(provider={local.provider!r}, data_store={local.data_store!r}{more})"


__all__ = [
    "BasicIndexEntry",
    "Index",
    "LocalDatasetEntry",
    "LocalDiskStore",
    "PostgresProvider",
    "RedisProvider",
    "SqliteProvider",
    "Repository",
    "SchemaRecord",
    "create_provider",
    "create_repository",
]

