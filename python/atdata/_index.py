"""``Index``: datasets by name and version, with schemas, over SQLite, PostgreSQL or Redis and a
local data store.

Keyword arguments follow atdata 0.7; what this version does not support yet raises
``UnsupportedFeatureError`` saying so. Writing, reading and resolution run in Rust.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from . import _core
from ._core import LocalDiskStore, PostgresProvider, SqliteProvider, UnsupportedFeatureError
from ._core import RedisProvider as _CoreRedisProvider
from ._args import check_int, check_progress, check_text
from ._dataset import Dataset
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


class RedisProvider(_CoreRedisProvider):
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


_PROVIDER_CLASSES = (SqliteProvider, PostgresProvider, _CoreRedisProvider)


def _make_provider(
    caller: str, provider: Any, path: Any, dsn: Optional[str], redis: Any
) -> Any:
    """The index provider that ``provider`` (a name, a provider object or None) and its
    keywords name, as atdata 0.7's ``create_provider``, except that SQLite without ``path`` is
    in memory (as ``Index()``)."""
    name = provider.lower().strip() if isinstance(provider, str) else None
    if name is None and provider is None and redis is not None:
        name = "redis"  # 0.7: Index(redis=conn)
    if dsn is not None and name not in ("postgres", "postgresql"):
        raise ValueError(f"{caller}(dsn=...) is for provider='postgres'")
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
        return RedisProvider(redis)
    raise _core.InvalidArgumentError(
        f"{caller}(provider={provider!r}): expected 'sqlite', 'postgres', 'redis', a "
        "SqliteProvider, PostgresProvider or RedisProvider, or None"
    )


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
    (``redis``: a ``redis://`` URL or a redis.Redis client)."""
    if kwargs:
        raise UnsupportedFeatureError(
            f"create_repository({', '.join(f'{k}=...' for k in kwargs)}): provider keywords "
            "are not supported yet; for Redis pass redis='redis://host:port/db'"
        )
    return Repository(
        provider=_make_provider("create_repository", provider, path, dsn, redis),
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
        prov = _make_provider("Index", provider, path, dsn, redis)
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

    # -- reading -------------------------------------------------------------------------

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

    def get_schema_type(self, ref: str) -> type:
        """The ``@packable`` class rebuilt from a stored schema."""
        return type_from_schema(self._core.get_schema(ref))

    load_schema = get_schema_type
    decode_schema = get_schema_type

    def __repr__(self) -> str:
        local = self._repos["local"]
        mounted = {name: r for name, r in self._repos.items() if name != "local"}
        more = f", repos={mounted!r}" if mounted else ""
        return f"Index(provider={local.provider!r}, data_store={local.data_store!r}{more})"


__all__ = [
    "Index",
    "LocalDiskStore",
    "PostgresProvider",
    "RedisProvider",
    "SqliteProvider",
    "Repository",
    "SchemaRecord",
    "create_repository",
]

