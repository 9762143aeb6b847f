"""Index: constructor keywords, writes, entries, listing, versions, schemas, repos, verify."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import atdata

from conftest import EmbeddingSample, TextSample, embedding_samples, text_samples


def test_constructor_keywords(tmp_path):
    assert isinstance(atdata.Index().provider, atdata.SqliteProvider)  # in memory
    atdata.Index(provider="sqlite", path=tmp_path / "a.db")
    atdata.Index(atmosphere=None, auto_stubs=False, stub_dir=None, dsn=None, redis=None)
    atdata.Index(atdata.SqliteProvider(str(tmp_path / "b.db")))
    with pytest.raises(ValueError, match="dsn is required"):
        atdata.Index(provider="postgres")
    with pytest.raises(ValueError, match="provider='postgres'"):
        atdata.Index(dsn="postgresql://x")
    for kw, match in [
        (dict(atmosphere=object()), "atmosphere"),
        (dict(auto_stubs=True), "auto_stubs"),
        (dict(data_store=object()), "LocalDiskStore"),
    ]:
        with pytest.raises(atdata.UnsupportedFeatureError, match=match):
            atdata.Index(**kw)
    with pytest.raises(TypeError, match=r"repos\['lab'\] must be a Repository"):
        atdata.Index(repos={"lab": object()})
    with pytest.raises(TypeError, match="bogus"):
        atdata.Index(bogus=1)
    with pytest.raises(atdata.InvalidArgumentError):
        atdata.Index(provider="mysql")


def test_local_disk_store(tmp_path):
    s = atdata.LocalDiskStore(root=tmp_path / "d")
    assert s.root == tmp_path / "d"
    assert "LocalDiskStore" in repr(s)
    assert atdata.LocalDiskStore().root.parts[-1] == "data"  # $ATDATA_HOME/data


def test_write_entry_fields_and_maxcount(index, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = index.write(
            text_samples(500),
            name="docs-v1",
            description="500 docs",
            tags=["text", "multilingual"],
            license="MIT",
            metadata={"source": "synthetic", "n": 500, "nested": {"a": [1, 2]}},
            maxcount=250,
        )
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert e.name == "docs-v1" and e.version == "1"
    assert e.cid.startswith("bafyrei")
    assert len(e.data_urls) == 2 and all(os.path.exists(u) for u in e.data_urls)
    assert e.schema_ref == "atdata://local/schema/TextSample@1.0.0"
    assert e.description == "500 docs" and e.tags == ["text", "multilingual"]
    assert e.license == "MIT"
    assert e.metadata == {"source": "synthetic", "n": 500, "nested": {"a": [1, 2]}}
    assert len(e) == 500 and e.num_samples == 500
    assert [s["samples"] for s in e.shards] == [250, 250]
    assert e.reference == "@local/docs-v1@1"
    assert "docs-v1" in repr(e)


def test_write_samples_same_semantics_and_maxsize(index):
    a = index.write_samples(embedding_samples(100), name="emb", maxsize=20_000)
    assert len(a.data_urls) > 1
    # Same samples, same name: the same entry (content addressed), no new version.
    b = index.write(embedding_samples(100), name="emb", maxsize=20_000)
    assert b.cid == a.cid and b.version == a.version
    c = index.write_samples(embedding_samples(100, seed=1), name="emb")
    assert c.version == "2" and c.cid != a.cid
    assert index.versions("emb") == ["1", "2"]


def test_list_get_and_versions(index):
    index.write(text_samples(10), name="docs")
    index.write(text_samples(10, start=10), name="docs")
    index.write(embedding_samples(5), name="emb")
    names = [(e.name, e.version) for e in index.list_datasets()]
    assert names == [("docs", "1"), ("docs", "2"), ("emb", "1")]
    assert index.get_dataset("docs").version == "2"
    assert index.get_dataset("@local/docs").version == "2"
    assert index.get_dataset("@local/docs@1").version == "1"
    first = index.get_dataset("docs@1")
    assert index.get_dataset(f"docs@{first.cid}") == first
    assert len(index.load("@local/docs@1")) == 10


def test_unknown_dataset_and_version_list_what_exists(index):
    index.write(text_samples(3), name="docs")
    index.write(text_samples(3), name="other")
    with pytest.raises(atdata.NotFoundError) as ei:
        index.get_dataset("nope")
    msg = str(ei.value)
    assert "nope" in msg and "docs" in msg and "other" in msg
    assert isinstance(ei.value, KeyError) and isinstance(ei.value, LookupError)
    with pytest.raises(KeyError, match=r"versions are 1"):
        index.get_dataset("@local/docs@7")
    with pytest.raises(atdata.NotFoundError):
        atdata.load_dataset("@local/nope", split="train", index=index)


def test_write_rejects_bad_input(index):
    with pytest.raises(atdata.SchemaMismatchError) as ei:
        index.write(
            text_samples(3) + [TextSample(text="x", language="en", word_count="six")],
            name="bad",
        )
    e = ei.value
    assert e.sample == 3 and e.field == "word_count"
    assert "sample #3" in str(e) and "word_count" in str(e)
    assert isinstance(e, ValueError)
    with pytest.raises(atdata.SchemaMismatchError, match="field 'vector'"):
        index.write([EmbeddingSample(vector="not an array", label="l", source="s")], name="b")
    with pytest.raises(atdata.SchemaMismatchError, match="dtype=object|object"):
        index.write(
            [EmbeddingSample(vector=np.array([object()]), label="l", source="s")], name="b"
        )
    with pytest.raises(ValueError, match="empty"):
        index.write([], name="empty")
    with pytest.raises(TypeError, match="packable"):
        index.write([{"a": 1}], name="dicts")
    with pytest.raises(atdata.InvalidArgumentError):
        index.write(text_samples(1), name="../escape")
    with pytest.raises(TypeError, match="tags"):
        index.write(text_samples(1), name="t", tags="text")
    with pytest.raises(TypeError, match="metadata"):
        index.write(text_samples(1), name="t", metadata=[1])
    # Nothing was listed by the failed writes.
    assert index.list_datasets() == []


def test_schemas_and_list_schemas(index):
    index.write(text_samples(2), name="docs")
    index.write(embedding_samples(2), name="emb")
    recs = list(index.schemas)
    assert [r.name for r in recs] == ["TextSample", "EmbeddingSample"]
    assert [f.name for f in recs[1].fields] == ["vector", "label", "source"]
    assert recs[0].description == "Simple text document."
    dicts = index.list_schemas()
    assert dicts[0]["$ref"] == "atdata://local/schema/TextSample@1.0.0"
    assert index.get_schema("TextSample")["name"] == "TextSample"
    T = index.get_schema_type("atdata://local/schema/EmbeddingSample@1.0.0")
    assert T.__name__ == "EmbeddingSample"
    with pytest.raises(atdata.NotFoundError):
        index.get_schema("Nope")


def test_schema_record_reference_is_the_cores(index):
    index.write(text_samples(2), name="docs")
    rec = index.schemas[0]
    assert rec.ref == atdata._core.schema_ref(index._core.schemas()[0])
    assert rec.ref == index.get_dataset("docs").schema_ref
    assert atdata.SchemaRecord.from_json('{"name": "N", "fields": []}').ref == (
        "atdata://local/schema/N@1.0.0"
    )


def test_unknown_repository_is_looked_up_by_the_core(index):
    index.write(text_samples(2), name="docs")
    assert [e.name for e in index.list_datasets("local")] == ["docs"]
    with pytest.raises(atdata.NotFoundError, match="repository 'lab'; mounted: local"):
        index.list_datasets("lab")


def test_repos(index):
    repos = index.repos
    assert list(repos) == ["local"]
    assert type(repos["local"].provider).__name__ == "SqliteProvider"
    assert repos["local"].data_store is index.data_store
    assert atdata.Index().repos["local"].data_store is None


def test_verify_names_the_bad_shard(index):
    e = index.write(text_samples(100), name="docs", maxcount=50)
    report = index.verify("docs")
    assert report.ok and bool(report) and len(report.checked) == 2
    with open(e.data_urls[1], "r+b") as f:
        f.seek(700)
        b = f.read(1)
        f.seek(700)
        f.write(bytes([b[0] ^ 0xFF]))
    report = index.verify("@local/docs")
    assert not report.ok
    assert report.bad_shards == [e.data_urls[1]]
    assert e.data_urls[1] in report.problems[0]


def test_default_index(index):
    atdata.set_default_index(index)
    assert atdata.get_default_index() is index
    atdata.set_default_index(None)
    home_index = atdata.get_default_index()
    assert isinstance(home_index, atdata.Index) and home_index is not index
    with pytest.raises(TypeError):
        atdata.set_default_index("not an index")


def test_load_dataset_never_creates_the_default_index(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ATDATA_HOME", str(home))
    atdata.set_default_index(None)
    with pytest.raises(atdata.NotFoundError, match="index.db"):
        atdata.load_dataset("@local/docs", split="train")
    assert not home.exists()


def test_load_dataset_reads_the_home_index_without_writing_it(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ATDATA_HOME", str(home))
    writer = atdata.Index(
        path=home / "index.db", data_store=atdata.LocalDiskStore(root=home / "data")
    )
    writer.write(text_samples(5), name="docs")
    del writer
    atdata.set_default_index(None)
    before = (home / "index.db").read_bytes()
    ds = atdata.load_dataset("@local/docs", split="train")
    assert len(list(ds)) == 5
    assert (home / "index.db").read_bytes() == before


def test_list_datasets_skips_a_corrupt_row_with_a_warning_naming_it(tmp_path):
    import sqlite3

    db = tmp_path / "index.db"
    index = atdata.Index(path=db, data_store=atdata.LocalDiskStore(root=tmp_path / "data"))
    index.write(text_samples(3), name="good")
    bad = index.write(text_samples(4, start=10), name="bad")
    index.write(text_samples(5, start=20), name="also-good")
    del index
    with sqlite3.connect(db) as conn:
        # A msgpack marker that is never valid (0xc1) where our facts about the row live.
        conn.execute("UPDATE dataset_entries SET atdata_info = x'c1' WHERE name = 'bad'")
    index = atdata.Index(path=db, data_store=atdata.LocalDiskStore(root=tmp_path / "data"))
    with pytest.warns(RuntimeWarning) as caught:
        names = [e.name for e in index.list_datasets()]
    assert names == ["good", "also-good"]
    message = str(caught[0].message)
    assert "bad" in message and bad.cid in message


def test_commit_entries_indexes_shards_in_place_in_one_call(index, tmp_path):
    import hashlib

    shards = []
    for n, count in (("a", 7), ("b", 5)):
        path = tmp_path / f"{n}.tar"
        atdata.write_samples(text_samples(count), path)
        data = path.read_bytes()
        shards.append((n, [(str(path), hashlib.sha256(data).hexdigest(), count, len(data))]))
    assert index.commit_entries(TextSample, shards) == 2
    assert sorted(e.name for e in index.list_datasets()) == ["a", "b"]
    ds = atdata.load_dataset("@local/a", split="train", index=index)
    assert [s.text for s in ds] == [s.text for s in text_samples(7)]
    assert index.verify("b").ok
    # The same entries again: same CIDs, nothing new.
    assert index.commit_entries(TextSample, shards) == 0
    # A digest that is not hex is refused and nothing is committed.
    bad = [("c", [(str(tmp_path / "a.tar"), "not-hex", 7, 1)])]
    with pytest.raises(ValueError):
        index.commit_entries(TextSample, bad)
    assert "c" not in {e.name for e in index.list_datasets()}


def test_a_leading_tilde_is_the_home_directory(tmp_path, monkeypatch):
    # atdata 0.7 made a folder literally named "~" for these.
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    store = atdata.LocalDiskStore(root="~/atdata-data")
    assert str(store.root) == str(home / "atdata-data")
    index = atdata.Index(path="~/index.db", data_store=store)
    e = index.write(text_samples(3), name="docs")
    assert e.data_urls[0].startswith(str(home / "atdata-data"))
    assert (home / "index.db").exists()
    reader = atdata.Index(provider=atdata.SqliteProvider("~/index.db"))
    assert [x.name for x in reader.list_datasets()] == ["docs"]
    assert not (work / "~").exists()
