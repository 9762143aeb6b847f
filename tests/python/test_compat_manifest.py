"""Per-shard manifests as atdata 0.7 writes and reads them: file names and format (checked
against the real 0.7 in both directions), aggregates, offsets, queries and the predicate DSL.
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
from collections import Counter
from typing import Annotated, Optional

import numpy as np
import pytest
from numpy.typing import NDArray

import atdata
from atdata.manifest import (
    F,
    ManifestBuilder,
    ManifestField,
    ManifestWriter,
    Predicate,
    QueryExecutor,
    SampleLocation,
    ShardManifest,
    query_fields,
    resolve_manifest_fields,
)

from conftest import run_py

OUR_PATH = os.path.dirname(os.path.dirname(os.path.abspath(atdata.__file__)))


@atdata.packable
class Shot:
    image: NDArray
    label: str
    confidence: float
    count: int
    tags: list[str]
    flagged: bool
    note: Annotated[str, ManifestField("categorical", exclude=True)]
    rank: Annotated[str, ManifestField("numeric")]
    maybe: Optional[int] = None


def shots(n: int) -> list:
    return [
        Shot(
            image=np.zeros((2, 2), np.uint8),
            label=["dog", "cat", "bird"][i % 3],
            confidence=i / n,
            count=i,
            tags=[f"t{i % 4}", "all"],
            flagged=i % 2 == 0,
            note="x",
            rank=str(i % 5),
            maybe=None if i % 2 else i,
        )
        for i in range(n)
    ]


def _members(tar_path) -> list:
    with tarfile.open(tar_path) as tf:
        return [(m.name.split(".")[0], m.offset, m.size) for m in tf if m.isfile()]


# -- which fields --------------------------------------------------------------------------


def test_fields_are_inferred_marked_or_excluded():
    got = {k: v.aggregate for k, v in resolve_manifest_fields(Shot).items()}
    assert got == {
        "label": "categorical",
        "confidence": "numeric",
        "count": "numeric",
        "tags": "set",
        "flagged": "categorical",
        "rank": "numeric",
        "maybe": "numeric",
    }
    with pytest.raises(ValueError, match="one of"):
        ManifestField("histogram")
    with pytest.raises(TypeError, match="DictSample"):
        resolve_manifest_fields(atdata.DictSample)


# -- writing -------------------------------------------------------------------------------


def test_sharded_write_puts_a_manifest_beside_every_shard(tmp_path):
    data = shots(25)
    ds = atdata.write_samples(data, tmp_path / "shots.tar", maxcount=10, manifest=True)
    urls = ds.list_shards()
    assert len(urls) == 3
    start = 0
    for url in urls:
        base = url[: -len(".tar")]
        header = json.loads(open(base + ".manifest.json").read())
        m = ShardManifest.from_files(base + ".manifest.json", base + ".manifest.parquet")
        members = _members(url)
        part = data[start : start + len(members)]
        start += len(members)
        assert header["shard_id"] == os.path.basename(base) == m.shard_id
        assert header["manifest_version"] == "1.0.0" and header["schema_type"] == "Shot"
        assert header["num_samples"] == len(members) == len(m.samples)
        # Real tar positions of each sample's entry, and its msgpack size.
        assert m.samples["__key__"].tolist() == [k for k, _, _ in members]
        assert m.samples["__offset__"].tolist() == [o for _, o, _ in members]
        assert m.samples["__size__"].tolist() == [s for _, _, s in members]
        assert header["size_bytes"] == sum(s for _, _, s in members)
        agg = header["aggregates"]
        assert agg["label"] == {
            "type": "categorical",
            "cardinality": len({s.label for s in part}),
            "value_counts": dict(Counter(s.label for s in part)),
        }
        assert agg["flagged"]["value_counts"] == dict(Counter(str(s.flagged) for s in part))
        conf = [s.confidence for s in part]
        assert agg["confidence"] == {
            "type": "numeric",
            "min": min(conf),
            "max": max(conf),
            "mean": pytest.approx(sum(conf) / len(conf)),
            "count": len(conf),
        }
        assert agg["maybe"]["count"] == sum(s.maybe is not None for s in part)
        all_tags = sorted({t for s in part for t in s.tags})
        assert agg["tags"] == {"type": "set", "all_values": all_tags}
        assert "note" not in agg and "image" not in agg
        assert m.samples["tags"].tolist() == [s.tags for s in part]
        assert m.samples["label"].tolist() == [s.label for s in part]
    assert start == 25


def test_a_failed_write_leaves_no_manifest(tmp_path):
    def gen():
        yield from shots(3)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atdata.write_samples(gen(), tmp_path / "bad.tar", manifest=True)
    assert os.listdir(tmp_path) == []


def test_generators_and_plain_writes(tmp_path):
    ds = atdata.write_samples((s for s in shots(5)), tmp_path / "g.tar", manifest=True)
    assert os.path.exists(tmp_path / "g.manifest.json")
    assert os.path.exists(tmp_path / "g.manifest.parquet")
    assert len(ds.query(where=F.count >= 0)) == 5
    # manifest=False (the default) writes nothing beside the shard.
    atdata.write_samples(shots(2), tmp_path / "n.tar")
    assert not os.path.exists(tmp_path / "n.manifest.json")


def test_index_write_samples_manifest(index):
    entry = index.write_samples(shots(12), name="shots", maxcount=5, manifest=True)
    for url in entry.data_urls:
        assert os.path.exists(url[: -len(".tar")] + ".manifest.json")
    ds = index.load("shots")
    hits = ds.query(where=(F.label == "dog") & (F.count > 3))
    assert [h.key for h in hits] == ["000000006", "000000009"]
    assert [os.path.basename(u)[: -len(".tar")] for u in entry.data_urls].count(hits[0].shard) == 1


def test_index_manifest_refused_for_s3_before_writing(tmp_path):
    store = atdata.S3DataStore(
        {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"},
        bucket="b",
        endpoint="http://127.0.0.1:9",
    )
    ix = atdata.Index(path=tmp_path / "i.db", data_store=store)
    with pytest.raises(atdata.UnsupportedFeatureError, match="local disk"):
        ix.write_samples(shots(2), name="x", manifest=True)
    assert ix.list_datasets() == []


# -- querying ------------------------------------------------------------------------------


@pytest.fixture
def queried(tmp_path):
    return atdata.write_samples(shots(30), tmp_path / "q.tar", maxcount=8, manifest=True)


def test_query_with_functions_and_predicates(queried):
    want = [f"{i:09d}" for i in range(30) if i % 3 == 0 and i / 30 > 0.5]
    by_lambda = queried.query(where=lambda df: (df["label"] == "dog") & (df["confidence"] > 0.5))
    Q = queried.fields
    by_pred = queried.query(where=(Q.label == "dog") & (Q.confidence > 0.5))
    assert [h.key for h in by_lambda] == [h.key for h in by_pred] == want
    assert all(isinstance(h, SampleLocation) for h in by_pred)
    assert repr(Q) == "ShotFields(label, confidence, count, tags, flagged, rank, maybe)"
    keys = lambda p: [h.key for h in queried.query(where=p)]  # noqa: E731
    assert keys(F.count.between(3, 5)) == ["000000003", "000000004", "000000005"]
    assert keys(F.label.isin(["bird"]) & (F.count < 6)) == ["000000002", "000000005"]
    assert keys(~(F.count >= 2)) == ["000000000", "000000001"]
    assert keys((F.count == 0) | (F.count == 29)) == ["000000000", "000000029"]
    # The location is where the sample's tar entry starts.
    h = queried.query(where=F.count == 9)[0]
    with open([u for u in queried.list_shards() if h.shard in u][0], "rb") as f:
        f.seek(h.offset)
        assert f.read(100).split(b"\0")[0] == b"000000009.msgpack"


def test_query_errors_name_the_problem(queried, tmp_path):
    with pytest.raises(KeyError, match="no field 'nope'.*label"):
        queried.query(where=F.nope > 1)
    with pytest.raises(AttributeError):
        queried.fields.nope
    with pytest.raises(TypeError, match="no truth value"):
        bool(F.count > 1)
    with pytest.raises(TypeError, match="function of the manifest DataFrame"):
        queried.query(where="count > 1")
    with pytest.raises(TypeError, match="one boolean per manifest row"):
        queried.query(where=lambda df: df["count"])
    with pytest.raises(TypeError, match="collection of values"):
        F.label.isin("dog")
    bare = atdata.write_samples(shots(3), tmp_path / "bare.tar")
    with pytest.raises(FileNotFoundError, match="no manifest beside 1 of the 1 shards"):
        bare.query(where=F.count > 0)


def test_builder_writer_and_executor_directly(tmp_path):
    b = ManifestBuilder(Shot, "part-7", schema_version="2.0.0", source_job_id="job-1")
    for i, s in enumerate(shots(4)):
        b.add_sample(key=f"k{i}", offset=1024 * i, size=100 + i, sample=s)
    m = b.build()
    assert m.num_samples == 4 and m.size_bytes == 406 and m.provenance == {"source_job_id": "job-1"}
    js, pq = ManifestWriter(tmp_path / "part-7").write(m)
    assert (js.name, pq.name) == ("part-7.manifest.json", "part-7.manifest.parquet")
    back = ShardManifest.from_files(js, pq)
    assert back.header_dict() == m.header_dict()
    assert back.samples["tags"].tolist() == m.samples["tags"].tolist()
    assert ShardManifest.from_json_only(js).samples.empty
    ex = QueryExecutor.from_directory(tmp_path)
    k2, k3 = SampleLocation("part-7", "k2", 2048), SampleLocation("part-7", "k3", 3072)
    assert ex.query(F.count > 1) == [k2, k3]
    assert QueryExecutor.from_shard_urls([str(tmp_path / "part-7.tar"), "/no/such.tar"]).query(
        F.count > 2
    ) == [SampleLocation("part-7", "k3", 3072)]
    with pytest.raises(FileNotFoundError):
        QueryExecutor.from_directory(tmp_path / "missing")


# -- both directions with the real 0.7 ------------------------------------------------------

TYPES = r'''
import json, sys, contextlib, io
from typing import Annotated, Optional
import numpy as np
from numpy.typing import NDArray
import atdata
from atdata.manifest import ManifestField, ShardManifest, QueryExecutor, F

@atdata.packable
class Shot:
    image: NDArray
    label: str
    confidence: float
    count: int
    tags: list[str]
    flagged: bool
    note: Annotated[str, ManifestField("categorical", exclude=True)]
    rank: Annotated[str, ManifestField("numeric")]
    maybe: Optional[int] = None

def shots(n):
    return [Shot(image=np.zeros((2, 2), np.uint8), label=["dog", "cat", "bird"][i % 3],
                 confidence=i / n, count=i, tags=[f"t{i % 4}", "all"], flagged=i % 2 == 0,
                 note="x", rank=str(i % 5), maybe=None if i % 2 else i) for i in range(n)]
'''

WRITE = TYPES + r'''
with contextlib.redirect_stdout(io.StringIO()):
    ds = atdata.write_samples(shots(9), sys.argv[1] + "/one.tar", manifest=True)
print(json.dumps(ds.list_shards()))
'''

READ = TYPES + r'''
url = sys.argv[1]
base = url[:-len(".tar")]
m = ShardManifest.from_files(base + ".manifest.json", base + ".manifest.parquet")
ds = atdata.Dataset[Shot](url)
hits = ds.query(where=(ds.fields.label == "dog") | (F.count > 6))
lam = ds.query(where=lambda df: df["confidence"] >= 0.5)
print(json.dumps({
    "header": m.header_dict(),
    "tags": [list(t) for t in m.samples["tags"]],
    "columns": list(m.samples.columns),
    "labels": list(m.samples["label"]),
    "hits": [h.key for h in hits],
    "lam": [h.key for h in lam],
    "by_dir": len(QueryExecutor.from_directory(base.rsplit("/", 1)[0]).query(F.count >= 0)),
}, default=str))
'''


def _py(python, code, ours, *args):
    env = {"PYTHONPATH": OUR_PATH} if ours else {}
    for a in args:
        code = code.replace("sys.argv[1]", repr(a), 1)
    p = run_py(code, python=python, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_manifests_cross_read_with_07(ref_python, tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "ours").mkdir()
    ref_url = _py(ref_python, WRITE, False, str(tmp_path / "ref"))[0]
    our_url = _py(sys.executable, WRITE, True, str(tmp_path / "ours"))[0]
    # Each reads both: 0.7's reader on our files, ours on 0.7's.
    results = {
        (reader, writer): _py(py, READ, reader == "ours", url)
        for reader, py in (("ref", ref_python), ("ours", sys.executable))
        for writer, url in (("ref", ref_url), ("ours", our_url))
    }
    for key, r in results.items():
        assert r["tags"] == [[f"t{i % 4}", "all"] for i in range(9)], key
        assert r["labels"] == [["dog", "cat", "bird"][i % 3] for i in range(9)], key
        assert r["columns"] == [
            "__key__", "__offset__", "__size__",
            "label", "confidence", "count", "tags", "flagged", "rank", "maybe",
        ], key
        assert r["by_dir"] == 9, key
    # Same header and aggregates from either writer, read by either reader (keys, times and
    # msgpack sizes aside: 0.7 keys are UUIDs).
    def comparable(r):
        h = dict(r["header"])
        for k in ("created_at", "size_bytes"):
            h.pop(k)
        return h

    assert len({json.dumps(comparable(r), sort_keys=True) for r in results.values()}) == 1
    agg = results["ref", "ours"]["header"]["aggregates"]
    assert agg["label"]["value_counts"] == {"dog": 3, "cat": 3, "bird": 3}
    mean = pytest.approx(16 / 9)
    assert agg["rank"] == {"type": "numeric", "min": 0.0, "max": 4.0, "mean": mean, "count": 9}
    # Queries pick the same samples (by position: 0.7 keys are UUIDs).
    for writer in ("ref", "ours"):
        assert results["ref", writer]["hits"] == results["ours", writer]["hits"]
        assert results["ref", writer]["lam"] == results["ours", writer]["lam"]
    ours_hits = results["ref", "ours"]["hits"]
    assert ours_hits == [f"{i:09d}" for i in (0, 3, 6, 7, 8)]


NAMES = r'''
import json, atdata, atdata.manifest as m
print(json.dumps({
    "manifest": sorted(n for n in dir(m) if not n.startswith("_")),
    "top": sorted(n for n in ("ManifestField", "ManifestBuilder", "ShardManifest",
                              "ManifestWriter", "QueryExecutor", "SampleLocation",
                              "query_fields", "Lens", "LensNetwork", "lens")
                  if hasattr(atdata, n)),
}))
'''


def test_public_names_match_07(ref_python):
    ref = _py(ref_python, NAMES, False)
    ours = _py(sys.executable, NAMES, True)
    assert ours["top"] == ref["top"] and len(ref["top"]) == 10
    # Every public name of 0.7's atdata.manifest exists in ours (its submodules aside:
    # they are private files of 0.7's package).
    wanted = {n for n in ref["manifest"] if n not in {"annotations"}}
    assert wanted - set(ours["manifest"]) == set()


def test_a_column_of_mixed_types_is_a_clear_error(tmp_path):
    @atdata.packable
    class Loose:
        x: Annotated[Optional[str], ManifestField("categorical")]

    b = ManifestBuilder(Loose, "s")
    b.add_sample(key="a", offset=0, size=1, sample=Loose(x="a"))
    b.add_sample(key="b", offset=512, size=1, sample=type("Fake", (), {"x": 3})())
    with pytest.raises(TypeError, match=r"field 'x' holds values of types \['int', 'str'\]"):
        ManifestWriter(tmp_path / "s").write(b.build())
    assert not (tmp_path / "s.manifest.json").exists()


def test_a_field_never_set_in_a_shard_is_still_a_column(ref_python, tmp_path):
    data = shots(10)
    for s in data[:5]:
        s.maybe = None
    ds = atdata.write_samples(data, tmp_path / "n.tar", maxcount=5, manifest=True)
    assert [h.key for h in ds.query(where=F.maybe > 5)] == ["000000006", "000000008"]
    first = ds.list_shards()[0][: -len(".tar")]
    m = ShardManifest.from_files(first + ".manifest.json", first + ".manifest.parquet")
    assert m.samples["maybe"].isna().all() and m.aggregates["maybe"]["count"] == 0
    code = (
        "import json, atdata\nfrom atdata.manifest import ShardManifest\n"
        f"m = ShardManifest.from_files({first + '.manifest.json'!r}, "
        f"{first + '.manifest.parquet'!r})\n"
        "print(json.dumps([list(m.samples.columns), str(m.samples['maybe'].dtype), "
        "int(m.samples['maybe'].isna().sum())]))"
    )
    p = run_py(code, python=ref_python)
    assert p.returncode == 0, p.stderr
    cols, dtype, nulls = json.loads(p.stdout.strip().splitlines()[-1])
    assert "maybe" in cols and dtype == "float64" and nulls == 5
