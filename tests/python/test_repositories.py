"""Several repositories in one Index: ``Index(repos={"lab": Repository(...)})``, references
``@lab/name`` in every method, each repository's store, errors, and atdata 0.7 reading and
writing the same PostgreSQL repository.

The PostgreSQL and Redis tests use the servers of CONTRIBUTING.md, each test a database or key
prefix of its own (fixtures in conftest.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import atdata
from atdata.repository import Repository, create_repository

from conftest import TextSample, run_py, text_samples


def _files(root: Path) -> list:
    """Shard files under a store root (not its staging area or marker)."""
    return sorted(p for p in root.rglob("*.tar") if ".staging" not in p.parts)


def _lab_index(tmp_path: Path, lab: Repository, **more: Repository) -> atdata.Index:
    return atdata.Index(
        path=tmp_path / "local.db",
        data_store=atdata.LocalDiskStore(tmp_path / "local-data"),
        repos={"lab": lab, **more},
    )


def test_two_sqlite_repositories_route_every_reference(tmp_path):
    lab_store = atdata.LocalDiskStore(tmp_path / "lab-data")
    lab = Repository(provider=atdata.SqliteProvider(str(tmp_path / "lab.db")), data_store=lab_store)
    archive = create_repository(
        "sqlite", path=tmp_path / "archive.db", data_store=atdata.LocalDiskStore(tmp_path / "arc")
    )
    index = _lab_index(tmp_path, lab, archive=archive)

    mine = index.write(text_samples(3), name="docs")
    ours = index.write(text_samples(25), name="@lab/docs", maxcount=10)
    old = index.write_samples(text_samples(7), name="@archive/docs")
    assert (mine.repo, ours.repo, old.repo) == ("local", "lab", "archive")
    assert ours.reference == "@lab/docs@1" and old.reference == "@archive/docs@1"
    # Each repository's shards went to its own store.
    assert sorted(Path(u) for u in ours.data_urls) == _files(tmp_path / "lab-data")
    assert len(ours.data_urls) == 3
    assert sorted(Path(u) for u in old.data_urls) == _files(tmp_path / "arc")
    assert sorted(Path(u) for u in mine.data_urls) == _files(tmp_path / "local-data")

    # Every method that takes a reference reads the repository it names.
    assert index.get_dataset("@lab/docs").cid == ours.cid
    assert index.get_dataset("lab/docs").cid == ours.cid  # 0.7's other form
    assert index.get_dataset("@lab/docs@1").reference == "@lab/docs@1"
    assert index.get_dataset("docs").cid == mine.cid
    assert index.get_dataset("@local/docs").cid == mine.cid
    assert len(index.load("@lab/docs")) == 25
    assert len(atdata.load_dataset("@archive/docs", split="train", index=index)) == 7
    typed = atdata.load_dataset("@lab/docs", TextSample, split="train", index=index)
    assert [s.text for s in typed] == [s.text for s in text_samples(25)]
    assert index.verify("@lab/docs").ok
    index.write(text_samples(4, start=100), name="@lab/docs")
    assert index.versions("@lab/docs") == ["1", "2"]
    assert index.versions("docs") == ["1"]

    # Listing: local first, then the mounted ones by name; or one repository.
    refs = [e.reference for e in index.list_datasets()]
    assert refs == ["@local/docs@1", "@archive/docs@1", "@lab/docs@1", "@lab/docs@2"]
    assert [e.reference for e in index.list_datasets(repo="lab")] == ["@lab/docs@1", "@lab/docs@2"]
    assert [e.cid for e in index.list_datasets(repo="local")] == [mine.cid]

    # Schemas are kept by the repository that wrote them.
    assert index.get_schema("@lab/TextSample")["name"] == "TextSample"
    assert index.get_schema("atdata://lab/schema/TextSample@1.0.0")["version"] == "1.0.0"
    assert index.get_schema_type("@archive/TextSample@1.0.0").__name__ == "TextSample"

    # Another Index over the same files (another process of the lab) finds it by name.
    again = _lab_index(
        tmp_path,
        Repository(atdata.SqliteProvider(str(tmp_path / "lab.db")), lab_store),
    )
    assert len(atdata.load_dataset("@lab/docs@1", split="train", index=again)) == 25
    assert again.get_dataset("@lab/docs").version == "2"
    with pytest.raises(atdata.NotFoundError, match="repository 'archive'; mounted: local, lab"):
        again.get_dataset("@archive/docs")


def test_a_repository_without_a_store_writes_to_the_default_store(tmp_path):
    # conftest points $ATDATA_HOME at a fresh folder: the default store is its data/.
    home = Path(os.environ["ATDATA_HOME"])
    index = _lab_index(tmp_path, Repository(atdata.SqliteProvider(str(tmp_path / "lab.db"))))
    e = index.write(text_samples(5), name="@lab/docs")
    assert sorted(Path(u) for u in e.data_urls) == _files(home / "data")
    assert index.repos["lab"].data_store is None
    assert len(atdata.load_dataset("@lab/docs", split="train", index=index)) == 5


def test_repos_shows_every_repository_local_first(tmp_path):
    lab = create_repository("sqlite", path=tmp_path / "lab.db")
    index = _lab_index(tmp_path, lab)
    repos = index.repos
    assert list(repos) == ["local", "lab"]
    assert repos["local"].provider is index.provider
    assert repos["local"].data_store is index.data_store
    assert repos["lab"].provider is lab.provider and repos["lab"].data_store is None
    assert repr(repos["lab"]) == (
        f'Repository(provider=SqliteProvider(path="{tmp_path / "lab.db"}"), data_store=None)'
    )
    assert "repos={'lab': Repository(provider=SqliteProvider(" in repr(index)
    # What is mounted is fixed: changing the objects given or returned changes nothing.
    lab.data_store = atdata.LocalDiskStore(tmp_path / "other")
    repos["lab"].data_store = lab.data_store
    assert index.repos["lab"].data_store is None
    assert atdata.Index().repos.keys() == {"local"}


def test_repository_and_create_repository_follow_07(tmp_path):
    assert atdata.Repository is Repository and atdata.create_repository is create_repository
    assert atdata.repository.Repository is Repository
    r = Repository(provider=atdata.SqliteProvider())
    assert r.data_store is None
    store = atdata.LocalDiskStore(tmp_path / "d")
    r = create_repository("sqlite", path=tmp_path / "x.db", data_store=store)
    assert r.provider.path == tmp_path / "x.db" and r.data_store is store
    assert create_repository().provider.path is None  # SQLite in memory, as Index()
    with pytest.raises(ValueError, match="dsn is required"):
        create_repository("postgres")
    with pytest.raises(ValueError, match="provider='postgres'"):
        create_repository("sqlite", dsn="postgresql://x")
    with pytest.raises(atdata.InvalidArgumentError, match="mysql"):
        create_repository("mysql")
    # 0.7's redis.Redis keywords make the connection (other settings are refused by name).
    assert "localhost:6379" in repr(create_repository("redis", host="localhost").provider)
    with pytest.raises(atdata.UnsupportedFeatureError, match="socket_timeout="):
        create_repository("redis", host="localhost", socket_timeout=1)


def test_bad_repositories_and_unknown_names_are_refused_as_07_does(tmp_path):
    lab = Repository(atdata.SqliteProvider())
    # 0.7: ValueError for the reserved name, TypeError for what is not a Repository.
    with pytest.raises(ValueError, match="'local' is reserved"):
        atdata.Index(repos={"local": lab})
    with pytest.raises(TypeError, match=r"repos\['lab'\] must be a Repository, got int"):
        atdata.Index(repos={"lab": 3})
    with pytest.raises(TypeError, match="dict of name -> Repository"):
        atdata.Index(repos=[lab])
    # What 0.7 accepts but cannot address either: a name a reference cannot carry.
    for name in ("a/b", "a@b", "", "a b"):
        with pytest.raises(atdata.InvalidArgumentError, match="repository name"):
            atdata.Index(repos={name: lab})
    with pytest.raises(TypeError, match=r"repos\['lab'\]: expected a SqliteProvider"):
        atdata.Index(repos={"lab": Repository(provider="sqlite")})
    with pytest.raises(atdata.UnsupportedFeatureError, match=r"repos\['lab'\]: data_store"):
        atdata.Index(repos={"lab": Repository(lab.provider, data_store=object())})

    # An unknown repository: NotFoundError, a KeyError as 0.7 raises, naming the mounted ones.
    index = _lab_index(tmp_path, lab)
    for call in (
        lambda: index.get_dataset("@nope/docs"),
        lambda: index.load("@nope/docs"),
        lambda: index.versions("@nope/docs"),
        lambda: index.list_datasets(repo="nope"),
        lambda: index.get_schema("@nope/TextSample"),
        lambda: atdata.load_dataset("@nope/docs", split="train", index=index),
        lambda: index.write(text_samples(2), name="@nope/docs"),
    ):
        with pytest.raises(KeyError) as e:
            call()
        assert isinstance(e.value, atdata.NotFoundError)
        assert "repository 'nope'; mounted: local, lab" in str(e.value)
    assert index.list_datasets() == []  # the refused write left nothing


def test_local_and_postgres_repository(pg_dsn, tmp_path):
    # A password in the DSN (the server trusts local users and ignores it) never shows.
    dsn = pg_dsn.replace("postgres@", "postgres:hunter2@")
    lab_store = atdata.LocalDiskStore(tmp_path / "lab-data")
    index = _lab_index(tmp_path, create_repository("postgres", dsn=dsn, data_store=lab_store))
    index.write(text_samples(2), name="docs")
    e = index.write(text_samples(30), name="@lab/docs", maxcount=10)
    assert sorted(Path(u) for u in e.data_urls) == _files(tmp_path / "lab-data")
    assert "hunter2" not in repr(index.repos) and "hunter2" not in repr(index)
    assert "PostgresProvider" in repr(index.repos["lab"])

    # A new Index, as another machine of the lab would open it, loads it by name.
    again = atdata.Index(
        repos={"lab": Repository(provider=atdata.PostgresProvider(pg_dsn), data_store=lab_store)}
    )
    ds = atdata.load_dataset("@lab/docs", split="train", index=again)
    assert ds.sample_type.__name__ == "TextSample" and len(ds) == 30
    assert [x.reference for x in again.list_datasets()] == ["@lab/docs@1"]
    assert again.get_schema("@lab/TextSample")["name"] == "TextSample"


def test_redis_repository(redis_provider, tmp_path):
    index = _lab_index(
        tmp_path, Repository(redis_provider, atdata.LocalDiskStore(tmp_path / "lab-data"))
    )
    e = index.write(text_samples(12), name="@lab/docs", maxcount=5)
    assert e.repo == "lab" and len(e.data_urls) == 3
    assert sorted(Path(u) for u in e.data_urls) == _files(tmp_path / "lab-data")
    assert index.list_datasets(repo="local") == []
    again = _lab_index(tmp_path, Repository(redis_provider, index.repos["lab"].data_store))
    typed = atdata.load_dataset("@lab/docs", TextSample, split="train", index=again)
    assert [s.text for s in typed] == [s.text for s in text_samples(12)]


# atdata 0.7 on the same PostgreSQL repository, mounted as "lab" next to a local SQLite index
# of its own (in the test's folder, never ~/.atdata). 0.7 looks a schema up in its local
# repository only, so it is given the sample type.
PY07 = r"""
import contextlib, io, json, os
import atdata
from atdata.repository import Repository
from atdata.providers._postgres import PostgresProvider

