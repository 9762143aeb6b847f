"""atdata 0.7's data sources: URLSource, S3Source (against a real S3 server, moto's, started
by test_s3_store's fixture), BlobSource (against a PDS and a DID directory served here on
loopback), user-defined DataSource objects, and ``Dataset[T](source)`` over each; where 0.7
is the spec, the same code is run under the real 0.7 and compared."""

from __future__ import annotations

import http.server
import io
import json
import os
import pickle
import subprocess
import tarfile
import threading
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

import pytest

import atdata

from conftest import run_py
from test_s3_store import bucket, s3_endpoint  # noqa: F401  (fixtures: moto's S3 server)

OURS = str(Path(atdata.__file__).resolve().parents[1])


@atdata.packable
class TextSample:
    """The sample of these tests (and of the 0.7 programs run on their shards)."""

    text: str
    label: int


def text_samples(n: int) -> list:
    return [TextSample(text=f"doc {i}", label=i) for i in range(n)]


def _run_ours(code: str):
    return run_py(code, env={"PYTHONPATH": OURS})


def _same_output_as_07(code: str, ref_python: str) -> None:
    """``code`` prints the same under the real atdata 0.7 and under ours."""
    theirs = run_py(code, python=ref_python)
    assert theirs.returncode == 0, theirs.stderr
    ours = _run_ours(code)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


