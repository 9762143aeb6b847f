"""atdata 0.7's index API on ours (issue 15): provider methods, publish_schema,
insert_dataset/add_entry, CIDs and checksums, the error words 0.7 users match on, and 0.7's
module paths. Where 0.7 is the spec, the real 0.7 runs in a subprocess (skipped without it)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest

import atdata

from conftest import REDIS, TextSample, run_py, text_samples

# Values whose CIDs 0.7 and we must agree on: key order, nesting, integer and float edges,
# bytes, unicode.
CID_VALUES = [
    {"name": "test", "value": 42},
    {"value": 42, "name": "test"},
    {"b": 1, "aa": 2, "a": 3, "": None},
    [1, 2.5, None, True, False, b"\x00xy", "s", "\u00e9\u6f22"],
    {"x": [{"y": {}}], "z": []},
    0,
    -1,
    2**63,
    -(2**63) - 1,
    2**64 - 1,
    -(2**64),
    0.1,
    -0.0,
    1e300,
    "",
    b"",
    {"schema_ref": "atdata://local/schema/TextSample@1.0.0", "data_urls": ["/a.tar", "/b.tar"]},
]
# Values DAG-CBOR has no form for: both packages must refuse them with a ValueError.
CID_REFUSED = ["(1, 2)", "{1, 2}", "float('nan')", "float('inf')", "2**64", "-(2**64) - 1", "{1: 2}"]


def _run07(ref_python: str, code: str) -> dict:
    p = run_py(code, python=ref_python)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


# -- content addressing --------------------------------------------------------------------


def test_generate_cid_matches_07(ref_python):
    theirs = _run07(
        ref_python,
        "import json, atdata\n"
        f"values = {CID_VALUES!r}\n"
        "print(json.dumps([atdata.generate_cid(v) for v in values]))",
    )
    ours = [atdata.generate_cid(v) for v in CID_VALUES]
    assert ours == theirs
    assert ours[0] == ours[1]  # key order does not matter
    assert len(set(ours)) == len(ours) - 1


def test_generate_cid_refuses_what_07_refuses(ref_python):
    theirs = _run07(
        ref_python,
        "import json, atdata\n"
        "out = []\n"
        f"for text in {CID_REFUSED!r}:\n"
        "    try:\n"
        "        atdata.generate_cid(eval(text)); out.append('accepted')\n"
        "    except ValueError:\n"
        "        out.append('ValueError')\n"
        "print(json.dumps(out))",
    )
    assert theirs == ["ValueError"] * len(CID_REFUSED)
    for text in CID_REFUSED:
        with pytest.raises(ValueError, match="DAG-CBOR") as e:
            atdata.generate_cid(eval(text))
        assert isinstance(e.value, atdata.InvalidArgumentError)
    with pytest.raises(ValueError, match=r'data\["a"\]\[1\]: a int64'):
        atdata.generate_cid({"a": [1, np.int64(3)]})


def test_verify_cid():
    cid = atdata.generate_cid({"name": "test"})
    assert atdata.verify_cid(cid, {"name": "test"}) is True
    assert atdata.verify_cid(cid, {"name": "other"}) is False
    assert atdata.verify_cid("bafy-not-a-cid", {"name": "test"}) is False
    with pytest.raises(TypeError, match="cid must be a str"):
        atdata.verify_cid(None, {"name": "test"})


def test_local_dataset_entry_cid_matches_07(ref_python):
    urls = ["/data/texts/data--00000000--000000.tar", "/data/texts/b.tar"]
    ref = "atdata://local/schema/TextSample@1.0.0"
    theirs = _run07(
        ref_python,
        "import json\nfrom atdata.index import LocalDatasetEntry\n"
        f"e = LocalDatasetEntry(name='t', schema_ref={ref!r}, data_urls={urls!r})\n"
        "print(json.dumps([e.cid, e.wds_url, e.sample_kind]))",
    )
    e = atdata.index.LocalDatasetEntry(name="t", schema_ref=ref, data_urls=urls)
    assert [e.cid, e.wds_url, e.sample_kind] == theirs
    given = atdata.index.LocalDatasetEntry(name="t", schema_ref=ref, data_urls=urls, _cid="bafyx")
    assert given.cid == "bafyx"
    with pytest.raises(TypeError, match="data_urls must be a list of str"):
        atdata.index.LocalDatasetEntry(name="t", schema_ref=ref, data_urls="/a.tar")


# -- checksums -------------------------------------------------------------------------------


def test_verify_checksums_ok_mismatch_missing_skipped(index):
    entry = index.write_samples(text_samples(30), name="docs", maxcount=10)
    urls = entry.data_urls
    assert len(urls) == 3
    assert atdata.verify_checksums(entry) == {u: "ok" for u in urls}
    Path(urls[0]).write_bytes(Path(urls[0]).read_bytes()[:-1] + b"\x01")
    Path(urls[1]).unlink()
    got = atdata.verify_checksums(entry)
    assert got[urls[0]] == "mismatch"
    assert got[urls[1]].startswith("error:") and urls[1] in got[urls[1]]
    assert got[urls[2]] == "ok"
    remote = atdata.index.LocalDatasetEntry(
        name="r",
        schema_ref="atdata://local/schema/X@1.0.0",
        data_urls=["s3://b/k.tar", "/nowhere.tar"],
        metadata={"checksums": {"s3://b/k.tar": "0" * 64}},
    )
    assert atdata.verify_checksums(remote) == {"s3://b/k.tar": "skipped", "/nowhere.tar": "skipped"}
    with pytest.raises(TypeError, match="data_urls"):
        atdata.verify_checksums("not an entry")


def test_shard_write_result_is_a_list_with_checksums():
    r = atdata.ShardWriteResult(["/a.tar", "/b.tar"], {"/a.tar": "aa", "/b.tar": "bb"})
    assert isinstance(r, list) and r == ["/a.tar", "/b.tar"] and r[1] == "/b.tar"
    assert r.checksums == {"/a.tar": "aa", "/b.tar": "bb"}


# -- provider methods on every backend -------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def provider(request, tmp_path):
    if request.param == "sqlite":
        yield atdata.SqliteProvider(str(tmp_path / "p.db"))
    elif request.param == "postgres":
        yield atdata.PostgresProvider(request.getfixturevalue("pg_dsn"))
    else:
        p = atdata.RedisProvider(REDIS, prefix=f"atdata-py-test-{uuid.uuid4().hex}:")
        try:
            yield p
        finally:
            p.delete_all_keys()


def test_provider_methods(provider, tmp_path):
    assert isinstance(provider, atdata.providers.IndexProvider)
    index = atdata.Index(provider=provider, data_store=atdata.LocalDiskStore(tmp_path / "d"))
    first = index.write_samples(text_samples(5), name="docs")
    second = index.write_samples(text_samples(5, start=5), name="docs")

    e = provider.get_entry_by_cid(first.cid)
    assert isinstance(e, atdata.index.LocalDatasetEntry)
    assert (e.name, e.cid, e.schema_ref, e.data_urls) == (
        "docs", first.cid, first.schema_ref, first.data_urls
    )
    assert e.metadata == {"checksums": {s["url"]: s["sha256"] for s in first.shards}}
    assert provider.get_entry_by_name("docs").cid == second.cid  # the newest version
    assert [x.cid for x in provider.iter_entries()] == [first.cid, second.cid]
    assert provider.get_label("docs") == (second.cid, "2")
    assert provider.get_label("docs", "1") == (first.cid, "1")
    assert list(provider.iter_labels()) == [("docs", first.cid, "1"), ("docs", second.cid, "2")]
    for missing in (
        lambda: provider.get_entry_by_cid("bafynothere"),
        lambda: provider.get_entry_by_name("nothere"),
        lambda: provider.get_label("docs", "9"),
    ):
        with pytest.raises(KeyError):
            missing()

    record = json.loads(provider.get_schema_json("TextSample", "1.0.0"))
    assert record["name"] == "TextSample" and [f["name"] for f in record["fields"]] == [
        "text", "language", "word_count"
    ]
    assert provider.get_schema_json("TextSample", "9.9.9") is None
    assert provider.find_latest_version("TextSample") == "1.0.0"
    assert provider.find_latest_version("Nope") is None

    # A new version under store_schema; the same again is a no-op; other fields are refused.
    v2 = dict(record, version="1.2.0", fields=record["fields"][:1])
    provider.store_schema("TextSample", "1.2.0", json.dumps(v2))
    provider.store_schema("TextSample", "1.2.0", json.dumps(v2))
    assert provider.find_latest_version("TextSample") == "1.2.0"
    assert sorted(v for n, v, _ in provider.iter_schemas() if n == "TextSample") == [
        "1.0.0", "1.2.0"
    ]
    with pytest.raises(atdata.AlreadyExistsError, match=r"TextSample@1\.2\.0"):
        provider.store_schema("TextSample", "1.2.0", json.dumps(record | {"version": "1.2.0"}))
    with pytest.raises(ValueError, match="must be the record's own"):
        provider.store_schema("Other", "1.2.0", json.dumps(v2))
    provider.close()


def test_store_entry_records_an_entry_as_07_does(provider, tmp_path):
    ds = atdata.write_samples(text_samples(4), tmp_path / "docs.tar")
    urls = ds.list_shards()
    ref = atdata.Index(provider=provider).publish_schema(TextSample)
    sha = atdata._core.shard_sha256(urls[0])
    e = atdata.index.LocalDatasetEntry(
        name="docs", schema_ref=ref, data_urls=urls, metadata={"k": "v", "checksums": {urls[0]: sha}}
    )
    assert provider.store_entry(e) is None
    got = provider.get_entry_by_cid(e.cid)
    assert got == e
    assert provider.get_label("docs") == (e.cid, "1")
    provider.store_entry(e)  # again: nothing changes
    assert [x.cid for x in provider.iter_entries()] == [e.cid]
    index = atdata.Index(provider=provider)
    assert [s.text for s in index.load("docs")] == [s.text for s in text_samples(4)]
    assert atdata.verify_checksums(got) == {urls[0]: "ok"}

    forged = atdata.index.LocalDatasetEntry(
        name="docs", schema_ref=ref, data_urls=urls, _cid=atdata.generate_cid({"x": 1})
    )
    with pytest.raises(ValueError, match="is not the CID of its schema_ref and data_urls"):
        provider.store_entry(forged)
    orphan = atdata.index.LocalDatasetEntry(
        name="docs", schema_ref="atdata://local/schema/Nope@1.0.0", data_urls=urls
    )
    with pytest.raises(KeyError, match=r"schema 'Nope@1\.0\.0'.*store it first"):
        provider.store_entry(orphan)
    with pytest.raises(TypeError, match="LocalDatasetEntry"):
        provider.store_entry({"name": "docs"})


def test_store_entry_is_read_by_07(ref_python, tmp_path):
    p = atdata.SqliteProvider(str(tmp_path / "index.db"))
    ref = atdata.Index(provider=p).publish_schema(TextSample)
    urls = atdata.write_samples(text_samples(3), tmp_path / "docs.tar").list_shards()
    e = atdata.index.LocalDatasetEntry(name="docs", schema_ref=ref, data_urls=urls, metadata={"k": 1})
    p.store_entry(e)
    theirs = _run07(
        ref_python,
        "import json\nfrom atdata.providers import create_provider\n"
        f"p = create_provider('sqlite', path={str(tmp_path / 'index.db')!r})\n"
        f"e = p.get_entry_by_cid({e.cid!r})\n"
        "print(json.dumps([e.name, e.schema_ref, e.data_urls, e.metadata, p.get_label('docs')[0]]))",
    )
    # The core keeps 0.7's checksums key in the stored metadata: empty, no digests known.
    assert theirs == ["docs", ref, urls, {"k": 1, "checksums": {}}, e.cid]


def test_create_provider_and_repository_by_name(tmp_path):
    p = atdata.providers.create_provider("sqlite", path=tmp_path / "x.db")
    assert isinstance(p, atdata.SqliteProvider) and p.path == tmp_path / "x.db"
    r = atdata.providers.create_provider("redis", host="127.0.0.1", port=6379, db=0)
    assert isinstance(r, atdata.RedisProvider)
    assert "127.0.0.1:6379" in repr(r)
    # 0.7's Index(host=..., port=...) is a Redis index on that server.
    ix = atdata.Index(host="127.0.0.1", port=6379, db=0)
    assert isinstance(ix.provider, atdata.RedisProvider) and "127.0.0.1:6379/0" in repr(ix.provider)
    with pytest.raises(atdata.UnsupportedFeatureError, match="socket_timeout"):
        atdata.create_repository("redis", socket_timeout=3)
    with pytest.raises(TypeError, match="port must be"):
        atdata.providers.create_provider("redis", port="6379")
    with pytest.raises(TypeError, match="host"):
        atdata.create_repository("sqlite", host="x")


# -- error words 0.7 users match on ----------------------------------------------------------


def test_unknown_provider_is_a_value_error_as_in_07(ref_python, tmp_path):
    theirs = _run07(
        ref_python,
        "import json, atdata\nfrom atdata.providers import create_provider\nout = []\n"
        "for f in (lambda: atdata.Index(provider='mongo', atmosphere=None),\n"
        "          lambda: atdata.create_repository('mongo'),\n"
        "          lambda: create_provider('mongo')):\n"
        "    try: f()\n"
        "    except Exception as e: out.append([type(e).__name__, str(e)])\n"
        "print(json.dumps(out))",
    )
    assert [t for t, _ in theirs] == ["ValueError"] * 3
    assert all("Unknown provider" in m for _, m in theirs)
    for f in (
        lambda: atdata.Index(provider="mongo"),
        lambda: atdata.create_repository("mongo"),
        lambda: atdata.providers.create_provider("mongo"),
    ):
        with pytest.raises(ValueError, match="Unknown provider 'mongo'"):
            f()


def test_unknown_repository_is_a_key_error_as_in_07(ref_python, tmp_path):
    theirs = _run07(
        ref_python,
        "import json, atdata\n"
        f"ix = atdata.Index(path={str(tmp_path / 'r07.db')!r}, atmosphere=None)\n"
        "try: ix.list_datasets(repo='nope')\n"
        "except Exception as e: print(json.dumps([type(e).__name__, isinstance(e, KeyError), str(e)]))",
    )
    assert theirs[1] is True and "Unknown repository" in theirs[2]
    index = atdata.Index(repos={"lab": atdata.create_repository("sqlite")})
    for f in (
        lambda: index.get_dataset("@nope/docs"),
        lambda: index.list_datasets(repo="nope"),
        lambda: index.write_samples(text_samples(2), name="@nope/docs"),
    ):
        with pytest.raises(KeyError, match="Unknown repository 'nope'; mounted: local, lab"):
            f()


# -- Index: publish_schema, get_schema_type, insert_dataset, add_entry ----------------------


def test_publish_schema(index):
    ref = index.publish_schema(TextSample)
    assert ref == "atdata://local/schema/TextSample@1.0.0"
    assert index.publish_schema(TextSample) == ref  # same fields: the stored record
    # Data written later reuses the published record.
    assert index.write_samples(text_samples(2), name="d").schema_ref == ref

    def narrow_type():
        @atdata.packable
        class TextSample:
            text: str

        return TextSample

    narrow = narrow_type()
    assert index.publish_schema(narrow) == "atdata://local/schema/TextSample@1.0.1"
    assert index.publish_schema(narrow, version="3.0.0", description="narrow") == (
        "atdata://local/schema/TextSample@3.0.0"
    )
    assert index.get_schema("TextSample@3.0.0")["description"] == "narrow"
    assert index.get_schema("TextSample@1.0.0")["description"] == "Simple text document."
    with pytest.raises(atdata.AlreadyExistsError, match=r"TextSample@3\.0\.0"):
        index.publish_schema(TextSample, version="3.0.0")
    cls = index.get_schema_type("atdata://local/schema/TextSample@1.0.0", register=False)
    assert cls is index.get_schema_type("TextSample@1.0.0")
    assert [f for f in cls.__dataclass_fields__] == ["text", "language", "word_count"]
    with pytest.raises(TypeError, match="not a @packable"):
        index.publish_schema(int)


def test_publish_schema_is_read_by_07(ref_python, tmp_path):
    index = atdata.Index(path=tmp_path / "index.db")
    ref = index.publish_schema(TextSample, version="1.4.0")
    theirs = _run07(
        ref_python,
        "import json, atdata\n"
        f"ix = atdata.Index(provider='sqlite', path={str(tmp_path / 'index.db')!r}, atmosphere=None)\n"
        f"cls = ix.get_schema_type({ref!r})\n"
        "p = ix.provider\n"
        "print(json.dumps([cls.__name__, list(cls.__dataclass_fields__),"
        " p.find_latest_version('TextSample'), ix.publish_schema(cls)]))",
    )
    assert theirs == [
        "TextSample",
        ["text", "language", "word_count"],
        "1.4.0",
        "atdata://local/schema/TextSample@1.4.1",
    ]
    # ... and what 0.7 published is read here.
    assert index.provider.find_latest_version("TextSample") == "1.4.1"
    assert index.get_schema("TextSample")["version"] == "1.4.1"


def test_insert_dataset_copies_into_the_store_or_indexes_in_place(index, tmp_path):
    ds = atdata.write_samples(text_samples(12), tmp_path / "src" / "docs.tar", maxcount=5)
    files = ds.list_shards()
    assert len(files) == 3
    # The index has a data store: the samples are copied into it (as 0.7 does).
    copied = index.insert_dataset(ds, name="docs", description="d", tags=["t"])
    assert isinstance(copied, atdata.index.LocalDatasetEntry)
    assert all(u.startswith(str(tmp_path / "data")) for u in copied.data_urls)
    assert copied.num_samples == 12 and copied.description == "d" and copied.tags == ["t"]
    assert [s.text for s in index.load("docs")] == [s.text for s in text_samples(12)]
    assert index.insert_dataset(ds, name="docs").cid == copied.cid  # same content: same entry

    # Without a store: the entry points at the files.
    bare = atdata.Index(path=tmp_path / "bare.db")
    inplace = bare.insert_dataset(ds, name="docs")
    assert inplace.data_urls == files
    assert inplace.cid == copied.cid
    assert bare.insert_dataset(ds, name="copy", copy=True).data_urls != files

    with pytest.raises(atdata.UnsupportedFeatureError, match="prefix"):
        index.insert_dataset(ds, name="x", prefix="a/b")
    with pytest.raises(atdata.UnsupportedFeatureError, match="data_store"):
        index.insert_dataset(ds, name="x", data_store=atdata.LocalDiskStore(tmp_path / "other"))
    with pytest.raises(TypeError, match="Dataset"):
        index.insert_dataset(["not", "a", "dataset"], name="x")
    with pytest.raises(atdata.UnsupportedFeatureError, match="'s3://b/a.tar' is not a local file"):
        index.insert_dataset(atdata.Dataset("s3://b/a.tar"), name="x")
    with pytest.raises(KeyError, match="Unknown repository 'lab'"):
        index.insert_dataset(ds, name="@lab/docs")


def test_insert_dataset_into_a_mounted_repository_and_by_schema_ref(tmp_path):
    lab_store = atdata.LocalDiskStore(tmp_path / "lab-data")
    index = atdata.Index(
        path=tmp_path / "i.db",
        repos={"lab": atdata.Repository(atdata.SqliteProvider(str(tmp_path / "lab.db")), lab_store)},
    )
    ds = atdata.write_samples(text_samples(4), tmp_path / "docs.tar")
    ref = index.publish_schema(TextSample)
    e = index.insert_dataset(ds, name="@lab/docs", schema_ref=ref)
    assert e.repo == "lab" and e.schema_ref.endswith("TextSample@1.0.0")
    assert all(u.startswith(str(tmp_path / "lab-data")) for u in e.data_urls)
    assert index.insert_dataset(ds, name="@lab/docs", data_store=lab_store).cid == e.cid


def test_add_entry_warns_and_indexes_in_place(index, tmp_path):
    ds = atdata.write_samples(text_samples(3), tmp_path / "docs.tar")
    with pytest.warns(DeprecationWarning, match="insert_dataset"):
        e = index.add_entry(ds, name="docs", metadata={"k": 1})
    assert e.data_urls == ds.list_shards() and e.metadata == {"k": 1}
    assert index.get_entry(e.cid).cid == e.cid
    assert index.get_entry_by_name("docs").data_urls == e.data_urls
    assert [x.cid for x in index.list_entries()] == [e.cid]
    assert [x.cid for x in index.all_entries] == [x.cid for x in index.entries] == [e.cid]


def test_entries_we_write_are_read_by_07_providers(ref_python, tmp_path):
    index = atdata.Index(path=tmp_path / "index.db", data_store=atdata.LocalDiskStore(tmp_path / "d"))
    e = index.write_samples(text_samples(6), name="docs", maxcount=4)
    theirs = _run07(
        ref_python,
        "import json, atdata\nfrom atdata.providers import create_provider\n"
        f"p = create_provider('sqlite', path={str(tmp_path / 'index.db')!r})\n"
        f"a = p.get_entry_by_cid({e.cid!r}); b = p.get_entry_by_name('docs')\n"
        "print(json.dumps([a.cid, a.data_urls, b.cid, p.find_latest_version('TextSample'),"
        " atdata.verify_checksums(a)]))",
    )
    assert theirs == [e.cid, e.data_urls, e.cid, "1.0.0", {u: "ok" for u in e.data_urls}]


def test_entries_07_wrote_are_read_by_our_providers(ref_python, tmp_path):
    theirs = _run07(
        ref_python,
        "import json, contextlib, io, atdata\n"
        "@atdata.packable\nclass TextSample:\n    text: str\n"
        f"root = {str(tmp_path)!r}\n"
        "ix = atdata.Index(provider='sqlite', path=root + '/index.db',"
        " data_store=atdata.LocalDiskStore(root=root + '/data'), atmosphere=None)\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    e = ix.write_samples([TextSample(text=str(i)) for i in range(5)], name='docs')\n"
        "print(json.dumps([e.cid, e.data_urls, e.metadata['checksums']]))",
    )
    cid, urls, checksums = theirs
    p = atdata.SqliteProvider(str(tmp_path / "index.db"))
    e = p.get_entry_by_cid(cid)
    assert (e.cid, e.data_urls, e.metadata["checksums"]) == (cid, urls, checksums)
    assert p.get_entry_by_name("docs").cid == cid
    assert atdata.verify_checksums(e) == {u: "ok" for u in urls}
    assert p.find_latest_version("TextSample") == "1.0.0"


# -- stores ----------------------------------------------------------------------------------


def test_store_read_url_and_streaming_as_07(ref_python, tmp_path):
    url = "s3://bucket/team/docs/data--00000000--000000.tar"
    theirs = _run07(
        ref_python,
        "import json\nfrom atdata.stores import LocalDiskStore, S3DataStore\n"
        f"d = LocalDiskStore(root={str(tmp_path)!r})\n"
        "creds = {'AWS_ENDPOINT': 'http://127.0.0.1:9000/', 'AWS_ACCESS_KEY_ID': 'k',"
        " 'AWS_SECRET_ACCESS_KEY': 's'}\n"
        "s = S3DataStore(creds, bucket='bucket')\n"
        f"print(json.dumps([d.read_url('/x/a.tar'), d.supports_streaming(), s.read_url({url!r}),"
        " s.read_url('/local.tar'), s.supports_streaming()]))",
    )
    d = atdata.stores.LocalDiskStore(tmp_path)
    s = atdata.stores.S3DataStore(
        {"AWS_ENDPOINT": "http://127.0.0.1:9000/", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"},
        bucket="bucket",
    )
    ours = [d.read_url("/x/a.tar"), d.supports_streaming(), s.read_url(url), s.read_url("/local.tar"), s.supports_streaming()]
    assert ours == theirs
    assert ours[2] == "http://127.0.0.1:9000/bucket/team/docs/data--00000000--000000.tar"
    aws = atdata.S3DataStore({"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}, bucket="b")
    assert aws.read_url(url) == url


# -- module paths ----------------------------------------------------------------------------

# 0.7's public names of each module that we leave out (see the compatibility notes).
LEFT_OUT = {
    "atdata.index": {"SchemaNamespace", "SchemaFieldType", "SchemaField", "LocalSchemaRecord"},
    "atdata.local": {
        "SchemaNamespace", "SchemaFieldType", "SchemaField", "LocalSchemaRecord", "Repo",
    },
    "atdata.stores": set(),
    "atdata.providers": set(),
}


def test_module_paths_hold_07s_public_names(ref_python):
    theirs = _run07(
        ref_python,
        "import json, importlib\n"
        f"mods = {sorted(LEFT_OUT)!r}\n"
        "print(json.dumps({m: sorted(n for n in importlib.import_module(m).__all__"
        " if not n.startswith('_')) for m in mods}))",
    )
    import importlib

    for name, public in theirs.items():
        mod = importlib.import_module(name)
        ours = {n for n in public if hasattr(mod, n)}
        assert ours == set(public) - LEFT_OUT[name], name
        assert set(mod.__all__) >= ours
    # atdata.providers also names the three backends (0.7 has them in submodules).
    from atdata.providers import PostgresProvider, RedisProvider, SqliteProvider  # noqa: F401
    from atdata.local import Index, LocalDatasetEntry, LocalDiskStore, S3DataStore  # noqa: F401

    assert atdata.repository.create_repository is atdata.create_repository


def test_module_index_does_not_shadow_the_class():
    import atdata.index as index_module

    assert isinstance(index_module, type(atdata))
    assert atdata.Index is index_module.Index and isinstance(atdata.Index, type)
    assert atdata.index is index_module
    assert atdata.local.Index is atdata.Index
    assert atdata.stores.LocalDiskStore is atdata.LocalDiskStore
    assert atdata.providers.SqliteProvider is atdata.SqliteProvider
    assert isinstance(atdata.Index().provider, atdata.providers.IndexProvider)
