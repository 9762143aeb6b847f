"""``LocalDiskStore.write_shards`` and ``S3DataStore.write_shards`` (atdata 0.7's way to put a
Dataset's samples into a store as shards and index them afterwards): names, checksums,
limits, errors, nothing published for a bad sample, indexing the written shards without a copy
(``insert_dataset``, ``commit_entries``), and the real atdata 0.7 writing and reading the
same way. gc of such shards is tested in Rust (crates/atdata/tests/store_write.rs)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from pathlib import Path

import pytest

import atdata

from conftest import TextSample, run_py, text_samples
from test_s3_store import _creds, _objects, bucket, s3_endpoint  # noqa: F401 (fixtures)

NAME = re.compile(r"/data--[0-9a-f]{8}--(\d{6})\.tar$")


def _source(tmp_path: Path, n: int = 25, name: str = "src") -> atdata.Dataset:
    """A Dataset over shards written outside any store."""
    return atdata.write_samples(text_samples(n), tmp_path / f"{name}.tar")


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _store_files(root: Path) -> list[str]:
    return sorted(
        str(p) for p in root.rglob("*") if p.is_file() and p.name != ".atdata-store"
    )


def _pattern(urls: list) -> str:
    """A brace pattern naming `urls` in order (shard names sort by tag, not by number)."""
    return "{" + ",".join(urls) + "}"


def test_local_write_names_checksums_and_order(tmp_path):
    store = atdata.LocalDiskStore(tmp_path / "data")
    result = store.write_shards(_source(tmp_path), prefix="docs", maxcount=10)
    assert isinstance(result, atdata.ShardWriteResult) and isinstance(result, list)
    assert len(result) == 3
    root = str(store.root)
    for i, url in enumerate(result):
        assert url.startswith(f"{root}/docs/data--"), url
        m = NAME.search(url)
        assert m and int(m.group(1)) == i, url
        assert result.checksums[url] == _sha256(url)
    assert set(result.checksums) == set(result)
    assert [s[2] for s in result.shards] == [10, 10, 5]
    assert [s[3] for s in result.shards] == [os.path.getsize(u) for u in result]
    # Nothing but the shards: no staging leftovers.
    assert _store_files(tmp_path / "data") == sorted(result)
    back = atdata.Dataset[TextSample](_pattern(result))
    assert [s.text for s in back] == [s.text for s in text_samples(25)]

    # The same samples again: the same files, nothing new.
    again = store.write_shards(_source(tmp_path), prefix="docs", maxcount=10)
    assert list(again) == list(result) and again.checksums == result.checksums
    assert _store_files(tmp_path / "data") == sorted(result)


def test_limits_defaults_and_any_dataset(tmp_path, index):
    store = atdata.LocalDiskStore(tmp_path / "data")
    # 0.7's defaults (WebDataset's: 100,000 samples, 3e9 bytes): one shard here.
    one = store.write_shards(_source(tmp_path, 30, "s30"), prefix="all")
    assert len(one) == 1 and one.shards[0][2] == 30
    # maxsize in bytes rolls over too; a float limit such as 3e9 is taken.
    small = store.write_shards(_source(tmp_path, 30, "s30"), prefix="small", maxsize=12_000)
    assert len(small) > 1
    assert all(s[3] <= 12_000 for s in small.shards[:-1])
    assert sum(s[2] for s in small.shards) == 30
    store.write_shards(_source(tmp_path, 3, "s3"), prefix="floaty", maxsize=3e9)
    # A dataset loaded from an index reads through that index's store.
    index.write(text_samples(12), name="from-index")
    out = store.write_shards(index.load("from-index"), prefix="copied", maxcount=5)
    assert [s[2] for s in out.shards] == [5, 5, 2]


class _MemorySource:
    """A data source of the user's own (0.7's protocol): shards held in memory, read by the
    core through Python streams while the write runs with the GIL released."""

    def __init__(self, shards: dict) -> None:
        self._shards = shards

    @property
    def shards(self):
        return ((k, self.open_shard(k)) for k in self.list_shards())

    def list_shards(self) -> list:
        return list(self._shards)

    def open_shard(self, shard_id: str):
        import io

        return io.BytesIO(self._shards[shard_id])


def test_a_dataset_over_a_python_data_source(tmp_path):
    src = atdata.write_samples(text_samples(14), tmp_path / "src.tar", maxcount=5)
    source = _MemorySource({f"mem-{i}": Path(u).read_bytes() for i, u in enumerate(src.urls)})
    store = atdata.LocalDiskStore(tmp_path / "data")
    out = store.write_shards(atdata.Dataset[TextSample](source), prefix="mem", maxcount=4)
    assert [s[2] for s in out.shards] == [4, 4, 4, 2]
    back = atdata.Dataset[TextSample](_pattern(out))
    assert [s.text for s in back] == [s.text for s in text_samples(14)]


def test_bad_arguments_are_refused_before_anything_is_written(tmp_path):
    root = tmp_path / "data"
    store = atdata.LocalDiskStore(root)
    ds = _source(tmp_path, 4)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\): opener, verbose"):
        store.write_shards(ds, prefix="d", verbose=0, opener=open)
    with pytest.raises(TypeError, match="prefix"):
        store.write_shards(ds)  # prefix is required, by keyword
    with pytest.raises(TypeError, match="ds must be an atdata.Dataset, got list"):
        store.write_shards(text_samples(2), prefix="d")
    for bad in ["a/b", "../x", "", ".staging"]:
        with pytest.raises(atdata.InvalidArgumentError):
            store.write_shards(ds, prefix=bad)
    for bad in [0, -1, True, 1.5, "10"]:
        with pytest.raises(atdata.InvalidArgumentError, match="maxcount"):
            store.write_shards(ds, prefix="d", maxcount=bad)
    with pytest.raises(atdata.InvalidArgumentError):
        store.write_shards(ds.filter(lambda s: True), prefix="a/b")
    assert _store_files(root) == []
    # 0.7's cache_local is taken and means nothing here.
    out = store.write_shards(ds, prefix="d", cache_local=True)
    assert len(out) == 1


def test_filter_and_map_apply(tmp_path):
    """A filtered or mapped dataset writes the samples its iteration yields, under the type
    the map returns."""

    @atdata.packable
    class Upper:
        text: str
        n: int

    store = atdata.LocalDiskStore(tmp_path / "data")
    ds = _source(tmp_path, 20).filter(lambda s: s.language == "es")
    want = [s for s in text_samples(20) if s.language == "es"]
    assert 0 < len(want) < 20
    out = store.write_shards(ds, prefix="filtered", maxcount=4)
    assert sum(s[2] for s in out.shards) == len(want)
    back = atdata.Dataset[TextSample](_pattern(out))
    assert [s.text for s in back] == [s.text for s in want]

    mapped = _source(tmp_path, 5, "m").map(lambda s: Upper(text=s.text.upper(), n=s.word_count))
    out = store.write_shards(mapped, prefix="mapped")
    back = list(atdata.Dataset[Upper](out[0]))
    assert [s.text for s in back] == [s.text.upper() for s in text_samples(5)]
    with pytest.raises(RuntimeError, match="no samples"):
        store.write_shards(_source(tmp_path, 5, "m").filter(lambda s: False), prefix="none")
    assert not (tmp_path / "data" / "none").exists()


def test_an_empty_dataset_is_a_runtime_error_and_writes_nothing(tmp_path):
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    root = tmp_path / "data"
    store = atdata.LocalDiskStore(root)
    with pytest.raises(RuntimeError, match="no samples"):
        store.write_shards(atdata.Dataset(str(empty)), prefix="d")
    assert _store_files(root) == []


def test_a_read_error_midway_publishes_nothing(tmp_path):
    good = atdata.write_samples(text_samples(10), tmp_path / "good.tar")
    bad = tmp_path / "bad.tar"
    data = bytearray((tmp_path / "good.tar").read_bytes())
    data[700:900] = b"\xff" * 200  # inside the first sample's msgpack member: not msgpack
    bad.write_bytes(bytes(data[: 1024 * 3]))  # and cut short
    root = tmp_path / "data"
    store = atdata.LocalDiskStore(root)
    ds = atdata.Dataset(_pattern([good.urls[0], str(bad)]))
    with pytest.raises(atdata.AtdataError):
        store.write_shards(ds, prefix="d", maxcount=2)
    assert _store_files(root) == []


def test_written_shards_are_indexed_in_place_and_read_by_name(tmp_path):
    root = tmp_path / "data"
    store = atdata.LocalDiskStore(root)
    result = store.write_shards(_source(tmp_path), prefix="docs", maxcount=10)
    want = [s.text for s in text_samples(25)]

    # An index whose store holds them: insert_dataset lands on the very same files.
    index = atdata.Index(path=tmp_path / "index.db", data_store=store)
    e = index.insert_dataset(atdata.Dataset(_pattern(result)), name="docs")
    assert e.data_urls == list(result)
    assert _store_files(root) == sorted(result)
    assert [s.text for s in index.load("docs")] == want
    assert atdata.verify_checksums(e) == {u: "ok" for u in result}

    # commit_entries with the returned rows.
    assert index.commit_entries(TextSample, [("docs-again", result.shards)]) == 1
    e2 = index.get_dataset("docs-again")
    assert e2.data_urls == list(result)
    assert {s["url"]: s["sha256"] for s in e2.shards} == result.checksums
    ds = atdata.load_dataset("@local/docs-again", split="train", index=index)
    assert [s.text for s in ds] == want
    assert _store_files(root) == sorted(result)


READ_07 = r"""
import json, os
import atdata

