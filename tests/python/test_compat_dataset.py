"""Dataset, DatasetDict, SampleBatch and load_dataset as atdata 0.7's users call them.

Where 0.7 is the spec, one script runs under the real 0.7 (ATDATA_REF_PYTHON) and under ours,
and their answers are compared; the other tests pin what we do where 0.7 has nothing to
compare with, or where we deliberately differ.
"""

from __future__ import annotations

import errno
import http.server
import json
import os
import sys
import tarfile
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import atdata

from conftest import TextSample, run_py, text_samples


#: The same code, run by 0.7 and by us; it prints one JSON object of answers.
SHARED = r"""
import json, sys, glob, os, tarfile, warnings
import numpy as np
from numpy.typing import NDArray
import atdata
from atdata.dataset import Dataset, SampleBatch, PackableSample, packable, DictSample, write_samples

@packable
class S:
    name: str
    x: int
    v: NDArray

root = sys.argv[1]
samples = [S(name=f"n{i}", x=i, v=np.arange(3, dtype=np.float32) + i) for i in range(7)]
write_samples(samples, root + "/one.tar")
multi = write_samples(samples, root + "/multi.tar", maxcount=3)
out = {}

ds = Dataset[S](url=root + "/one.tar")
ds2 = Dataset[S](root + "/one.tar")
out["constructors"] = [len(list(ds)), len(list(ds2)), type(Dataset(url=root + "/one.tar")).__name__]
out["column_names"] = ds.column_names
out["schema_keys"] = list(ds.schema)
d = ds.describe()
out["describe"] = {k: d[k] for k in ("sample_type", "num_shards", "url", "metadata")}
out["describe_keys"] = sorted(d)
out["len"] = len(ds)
out["head"] = [s.x for s in ds.head(2)]
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    out["shard_list"] = [len(ds.shard_list), w[0].category.__name__]
out["shards"] = len(list(ds.shards))

df = ds.to_pandas()
out["pandas_dtypes"] = {k: str(v) for k, v in df.dtypes.items()}
out["pandas_v"] = [type(df["v"][0]).__name__, str(df["v"][0].dtype), df["v"][6].tolist()]
out["pandas_limit"] = len(ds.to_pandas(limit=3))
td = ds.to_dict(limit=3)
out["to_dict"] = {k: [x.tolist() if hasattr(x, "tolist") else x for x in v] for k, v in td.items()}
out["to_dict_v_type"] = type(td["v"][0]).__name__

out["select"] = [s.x for s in ds.select([4, 1, 2])]
try:
    ds.select([99])
except IndexError:
    out["select_past_end"] = "IndexError"
out["select_empty"] = ds.select([])

out["filter_map"] = list(ds.filter(lambda s: s.x % 2 == 0).map(lambda s: s.name))
out["map_filter"] = [s.x for s in ds.map(lambda s: s).filter(lambda s: s.x > 4)]
out["filter_len"] = len(ds.filter(lambda s: s.x < 3))

res = multi.process_shards(lambda ss: sum(s.x for s in ss))
out["process"] = sorted(res.values())
seen = []
try:
    multi.process_shards(lambda ss: 1 / 0 if ss[0].x == 3 else len(ss),
                         on_shard_error=lambda shard, e: seen.append(type(e).__name__))
except atdata.PartialFailureError as e:
    out["partial"] = [len(e.failed_shards), len(e.succeeded_shards), sorted(e.results.values()),
                      type(e.errors[e.failed_shards[0]]).__name__, seen]
    retry = multi.process_shards(len, shards=e.failed_shards)
    out["retry"] = list(retry.values())
ck = root + "/ck.txt"
with open(ck, "w") as f:
    f.write(multi.list_shards()[0] + "\n")
out["checkpoint"] = [sorted(multi.process_shards(len, checkpoint=ck).values()), os.path.exists(ck)]

ds.to_parquet(root + "/whole.parquet")
import pyarrow.parquet as pq
t = pq.read_table(root + "/whole.parquet")
out["parquet_schema"] = {f.name: str(f.type) for f in t.schema}
out["parquet_rows"] = t.to_pydict()
ds.to_parquet(root + "/seg.parquet", maxcount=3)
segs = sorted(glob.glob(root + "/seg-*.parquet"))
out["parquet_segments"] = [[os.path.basename(p), pq.read_table(p).num_rows] for p in segs]
ds.to_parquet(root + "/mapped.parquet", sample_map=lambda s: {"x2": s.x * 2})
out["parquet_sample_map"] = pq.read_table(root + "/mapped.parquet").to_pydict()

with tarfile.open(root + "/one.tar") as tf:
    key = tf.getnames()[2].split(".")[0]
out["get"] = ds.get(key).x
try:
    ds.get("no-such-key")
except KeyError as e:
    out["get_missing"] = [isinstance(e, atdata.SampleKeyError), e.key if hasattr(e, "key") else None]

b = SampleBatch[S](samples[:3])
out["batch"] = [list(b.v.shape), str(b.v.dtype), b.name, b.x, b.sample_type.__name__, len(b.samples)]
bt = ds.batch_type
out["batch_type"] = [bt([samples[0]]).sample_type.__name__]
batches = list(ds.ordered(batch_size=3))
out["batches"] = [len(x.samples) for x in batches]

dd = atdata.load_dataset(root + "/one.tar", streaming=True)
out["dd"] = [type(dd).__name__, dd.streaming, dd.num_shards, dd.sample_type.__name__,
             len(dd.list_shards()), len(dd.head(2))]
out["dd_not_streaming"] = atdata.load_dataset(root + "/one.tar").streaming
out["dd_split_streaming"] = type(atdata.load_dataset(root + "/one.tar", S, split="train", streaming=True)).__name__
try:
    atdata.load_dataset(root + "/one.tar", split="test")
except ValueError as e:
    out["split_err"] = ["ValueError", "test" in str(e), "train" in str(e)]
dd2 = atdata.load_dataset(root, S, data_files={"train": "one.tar", "test": ["multi-000000.tar", "multi-000002.tar"]})
out["data_files_dict"] = sorted((k, len(v.list_shards()), len(list(v))) for k, v in dd2.items())
dd3 = atdata.load_dataset(root, S, data_files="one.tar")
out["data_files_str"] = sorted((k, len(list(v))) for k, v in dd3.items())
dd4 = atdata.load_dataset(root, S, data_files=["one.tar"], split="train")
out["data_files_list"] = len(list(dd4))
try:
    list(Dataset[S](root + "/missing.tar"))
except FileNotFoundError:
    out["missing"] = "FileNotFoundError"
print(json.dumps(out))
"""


