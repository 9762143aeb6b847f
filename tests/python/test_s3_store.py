"""S3DataStore against a real S3-compatible server (moto's, started here on a loopback port
from the reference venv, which scripts/ref-venv.sh installs with moto[server]): writing,
loading and verifying through the store, a lab repository of PostgreSQL + S3, 0.7's
credentials spellings, and round trips with atdata 0.7's own S3DataStore both ways."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

import atdata
from atdata import Repository

from conftest import TextSample, run_py, text_samples

KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint(request):
    """The endpoint of a moto S3 server of this module's own, stopped after it: moto from
    $ATDATA_S3_SERVER_PYTHON (scripts/test.sh sets it when there is no reference venv), else
    from the reference venv."""
    server_python = os.environ.get("ATDATA_S3_SERVER_PYTHON") or request.getfixturevalue(
        "ref_python"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [server_python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    "moto's S3 server exited: "
                    + proc.stderr.read().decode(errors="replace")
                    + " (scripts/ref-venv.sh installs moto[server] into the reference venv)"
                )
            try:
                urllib.request.urlopen(endpoint + "/", timeout=1).close()
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail("moto's S3 server did not answer within 30 s")
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def bucket(s3_endpoint) -> str:
    """A new bucket on the module's server (moto accepts unsigned requests)."""
    name = f"atdata-{uuid.uuid4().hex[:12]}"
    req = urllib.request.Request(f"{s3_endpoint}/{name}", method="PUT")
    urllib.request.urlopen(req, timeout=10).close()
    return name


def _creds(endpoint: str) -> dict:
    return {"AWS_ENDPOINT": endpoint, **KEYS}


def _objects(endpoint: str, bucket: str) -> list[str]:
    with urllib.request.urlopen(f"{endpoint}/{bucket}?list-type=2", timeout=10) as r:
        body = r.read().decode()
    return [part.split("</Key>")[0] for part in body.split("<Key>")[1:]]


def test_write_load_verify_through_the_s3_store(s3_endpoint, bucket, tmp_path):
    store = atdata.S3DataStore(_creds(s3_endpoint), bucket=bucket, prefix="team/datasets")
    assert store.bucket == bucket and store.prefix == "team/datasets"
    assert "testing" not in repr(store), repr(store)
    index = atdata.Index(path=tmp_path / "index.db", data_store=store)
    e = index.write(text_samples(25), name="docs", maxcount=10)
    assert len(e.data_urls) == 3
    assert all(u.startswith(f"s3://{bucket}/team/datasets/docs/data--") for u in e.data_urls)
    keys = _objects(s3_endpoint, bucket)
    assert sorted(u.split(f"s3://{bucket}/")[1] for u in e.data_urls) == sorted(
        k for k in keys if k.endswith(".tar")
    )

    # A new process-like start: a new Index and store object over the same index and bucket.
    again = atdata.Index(
        path=tmp_path / "index.db",
        data_store=atdata.S3DataStore(_creds(s3_endpoint), bucket=bucket, prefix="team/datasets"),
    )
    ds = atdata.load_dataset("@local/docs", split="train", index=again)
    assert [s.text for s in ds] == [s.text for s in text_samples(25)]
    assert len(ds) == 25
    report = again.verify("docs")
    assert report.ok, report


def test_credentials_from_a_07_env_file_and_bad_credentials(s3_endpoint, bucket, tmp_path):
    env = tmp_path / "s3.env"
    env.write_text(
        f"AWS_ENDPOINT={s3_endpoint}\nAWS_ACCESS_KEY_ID=testing\nAWS_SECRET_ACCESS_KEY=testing\n"
    )
    store = atdata.S3DataStore(str(env), bucket=bucket)
    index = atdata.Index(path=tmp_path / "index.db", data_store=store)
    e = index.write(text_samples(4), name="small")
    assert e.data_urls[0].startswith(f"s3://{bucket}/small/")

    with pytest.raises(ValueError, match="AWS_SECRET"):
        atdata.S3DataStore({"AWS_SECRET": "x"}, bucket=bucket)
    env.write_text("this is not a pair\n")
    with pytest.raises(ValueError, match=r"s3\.env line 1"):
        atdata.S3DataStore(env, bucket=bucket)
    with pytest.raises(TypeError, match=r"credentials\['AWS_REGION'\] must be str, got int"):
        atdata.S3DataStore({**_creds(s3_endpoint), "AWS_REGION": 5}, bucket=bucket)
    unset_region = atdata.S3DataStore({**_creds(s3_endpoint), "AWS_REGION": None}, bucket=bucket)
    assert unset_region.bucket == bucket
    with pytest.raises(TypeError, match="dict or the path"):
        atdata.S3DataStore(42, bucket=bucket)
    with pytest.raises(ValueError, match="bucket"):
        atdata.S3DataStore(_creds(s3_endpoint), bucket="a/b")