@atdata.packable
class TextSample:
    '''Simple text document.'''
    text: str
    language: str
    word_count: int

index = atdata.Index(provider="sqlite", path=os.environ["DB"], atmosphere=None)
ds = atdata.load_dataset("@local/docs", TextSample, index=index, split="train")
e = index.get_dataset("docs")
print(json.dumps({"urls": e.data_urls, "texts": [s.text for s in ds.ordered()]}))
"""


def test_07_reads_shards_we_wrote_and_indexed(ref_python, tmp_path):
    store = atdata.LocalDiskStore(tmp_path / "data")
    result = store.write_shards(_source(tmp_path), prefix="docs", maxcount=10)
    index = atdata.Index(path=tmp_path / "index.db", data_store=store)
    index.insert_dataset(atdata.Dataset(_pattern(result)), name="docs")
    p = run_py(READ_07, python=ref_python, env={"DB": str(tmp_path / "index.db"), "HOME": str(tmp_path)})
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["urls"] == list(result)
    assert out["texts"] == [s.text for s in text_samples(25)]


WRITE_07 = r"""
import contextlib, io, json, os
import atdata
from atdata.stores import LocalDiskStore

@atdata.packable
class TextSample:
    '''Simple text document.'''
    text: str
    language: str
    word_count: int

