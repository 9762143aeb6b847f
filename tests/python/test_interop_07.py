"""Round trips with the real Python atdata 0.7: each reads the other's index and shards.

Skipped (with the reason) when no reference venv is found: scripts/ref-venv.sh makes one, or
set ATDATA_REF_PYTHON.
"""

from __future__ import annotations

import json

import numpy as np

import atdata

from conftest import REPO, TextSample, embedding_samples, run_py, text_samples

WRITE_07 = r"""
import json, sys, contextlib, io
import numpy as np
from numpy.typing import NDArray
import atdata

@atdata.packable
class TextSample:
    '''Simple text document.'''
    text: str
    language: str
    word_count: int

@atdata.packable
class EmbeddingSample:
    '''Dense embedding with label.'''
    vector: NDArray
    label: str
    source: str

root = sys.argv[1]
index = atdata.Index(provider="sqlite", path=root + "/index.db", data_store=atdata.LocalDiskStore(root=root + "/data"))
rng = np.random.default_rng(99)
texts = [TextSample(text=f"Document number {i} about topic {i % 5}.",
                    language="en" if i % 3 != 0 else "es",
                    word_count=len(f"Document number {i} about topic {i % 5}.".split()))
         for i in range(30)]
embs = [EmbeddingSample(vector=rng.standard_normal(128).astype(np.float32),
                        label=f"class_{i % 10}", source="synthetic") for i in range(12)]
with contextlib.redirect_stdout(io.StringIO()):
    a = index.write_samples(texts, name="docs-v1", maxcount=10)
    b = index.write_samples(embs, name="embeddings-v1")
print(json.dumps({"docs": a.cid, "emb": b.cid}))
"""


def test_we_read_what_07_wrote(ref_python, tmp_path):
    p = run_py(WRITE_07.replace("sys.argv[1]", repr(str(tmp_path))), python=ref_python)
    assert p.returncode == 0, p.stderr
    cids = json.loads(p.stdout.strip().splitlines()[-1])
    index = atdata.Index(path=tmp_path / "index.db", data_store=atdata.LocalDiskStore(tmp_path / "data"))
    entries = {e.name: e for e in index.list_datasets()}
    assert set(entries) == {"docs-v1", "embeddings-v1"}
    assert entries["docs-v1"].cid == cids["docs"]
    assert [s.name for s in index.schemas] == ["TextSample", "EmbeddingSample"]
    atdata.set_default_index(index)
    docs = atdata.load_dataset("@local/docs-v1", split="train")
    assert docs.sample_type.__name__ == "TextSample"
    got = [s.as_dict() for s in docs]
    assert got == [s.as_dict() for s in text_samples(30)]
    assert len(docs) == 30
    emb = atdata.load_dataset("@local/embeddings-v1", split="train")
    batch = next(iter(emb.ordered(batch_size=12)))
    want = np.stack([s.vector for s in embedding_samples(12)])
    assert batch.vector.dtype == np.float32 and np.array_equal(batch.vector, want)
    assert batch.label == [f"class_{i % 10}" for i in range(12)]
    # Our writes go into the same index next to 0.7's.
    e = index.write(text_samples(5), name="docs-v1")
    assert e.version == "2"


def test_07_reads_what_we_wrote(ref_python, tmp_path):
    index = atdata.Index(path=tmp_path / "index.db", data_store=atdata.LocalDiskStore(tmp_path / "data"))
    index.write(text_samples(40), name="docs-v1", maxcount=15)
    index.write(embedding_samples(9), name="embeddings-v1")
    for name, n in (("docs-v1", 40), ("embeddings-v1", 9)):
        p = run_py(
            "import runpy, sys; sys.argv = ['py07_read.py', '--index', "
            f"{str(tmp_path / 'index.db')!r}, '--name', {name!r}]; "
            f"runpy.run_path({str(REPO / 'scripts' / 'py07_read.py')!r}, run_name='__main__')",
            python=ref_python,
        )
        assert p.returncode == 0, p.stdout + p.stderr
        out = json.loads(p.stdout.strip().splitlines()[-1])
        assert out["ok"] and out["count"] == n, out
        if name == "docs-v1":
            texts = [s["values"]["text"] for s in out["samples"]]
            assert texts == [s.text for s in text_samples(40)]


def test_07_reads_our_plain_shards(ref_python, tmp_path):
    atdata.write_samples(text_samples(12), tmp_path / "plain.tar")
    schema = tmp_path / "schema.json"
    schema.write_text(TextSample.__atdata_schema_json__)
    p = run_py(
        "import runpy, sys; sys.argv = ['py07_read.py', "
        f"{str(tmp_path / 'plain.tar')!r}, '--schema', {str(schema)!r}]; "
        f"runpy.run_path({str(REPO / 'scripts' / 'py07_read.py')!r}, run_name='__main__')",
        python=ref_python,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["count"] == 12
    assert out["samples"][2]["values"]["word_count"] == 6