def _run_shared(python: str, root: Path, ours: bool) -> dict:
    # Ours: the package this pytest imports (installed, or a dev PYTHONPATH); 0.7: its venv only.
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if ours and "PYTHONPATH" in os.environ else {}
    p = run_py(SHARED.replace("sys.argv[1]", repr(str(root))), python=python, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_same_answers_as_07(ref_python, tmp_path):
    (tmp_path / "07").mkdir()
    (tmp_path / "ours").mkdir()
    want = _run_shared(ref_python, tmp_path / "07", ours=False)
    got = _run_shared(sys.executable, tmp_path / "ours", ours=True)
    # Paths differ by the root only.
    for side, root in ((want, tmp_path / "07"), (got, tmp_path / "ours")):
        assert side["describe"]["url"] == str(root / "one.tar")
        side["describe"]["url"] = "ROOT/one.tar"
    # Deliberate: with a batch size, 0.7 ignores filter and map; we apply them (tested below).
    assert set(got) == set(want), set(got) ^ set(want)
    for key in want:
        assert got[key] == want[key], key


def test_filter_and_map_apply_to_batches_too(tmp_path):
    ds = atdata.write_samples(text_samples(10), tmp_path / "t.tar")
    kept = ds.filter(lambda s: s.word_count % 2 == 0 and "3" not in s.text)
    want = [s.text for s in text_samples(10) if s.word_count % 2 == 0 and "3" not in s.text]
    batches = list(kept.ordered(batch_size=4))
    assert [t for b in batches for t in b.text] == want
    assert all(isinstance(b, atdata.SampleBatch) for b in batches)
    assert [len(b) for b in batches][:-1] == [4] * (len(batches) - 1)
    # A map to non-samples batches into plain lists.
    lengths = list(ds.map(lambda s: len(s.text)).ordered(batch_size=3))
    assert lengths[0] == [len(s.text) for s in text_samples(3)] and len(lengths) == 4
    # A map to samples batches into SampleBatch of the new type.
    upper = ds.map(lambda s: TextSample(text=s.text.upper(), language=s.language, word_count=0))
    first = next(iter(upper.shuffled(batch_size=5, seed=1)))
    assert first.sample_type is TextSample and all(t.isupper() for t in first.text)
    with pytest.raises(TypeError, match="filter predicate must be callable"):
        ds.filter(3)


def test_constructor_arguments(tmp_path):
    atdata.write_samples(text_samples(3), tmp_path / "t.tar")
    url = str(tmp_path / "t.tar")
    for ds in (
        atdata.Dataset[TextSample](url=url),
        atdata.Dataset[TextSample](url),
        atdata.Dataset[TextSample](tmp_path / "t.tar"),
        atdata.Dataset(url=url).as_type(TextSample),
    ):
        assert ds.head(3) == text_samples(3)
        assert isinstance(ds, atdata.Dataset[TextSample])
    assert not isinstance(atdata.Dataset(url), atdata.Dataset[TextSample])
    assert atdata.Dataset[TextSample] == atdata.Dataset[TextSample]
    assert repr(atdata.Dataset[TextSample]) == "atdata.Dataset[TextSample]"
    with pytest.raises(TypeError, match="needs its shards"):
        atdata.Dataset()
    with pytest.raises(TypeError, match="not both"):
        atdata.Dataset(url, url=url)
    with pytest.raises(TypeError, match="metadata_url"):
        atdata.Dataset(url, metadata_url=3)
    with pytest.raises(TypeError, match="sample type already"):
        atdata.Dataset[TextSample](url, sample_type=TextSample)


# {"split": "train", "n": 3, "tags": ["a", "b"]} in msgpack.
_META = b"\x83\xa5split\xa5train\xa1n\x03\xa4tags\x92\xa1a\xa1b"
_META_DICT = {"split": "train", "n": 3, "tags": ["a", "b"]}


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A file server that answers ``Range: bytes=a-b`` (as S3 and web servers do; our HTTP
    reader asks for ranges)."""

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_GET(self):
        spec = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not spec or not path.is_file():
            return super().do_GET()
        data = path.read_bytes()
        first, _, last = spec.removeprefix("bytes=").partition("-")
        start = int(first)
        end = min(int(last), len(data) - 1) if last else len(data) - 1
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.wfile.write(data[start : end + 1])


def test_metadata_url_local_and_http_as_07_reads_it(ref_python, tmp_path):
    atdata.write_samples(text_samples(2), tmp_path / "t.tar")
    (tmp_path / "meta.msgpack").write_bytes(_META)
    url = str(tmp_path / "t.tar")
    ds = atdata.Dataset[TextSample](url=url, metadata_url=str(tmp_path / "meta.msgpack"))
    assert ds.metadata == _META_DICT and ds.metadata is ds.metadata
    assert ds.describe()["metadata"] == _META_DICT
    assert ds.metadata_url == str(tmp_path / "meta.msgpack")
    assert atdata.Dataset(url).metadata is None
    file_url = atdata.Dataset(url, "file://" + str(tmp_path / "meta.msgpack"))
    assert file_url.metadata == _META_DICT

    # Over HTTP, where 0.7 reads it too: both get the same dict.
    handler = lambda *a: _RangeHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        meta_url = f"http://127.0.0.1:{server.server_address[1]}/meta.msgpack"
        ours = atdata.Dataset(url, metadata_url=meta_url).metadata
        code = (
            "import atdata, json; "
            f"print(json.dumps(atdata.Dataset(url={url!r}, metadata_url={meta_url!r}).metadata))"
        )
        p = run_py(code, python=ref_python)
        assert p.returncode == 0, p.stderr
        assert ours == json.loads(p.stdout.strip().splitlines()[-1]) == _META_DICT
        with pytest.raises(FileNotFoundError, match="nothing.msgpack"):
            atdata.Dataset(url, metadata_url=meta_url.replace("meta", "nothing")).metadata
    finally:
        server.shutdown()
        server.server_close()

    missing = atdata.Dataset(url, metadata_url=str(tmp_path / "gone.msgpack"))
    with pytest.raises(FileNotFoundError) as info:
        missing.metadata
    assert "gone.msgpack" in str(info.value) and "Errno None" not in str(info.value)
    (tmp_path / "bad.msgpack").write_bytes(b"\x93\x01\x02\x03")  # a list, not a map
    with pytest.raises(atdata.CorruptDataError, match="bad.msgpack"):
        atdata.Dataset(url, metadata_url=str(tmp_path / "bad.msgpack")).metadata


@atdata.packable
class Img:
    label: int
    img: NDArray
    extra: NDArray | None = None


def _imgs(n: int) -> list:
    return [
        Img(label=i, img=np.full((2, 3), i % 256, dtype=np.uint8), extra=None if i % 2 else np.ones(2))
        for i in range(n)
    ]


def test_to_parquet_streams_batches_and_keeps_array_shapes(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    # More rows than one batch (256), split into files across batch boundaries.
    ds = atdata.write_samples(_imgs(700), tmp_path / "imgs.tar", maxcount=300)
    ds.to_parquet(tmp_path / "all.parquet")
    t = pq.read_table(tmp_path / "all.parquet")
    assert t.num_rows == 700
    assert str(t.schema.field("img").type) == "list<element: list<element: uint8>>"
    assert str(t.schema.field("extra").type) == "list<element: double>"
    rows = t.to_pydict()
    assert rows["label"] == list(range(700))
    assert rows["img"][5] == [[5, 5, 5], [5, 5, 5]]
    assert rows["extra"][:3] == [[1.0, 1.0], None, [1.0, 1.0]]
    ds.to_parquet(tmp_path / "part.parquet", maxcount=250, compression="zstd")
    parts = sorted(tmp_path.glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-{i:06d}.parquet" for i in range(3)]
    assert [pq.read_table(p).num_rows for p in parts] == [250, 250, 200]
    assert pq.ParquetFile(parts[0]).metadata.row_group(0).column(0).compression == "ZSTD"
    assert sum((pq.read_table(p).to_pydict()["label"] for p in parts), []) == list(range(700))


def test_to_parquet_leaves_no_half_file_on_error(tmp_path):
    pytest.importorskip("pyarrow")
    ds = atdata.write_samples(text_samples(600), tmp_path / "t.tar")

    def boom(s):
        if s.text.startswith("Document number 500"):
            raise RuntimeError("boom")
        return {"t": s.text}

    with pytest.raises(RuntimeError, match="boom"):
        ds.to_parquet(tmp_path / "out.parquet", sample_map=boom)
    assert not (tmp_path / "out.parquet").exists()
    with pytest.raises(ValueError, match="engine"):
        ds.to_parquet(tmp_path / "x.parquet", engine="fastparquet")
    with pytest.raises(TypeError, match="sample_map must return a dict"):
        ds.to_parquet(tmp_path / "x.parquet", sample_map=lambda s: s.text)


def test_to_pandas_and_to_dict_match_the_samples(tmp_path):
    pd = pytest.importorskip("pandas")
    ds = atdata.write_samples(_imgs(300), tmp_path / "imgs.tar")
    df = ds.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["label", "img", "extra"]
    assert len(df) == 300 and df["label"].tolist() == list(range(300))
    assert df["img"][299].shape == (2, 3) and df["img"][299].dtype == np.uint8
    assert df["extra"][1] is None and np.array_equal(df["extra"][0], np.ones(2))
    assert len(ds.to_pandas(limit=257)) == 257
    assert ds.to_pandas(limit=0).empty
    d = ds.to_dict(limit=260)
    assert list(d) == ["label", "img", "extra"] and len(d["img"]) == 260
    assert np.array_equal(d["img"][259], np.full((2, 3), 259 % 256, dtype=np.uint8))
    with pytest.raises(atdata.InvalidArgumentError, match="limit"):
        ds.to_dict(limit=-1)
    with pytest.raises(TypeError, match="no fields to export"):
        ds.map(lambda s: s.label).to_dict()


def test_missing_export_dependency_is_named(tmp_path, monkeypatch):
    ds = atdata.write_samples(text_samples(2), tmp_path / "t.tar")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="needs the package 'pandas'.*pip install pandas"):
        ds.to_pandas()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match="needs the package 'pyarrow'"):
        ds.to_parquet(tmp_path / "x.parquet")


def test_select_get_wrap_and_shards(tmp_path):
    ds = atdata.write_samples(text_samples(600), tmp_path / "t.tar", maxcount=250)
    picked = ds.select([599, 0, 256, 0])
    assert picked == [text_samples(600)[i] for i in (599, 0, 256, 0)]
    with pytest.raises(IndexError, match=r"\[600, 700\] out of range: the dataset has 600"):
        ds.select([1, 600, 700])
    with pytest.raises(IndexError, match=">= 0"):
        ds.select([-1])
    with pytest.raises(TypeError):
        ds.select(["a"])
    shard = ds.list_shards()[1]
    with tarfile.open(shard) as tf:
        member = tf.getmembers()[0]
        key = member.name.split(".")[0]
        raw = tf.extractfile(member).read()
    assert ds.get(key) == text_samples(600)[250]
    with pytest.raises(atdata.SampleKeyError) as info:
        ds.get("missing-key")
    assert isinstance(info.value, KeyError) and info.value.key == "missing-key"
    assert ds.wrap({"__key__": key, "msgpack": raw}) == text_samples(600)[250]
    assert ds.wrap_batch({"msgpack": [raw, raw]}).text == [text_samples(600)[250].text] * 2
    with pytest.raises(ValueError, match="msgpack"):
        ds.wrap({"__key__": key})
    assert list(ds.shards) == ds.list_shards()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DeprecationWarning):
            ds.shard_list


def test_process_shards_reports_read_failures_and_checkpoints(tmp_path):
    ds = atdata.write_samples(text_samples(9), tmp_path / "t.tar", maxcount=3)
    shards = ds.list_shards()
    Path(shards[1]).write_bytes(b"not a tar " * 100)
    with pytest.raises(atdata.PartialFailureError) as info:
        ds.process_shards(len, checkpoint=tmp_path / "ck")
    e = info.value
    assert e.failed_shards == [shards[1]] and e.succeeded_shards == [shards[0], shards[2]]
    assert isinstance(e.errors[shards[1]], atdata.CorruptDataError)
    assert e.results == {shards[0]: 3, shards[2]: 3}
    assert (tmp_path / "ck").read_text().splitlines() == [shards[0], shards[2]]
    calls = []
    Path(shards[1]).unlink()
    with pytest.raises(atdata.PartialFailureError) as again:
        ds.process_shards(lambda ss: calls.append(len(ss)), checkpoint=tmp_path / "ck")
    assert calls == [] and isinstance(again.value.errors[shards[1]], FileNotFoundError)
    with pytest.raises(TypeError, match="one string"):
        ds.process_shards(len, shards=shards[0])


def test_sample_batch_from_samples_and_from_columns():
    samples = _imgs(4)
    b = atdata.SampleBatch[Img](samples)
    assert b.samples is not samples and b.samples == samples and b[2] is samples[2]
    assert b.img.shape == (4, 2, 3) and b.img.dtype == np.uint8
    assert b.label == [0, 1, 2, 3]
    assert b.extra[1] is None and np.array_equal(b.extra[0], np.ones(2))  # None: not stacked
    assert b.sample_type is Img and len(b) == 4
    assert atdata.SampleBatch(samples).sample_type is Img
    ragged = atdata.SampleBatch[Img]([Img(label=0, img=np.zeros((1, 2))), Img(label=1, img=np.zeros(3))])
    assert isinstance(ragged.img, list) and ragged.img[1].shape == (3,)
    cols = atdata.SampleBatch({"label": [1, 2], "img": np.zeros((2, 2, 3))}, Img)
    assert cols.label == [1, 2] and cols[1].label == 2 and cols.extra == [None, None]
    d = atdata.SampleBatch[atdata.DictSample]([atdata.DictSample(a=1), atdata.DictSample(a=2)])
    assert d.a == [1, 2]
    empty = atdata.SampleBatch[Img]([])
    assert len(empty) == 0 and empty.samples == []
    with pytest.raises(atdata.SchemaMismatchError, match="img"):
        atdata.SampleBatch[Img]([Img(label=0, img="not an array")]).img
    with pytest.raises(TypeError, match="@packable samples or DictSample"):
        atdata.SampleBatch[int]([1, 2])
    with pytest.raises(AttributeError, match="no sample attribute named 'nope'"):
        b.nope
    assert isinstance(b, atdata.SampleBatch[Img]) and repr(atdata.SampleBatch[Img]) == "atdata.SampleBatch[Img]"


def test_dataset_dict(tmp_path):
    atdata.write_samples(text_samples(5), tmp_path / "train-000000.tar")
    atdata.write_samples(text_samples(2), tmp_path / "test-000000.tar")
    dd = atdata.load_dataset(str(tmp_path), TextSample)
    assert dd.num_shards == {"test": 1, "train": 1} and dd.sample_type is TextSample
    assert dd.streaming is False
    with pytest.raises(AttributeError, match="2 splits .*pick one first"):
        dd.ordered()
    with pytest.raises(atdata.SplitNotFoundError, match="no split 'validation'; available splits: test, train"):
        dd["validation"]
    one = atdata.DatasetDict({"train": dd["train"]})
    assert [s.text for s in one.ordered()] == [s.text for s in text_samples(5)]
    assert one.list_shards() == dd["train"].list_shards() and len(one.head(2)) == 2
    assert atdata.DatasetDict().sample_type is None and atdata.DatasetDict().num_shards == {}
    with pytest.raises(AttributeError):
        one.nothing_here


def test_load_dataset_errors(tmp_path, index):
    atdata.write_samples(text_samples(3), tmp_path / "train.tar")
    for bad in ({"train": 3}, 3, {}):
        with pytest.raises((TypeError, atdata.InvalidArgumentError)):
            atdata.load_dataset(str(tmp_path), data_files=bad)
    with pytest.raises(TypeError, match="streaming"):
        atdata.load_dataset(str(tmp_path), streaming="yes")
    with pytest.raises(atdata.InvalidArgumentError, match="index reference"):
        atdata.load_dataset("@local/x", data_files="a.tar", index=index)
    index.write(text_samples(3), name="docs")
    for split in ("test", "validation"):
        with pytest.raises(ValueError) as info:
            atdata.load_dataset("@local/docs", split=split, index=index)
        assert isinstance(info.value, atdata.NotFoundError) and isinstance(info.value, KeyError)
        assert f"split '{split}'" in str(info.value) and "available splits: train" in str(info.value)
    with pytest.raises(FileNotFoundError, match="nope.tar"):
        atdata.load_dataset(str(tmp_path), data_files={"train": "nope.tar"})


def test_a_missing_shard_is_file_not_found_not_a_key_error(tmp_path):
    atdata.write_samples(text_samples(3), tmp_path / "x-0.tar")
    cases = [
        str(tmp_path / "gone.tar"),  # a file
        str(tmp_path / "x-{0..1}.tar"),  # a member of a brace range
        str(tmp_path / "y-*.tar"),  # a glob that matches nothing
        str(tmp_path / "empty"),  # a directory with no shard
    ]
    (tmp_path / "empty").mkdir()
    for target in cases:
        for call in (lambda: atdata.Dataset(target), lambda: atdata.load_dataset(target)):
            with pytest.raises(FileNotFoundError) as info:
                call()
            e = info.value
            assert isinstance(e, atdata.ShardNotFoundError) and isinstance(e, atdata.ShardError)
            assert isinstance(e, atdata.AtdataIOError) and not isinstance(e, KeyError)
            assert e.errno == errno.ENOENT and e.filename and e.filename in str(e)
            assert str(e).startswith("I/O error on '") and "Errno" not in str(e)
    # A shard removed after opening is the same error, raised while reading.
    ds = atdata.Dataset(str(tmp_path / "x-0.tar"))
    os.remove(tmp_path / "x-0.tar")
    with pytest.raises(atdata.ShardNotFoundError, match="x-0.tar"):
        list(ds)


def test_module_path_atdata_dataset():
    import atdata.dataset as mod
    from atdata.dataset import (  # noqa: F401
        Dataset,
        DictSample,
        PackableSample,
        SampleBatch,
        packable,
        write_samples,
    )

    assert Dataset is atdata.Dataset and SampleBatch is atdata.SampleBatch
    assert packable is atdata.packable and write_samples is atdata.write_samples
    assert mod.SampleKeyError is atdata.SampleKeyError
    assert mod.PartialFailureError is atdata.PartialFailureError
    # The submodule is an attribute of the package, and shadows none of its names.
    assert atdata.dataset is mod
    assert all(getattr(atdata, n) is getattr(mod, n) for n in mod.__all__ if hasattr(atdata, n))
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        mod.Nothing


def test_content_metadata_and_source(tmp_path):
    ds = atdata.write_samples(text_samples(2), tmp_path / "t.tar")
    assert ds.content_metadata is None
    ds.content_metadata = {"instrument": "x"}
    assert ds.content_metadata == {"instrument": "x"}
    assert ds.filter(lambda s: True).content_metadata == {"instrument": "x"}
    opened = atdata.Dataset(str(tmp_path / "t.tar"))
    url_source = getattr(atdata, "URLSource", None)
    if url_source is None:
        assert opened.source is None
    else:
        assert opened.source.list_shards() == [str(tmp_path / "t.tar")]
    assert opened.url == str(tmp_path / "t.tar") and ds.url == ds.list_shards()[0]