@atdata.packable
class TextSample:
    '''Simple text document.'''
    text: str
    language: str
    word_count: int

root = os.environ["ROOT"]
lab = Repository(provider=PostgresProvider(dsn=os.environ["DSN"]),
                 data_store=atdata.LocalDiskStore(root=root + "/lab07-data"))
index = atdata.Index(provider="sqlite", path=root + "/local07.db", atmosphere=None,
                     repos={"lab": lab})
if os.environ["DO"] == "write":
    texts = [TextSample(text=f"from 0.7 {i}", language="en", word_count=3) for i in range(17)]
    with contextlib.redirect_stdout(io.StringIO()):
        e = index.write_samples(texts, name="@lab/notes", maxcount=5)
    print(json.dumps({"cid": e.cid, "urls": e.data_urls}))
else:
    e = index.get_dataset("@lab/docs")
    ds = atdata.load_dataset("@lab/docs", TextSample, index=index, split="train")
    print(json.dumps({
        "cid": e.cid,
        "urls": e.data_urls,
        "names": [x.name for x in index.list_datasets(repo="lab")],
        "local": [x.name for x in index.list_datasets(repo="local")],
        "texts": [s.text for s in ds.ordered()],
    }))
"""


def _run_07(ref_python: str, tmp_path: Path, dsn: str, do: str) -> dict:
    env = {"ROOT": str(tmp_path), "DSN": dsn, "DO": do, "HOME": str(tmp_path)}
    p = run_py(PY07, python=ref_python, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_07_reads_what_we_wrote_to_a_postgres_repository(ref_python, pg_dsn, tmp_path):
    lab = Repository(atdata.PostgresProvider(pg_dsn), atdata.LocalDiskStore(tmp_path / "lab-data"))
    index = _lab_index(tmp_path, lab)
    index.write(text_samples(3), name="mine")  # local only: 0.7 must not see it in lab
    e = index.write(text_samples(23), name="@lab/docs", maxcount=10)
    out = _run_07(ref_python, tmp_path, pg_dsn, "read")
    assert out["cid"] == e.cid and out["urls"] == e.data_urls
    assert out["names"] == ["docs"] and out["local"] == []
    assert out["texts"] == [s.text for s in text_samples(23)]


def test_we_read_what_07_wrote_to_a_postgres_repository(ref_python, pg_dsn, tmp_path):
    written = _run_07(ref_python, tmp_path, pg_dsn, "write")
    index = _lab_index(tmp_path, Repository(atdata.PostgresProvider(pg_dsn)))
    e = index.get_dataset("@lab/notes")
    assert e.cid == written["cid"] and e.data_urls == written["urls"]
    assert all(u.startswith(str(tmp_path / "lab07-data")) for u in e.data_urls)
    ds = atdata.load_dataset("@lab/notes", split="train", index=index)
    assert ds.sample_type.__name__ == "TextSample"
    assert [s.text for s in ds] == [f"from 0.7 {i}" for i in range(17)]
    assert len(ds) == 17
    # Our next version goes into the same repository, after 0.7's.
    again = index.write(text_samples(2), name="@lab/notes")
    assert again.reference == "@lab/notes@2"
    assert index.list_datasets(repo="local") == []