store = LocalDiskStore(root=os.environ["ROOT"])
ds = atdata.Dataset[TextSample](os.environ["SRC"])
out = {}
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    r = store.write_shards(ds, prefix="docs", maxcount=10)
    out["urls"] = list(r)
    out["checksums"] = r.checksums
    out["counts"] = [sum(1 for _ in atdata.Dataset[TextSample](u).ordered()) for u in r]
    try:
        e = store.write_shards(atdata.Dataset[TextSample](os.environ["EMPTY"]), prefix="e")
        out["empty"] = [os.path.getsize(u) for u in e]
    except Exception as e:
        out["empty"] = [c.__name__ for c in type(e).__mro__]
print(json.dumps(out))
"""


def test_we_behave_as_07_does(ref_python, tmp_path):
    """0.7's own write_shards on the same input: the same shard split, names of the same
    shape, digests of the files. For an empty dataset 0.7 documents a RuntimeError but,
    WebDataset's writer opening its first file up front, writes one shard holding nothing;
    we raise the documented RuntimeError (tested above) and write nothing."""
    src = _source(tmp_path)
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    env = {
        "ROOT": str(tmp_path / "data07"),
        "SRC": src.urls[0],
        "EMPTY": str(empty),
        "HOME": str(tmp_path),
    }
    p = run_py(WRITE_07, python=ref_python, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    theirs = json.loads(p.stdout.strip().splitlines()[-1])
    assert theirs["empty"] == [10240], theirs["empty"]  # one tar with no member

    ours = atdata.LocalDiskStore(tmp_path / "data").write_shards(src, prefix="docs", maxcount=10)
    assert [s[2] for s in ours.shards] == theirs["counts"]
    for t, o in zip(theirs["urls"], ours):
        assert NAME.search(t) and NAME.search(o)
        assert NAME.search(t).group(1) == NAME.search(o).group(1)
        assert theirs["checksums"][t] == _sha256(t)
    # We read theirs, in order.
    back = atdata.Dataset[TextSample](_pattern(theirs["urls"]))
    assert [s.text for s in back] == [s.text for s in text_samples(25)]


# -- S3 ----------------------------------------------------------------------------------


def test_s3_write_index_and_read(s3_endpoint, bucket, tmp_path):
    store = atdata.S3DataStore(_creds(s3_endpoint), bucket=bucket, prefix="team")
    result = store.write_shards(_source(tmp_path), prefix="docs", maxcount=10, cache_local=False)
    assert isinstance(result, atdata.ShardWriteResult) and len(result) == 3
    for i, url in enumerate(result):
        assert url.startswith(f"s3://{bucket}/team/docs/data--"), url
        assert int(NAME.search(url).group(1)) == i
    assert sorted(_objects(s3_endpoint, bucket)) == sorted(
        u.split(f"s3://{bucket}/", 1)[1] for u in result
    )
    index = atdata.Index(path=tmp_path / "index.db", data_store=store)
    assert index.commit_entries(TextSample, [("docs", result.shards)]) == 1
    assert index.get_dataset("docs").data_urls == list(result)
    ds = atdata.load_dataset("@local/docs", split="train", index=index)
    assert [s.text for s in ds] == [s.text for s in text_samples(25)]
    # verify re-hashes every object against the digests committed: the returned checksums.
    report = index.verify("docs")
    assert report.ok and sorted(report.checked) == sorted(result), report

    with pytest.raises(atdata.UnsupportedFeatureError, match="manifest"):
        store.write_shards(_source(tmp_path, 2, "m"), prefix="m", manifest=True)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        store.write_shards(_source(tmp_path, 2, "m"), prefix="m", start_shard=3)
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    with pytest.raises(RuntimeError, match="no samples"):
        store.write_shards(atdata.Dataset(str(empty)), prefix="e")
    # manifest=False is 0.7's default and writes as without it.
    same = store.write_shards(_source(tmp_path), prefix="docs", maxcount=10, manifest=False)
    assert list(same) == list(result)
    assert len(_objects(s3_endpoint, bucket)) == 3


READ_07_S3 = r"""
import json, os
import atdata
from atdata.stores import S3DataStore