def _run_ours_with_timeout(code: str, seconds: int):
    try:
        return run_py(code, env={"PYTHONPATH": OURS}, timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the program did not finish within {seconds} s (a deadlock?)")


@pytest.fixture
def shards(tmp_path) -> list[Path]:
    """Three shards of 10 TextSamples each (labels 0..29)."""
    atdata.write_samples(text_samples(30), tmp_path / "data.tar", maxcount=10)
    found = sorted(tmp_path.glob("data-*.tar"))
    assert len(found) == 3, found
    return found


def _members(stream) -> list[str]:
    with tarfile.open(fileobj=stream, mode="r|") as t:
        return [m.name for m in t]


# ---------------------------------------------------------------- URLSource


def test_url_source_lists_reads_and_opens_its_shards(shards, tmp_path):
    pattern = str(tmp_path / "data-{000000..000002}.tar")
    src = atdata.URLSource(pattern)
    assert src.list_shards() == [str(p) for p in shards]
    assert isinstance(src, atdata.DataSource)

    ds = atdata.Dataset[TextSample](src)
    assert [s.label for s in ds] == list(range(30))
    assert ds.list_shards() == src.list_shards()

    got = [(sid, _members(stream)) for sid, stream in src.shards]
    assert [sid for sid, _ in got] == src.list_shards()
    assert all(len(m) == 10 for _, m in got)
    with src.open_shard(str(shards[1])) as stream:
        assert stream.read() == shards[1].read_bytes()
    with pytest.raises(KeyError, match="not one of this URLSource's shards"):
        src.open_shard(str(tmp_path / "other.tar"))
    with pytest.warns(DeprecationWarning, match="list_shards"):
        assert src.shard_list == src.list_shards()


def test_url_source_expands_patterns_as_07_does(ref_python, tmp_path, shards):
    pattern = str(tmp_path / "data-{000000..000002}.tar")
    code = f"import atdata; print(atdata.URLSource({pattern!r}).list_shards())"
    _same_output_as_07(code, ref_python)


def test_url_source_refuses_what_it_cannot_read_by_name(tmp_path):
    with pytest.raises(atdata.UnsupportedFeatureError, match="shell command"):
        atdata.URLSource("pipe:curl -s https://example.com/a.tar")
    with pytest.raises(atdata.InvalidArgumentError, match="unsupported URL scheme 'gs'"):
        atdata.Dataset(atdata.URLSource("gs://bucket/a.tar"))
    with pytest.raises(FileNotFoundError, match="nothing-here.tar"):
        atdata.URLSource(str(tmp_path / "nothing-here.tar")).list_shards()
    with pytest.raises(TypeError, match="url must be str"):
        atdata.URLSource(3)


def test_shard_stream_reads_in_pieces_and_refuses_reads_after_close(shards):
    src = atdata.URLSource(str(shards[0]))
    stream = src.open_shard(str(shards[0]))
    assert stream.readable() and not stream.seekable()
    whole = shards[0].read_bytes()
    parts = [stream.read(1000)]
    while parts[-1]:
        parts.append(stream.read(1000))
    assert b"".join(parts) == whole and len(parts[0]) == 1000
    stream.close()
    assert stream.closed
    with pytest.raises(ValueError, match="closed"):
        stream.read()


# ---------------------------------------------------------------- user-defined sources


class FileSource:
    """A user's DataSource in 0.7's shape: ids are names, streams are open files."""

    def __init__(self, root: Path, names: list[str]) -> None:
        self.root, self.names, self.opened = root, names, []

    def list_shards(self) -> list[str]:
        return list(self.names)

    def open_shard(self, shard_id: str):
        if shard_id not in self.names:
            raise KeyError(shard_id)
        self.opened.append(shard_id)
        return open(self.root / shard_id, "rb")

    @property
    def shards(self):
        for n in self.names:
            yield n, self.open_shard(n)


def test_a_user_defined_source_is_read_through_its_streams(shards, tmp_path):
    src = FileSource(tmp_path, [p.name for p in shards])
    assert isinstance(src, atdata.DataSource)
    ds = atdata.Dataset[TextSample](src)
    assert ds.list_shards() == [p.name for p in shards]
    assert [s.label for s in ds] == list(range(30))
    assert sorted(src.opened) == sorted(p.name for p in shards)
    # Shuffled, batched and split reads go through the same streams.
    assert sorted(s.label for s in ds.shuffled(seed=3)) == list(range(30))
    assert [len(b) for b in ds.ordered(batch_size=8)] == [8, 8, 8, 6]
    part = ds.part(1, 3)
    assert [s.label for s in part] == list(range(10, 20))
    assert len(ds) == 30


def test_abandoning_a_read_of_a_user_source_midway_returns(tmp_path):
    """Dropping an iterator joins its reader threads, which may be waiting for the GIL to
    call the source's streams: the drop must release it (this hung before). In a child
    process, so that a hang fails the test instead of stalling the run."""
    code = f"""
import gc, atdata
@atdata.packable
class S:
    text: str
    label: int
atdata.write_samples([S(text="x" * 1000, label=i) for i in range(20000)],
                     {str(tmp_path / "big.tar")!r}, maxcount=1000)
import glob
paths = sorted(glob.glob({str(tmp_path / "big-*.tar")!r}))
class Mine:
    def list_shards(self):
        return paths
    def open_shard(self, shard_id):
        return open(shard_id, "rb")
ds = atdata.Dataset[S](Mine())
for seed in range(3):
    it = iter(ds.shuffled(seed=seed))
    next(it)
    del it
    gc.collect()
    it = ds.ordered(batch_size=100)
    next(it)
    del it
    gc.collect()
print(len(paths), len(ds))
"""
    p = _run_ours_with_timeout(code, 60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["20", "20000"]


def test_exiting_with_reads_of_a_user_source_under_way_exits_cleanly(tmp_path):
    """Reader threads must not call into Python once the interpreter finalizes (the process
    aborted, most runs, when iterators were left alive at exit)."""
    atdata.write_samples(
        [TextSample(text="x" * 1000, label=i) for i in range(20000)],
        tmp_path / "big.tar",
        maxcount=1000,
    )
    code = f"""
import glob, atdata
@atdata.packable
class S:
    text: str
    label: int
paths = sorted(glob.glob({str(tmp_path / "big-*.tar")!r}))
class Mine:
    def list_shards(self):
        return paths
    def open_shard(self, shard_id):
        return open(shard_id, "rb")
ds = atdata.Dataset[S](Mine())
it = iter(ds.shuffled(seed=1))
it2 = ds.ordered(batch_size=10)
print(next(it).label >= 0, len(next(it2)))
"""
    for _ in range(5):
        p = _run_ours_with_timeout(code, 60)
        assert (p.returncode, p.stdout) == (0, "True 10\n"), p.stderr


def test_user_source_code_written_for_07_runs_unchanged(ref_python, shards, tmp_path):
    code = f"""
import atdata
from pathlib import Path

@atdata.packable
class TextSample:
    text: str
    label: int

class Mine:
    def __init__(self, root):
        self.root = Path(root)
    def list_shards(self):
        return sorted(p.name for p in self.root.glob("data-*.tar"))
    def open_shard(self, shard_id):
        return open(self.root / shard_id, "rb")
    @property
    def shards(self):
        for s in self.list_shards():
            yield s, self.open_shard(s)

src = Mine({str(tmp_path)!r})
assert isinstance(src, atdata.DataSource)
ds = atdata.Dataset[TextSample](src)
print(ds.list_shards())
print([(s.text, s.label) for s in ds.ordered()])
"""
    _same_output_as_07(code, ref_python)


def test_objects_that_are_not_sources_are_a_type_error_naming_what_is_missing(tmp_path):
    with pytest.raises(TypeError, match="got int, which lacks list_shards\\(\\) and open_shard\\(\\)"):
        atdata.Dataset(42)

    class OnlyList:
        def list_shards(self):
            return ["a.tar"]

    with pytest.raises(TypeError, match="OnlyList, which lacks open_shard\\(\\)"):
        atdata.Dataset[TextSample](OnlyList())

    class StrList(FileSource):
        def list_shards(self):
            return "a.tar"

    with pytest.raises(TypeError, match="returned a str"):
        atdata.Dataset(StrList(tmp_path, []))


def test_failures_of_a_user_source_name_the_source_and_shard(shards, tmp_path):
    class Failing(FileSource):
        def open_shard(self, shard_id):
            if shard_id.endswith("1.tar"):
                raise KeyError(shard_id)
            if shard_id.endswith("2.tar"):
                raise RuntimeError("backend down")
            return super().open_shard(shard_id)

    src = Failing(tmp_path, [p.name for p in shards])
    with pytest.raises(atdata.NotFoundError, match="data-000001.tar.*Failing.open_shard"):
        list(atdata.Dataset[TextSample](Failing(tmp_path, [shards[1].name])))
    with pytest.raises(atdata.AtdataIOError, match="data-000002.tar.*RuntimeError: backend down"):
        list(atdata.Dataset[TextSample](Failing(tmp_path, [shards[2].name])))
    with pytest.raises(atdata.AtdataError):
        list(atdata.Dataset[TextSample](src))

    class Texty(FileSource):
        def open_shard(self, shard_id):
            return io.StringIO("not bytes")

    with pytest.raises(atdata.AtdataIOError, match="Texty.*returned str from read\\(\\), not bytes"):
        list(atdata.Dataset[TextSample](Texty(tmp_path, [shards[0].name])))

    class NoStream(FileSource):
        def open_shard(self, shard_id):
            return b"raw bytes"

    with pytest.raises(atdata.InvalidArgumentError, match="not a binary stream"):
        list(atdata.Dataset[TextSample](NoStream(tmp_path, [shards[0].name])))


def test_a_damaged_stream_from_a_user_source_is_a_shard_error(shards, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(shards[0].read_bytes()[:1500])
    src = FileSource(tmp_path, ["bad.tar"])
    with pytest.raises(atdata.ShardError, match="bad.tar"):
        list(atdata.Dataset[TextSample](src))


# ---------------------------------------------------------------- S3Source


def _put(endpoint: str, bucket: str, key: str, data: bytes) -> None:
    # An unsigned PUT, which moto accepts; without a content type urllib sends a form's.
    req = urllib.request.Request(
        f"{endpoint}/{bucket}/{key}",
        data=data,
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    urllib.request.urlopen(req, timeout=10).close()


@pytest.fixture
def s3_shards(s3_endpoint, bucket, shards):  # noqa: F811
    keys = [f"train/{p.name}" for p in shards]
    for p, k in zip(shards, keys):
        _put(s3_endpoint, bucket, k, p.read_bytes())
    return keys


def test_s3_source_reads_a_bucket_with_explicit_endpoint_and_keys(
    s3_endpoint, bucket, s3_shards, shards, monkeypatch  # noqa: F811
):
    # The environment points elsewhere (a closed port): the source's own settings win, and
    # nothing of them is put into the environment.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    before = dict(os.environ)
    src = atdata.S3Source(
        bucket=bucket,
        keys=s3_shards,
        endpoint=s3_endpoint,
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
    )
    assert "testing" not in repr(src).replace("access_key='testing'", "")
    assert src.list_shards() == [f"s3://{bucket}/{k}" for k in s3_shards]
    ds = atdata.Dataset[TextSample](src)
    assert ds.list_shards() == src.list_shards()
    assert [s.label for s in ds] == list(range(30))
    assert sorted(s.label for s in ds.shuffled(seed=1)) == list(range(30))
    with src.open_shard(src.list_shards()[2]) as stream:
        assert stream.read() == shards[2].read_bytes()
    assert [len(_members(st)) for _, st in src.shards] == [10, 10, 10]
    with pytest.raises(KeyError):
        src.open_shard(f"s3://{bucket}/train/missing.tar")
    assert dict(os.environ) == before


def test_sources_pickle_after_use_for_worker_processes(
    s3_endpoint, bucket, s3_shards, shards  # noqa: F811
):
    s3 = atdata.S3Source(
        bucket=bucket, keys=s3_shards, endpoint=s3_endpoint, access_key="testing", secret_key="testing"
    )
    url = atdata.URLSource(str(shards[0]))
    for src in (s3, url):
        assert len(atdata.Dataset[TextSample](src)) > 0  # the core dataset is made and cached
        again = pickle.loads(pickle.dumps(src))
        assert again == src
        assert [s.label for s in atdata.Dataset[TextSample](again)] == [
            s.label for s in atdata.Dataset[TextSample](src)
        ]


def test_s3_source_without_settings_takes_the_aws_environment(
    s3_endpoint, bucket, s3_shards, monkeypatch  # noqa: F811
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    ds = atdata.Dataset[TextSample](atdata.S3Source(bucket=bucket, keys=s3_shards))
    assert len(ds) == 30


def test_s3_source_constructors_from_urls_and_credentials(s3_endpoint, bucket, s3_shards):  # noqa: F811
    urls = [f"s3://{bucket}/{k}" for k in s3_shards]
    a = atdata.S3Source.from_urls(
        urls, endpoint=s3_endpoint, access_key="testing", secret_key="testing"
    )
    assert (a.bucket, a.keys) == (bucket, s3_shards)
    assert [s.label for s in atdata.Dataset[TextSample](a)] == list(range(30))
    b = atdata.S3Source.from_credentials(
        {"AWS_ENDPOINT": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        bucket,
        s3_shards[:1],
    )
    assert (b.endpoint, b.access_key, b.secret_key, b.region) == (s3_endpoint, "testing", "testing", None)
    assert len(atdata.Dataset[TextSample](b)) == 10


def test_s3_source_bad_arguments_are_clear_errors(s3_endpoint, bucket, s3_shards):  # noqa: F811
    with pytest.raises(ValueError, match="several buckets"):
        atdata.S3Source.from_urls(["s3://a/x.tar", "s3://b/y.tar"])
    with pytest.raises(ValueError, match="not an s3:// URL"):
        atdata.S3Source.from_urls(["https://a/x.tar"])
    with pytest.raises(ValueError, match="bucket and a key"):
        atdata.S3Source.from_urls(["s3://bucket-only"])
    with pytest.raises(ValueError, match="urls is empty"):
        atdata.S3Source.from_urls([])
    with pytest.raises(atdata.InvalidArgumentError, match="access_key and secret_key go together"):
        atdata.S3Source(bucket=bucket, keys=s3_shards, access_key="testing")
    with pytest.raises(TypeError, match="not one str"):
        atdata.S3Source(bucket=bucket, keys="train/a.tar")
    with pytest.raises(atdata.InvalidArgumentError, match="unknown credentials key 'AWS_TOKEN'"):
        atdata.S3Source.from_credentials({"AWS_TOKEN": "x"}, bucket, s3_shards)
    with pytest.raises(atdata.InvalidArgumentError, match="S3 endpoint 'minio:9000'"):
        atdata.Dataset(atdata.S3Source(bucket=bucket, keys=s3_shards, endpoint="minio:9000"))
    # A key that is not in the bucket: the error names the object.
    src = atdata.S3Source(
        bucket=bucket,
        keys=["train/missing.tar"],
        endpoint=s3_endpoint,
        access_key="testing",
        secret_key="testing",
    )
    with pytest.raises(atdata.ShardNotFoundError, match=f"s3://{bucket}/train/missing.tar"):
        list(atdata.Dataset[TextSample](src))


def test_s3_source_reads_what_07_reads(ref_python, s3_endpoint, bucket, s3_shards):  # noqa: F811
    code = f"""
import atdata
@atdata.packable
class TextSample:
    text: str
    label: int
src = atdata.S3Source(bucket={bucket!r}, keys={s3_shards!r}, endpoint={s3_endpoint!r},
                      access_key="testing", secret_key="testing", region="us-east-1")
print(src.list_shards())
print([(s.text, s.label) for s in atdata.Dataset[TextSample](src).ordered()])
"""
    _same_output_as_07(code, ref_python)


# ---------------------------------------------------------------- BlobSource

DID = "did:plc:abc123xyz"


@pytest.fixture
def pds(shards):
    """A loopback server that is both a PDS (getBlob) and a PLC directory (DID documents)."""
    blobs = {f"bafy{i}": p.read_bytes() for i, p in enumerate(shards)}
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            url = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(url.query)
            if url.path == "/xrpc/com.atproto.sync.getBlob" and q.get("did") == [DID]:
                body = blobs.get(q.get("cid", [""])[0])
            elif url.path == f"/{DID}":
                body = json.dumps(
                    {
                        "id": DID,
                        "service": [
                            {
                                "id": "#atproto_pds",
                                "type": "AtprotoPersonalDataServer",
                                "serviceEndpoint": self.server.endpoint,
                            }
                        ],
                    }
                ).encode()
            else:
                body = None
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server.endpoint, sorted(blobs), seen
    finally:
        server.shutdown()
        server.server_close()


def test_blob_source_fetches_blobs_from_a_pds(pds, shards):
    endpoint, cids, seen = pds
    src = atdata.BlobSource([{"did": DID, "cid": c} for c in cids], pds_endpoint=endpoint)
    assert src.list_shards() == [f"at://{DID}/blob/{c}" for c in cids]
    ds = atdata.Dataset[TextSample](src)
    assert [s.label for s in ds] == list(range(30))
    with src.open_shard(src.list_shards()[1]) as r:
        assert r.read() == shards[1].read_bytes()
    assert all(p.startswith("/xrpc/com.atproto.sync.getBlob?") for p in seen)


def test_blob_source_finds_the_pds_in_the_did_document(pds):
    endpoint, cids, seen = pds
    src = atdata.BlobSource.from_refs([{"did": DID, "cid": cids[0]}])
    src.plc_directory = endpoint
    assert len(atdata.Dataset[TextSample](src)) == 10
    assert seen[0] == f"/{DID}"
    # The document is fetched once per DID.
    assert [s.label for s in atdata.Dataset[TextSample](src)] == list(range(10))
    assert seen.count(f"/{DID}") == 1


def test_blob_source_errors_name_the_blob(pds):
    endpoint, cids, _ = pds
    missing = atdata.BlobSource([{"did": DID, "cid": "bafymissing"}], pds_endpoint=endpoint)
    with pytest.raises(atdata.ShardNotFoundError, match="bafymissing.*HTTP 404"):
        list(atdata.Dataset[TextSample](missing))
    with pytest.raises(KeyError):
        missing.open_shard(f"at://{DID}/blob/{cids[0]}")
    unknown = atdata.BlobSource([{"did": "did:plc:nobody", "cid": cids[0]}], plc_directory=endpoint)
    with pytest.raises(atdata.ShardNotFoundError, match="DID document of did:plc:nobody"):
        unknown.open_shard(unknown.list_shards()[0])
    with pytest.raises(ValueError, match="did:key:z6Mk.*pds_endpoint"):
        src = atdata.BlobSource([{"did": "did:key:z6Mk", "cid": cids[0]}])
        src.open_shard(src.list_shards()[0])
    with pytest.raises(ValueError, match="has no 'did'"):
        atdata.BlobSource.from_refs([{"$type": "blob", "ref": {"$link": "bafy"}}])
    with pytest.raises(ValueError, match="refs is empty"):
        atdata.BlobSource.from_refs([])
    with pytest.raises(ValueError, match="not a CID"):
        atdata.BlobSource([{"did": DID, "cid": "x&did=other"}])


def test_blob_source_ids_are_07s(ref_python):
    code = (
        "import atdata; s = atdata.BlobSource.from_refs("
        f"[{{'did': {DID!r}, 'cid': 'bafy1'}}, {{'did': {DID!r}, 'cid': 'bafy2'}}], "
        "pds_endpoint='https://pds.example'); print(s.list_shards())"
    )
    _same_output_as_07(code, ref_python)


def test_sources_are_exported_where_07_has_them():
    for name in ("URLSource", "S3Source", "BlobSource", "DataSource"):
        assert name in atdata.__all__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(atdata.S3Source(bucket="b", keys=[]), atdata.DataSource)
