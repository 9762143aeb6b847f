"""Indexes on a PostgreSQL or Redis server (127.0.0.1, see CONTRIBUTING.md).

Each PostgreSQL test makes a database of its own and drops it; each Redis test writes under a
key prefix of its own and deletes its keys (the fixtures `pg_dsn` and `redis_provider` are in
conftest.py). Shards go to a local store as usual.
"""

import pytest

import atdata

from conftest import REDIS, TextSample, text_samples


def _write_and_load(index: atdata.Index) -> None:
    index.write(text_samples(30), name="docs", maxcount=10)
    ds = atdata.load_dataset("@local/docs", split="train", index=index)
    assert ds.sample_type.__name__ == "TextSample"
    assert len(ds) == 30
    typed = atdata.load_dataset("@local/docs", TextSample, split="train", index=index)
    assert typed.head(1)[0] == text_samples(1)[0]
    assert [e.name for e in index.list_datasets()] == ["docs"]


def test_postgres_index_writes_and_loads_by_name(pg_dsn, tmp_path):
    store = atdata.LocalDiskStore(root=tmp_path / "data")
    _write_and_load(atdata.Index(provider="postgres", dsn=pg_dsn, data_store=store))
    # A second handle (another process of the lab) sees it.
    again = atdata.Index(provider=atdata.PostgresProvider(pg_dsn), data_store=store)
    assert len(atdata.load_dataset("@local/docs", split="train", index=again)) == 30
    assert "PostgresProvider" in repr(again.provider)


def test_postgres_provider_repr_never_shows_the_password(pg_dsn):
    host_form = f"host=127.0.0.1 user=postgres password=hunter2 dbname={pg_dsn.rsplit('/', 1)[1]}"
    r = repr(atdata.PostgresProvider(host_form))
    assert "hunter2" not in r and "127.0.0.1" in r


def test_redis_index_writes_and_loads_by_name(redis_provider, tmp_path):
    store = atdata.LocalDiskStore(root=tmp_path / "data")
    _write_and_load(atdata.Index(provider=redis_provider, data_store=store))


def test_redis_keyword_takes_a_url_or_a_redis_py_client():
    from atdata._index import _redis_url

    assert _redis_url("redis://h:1/2") == "redis://h:1/2"
    assert _redis_url(None) == "redis://localhost:6379/0"

    class Pool:
        connection_kwargs = {"host": "h", "port": 7, "db": 3, "password": "p w"}
        connection_class = object

    class Client:
        connection_pool = Pool()

    assert _redis_url(Client()) == "redis://:p%20w@h:7/3"
    with pytest.raises(TypeError):
        _redis_url(42)


def test_index_redis_keyword_opens_a_redis_index():
    ix = atdata.Index(provider="redis", redis=REDIS)
    assert isinstance(ix.provider, atdata.RedisProvider)
    ix.list_datasets()  # reads only: no key is written


def test_unreachable_servers_raise_naming_them_without_password():
    for kw in (
        dict(provider="postgres", dsn="postgresql://u:hunter2@127.0.0.1:1/db"),
        dict(provider="redis", redis="redis://:hunter2@127.0.0.1:1/0"),
    ):
        with pytest.raises(atdata.IndexDatabaseError) as e:
            atdata.Index(**kw)
        assert "127.0.0.1:1" in str(e.value) and "hunter2" not in str(e.value)