@atdata.packable
class TextSample:
    '''Simple text document.'''
    text: str
    language: str
    word_count: int

creds = {"AWS_ENDPOINT": os.environ["ENDPOINT"], "AWS_ACCESS_KEY_ID": "testing",
         "AWS_SECRET_ACCESS_KEY": "testing"}
store = S3DataStore(creds, bucket=os.environ["BUCKET"])
index = atdata.Index(provider="sqlite", path=os.environ["DB"], data_store=store, atmosphere=None)
ds = atdata.load_dataset("@local/docs", TextSample, index=index, split="train")
print(json.dumps({"texts": [s.text for s in ds.ordered()]}))
"""


def test_07_reads_shards_we_wrote_to_s3(ref_python, s3_endpoint, bucket, tmp_path):
    store = atdata.S3DataStore(_creds(s3_endpoint), bucket=bucket)
    result = store.write_shards(_source(tmp_path), prefix="docs", maxcount=10)
    index = atdata.Index(path=tmp_path / "index.db", data_store=store)
    index.commit_entries(TextSample, [("docs", result.shards)])
    env = {
        "ENDPOINT": s3_endpoint,
        "BUCKET": bucket,
        "DB": str(tmp_path / "index.db"),
        "HOME": str(tmp_path),
    }
    env.update({k: "" for k in ("AWS_PROFILE", "AWS_CONFIG_FILE") if k in os.environ})
    p = run_py(READ_07_S3, python=ref_python, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["texts"] == [s.text for s in text_samples(25)]