def test_an_unreachable_server_is_one_clear_error_and_nothing_is_committed(tmp_path):
    dead = f"http://127.0.0.1:{_free_port()}"
    store = atdata.S3DataStore(_creds(dead), bucket="nowhere")
    index = atdata.Index(path=tmp_path / "index.db", data_store=store)
    t0 = time.monotonic()
    with pytest.raises(atdata.AtdataError) as err:
        index.write(text_samples(3), name="docs")
    assert "nowhere" in str(err.value), err.value
    assert index.list_datasets() == []
    # Connection refused is not retried for minutes: the default policy gives up on it fast.
    assert time.monotonic() - t0 < 120


def test_a_lab_repository_of_postgres_and_s3(s3_endpoint, bucket, pg_dsn, tmp_path):
    lab = Repository(
        provider=atdata.PostgresProvider(pg_dsn),
        data_store=atdata.S3DataStore(_creds(s3_endpoint), bucket=bucket),
    )
    index = atdata.Index(path=tmp_path / "mine.db", repos={"lab": lab})
    assert "S3DataStore" in repr(index.repos["lab"].data_store)
    e = index.write(text_samples(12), name="@lab/docs", maxcount=5)
    assert all(u.startswith(f"s3://{bucket}/docs/") for u in e.data_urls)
    assert index.list_datasets(repo="local") == []

    # A colleague's machine: another local index, the same lab.
    other = atdata.Index(
        path=tmp_path / "theirs.db",
        repos={
            "lab": Repository(
                atdata.PostgresProvider(pg_dsn),
                atdata.S3DataStore(_creds(s3_endpoint), bucket=bucket),
            )
        },
    )
    ds = atdata.load_dataset("@lab/docs", split="train", index=other)
    assert [s.text for s in ds] == [s.text for s in text_samples(12)]


# atdata 0.7 with its own S3DataStore over the same SQLite index and bucket. 0.7 reads s3://
# shards with boto3 through the credentials of the index's data store.
PY07 = r"""
import contextlib, io, json, os
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
if os.environ["DO"] == "write":
    texts = [TextSample(text=f"from 0.7 {i}", language="en", word_count=3) for i in range(17)]
    with contextlib.redirect_stdout(io.StringIO()):
        e = index.write_samples(texts, name="notes", maxcount=5)
    print(json.dumps({"cid": e.cid, "urls": e.data_urls}))
else:
    e = index.get_dataset("docs")
    ds = atdata.load_dataset("@local/docs", TextSample, index=index, split="train")
    print(json.dumps({"cid": e.cid, "urls": e.data_urls, "texts": [s.text for s in ds.ordered()]}))
"""


def _run_07(ref_python: str, tmp_path: Path, endpoint: str, bucket: str, do: str) -> dict:
    env = {
        "ENDPOINT": endpoint,
        "BUCKET": bucket,
        "DB": str(tmp_path / "index.db"),
        "DO": do,
        "HOME": str(tmp_path),
    }
    # boto3 must not pick up a real AWS configuration of the machine.
    env.update({k: "" for k in ("AWS_PROFILE", "AWS_CONFIG_FILE") if k in os.environ})
    p = run_py(PY07, python=ref_python, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_07_reads_what_we_wrote_to_s3(ref_python, s3_endpoint, bucket, tmp_path):
    store = atdata.S3DataStore(_creds(s3_endpoint), bucket=bucket)
    index = atdata.Index(path=tmp_path / "index.db", data_store=store)
    e = index.write(text_samples(23), name="docs", maxcount=10)
    out = _run_07(ref_python, tmp_path, s3_endpoint, bucket, "read")
    assert out["cid"] == e.cid and out["urls"] == e.data_urls
    assert out["texts"] == [s.text for s in text_samples(23)]


def test_we_read_what_07_wrote_to_s3(ref_python, s3_endpoint, bucket, tmp_path):
    written = _run_07(ref_python, tmp_path, s3_endpoint, bucket, "write")
    assert all(u.startswith(f"s3://{bucket}/notes/data--") for u in written["urls"])
    store = atdata.S3DataStore(_creds(s3_endpoint), bucket=bucket)
    index = atdata.Index(path=tmp_path / "index.db", data_store=store)
    e = index.get_dataset("notes")
    assert e.cid == written["cid"] and e.data_urls == written["urls"]
    ds = atdata.load_dataset("@local/notes", split="train", index=index)
    assert [s.text for s in ds] == [f"from 0.7 {i}" for i in range(17)]
    # Our next version goes to the same bucket, after 0.7's.
    again = index.write(text_samples(2), name="notes")
    assert again.reference == "@local/notes@2"
    assert all(u.startswith(f"s3://{bucket}/notes/") for u in again.data_urls)
